#include "parti/runtime/nats/local_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace parti {

namespace {

bool executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
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

bool accepts_connections(int port) {
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

std::string make_nats_store_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "parti-nats-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  return pattern;
}

pid_t spawn_nats_server(const std::vector<std::string>& args) {
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

void reap_nats_server(pid_t& pid, int signal, int port) {
  if (pid <= 0) return;
  ::kill(pid, signal);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  pid = -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (accepts_connections(port) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

local_nats_server::local_nats_server() : local_nats_server(nats_server_auth{}) {}

local_nats_server::local_nats_server(nats_server_auth auth)
    : port_(free_loopback_port()), dir_(make_nats_store_dir()), auth_(std::move(auth)) {
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
  std::vector<std::string> args{"-js",
                                "-a",
                                "127.0.0.1",
                                "-p",
                                std::to_string(port_),
                                "-sd",
                                dir_ + "/store",
                                "-l",
                                dir_ + "/nats-server.log"};
  if (!auth_.user.empty())
    args.insert(args.end(), {"--user", auth_.user, "--pass", auth_.password});
  if (!auth_.token.empty()) args.insert(args.end(), {"--auth", auth_.token});
  pid_ = spawn_nats_server(args);
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
    if (accepts_connections(port_)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill();
  throw std::runtime_error("nats-server did not accept connections within the timeout");
}

void local_nats_server::reap(int signal) {
  reap_nats_server(pid_, signal, port_);
}

void local_nats_server::stop() {
  reap(SIGTERM);
}
void local_nats_server::kill() {
  reap(SIGKILL);
}

}  // namespace parti
