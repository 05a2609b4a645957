#include "runtime/nats/local_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace parti {

namespace {

bool can_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

bool executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

std::string make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "parti-nats-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  return pattern;
}

/// fork + exec of nats-server with `args` (argv[1..]). The child dies with the thread that forked
/// it (PR_SET_PDEATHSIG) and gets /dev/null as stdio, so it never holds the parent's pipes open.
pid_t spawn_server(const std::vector<std::string>& args) {
  const std::string binary = nats_server_binary();
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Child: die with the parent, and hold none of the parent's output pipes open.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

/// Signals the child, reaps it, then waits until its client port no longer accepts connections
/// (so that a restart can bind it again).
void reap_server(pid_t& pid, int signal, int port) {
  if (pid <= 0) return;
  ::kill(pid, signal);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  pid = -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (can_connect(port) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

/// A plain HTTP/1.0 GET on 127.0.0.1:<port>; the body, or empty on any failure.
std::string http_get(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  timeval tv{};
  tv.tv_sec = 2;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (;;) {
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n > 0) {
          response.append(buffer, static_cast<std::size_t>(n));
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else {
          break;
        }
      }
    }
  }
  ::close(fd);
  auto body = response.find("\r\n\r\n");
  return body == std::string::npos ? std::string{} : response.substr(body + 4);
}

/// Free loopback ports, all different from each other.
std::vector<int> distinct_free_ports(std::size_t n) {
  std::set<int> seen;
  std::vector<int> out;
  while (out.size() < n) {
    int p = free_loopback_port();
    if (seen.insert(p).second) out.push_back(p);
  }
  return out;
}

}  // namespace

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string nats_server_binary() {
  if (const char* env = std::getenv("PARTI_NATS_SERVER"); env && *env) return env;
  if (const char* path = std::getenv("PATH")) {
    std::string all = path;
    for (std::size_t pos = 0; pos <= all.size();) {
      auto end = all.find(':', pos);
      if (end == std::string::npos) end = all.size();
      auto candidate = all.substr(pos, end - pos) + "/nats-server";
      if (end > pos && executable(candidate)) return candidate;
      pos = end + 1;
    }
  }
  if (executable("/usr/sbin/nats-server")) return "/usr/sbin/nats-server";
  throw std::runtime_error("nats-server not found: install the Debian package nats-server");
}

local_nats_server::local_nats_server() : port_(free_loopback_port()), dir_(make_temp_dir()) {
  start();
}

