#pragma once
// Two-phase hand-off. Pure logic for the publisher actor: no CAF, no NATS, time
// passed in.
//
// Workers hold an ownership lease: a worker serves its partitions only until the send time of
// its newest acknowledged heartbeat + TTL - margin, and heartbeats are compare-and-set writes on
// its own last revision of its heartbeat key. The leader fences a worker by rewriting that key on
// the last revision it saw: once that succeeds the worker cannot extend its lease, which lapses
// by a time the publisher knows, and a worker that resumes must re-read its assignment key first.
//
// Cooperative (default): a partition moving to W is first revoked from every worker H that holds
// it (H's key is published without it, W's not yet with it). W is granted it only once, for each
// such H, either
//   (a) H's heartbeat reports an applied (epoch, version) at or past the version that revoked it,
//   (b) or H was released: fenced after that revocation was published, and the time its lease
//       surely lapsed has passed.
// Not hearing H proves nothing (paused or cut off, it may serve until its lease lapses), so a
// silent holder is revoked (its key written, even empty, never deleted first), then fenced, then
// its partitions are granted. A heard holder that has not applied its revocation within the
// hand-off timeout is fenced as well. So no partition has two owners, under pauses and network
// cuts as well as crashes. Eager: the target is published in one step, without that guarantee.
//
// After a leader change the planner does not know who held a partition that no key holds now (a
// revocation by the previous leader may still be in flight). Such partitions are granted only once
// every keyed or heard worker settled: it applied its current key, or has no key and never applied
// one, or was released. Keyed workers that are not heard are fenced at once, heard ones that have
// not settled within the hand-off timeout from adoption then.
//
// Use from the publisher actor:
//   1. adopt (constructor) the assignment read from KV, with each key's (epoch, version) and
//      fencing tokens; write restamp() under the new epoch, then call published() with it;
//   2. set_target() with each new target from the calculator;
//   3. plan(heard, now): fence every worker of to_fence and report each outcome with released()
//      or fence_failed(); if the step has writes, write its changed keys (their tokens from
//      grants_for()), delete its deleted keys, write the manifest, then call
//      published(step, version, now);
//   4. plan again when a heartbeat reports a new applied version, when the heard set changes,
//      after released() or fence_failed(), and when next_deadline() is due; stop when a
//      published step had target_reached.
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

#include "parti/messages/records.hpp"
#include "parti/messages/result.hpp"
#include "parti/messages/version_stamp.hpp"
#include "parti/runtime/clock.hpp"

namespace parti {

enum class handoff_mode { cooperative, eager };

struct handoff_options {
  handoff_mode mode = handoff_mode::cooperative;
  /// How long a heard holder may take to apply a revocation before it is fenced.
  duration handoff_timeout = std::chrono::seconds(10);

  /// Checks the options; the failure names the field and the rule.
  status validate() const;
};

/// worker -> its partitions, sorted.
using assignment_map = std::map<std::string, std::vector<partition>>;

/// One worker's key as published: its partitions and the version that last wrote it.
struct published_key {
  std::vector<partition> partitions;
  version_stamp version;
  /// Partition keys -> the (epoch, version) at which this owner was given it: its fencing token.
  /// Records written before tokens existed have none: the key's version stands in for them.
  /// Defaulted, so that two-field initializers of a key stay valid.
  std::map<std::vector<std::string>, version_stamp> granted = {};
};
using published_map = std::map<std::string, published_key>;

/// Every worker whose heartbeat the leader hears now (alive, restarting and leaving), with the
/// (epoch, version) it reports applied. A worker absent here is not heard, which proves nothing
/// about what it still serves.
using applied_map = std::map<std::string, version_stamp>;

/// What to publish next.
struct handoff_step {
  assignment_map assignment;          // the next assignment: every key that should exist
  std::vector<std::string> changed;   // keys whose content differs from the published one: write
  std::vector<std::string> deleted;   // keys to delete (nothing left to revoke from them)
  bool target_reached = false;        // once this step is published, the target is reached
  std::vector<partition> in_handoff;  // target partitions withheld for now, waiting on revocation
  std::optional<time_point> next_deadline;  // when planning again may change something
  std::vector<std::string> to_fence;  // workers to fence now, sorted (see handoff_planner::plan)

  bool has_writes() const { return !changed.empty() || !deleted.empty(); }
};

class handoff_planner {
 public:
  handoff_planner(handoff_options options, published_map current, time_point now);

  /// Starts over from `current` as read from KV (leader start, or after a write with an unknown
  /// outcome was re-read). Forgets pending revocations, requested fences and releases (a fence
  /// may have run before a write of unknown outcome landed); the adoption guard covers them.
  void adopt(published_map current, time_point now);

  /// The assignment to reach. Partitions are identified by their keys.
  void set_target(assignment_map target);

