#pragma once
// A real nats-server with JetStream for tests: a free loopback port, a temporary store directory,
// stop/restart on the same port and store, and no process left behind even when the test crashes
// (the child gets SIGTERM when the parent dies, and its stdio never holds the test's pipes open).
#include <sys/types.h>

#include <chrono>
#include <string>

namespace parti::test {

class nats_server {
 public:
  /// Starts a server at once and waits until it accepts connections (throws on failure).
  nats_server();
  ~nats_server();
  nats_server(const nats_server&) = delete;
  nats_server& operator=(const nats_server&) = delete;

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const std::string& store_dir() const { return dir_; }
  bool running() const { return pid_ > 0; }

  /// SIGTERM and wait (graceful); `kill()` sends SIGKILL instead.
  void stop();
  void kill();
  /// Starts again on the same port and store.
  void start();

 private:
  void wait_until_ready(std::chrono::milliseconds timeout);
  void reap(int signal);

  int port_ = 0;
  pid_t pid_ = -1;
  std::string dir_;
};

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0 and read it back).
int free_loopback_port();

/// The nats-server binary: $PARTI_NATS_SERVER, then PATH, then /usr/sbin/nats-server.
std::string nats_server_binary();

/// Polls `condition` every few milliseconds until it holds or `timeout` passes.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    struct timespec ts{0, 5'000'000};
    nanosleep(&ts, nullptr);
  }
  return true;
}

}  // namespace parti::test