local_nats_server::~local_nats_server() {
  try {
    kill();
  } catch (...) {
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void local_nats_server::start() {
  if (running()) return;
  pid_ = spawn_server({"-js", "-a", "127.0.0.1", "-p", std::to_string(port_), "-sd",
                       dir_ + "/store", "-l", dir_ + "/nats-server.log"});
  wait_until_ready(std::chrono::seconds(10));
}

void local_nats_server::wait_until_ready(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("nats-server exited during start (port " + std::to_string(port_) +
                               ")");
    }
    if (can_connect(port_)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill();
  throw std::runtime_error("nats-server did not accept connections within the timeout");
}

void local_nats_server::reap(int signal) {
  reap_server(pid_, signal, port_);
}

void local_nats_server::stop() {
  reap(SIGTERM);
}
void local_nats_server::kill() {
  reap(SIGKILL);
}

// -- local_nats_cluster ------------------------------------------------------------------------

local_nats_cluster::local_nats_cluster(std::size_t size, std::chrono::milliseconds ready_timeout)
    : dir_(make_temp_dir()) {
  if (size == 0) throw std::invalid_argument("local_nats_cluster: size must be at least 1");
  auto ports = distinct_free_ports(3 * size);
  members_.resize(size);
  for (std::size_t i = 0; i < size; ++i) {
    members_[i].port = ports[3 * i];
    members_[i].cluster_port = ports[3 * i + 1];
    members_[i].monitor_port = ports[3 * i + 2];
  }
  try {
    // All members first: JetStream needs a quorum of them before any reports healthy.
    for (std::size_t i = 0; i < size; ++i) spawn(i);
    for (std::size_t i = 0; i < size; ++i) wait_accepting(i, ready_timeout);
    if (!wait_until_healthy(ready_timeout))
      throw std::runtime_error("nats cluster: no JetStream meta leader within the timeout");
  } catch (...) {
    for (std::size_t i = 0; i < size; ++i) reap(i, SIGKILL);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw;
  }
}

local_nats_cluster::~local_nats_cluster() {
  for (std::size_t i = 0; i < members_.size(); ++i) {
    try {
      reap(i, SIGKILL);
    } catch (...) {
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

const local_nats_cluster::member_info& local_nats_cluster::member(std::size_t i) const {
  if (i >= members_.size()) throw std::out_of_range("local_nats_cluster: no member " + std::to_string(i));
  return members_[i];
}

local_nats_cluster::member_info& local_nats_cluster::member(std::size_t i) {
  if (i >= members_.size()) throw std::out_of_range("local_nats_cluster: no member " + std::to_string(i));
  return members_[i];
}

std::string local_nats_cluster::url(std::size_t i) const {
  return "nats://127.0.0.1:" + std::to_string(member(i).port);
}

std::vector<std::string> local_nats_cluster::url_list() const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < members_.size(); ++i) out.push_back(url(i));
  return out;
}

std::string local_nats_cluster::urls() const {
  std::string out;
  for (const auto& u : url_list()) out += (out.empty() ? "" : ",") + u;
  return out;
}

std::string local_nats_cluster::store_dir(std::size_t i) const {
  member(i);
  return dir_ + "/" + name(i);
}

std::optional<std::size_t> local_nats_cluster::index_of(const std::string& url) const {
  auto colon = url.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  int port = 0;
  try {
    port = std::stoi(url.substr(colon + 1));
  } catch (...) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < members_.size(); ++i)
    if (members_[i].port == port) return i;
  return std::nullopt;
}

void local_nats_cluster::spawn(std::size_t i) {
  auto& m = member(i);
  if (m.pid > 0) return;
  std::string routes;
  for (std::size_t j = 0; j < members_.size(); ++j)
    if (j != i)
      routes += (routes.empty() ? "" : ",") + std::string("nats://127.0.0.1:") +
                std::to_string(members_[j].cluster_port);
  const std::string store = store_dir(i);
  std::filesystem::create_directories(store);
  std::vector<std::string> args{"-js",
                                "-a",
                                "127.0.0.1",
                                "-p",
                                std::to_string(m.port),
                                "-m",
                                std::to_string(m.monitor_port),
                                "-sd",
                                store,
                                "-l",
                                store + "/nats-server.log",
                                "--server_name",
                                name(i),
                                "--cluster_name",
                                "parti-test",
                                "--cluster",
                                "nats://127.0.0.1:" + std::to_string(m.cluster_port)};
  if (!routes.empty()) {
    args.emplace_back("--routes");
    args.push_back(routes);
  }
  m.pid = spawn_server(args);
}

void local_nats_cluster::wait_accepting(std::size_t i, std::chrono::milliseconds timeout) {
  auto& m = member(i);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (m.pid > 0 && ::waitpid(m.pid, &status, WNOHANG) == m.pid) {
      m.pid = -1;
      throw std::runtime_error("nats-server " + name(i) + " exited during start (port " +
                               std::to_string(m.port) + ")");
    }
    if (can_connect(m.port) && can_connect(m.monitor_port)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  reap(i, SIGKILL);
  throw std::runtime_error("nats-server " + name(i) + " did not accept connections in time");
}

void local_nats_cluster::reap(std::size_t i, int signal) {
  auto& m = member(i);
  reap_server(m.pid, signal, m.port);
}

void local_nats_cluster::kill(std::size_t i) {
  reap(i, SIGKILL);
}

void local_nats_cluster::stop(std::size_t i) {
  reap(i, SIGTERM);
}

void local_nats_cluster::start(std::size_t i, std::chrono::milliseconds timeout) {
  if (running(i)) return;
  spawn(i);
  wait_accepting(i, timeout);
  if (!wait_until_healthy(timeout))
    throw std::runtime_error("nats-server " + name(i) + " did not become healthy in time");
}

std::string local_nats_cluster::monitoring(std::size_t i, const std::string& path) const {
  if (!running(i)) return {};
  return http_get(member(i).monitor_port, path);
}

bool local_nats_cluster::healthy(std::size_t i) const {
  auto body = monitoring(i, "/healthz");
  return body.find("\"status\":\"ok\"") != std::string::npos ||
         body.find("\"status\": \"ok\"") != std::string::npos;
}

std::string local_nats_cluster::meta_leader(std::size_t i) const {
  auto body = monitoring(i, "/jsz");
  auto meta = body.find("\"meta_cluster\"");
  if (meta == std::string::npos) return {};
  auto key = body.find("\"leader\"", meta);
  if (key == std::string::npos) return {};
  auto open = body.find('"', body.find(':', key) + 1);
  if (open == std::string::npos) return {};
  auto close = body.find('"', open + 1);
  if (close == std::string::npos) return {};
  return body.substr(open + 1, close - open - 1);
}

bool local_nats_cluster::wait_until_healthy(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool ok = false;
    std::string leader;
    for (std::size_t i = 0; i < members_.size(); ++i) {
      if (!running(i)) continue;
      auto l = meta_leader(i);
      ok = healthy(i) && !l.empty() && (leader.empty() || l == leader);
      if (!ok) break;
      leader = l;
    }
    if (ok) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace parti
