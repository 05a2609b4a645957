#pragma once
// What a worker owns, fed by the watch of its own assignment key (docs/WIRE.md).
//
// Fencing: a record is accepted only if its (epoch, version) is greater than the newest one
// accepted so far, so a deposed leader (smaller epoch) cannot undo a newer leader's work and a
// replayed value (equal stamp) is ignored. A deleted key means "own nothing"; it does not lower
// the fence.
//
// Ordering: changes reach the application one at a time. deliver() hands out the next change,
// and nothing else is handed out until ack(). Records that arrive meanwhile coalesce: only the
// latest is kept, and the next change is computed against what the application acknowledged,
// so no intermediate state is ever shown and nothing is lost.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parti/messages/records.hpp"
#include "parti/messages/result.hpp"

namespace parti {

/// (epoch, version), ordered lexicographically: the fence of assignments.
struct assignment_stamp {
  std::uint64_t epoch = 0;
  std::uint64_t version = 0;
};
bool operator<(const assignment_stamp& a, const assignment_stamp& b);
bool operator==(const assignment_stamp& a, const assignment_stamp& b);
inline bool operator!=(const assignment_stamp& a, const assignment_stamp& b) {
  return !(a == b);
}

/// One change for the application. Partitions are compared by their keys (their identity); all
/// lists are sorted by keys.
struct assignment_change {
  std::vector<partition> owned;    // the full new set
  std::vector<partition> added;    // in `owned`, not owned before
  std::vector<partition> removed;  // owned before, not in `owned`
  /// The fencing token of each partition in `owned`, in the same order: the record's token when
  /// the leader wrote one, else the record's stamp (the version that gave it to this worker at
  /// the latest), as a leader reading the bucket takes it.
  std::vector<partition_grant> grants;
  assignment_stamp stamp;  // of the record (for a delete: the fence still held)
  std::string reason;      // the record's reason; "deleted" for a deleted key
  bool key_deleted = false;

  bool moves_nothing() const { return added.empty() && removed.empty(); }
};

/// What happened to an event offered to the tracker.
enum class offer_outcome {
  accepted,      // will be (part of) the next delivered change
  duplicate,     // same stamp as held, or a delete while already owning nothing: a replay
  stale,         // smaller stamp than held: from a deposed leader or reordered; ignored
  other_worker,  // the record names another worker: misrouted; ignored
};
std::string_view to_string(offer_outcome x);

class assignment_tracker {
 public:
  /// `worker` is this node's id; records naming another worker are refused.
  explicit assignment_tracker(std::string worker);

  /// A put on this worker's assignment key.
  offer_outcome on_put(const assignment_record& record);

  /// A delete (or purge) of this worker's assignment key: own nothing.
  offer_outcome on_delete();

  /// The next change for the application, or nothing when no change is pending or the previous
  /// one is not acknowledged yet.
  std::optional<assignment_change> deliver();

  /// The application applied the delivered change. Fails when nothing was delivered.
  status ack();

  bool has_pending() const { return pending_.has_value(); }
  bool awaiting_ack() const { return in_flight_.has_value(); }

  /// The newest accepted stamp: records at or below it are refused.
  assignment_stamp held() const { return held_; }

  /// The stamp of the last acknowledged change: the heartbeat's applied_epoch/applied_version.
  assignment_stamp applied() const { return applied_; }

  /// What the application owns, as acknowledged.
  const std::vector<partition>& owned() const { return owned_; }

  /// How many accepted events were replaced by a later one before being delivered.
  std::uint64_t coalesced() const { return coalesced_; }

 private:
  struct target {
    std::vector<partition> partitions;    // normalized: sorted and unique by keys
    std::vector<partition_grant> grants;  // as the record gave them
    assignment_stamp stamp;
    std::string reason;
    bool deleted = false;
  };
  void set_pending(target next);

  std::string worker_;
  assignment_stamp held_;
  assignment_stamp applied_;
  std::vector<partition> owned_;
  std::optional<target> pending_;
  std::optional<assignment_change> in_flight_;
  bool latest_is_delete_ = true;  // a fresh worker has no key: the same as a deleted one
  std::uint64_t coalesced_ = 0;
};

/// Partitions of `a` whose keys are not in `b`, and those whose keys are in both; sorted by keys
/// (the inputs need not be). Partitions are identified by their keys.
std::vector<partition> partitions_minus(std::vector<partition> a, std::vector<partition> b);
std::vector<partition> partitions_common(std::vector<partition> a, std::vector<partition> b);

/// One line for the logs, e.g.
/// `assignment e5 v12 (scale-up): owns 3, +1 -1, added [p4] removed [p1]`.
/// Lists longer than `max_listed` are cut with "... +N more".
std::string format_change(const assignment_change& change, std::size_t max_listed = 8);

}  // namespace parti
