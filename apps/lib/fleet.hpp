#pragma once
// A fleet of parti-node processes on one machine, for the chaos harness and the failover
// benchmarks: start, kill (any signal), restart with the same preferred id, and sample what each
// process reports on /status. Every process dies with its parent (PR_SET_PDEATHSIG).
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace parti::fleet {

/// One node as /status reports it.
struct node_view {
  std::string worker;
  std::string state;
  bool leader = false;
  std::uint64_t epoch = 0;
  std::uint64_t applied_version = 0;
  std::vector<std::string> partitions;  // first key of each owned partition
  // Owned but not served: the node's lease lapsed (empty with a binary without leases).
  std::vector<std::string> suspended_partitions;
};

/// parti-node flags that scale the group's timings down so that it converges in about a second
/// on one machine: heartbeat 200 ms, heartbeat TTL 600 ms, emergency grace 200 ms, id TTL 2 s,
/// election TTL 1.2 s, cold-start window 1 s, planned-scale window and cooldown 500 ms. One list
/// for the tests and harnesses that run parti-node processes (inline: tests that do not link
/// the apps' library use it too).
inline std::vector<std::string> fast_timing_args() {
  return {"--heartbeat-interval=200ms",   "--heartbeat-ttl=600ms",
          "--emergency-grace=200ms",      "--id-ttl=2s",
          "--election-ttl=1200ms",        "--cold-start-window=1s",
          "--planned-scale-window=500ms", "--cooldown=500ms"};
}

/// Parses the /status JSON of parti-node (one object per node in the process).
std::vector<node_view> parse_status(const std::string& json);

struct member {
  int index = 0;
  pid_t pid = -1;
  int metrics_port = 0;
  std::optional<std::uint32_t> preferred_id;
  std::vector<std::string> args;
  bool alive() const { return pid > 0; }
};

/// One span during which a node served a partition (parti-node's /debug/ownership), on the boot
/// clock that every process of the host shares.
struct served_span {
  std::string worker;  // "<worker id>@member-<index>"
  std::string partition;
  std::int64_t from = 0, to = 0;  // ns, [from, to)
};

/// Every pair of spans of one partition, by two different workers, that overlap in time: a
/// moment with two owners, found exactly rather than by sampling.
std::vector<std::pair<served_span, served_span>> overlapping(std::vector<served_span> spans);

/// partition -> the workers that report owning it.
using ownership = std::map<std::string, std::set<std::string>>;

class fleet {
 public:
  /// `binary`: the parti-node program; `common_args`: flags every node gets (nats URL, group,
  /// partitions, timings). Output of the nodes goes to `log_dir`/node-<i>.log.
  fleet(std::string binary, std::vector<std::string> common_args, std::string log_dir);
  ~fleet();
  fleet(const fleet&) = delete;
  fleet& operator=(const fleet&) = delete;

  /// Starts a node process (with --preferred-id when given); returns its index.
  int start(std::optional<std::uint32_t> preferred_id = std::nullopt,
            std::vector<std::string> extra_args = {});
  /// Starts again a member that was stopped, with the same arguments and port.
  void restart(int index);
  /// Sends `signal`; with `wait`, reaps the process (see wait()) and returns its exit code.
  std::optional<int> signal(int index, int signal, bool wait = true,
                            std::chrono::milliseconds timeout = std::chrono::seconds(60));
  /// Waits until member `index` exits, at most `timeout` (then SIGKILL), and reaps it: its exit
  /// code (128 + n when a signal n ended it), nothing when it had been reaped before.
  std::optional<int> wait(int index, std::chrono::milliseconds timeout = std::chrono::seconds(60));
  /// Reaps members that exited on their own.
  void reap();

  /// The nodes a member reports, or nothing when it does not answer.
  std::optional<std::vector<node_view>> status(
      int index, std::chrono::milliseconds timeout = std::chrono::milliseconds(500));
  /// The spans member `index` reports on /debug/ownership, or nothing when it does not answer.
  /// `now`, when given, gets the moment of the answer on the boot clock: a span that was still
  /// being served then ends at it.
  std::optional<std::vector<served_span>> served_spans(
      int index, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000),
      std::int64_t* now = nullptr);
  /// Who owns what, over every live member that answered; `answered` counts them.
  ownership sample(int* answered = nullptr);
  /// The worker that leads, when exactly one live member says it leads.
  std::optional<std::pair<int, node_view>> leader();

  const std::vector<member>& members() const { return members_; }
  std::vector<int> alive() const;

 private:
  void spawn(member& m);

  std::string binary_;
  std::vector<std::string> common_;
  std::string log_dir_;
  std::vector<member> members_;
};

/// Every partition p-0 .. p-<count-1> owned by exactly one worker.
bool fully_covered(const ownership& o, std::uint32_t count);
/// Partitions owned by two or more workers.
std::vector<std::string> doubly_owned(const ownership& o);

}  // namespace parti::fleet
