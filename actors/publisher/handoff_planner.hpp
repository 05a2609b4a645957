#pragma once
// Two-phase hand-off (DESIGN.md §5). Pure logic for the publisher actor: no CAF, no NATS, time
// passed in.
//
// Cooperative (default): a partition moving from A to B is first revoked from A (A's key is
// published without it, B's not yet with it). B is granted it only once A's heartbeat reports an
// applied (epoch, version) at or past the version that revoked it, or A is no longer live, or the
// hand-off timeout has passed since the revocation was published. So no partition has two
// owners at once. Eager: the target is published in one step.
//
// Invariant (cooperative): a partition is never granted while a live previous owner still holds
// it in the published assignment, or has not applied its revocation, before the timeout.
//
// After a leader change the planner does not know who held a partition that no key holds now
// (a revocation by the previous leader may still be in flight). Such partitions are granted only
// once every live worker has applied its current key (then none of them holds anything else), or
// after the hand-off timeout from adoption.
//
// Use from the publisher actor:
//   1. adopt (constructor) the assignment read from KV, with each key's (epoch, version);
//   2. set_target() with each new target from the calculator;
//   3. plan(live applied versions, now): if the step has writes, write its changed keys, delete
//      its deleted keys, write the manifest, then call published(step, version, now);
//   4. plan again when a heartbeat reports a new applied version, when next_deadline() is due,
//      or when the live set changes; stop when a published step had target_reached.
// Call plan() only after the previous step was published (or abandoned): plan() works from the
// published state, so until then it proposes the same step again.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "messages/records.hpp"
#include "messages/result.hpp"
#include "runtime/clock.hpp"

namespace parti {

enum class handoff_mode { cooperative, eager };

struct handoff_options {
  handoff_mode mode = handoff_mode::cooperative;
  duration handoff_timeout = std::chrono::seconds(10);

  /// Checks the options; the failure names the field and the rule.
  status validate() const;
};

/// The (epoch, version) of an assignment, ordered epoch first (DESIGN.md §2 Epoch).
struct version_stamp {
  std::uint64_t epoch = 0;
  std::uint64_t version = 0;
};
inline bool operator<(const version_stamp& a, const version_stamp& b) {
  return std::tie(a.epoch, a.version) < std::tie(b.epoch, b.version);
}
inline bool operator==(const version_stamp& a, const version_stamp& b) {
  return a.epoch == b.epoch && a.version == b.version;
}

/// worker -> its partitions, sorted.
using assignment_map = std::map<std::string, std::vector<partition>>;

/// One worker's key as published: its partitions and the version that last wrote it.
struct published_key {
  std::vector<partition> partitions;
  version_stamp version;
};
using published_map = std::map<std::string, published_key>;

/// Live workers only (a worker absent here is gone), with the version each reports applied.
using applied_map = std::map<std::string, version_stamp>;

/// What to publish next.
struct handoff_step {
  assignment_map assignment;          // the next assignment: every key that should exist
  std::vector<std::string> changed;   // keys whose content differs from the published one: write
  std::vector<std::string> deleted;   // keys to delete (workers no longer present)
  bool target_reached = false;        // once this step is published, the target is reached
  std::vector<partition> in_handoff;  // target partitions withheld for now, waiting on revocation
  std::optional<time_point> next_deadline;  // earliest hand-off timeout among pending revocations

  bool has_writes() const { return !changed.empty() || !deleted.empty(); }
};

class handoff_planner {
 public:
  handoff_planner(handoff_options options, published_map current, time_point now);

  /// Starts over from `current` as read from KV (leader start, or after a write with an unknown
  /// outcome was re-read). Forgets pending revocations; the adoption guard covers them.
  void adopt(published_map current, time_point now);

  /// The assignment to reach. Partitions are identified by their keys.
  void set_target(assignment_map target);

  /// The next step from the published state toward the target.
  handoff_step plan(const applied_map& live_applied, time_point now);

  /// `step` (from plan) was written with `version` at `now`: its revocations start their timers.
  void published(const handoff_step& step, version_stamp version, time_point now);

  /// When a pending revocation (or the adoption guard) times out; nullopt if none.
  std::optional<time_point> next_deadline() const;

  const published_map& current() const { return published_; }
  const assignment_map& target() const { return target_; }
  /// Partitions revoked from a worker and not yet known to be released by it.
  std::size_t pending_revocations() const { return revocations_.size(); }

 private:
  using partition_id = std::vector<std::string>;  // a partition's identity: its keys
  struct revocation {
    version_stamp version;  // the version that published the key without the partition
    time_point at;          // when it was published
  };
  using revocation_key = std::pair<partition_id, std::string>;  // (partition, previous owner)

  handoff_step plan_eager() const;
  handoff_step plan_cooperative(const applied_map& live_applied, time_point now);
  bool may_grant(const partition& p, const std::string& to, const applied_map& live_applied,
                 const std::map<partition_id, std::set<std::string>>& holders) const;
  bool keeps_empty_key(const std::string& worker, const applied_map& live_applied) const;
  void forget_resolved_revocations(const applied_map& live_applied, time_point now);
  void end_adoption_guard_if_settled(const applied_map& live_applied, time_point now);
  bool all_live_settled(const applied_map& live_applied) const;
  std::map<partition_id, std::set<std::string>> holders() const;
  void record_revocations(const published_map& before, const handoff_step& step,
                          version_stamp version, time_point now);
  void diff_against_published(handoff_step& step) const;

  handoff_options options_;
  published_map published_;
  assignment_map target_;
  std::map<revocation_key, revocation> revocations_;
  std::optional<time_point> adopted_at_;  // adoption guard active since
};

}  // namespace parti
