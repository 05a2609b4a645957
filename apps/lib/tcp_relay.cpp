#include "apps/lib/tcp_relay.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace parti::fleet {

namespace {

/// While forwarding, a side is not read while this much waits to be written to the other side
/// (backpressure, as TCP would apply). During a cut every side is always read.
constexpr std::size_t forward_backlog = 1u << 20;
/// At most this much is read from one socket per wake-up, so that no connection starves others.
constexpr std::size_t read_quantum = 256u << 10;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("tcp_relay: " + what + ": " + std::strerror(errno));
}

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/// close() that sends a RST instead of a FIN.
void abort_close(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

}  // namespace

/// Bytes travelling from fd[i] to fd[1 - i].
struct direction {
  std::string pending;  // to write: pending[offset..]
  std::size_t offset = 0;
  std::string held;   // read during a cut
  bool eof = false;   // the source has nothing more (EOF or a read error)
  bool shut = false;  // the destination was shut down for writing (after eof, when all is written)

  std::size_t unwritten() const { return pending.size() - offset; }
};

struct tcp_relay::link {
  int fd[2] = {-1, -1};  // 0: the accepted client, 1: the connection to the target
  bool connecting = false;
  bool broken = false;  // a write or the connect failed: close at once
  direction dir[2];     // dir[i]: from fd[i] to fd[1 - i]

  bool finished() const { return broken || (dir[0].shut && dir[1].shut); }
};

tcp_relay::tcp_relay(int target_port, std::size_t hold_limit)
    : target_port_(target_port), hold_limit_(hold_limit) {
  if (::pipe2(wake_fds_, O_NONBLOCK | O_CLOEXEC) != 0) fail("pipe");
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) fail("socket");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto address = loopback(0);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) fail("bind");
  if (::listen(listen_fd_, 128) != 0) fail("listen");
  socklen_t length = sizeof address;
  if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    fail("getsockname");
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { run(); });
}

tcp_relay::~tcp_relay() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    stop_ = true;
  }
  wake();
  thread_.join();
  for (auto& l : links_)
    for (int fd : l->fd)
      if (fd >= 0) ::close(fd);
  ::close(listen_fd_);
  ::close(wake_fds_[0]);
  ::close(wake_fds_[1]);
}

std::string tcp_relay::url() const {
  return "nats://127.0.0.1:" + std::to_string(port_);
}

void tcp_relay::cut() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (cut_) return;
    cut_ = true;
    held_ = 0;
    overflow_ = 0;
  }
  wake();  // the thread stops asking for writability and reads every side
}

void tcp_relay::heal(bool deliver_held) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (!cut_) return;
    cut_ = false;
    for (auto& l : links_)
      for (auto& d : l->dir) {
        if (deliver_held) d.pending.append(d.held);
        std::string().swap(d.held);
      }
  }
  wake();
}

bool tcp_relay::is_cut() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return cut_;
}

std::size_t tcp_relay::held_bytes() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return held_;
}

std::size_t tcp_relay::overflow_bytes() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return overflow_;
}

std::size_t tcp_relay::connections() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return accepted_;
}

std::size_t tcp_relay::open_connections() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return links_.size();
}

void tcp_relay::reset_connections() {
  std::unique_lock<std::mutex> lock(mutex_);
  auto ticket = ++reset_requested_;
  lock.unlock();
  wake();
  lock.lock();
  // Only the thread closes sockets: it may be polling them right now.
  reset_done_cv_.wait(lock, [&] { return reset_done_ >= ticket; });
}

void tcp_relay::wake() {
  char byte = 1;
  // EAGAIN: the pipe is full, the thread will wake anyway.
  while (::write(wake_fds_[1], &byte, 1) < 0 && errno == EINTR) {
  }
}

