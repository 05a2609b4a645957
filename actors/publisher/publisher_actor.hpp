#pragma once
// publisher: writes assignments toward the calculator's target (handoff_planner decides the
// steps: cooperative revoke-then-grant, or eager). Only the worker keys that changed are
// written, in one pipelined batch, then `_manifest` last; keys of workers no longer present
// are deleted. Every record carries the leader's epoch and a growing version. It reports
// round_done to the state machine when the target is reached, and the owners to the emergency
// detector after each write. It ends with the leader (the node stops the subtree on step-down).
//
// A new leader first re-writes every key under its epoch (restamp), so that a deposed leader's
// delayed write is older than what every worker holds. Before a partition goes to a new owner
// while its previous holder has not acknowledged the revocation (gone, paused, cut off, or too
// slow), the publisher fences the holder: a compare-and-set of the holder's heartbeat key on the
// newest revision the leader saw (docs/WIRE.md). Once that succeeded, the holder's lease lapses
// by (when that heartbeat was seen) + the larger heartbeat TTL, and the planner grants then.
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "parti/actors/publisher/handoff_planner.hpp"
#include "parti/messages/interfaces.hpp"
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/wakeup.hpp"

namespace parti {

struct publisher_settings {
  std::string leader;  // this leader's worker id, for logs
  std::uint64_t epoch = 0;
  handoff_options handoff;
  duration request_timeout = std::chrono::seconds(1);
  published_map published;  // as read from KV when the leader started
  /// The last version already written under `epoch` (the _manifest's, when a leader restarts
  /// under the same epoch); versions continue after it and after every published key's.
  std::uint64_t last_version = 0;
  /// How many partitions the source had when the leader started: the re-stamp's `_manifest`
  /// says so (a round's target replaces it), so that a reader of the bucket sees partitions
  /// that no key holds as unassigned before the first round (0: not known).
  std::uint64_t partition_count = 0;
  std::shared_ptr<metrics> stats;
  duration heartbeat_ttl = std::chrono::seconds(3);  // this leader's; a record's may be larger
  /// The leader term's renew deadline (steady ns), kept by the election; null: always valid.
  /// Checked before every write: a leader never publishes once its lease could have expired.
  std::shared_ptr<const std::atomic<std::int64_t>> leading_until;
};

/// A worker key as read from the store, with its fencing tokens (records without them: none).
published_key published_key_of(const assignment_record& r);

struct publisher_state {
  publisher_settings settings;
  kv_actor kv;
  kv_actor heartbeats;
  state_machine_actor state_machine;
  emergency_detector_actor emergency_detector;
  std::map<std::string, heartbeat_seen> seen;  // from the monitor: what a fence needs
  std::set<std::string> fencing;               // fences in flight
  time_point started{};
  std::optional<handoff_planner> planner;  // from the start on
  applied_map applied;
  std::uint64_t version = 0;  // the last version written under this epoch
  std::optional<target_ready> round;
  std::uint64_t partition_count = 0;
  bool busy = false;
  wakeup timer;
  static inline const char* name = "parti.publisher";
};

publisher_actor::behavior_type publisher(publisher_actor::stateful_pointer<publisher_state> self,
                                         publisher_settings settings, kv_actor assignments,
                                         kv_actor heartbeats, state_machine_actor state_machine,
                                         emergency_detector_actor emergency_detector);

}  // namespace parti
