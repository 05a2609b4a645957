#pragma once
// A local nats-server with JetStream, started as a child process: a free loopback port, a
// temporary store directory, stop/restart on the same port and store, and no process left behind
// even when the parent crashes (the child gets SIGTERM when the parent dies, and its stdio never
// holds the parent's pipes open). parti-node embeds one when no URL is given; tests use it too.
#include <sys/types.h>

#include <chrono>
#include <string>

namespace parti {

class local_nats_server {
 public:
  /// Starts a server at once and waits until it accepts connections (throws on failure).
  local_nats_server();
  ~local_nats_server();
  local_nats_server(const local_nats_server&) = delete;
  local_nats_server& operator=(const local_nats_server&) = delete;

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

}  // namespace parti