void tcp_relay::run() {
  // One slot per polled descriptor: which link and side it belongs to (side -1: the wake pipe,
  // side -2: the listening socket).
  struct slot {
    link* l;
    int side;
  };
  std::vector<pollfd> fds;
  std::vector<slot> slots;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    fds.clear();
    slots.clear();
    fds.push_back({wake_fds_[0], POLLIN, 0});
    slots.push_back({nullptr, -1});
    if (!accept_paused_) {
      fds.push_back({listen_fd_, POLLIN, 0});
      slots.push_back({nullptr, -2});
    }
    for (auto& l : links_) {
      for (int side = 0; side < 2; ++side) {
        short events = 0;
        auto& in = l->dir[side];       // read from this side
        auto& out = l->dir[1 - side];  // written to this side
        bool connected = !(side == 1 && l->connecting);
        if (connected && !in.eof && (cut_ || in.unwritten() < forward_backlog)) events |= POLLIN;
        if (side == 1 && l->connecting) events |= POLLOUT;  // the connect completes
        if (connected && !cut_ && out.unwritten() > 0) events |= POLLOUT;
        if (events == 0) continue;  // never poll for nothing: POLLHUP would spin
        fds.push_back({l->fd[side], events, 0});
        slots.push_back({l.get(), side});
      }
    }
    lock.unlock();
    int n = ::poll(fds.data(), static_cast<nfds_t>(fds.size()), -1);
    int poll_errno = errno;
    lock.lock();
    if (n < 0) {
      if (poll_errno == EINTR) continue;
      break;  // EFAULT/EINVAL/ENOMEM: nothing sensible left to do
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto [l, side] = slots[i];
      if (side == -1) {
        char drain[64];
        while (::read(wake_fds_[0], drain, sizeof drain) > 0) {
        }
      } else if (side == -2) {
        accept_all();
      } else if (side == 1 && l->connecting) {
        finish_connect(*l);
      } else if ((fds[i].events & POLLIN) && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        read_side(*l, side);
      }
      // POLLOUT (and POLLERR on a socket polled for writing) is handled by pump below.
    }
    if (reset_requested_ > reset_done_) {
      reset_all();
      reset_done_ = reset_requested_;
      reset_done_cv_.notify_all();
    }
    for (auto& l : links_) pump(*l);
    close_finished();
  }
}

void tcp_relay::accept_all() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        accept_paused_ = true;  // the pending connection would wake poll at once, forever
      return;                   // EAGAIN: all accepted
    }
    ++accepted_;
    set_nodelay(fd);
    auto l = std::make_unique<link>();
    l->fd[0] = fd;
    connect_target(*l);
    links_.push_back(std::move(l));
  }
}

void tcp_relay::connect_target(link& l) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    l.broken = true;
    return;
  }
  l.fd[1] = fd;
  set_nodelay(fd);
  auto address = loopback(target_port_);
  int r;
  do {
    r = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  } while (r != 0 && errno == EINTR);
  if (r == 0) return;
  if (errno == EINPROGRESS) {
    l.connecting = true;
    return;
  }
  l.broken = true;  // refused: the client is closed
}

void tcp_relay::finish_connect(link& l) {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(l.fd[1], SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error == EINPROGRESS || error == EALREADY) return;
  l.connecting = false;
  if (error != 0) l.broken = true;
}

void tcp_relay::read_side(link& l, int side) {
  auto& d = l.dir[side];
  char buffer[64 * 1024];
  std::size_t total = 0;
  while (total < read_quantum) {
    auto n = ::recv(l.fd[side], buffer, sizeof buffer, 0);
    if (n > 0) {
      auto size = static_cast<std::size_t>(n);
      total += size;
      if (!cut_) {
        d.pending.append(buffer, size);
        continue;
      }
      auto keep = std::min(size, hold_limit_ - std::min(hold_limit_, d.held.size()));
      d.held.append(buffer, keep);
      held_ += keep;
      overflow_ += size - keep;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    d.eof = true;  // EOF, or a reset: nothing more comes from this side
    return;
  }
}

void tcp_relay::pump(link& l) {
  if (cut_ || l.connecting || l.broken) return;
  for (int side = 0; side < 2; ++side) {
    auto& d = l.dir[side];
    int to = l.fd[1 - side];
    while (d.unwritten() > 0) {
      auto n = ::send(to, d.pending.data() + d.offset, d.unwritten(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        d.offset += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      l.broken = true;  // the destination is gone
      return;
    }
    if (d.unwritten() == 0) {
      d.pending.clear();
      d.offset = 0;
    } else if (d.offset > (1u << 20) && d.offset * 2 > d.pending.size()) {
      d.pending.erase(0, d.offset);  // keep the copy cost linear in what is written
      d.offset = 0;
    }
    if (d.eof && !d.shut && d.unwritten() == 0 && d.held.empty()) {
      ::shutdown(to, SHUT_WR);
      d.shut = true;
    }
  }
}

void tcp_relay::close_finished() {
  auto end = std::remove_if(links_.begin(), links_.end(), [](const std::unique_ptr<link>& l) {
    if (!l->finished()) return false;
    for (int fd : l->fd)
      if (fd >= 0) ::close(fd);
    return true;
  });
  if (end != links_.end()) accept_paused_ = false;
  links_.erase(end, links_.end());
}

void tcp_relay::reset_all() {
  for (auto& l : links_)
    for (int fd : l->fd)
      if (fd >= 0) abort_close(fd);
  links_.clear();
  accept_paused_ = false;
}

}  // namespace parti::fleet
