#pragma once
// What /status reports for every node of this process, kept up to date from the nodes' own
// events. The HTTP thread only reads this snapshot under a mutex, so a request never waits
// for an actor (a busy or stopping node cannot stall a scrape).
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "parti/messages/node_events.hpp"

namespace parti::node_app {

class status_cache {
 public:
  struct process_info {
    std::string group;
    std::string nats;  // the URL(s) the nodes use
    bool embedded_nats = false;
    std::string partitions;  // what the leader distributes, as text
  };

  status_cache(process_info info, int nodes);

  // Called by the nodes (on their actor threads), in the order the node produced them.
  void on_state(int node, const node_state_update& u);
  void on_leadership(int node, const leadership_update& u);
  void on_assignment(int node, const assignment_update& u);
  void on_lease(int node, const lease_update& u);

  /// {"clock":"CLOCK_BOOTTIME ns","now":t,"intervals":[{"node":i,"worker":w,"partition":k,
  ///  "from":t0,"to":t1}]}: every span during which a node of this process served a partition,
  /// on the boot clock, which every process of one host shares, so spans of different
  /// processes compare exactly (no sampling). A span ends where the lease would have let it end
  /// (the horizon), even when the node's thread did not run then (a paused process). The
  /// current ones end at `now`. Kept for the last 100 000 spans.
  std::string ownership_json() const;

  /// The worker id node `node` holds now (empty while it holds none).
  std::string worker(int node) const;
  /// The last worker id node `node` held (kept when it is lost, empty before the first): what
  /// the node's partitions were served under, also in the moment its id is being lost.
  std::string last_worker(int node) const;

  /// {"group":..., "pid":..., "nats":..., "nodes":[{"index", "worker", "state", "leader",
  ///  "epoch", "leader_id", "applied_epoch", "applied_version", "partition_count",
  ///  "partitions":[{"keys":[...],"weight":n,"token":{"epoch":e,"version":v}}],
  ///  "suspended_partitions":[...], "lease":..., "lease_remaining_ms":n}]}
  /// `partitions` holds only what the node may serve at the moment of answering: its lease is
  /// compared with the clock now, not when the node last ran.
  std::string json() const;

  /// Whether node `node` may take traffic now, and if not why: ready while it holds its worker
  /// id, has applied an assignment (an empty one counts; the first one after start-up, kept
  /// across an id loss, when holding no id is the reason), is neither Degraded (store
  /// unreachable), Failed nor stopping, and its ownership lease lets it serve (compared with
  /// the clock now). The reasons, in the order they are checked: "no_worker_id",
  /// "no_assignment", "failed", "stopping", "degraded", "suspended" (the lease is suspended,
  /// being confirmed, lapsed or not yet held).
  struct readiness {
    bool ready = false;
    std::string reason;  // empty when ready
    std::string worker;
    std::string state;
  };
  readiness ready(int node) const;
  int nodes() const { return static_cast<int>(nodes_.size()); }

  /// A readiness page: whether it says ready, and its JSON (code and body from one reading).
  struct readiness_page {
    bool ready = false;
    std::string json;
  };
  /// /readyz/<node>: {"index":i,"ready":b,"worker":w,"state":s,"reason":r (when not ready)}.
  readiness_page readiness_report(int node) const;
  /// /readyz: ready only when every node is: {"ready":b,"reason":"node <i>: <reason>" (the
  /// first one not ready; absent when ready),"nodes":[<each as for one node>]}.
  readiness_page readiness_report() const;

 private:
  struct entry {
    std::string worker;
    std::string last_worker;
    std::string state = "Init";
    bool leader = false;
    std::uint64_t epoch = 0;
    std::string leader_id;
    std::uint64_t applied_epoch = 0;
    std::uint64_t applied_version = 0;
    std::vector<partition> owned;
    std::vector<partition_grant> grants;
    bool assignment_applied = false;  // an assignment was applied since start-up
    std::string lease = "unheld";
    std::int64_t serving_until_ns = 0;  // boot clock: compared at the moment of answering
    std::map<std::string, std::int64_t> assigned_since;          // first key -> when it was applied
    std::vector<std::pair<std::int64_t, std::int64_t>> serving;  // lease spans [from, until)
  };
  struct span {
    int node = 0;
    std::string worker;
    std::string partition;
    std::int64_t from = 0, to = 0;  // assigned [from, to); served where a lease span overlaps
  };
  void close_assignment(int node, entry& e, const std::string& key, std::int64_t at);

  entry& at(int node);
  readiness ready_locked(const entry& e, std::int64_t now_ns) const;

  process_info info_;
  mutable std::mutex mutex_;
  std::vector<entry> nodes_;
  std::deque<span> closed_;  // assignments that ended
};

}  // namespace parti::node_app
