#include "runtime/nats/local_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

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
  const std::string binary = nats_server_binary();
  const std::string port = std::to_string(port_);
  const std::string store = dir_ + "/store";
  const std::string log = dir_ + "/nats-server.log";
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
    ::execl(binary.c_str(), binary.c_str(), "-js", "-a", "127.0.0.1", "-p", port.c_str(), "-sd",
            store.c_str(), "-l", log.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
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
  if (!running()) return;
  ::kill(pid_, signal);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  // The port is free once the listener is gone; wait so that start() can bind it again.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (can_connect(port_) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

void local_nats_server::stop() {
  reap(SIGTERM);
}
void local_nats_server::kill() {
  reap(SIGKILL);
}

}  // namespace parti
