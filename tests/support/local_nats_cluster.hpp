#pragma once
// N local nats-servers as one JetStream cluster on loopback, for replicated buckets and
// server-failure tests. Each member is started like runtime/nats/local_server.hpp starts one
// server (same process rules); health and the meta leader come from the members' monitoring
// pages, read over HTTP, which is why this lives with the tests and not in the library.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace parti::test {

/// N nats-servers (3 by default) forming one JetStream cluster on 127.0.0.1: each member has
/// free client, route and monitoring ports, its own store under one temporary directory, the
/// server name "n<i>", and routes to every other member. The constructor returns once every
/// member reports JetStream healthy (a meta leader is known and the member is current), so that
/// replicated buckets can be created at once. Members can be killed and started again (same
/// ports, same store, same name); the destructor kills all of them and removes the directory.
///
/// The children get SIGTERM when the thread that started them ends (PR_SET_PDEATHSIG): start
/// members from a thread that outlives them (the test's main thread).
class local_nats_cluster {
 public:
  static constexpr std::size_t default_size = 3;

  explicit local_nats_cluster(std::size_t size = default_size,
                              std::chrono::milliseconds ready_timeout = std::chrono::seconds(30));
  ~local_nats_cluster();
  local_nats_cluster(const local_nats_cluster&) = delete;
  local_nats_cluster& operator=(const local_nats_cluster&) = delete;

  std::size_t size() const { return members_.size(); }
  /// "nats://127.0.0.1:<p0>,nats://127.0.0.1:<p1>,..." (for split_urls / --nats-url).
  std::string urls() const;
  /// The same, one URL per entry (for connection_options::urls).
  std::vector<std::string> url_list() const;
  std::string url(std::size_t i) const;
  int port(std::size_t i) const { return member(i).port; }
  int cluster_port(std::size_t i) const { return member(i).cluster_port; }
  int monitor_port(std::size_t i) const { return member(i).monitor_port; }
  /// The member's server_name ("n0", "n1", ...).
  std::string name(std::size_t i) const { return "n" + std::to_string(i); }
  std::string store_dir(std::size_t i) const;
  bool running(std::size_t i) const { return member(i).pid > 0; }
  /// Which member listens on the client URL (or "host:port") `url`; nullopt when none.
  std::optional<std::size_t> index_of(const std::string& url) const;

  /// SIGKILL (no goodbye to the cluster) and wait; `stop(i)` sends SIGTERM (graceful: raft
  /// leaders step down first).
  void kill(std::size_t i);
  void stop(std::size_t i);
  /// Starts member i again on its ports and store; waits until it accepts clients and reports
  /// JetStream healthy (caught up with the cluster). Throws on failure.
  void start(std::size_t i, std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// The JetStream meta leader's server name as member i's monitoring endpoint reports it
  /// (empty while none is known or the member is down).
  std::string meta_leader(std::size_t i) const;
  /// True when member i's /healthz says JetStream is ok (meta leader known, assets current).
  bool healthy(std::size_t i) const;
  /// Waits until every running member is healthy and they agree on one meta leader.
  bool wait_until_healthy(std::chrono::milliseconds timeout) const;
  /// The body of GET <path> on member i's monitoring port (e.g. "/jsz?streams=true"); empty
  /// when the member is down or does not answer (apps/lib/http_client.hpp).
  std::string monitoring(std::size_t i, const std::string& path) const;

 private:
  struct member_info {
    int port = 0;
    int cluster_port = 0;
    int monitor_port = 0;
    pid_t pid = -1;
  };
  const member_info& member(std::size_t i) const;
  member_info& member(std::size_t i);
  void spawn(std::size_t i);
  void wait_accepting(std::size_t i, std::chrono::milliseconds timeout);
  void reap(std::size_t i, int signal);

  std::string dir_;
  std::vector<member_info> members_;
};

}  // namespace parti::test