  /// The next step from the published state toward the target, given the workers the leader
  /// hears now. Cooperative mode also lists in to_fence the workers to fence: holders of a
  /// published revocation that are not heard, or heard but have not applied it within the
  /// hand-off timeout; under the adoption guard, keyed workers that are not heard, and heard ones
  /// not settled within the hand-off timeout from adoption. Each is listed once, until its
  /// outcome is reported (released() or fence_failed()). A worker whose key this step writes is
  /// listed only after it is published: a fence covers only revocations published before it was
  /// requested.
  handoff_step plan(const applied_map& heard, time_point now);

  /// `step` (from plan or restamp) was written with `version` at `now`: its revocations start
  /// their timers, its keys get their fencing tokens (see grants_for).
  void published(const handoff_step& step, version_stamp version, time_point now);

  /// The requested fence of `worker` succeeded: its lease surely lapsed at `lapse_at` (leader
  /// clock). From then on, the revocations published before the fence was requested are resolved
  /// and the worker is settled for the adoption guard. Ignored for a worker with no fence
  /// requested since the last adopt().
  void released(const std::string& worker, time_point lapse_at);

  /// The requested fence of `worker` failed (it wrote a newer heartbeat: it is alive). It may be
  /// listed in to_fence again, if still needed.
  void fence_failed(const std::string& worker);

  /// After a leader change: the published content with every key changed (nothing deleted), to
  /// be written under the new epoch before anything else, so that every key carries it; from
  /// then on the adoption guard wants each keyed worker to have applied that version.
  handoff_step restamp() const;

  /// The fencing tokens of `worker`'s key holding `parts` when written at `version`: a partition
  /// it already holds keeps its token, a new one gets `version`. For the records of a step, before
  /// it is published; published() applies the same rule.
  std::map<std::vector<std::string>, version_stamp> grants_for(const std::string& worker,
                                                               const std::vector<partition>& parts,
                                                               version_stamp version) const;

  /// The earliest time after the last plan at which planning again may change something: a
  /// release's lapse, a hand-off timeout that requests a fence, the adoption guard's timeout.
  std::optional<time_point> next_deadline() const;

  const published_map& current() const { return published_; }
  const assignment_map& target() const { return target_; }
  /// Partitions revoked from a worker and not yet known to be released by it.
  std::size_t pending_revocations() const { return revocations_.size(); }

 private:
  using partition_id = std::vector<std::string>;  // a partition's identity: its keys
  struct revocation {
    version_stamp version;          // the version that published the key without the partition
    time_point at;                  // when it was published
    std::uint64_t publication = 0;  // which publication (see publications_)
  };
  using revocation_key = std::pair<partition_id, std::string>;  // (partition, previous owner)
  struct release {
    time_point lapse_at;
    std::uint64_t covers = 0;  // revocations up to this publication are resolved at lapse_at
  };

  handoff_step plan_eager() const;
  handoff_step plan_cooperative(const applied_map& heard, time_point now);
  bool may_grant(const partition& p, const std::string& to,
                 const std::map<partition_id, std::set<std::string>>& holders) const;
  bool keeps_empty_key(const std::string& worker, const applied_map& heard, time_point now) const;
  void forget_resolved_revocations(const applied_map& heard, time_point now);
  bool released_from(const std::string& worker, const revocation& rev, time_point now) const;
  bool release_covers(const std::string& worker, const revocation& rev) const;
  void forget_lapsed_releases(time_point now);
  void end_adoption_guard_if_settled(const applied_map& heard, time_point now);
  bool settled(const std::string& worker, const applied_map& heard, time_point now) const;
  std::set<std::string> guarded_workers(const applied_map& heard) const;
  std::vector<std::string> fences_needed(const handoff_step& step, const applied_map& heard,
                                         time_point now) const;
  void add_revocation_fences(std::set<std::string>& needed, const applied_map& heard,
                             time_point now) const;
  void add_guard_fences(std::set<std::string>& needed, const applied_map& heard,
                        time_point now) const;
  void request_fences(const std::vector<std::string>& workers);
  std::map<partition_id, std::set<std::string>> holders() const;
  void record_revocations(const published_map& before, const handoff_step& step,
                          version_stamp version, time_point now);
  void diff_against_published(handoff_step& step) const;
  void saw(time_point now);

  handoff_options options_;
  published_map published_;
  assignment_map target_;
  std::map<revocation_key, revocation> revocations_;
  std::map<std::string, std::uint64_t> fences_requested_;  // worker -> publications_ then
  std::map<std::string, release> releases_;
  std::uint64_t publications_ = 0;        // published() calls: orders revocations and fences
  std::optional<time_point> adopted_at_;  // adoption guard active since
  std::optional<time_point> last_seen_;   // the latest `now` given: older deadlines are handled
};

}  // namespace parti
