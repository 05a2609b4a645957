#pragma once
// A TCP relay for fault injection, shared by the fault tests (integration.tcp_relay,
// integration.lease_faults) and the failover benchmark (bench_failover, mode cut): clients
// connect to the relay, which forwards each connection to a target port on 127.0.0.1 (a
// nats-server). cut() partitions every relayed connection without
// closing it: from then on the relay still reads everything from both sides (so no sender ever
// blocks and no write deadline fires) but forwards nothing, not even a close, and neither side
// sees a FIN or a reset. heal() resumes forwarding; by default the bytes held back during the
// cut are delivered first (TCP retransmission after a short partition: bytes are delayed, never
// lost), or they are dropped (heal(false)).
//
// Dropping held bytes usually cuts a protocol stream in the middle of a frame, and the peer then
// closes the connection with a parse error (which is also what a long partition tends to end in).
// When the cut started while the stream was idle, whole frames are dropped and the stream stays
// valid: the messages sent during the cut simply never arrive.
//
// Details:
//  - The held buffer is capped per connection and direction (hold_limit, 64 MiB by default);
//    bytes beyond it are read and dropped (counted by overflow_bytes()), even with heal(true).
//  - Bytes read before the cut but not yet written are written after heal() in both modes (they
//    had left their sender before the partition).
//  - A connection accepted during a cut is connected to the target at once (the handshake is not
//    data), but its bytes are held like all others.
//  - An end of stream (EOF or a reset) read during a cut is held too: the other side is shut down
//    (FIN) only after heal(), once what precedes it has been written.
//  - Outside a cut: an EOF from one side shuts down the other side for writing once everything
//    before it is written (half-close, as a relay does); a connection whose both directions are
//    finished, or whose write fails, is closed. If the target refuses, the client is closed.
//
// One thread polls the listening socket and every connection (non-blocking sockets, a self-pipe
// to wake it); every public method is thread-safe.
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace parti::fleet {

class tcp_relay {
 public:
  static constexpr std::size_t default_hold_limit = 64u << 20;  // 64 MiB

  /// Listens on 127.0.0.1 on a free port and forwards every accepted connection to
  /// 127.0.0.1:target_port. Throws std::runtime_error when a socket cannot be set up.
  explicit tcp_relay(int target_port, std::size_t hold_limit = default_hold_limit);
  /// Stops the thread and closes everything.
  ~tcp_relay();
  tcp_relay(const tcp_relay&) = delete;
  tcp_relay& operator=(const tcp_relay&) = delete;

  /// Where clients connect.
  int port() const { return port_; }
  /// "nats://127.0.0.1:<port>"
  std::string url() const;

  /// Cut: from now on bytes are read from both sides (so no sender blocks) but not forwarded;
  /// they are kept in a buffer per connection and direction. Effective when it returns: nothing
  /// is written to any socket until heal(). No effect when already cut.
  void cut();
  /// Heal: forwarding resumes; what was held back during the cut is delivered before new bytes
  /// (deliver_held, the default) or dropped. No effect when not cut.
  void heal(bool deliver_held = true);
  bool is_cut() const;

  /// Bytes held back (kept for delivery) in the current or last cut, over all connections.
  std::size_t held_bytes() const;
  /// Bytes read in the current or last cut beyond the hold limit (lost even with heal(true)).
  std::size_t overflow_bytes() const;
  /// Connections accepted so far.
  std::size_t connections() const;
  /// Relayed connections open right now.
  std::size_t open_connections() const;

  /// Closes every relayed connection now with a reset (RST to both peers, as a network reset
  /// would), dropping what is buffered; keeps listening. Returns once they are closed.
  void reset_connections();

 private:
  struct link;

  void run();
  void wake();
  void accept_all();
  void connect_target(link& l);
  void finish_connect(link& l);
  void read_side(link& l, int side);
  void pump(link& l);
  void close_finished();
  void reset_all();

  int target_port_;
  std::size_t hold_limit_;
  int port_ = 0;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};

  mutable std::mutex mutex_;
  std::condition_variable reset_done_cv_;
  bool stop_ = false;
  bool cut_ = false;
  bool accept_paused_ = false;  // out of file descriptors: until a connection closes
  std::uint64_t reset_requested_ = 0;
  std::uint64_t reset_done_ = 0;
  std::size_t held_ = 0;
  std::size_t overflow_ = 0;
  std::size_t accepted_ = 0;
  std::vector<std::unique_ptr<link>> links_;  // added and removed by the thread only
  std::thread thread_;
};

}  // namespace parti::fleet
