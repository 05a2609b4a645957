#pragma once
// A local nats-server with JetStream, started as a child process: a free loopback port, a
// temporary store directory, stop/restart on the same port and store, and no process left behind
// even when the parent crashes (the child gets SIGTERM when the parent dies, and its stdio never
// holds the parent's pipes open). parti-node embeds one when no URL is given; tests use it too.
//
// Readiness is a TCP connect to the client port: nats-server opens it once it takes clients, so
// no HTTP client (monitoring port) is needed here. The pieces below the class are public for
// harnesses that run servers of other shapes (tests/support/local_nats_cluster.hpp).
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace parti {

/// The authentication a local server requires of its clients: a user with a password, or a
/// token, or (all empty) none.
struct nats_server_auth {
  std::string user;
  std::string password;
  std::string token;
};

class local_nats_server {
 public:
  /// Starts a server at once and waits until it accepts connections (throws on failure).
  local_nats_server();
  /// The same, requiring `auth` of every client (url() carries no credentials).
  explicit local_nats_server(nats_server_auth auth);
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
  nats_server_auth auth_;
};

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0 and read it back).
int free_loopback_port();

/// The nats-server binary: $PARTI_NATS_SERVER, then PATH, then /usr/sbin/nats-server.
std::string nats_server_binary();

/// True when something accepts TCP connections on 127.0.0.1:<port>.
bool accepts_connections(int port);

/// A new, empty directory "<temporary directory>/parti-nats-XXXXXX" (throws on failure).
std::string make_nats_store_dir();

/// fork + exec of nats_server_binary() with `args` (argv[1..]); the pid of the child. The child
/// dies with the thread that forked it (PR_SET_PDEATHSIG) and gets /dev/null as stdio, so it
/// never holds the parent's pipes open. Throws when fork fails.
pid_t spawn_nats_server(const std::vector<std::string>& args);

/// Sends `signal` to the server `pid` (nothing when pid <= 0), reaps it and sets pid to -1, then
/// waits (up to 5 s) until `port` no longer accepts connections, so that a restart can bind it.
void reap_nats_server(pid_t& pid, int signal, int port);

}  // namespace parti
