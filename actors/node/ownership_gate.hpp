#pragma once
// What the application may serve, and when: the node's assignment held against its ownership
// lease (ownership_lease.hpp). Pure: no CAF, no NATS; time (the boot clock) is passed in.
//
// Rules:
//  - An assignment from the watch is applied at once while the lease allows serving, else kept
//    (the newest wins) and applied when the lease allows it again, before the resume. A record
//    of an epoch older than the newest leader epoch seen is a deposed leader's late write:
//    ignored. A record older than one already known (the read-back may run ahead of the watch)
//    changes nothing; a delete is obeyed whatever its stamp (owning nothing never gives a
//    partition two owners).
//  - Every applied change is diffed against what the application has (`added`, `removed`), so
//    deferred changes coalesce into one.
//  - The heartbeat reports an assignment applied only once the application acknowledged every
//    revocation in it. A revocation not acknowledged within the hand-off timeout stops the
//    heartbeats, so the lease lapses and the leader may move the partitions once it must have;
//    the lapse then counts as the revocation applied (nobody here serves them any more).
//  - After a lapse a heartbeat acknowledged again is not enough to resume: the assignment key is
//    read back first. A newer record there is applied at the resume, before it, so a
//    revocation is never resumed. A failed read is retried after `read_back_retry`.
//  - A lost id drops everything at once (another process may hold the id now).
//
// Use from the actor: feed events, then call poll(now) and carry out its outputs in order; arm
// a timer for next_deadline() (boot clock).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "parti/actors/node/ownership_lease.hpp"
#include "parti/messages/node_events.hpp"
#include "parti/messages/version_stamp.hpp"
#include "parti/runtime/clock.hpp"

namespace parti {

/// Apply this change: tell the application (callbacks, subscribers). `served`: the node now
/// serves an assignment (the lifecycle leaves WaitingAssignment); false when the change only
/// takes partitions away (a lost id).
struct apply_assignment {
  assignment_update update;
  bool served = true;
};

/// Tell the application to stop serving `partitions` (they stay assigned).
struct suspend_ownership {
  std::vector<partition> partitions;
  std::string reason;
};

/// Tell the application to serve `partitions` again, after `suspended_for`.
struct resume_ownership {
  std::vector<partition> partitions;
  duration suspended_for{};
};

/// Read this worker's assignment key after `after` (zero: now) and answer with one of the
/// read_back_* events, passing `token` back: an answer to a read of an earlier id is ignored.
struct read_assignment_key {
  duration after{};
  std::uint64_t token = 0;
};

/// Tell the heartbeat that (epoch, version) is applied.
struct report_applied {
  version_stamp applied;
};

/// Stop (true) or resume (false) writing heartbeats.
struct hold_heartbeats {
  bool hold = false;
};

/// A record from a deposed leader, ignored (for the log).
struct stale_assignment {
  version_stamp stamp;
  std::uint64_t lease_epoch = 0;
};

using gate_output =
    std::variant<apply_assignment, suspend_ownership, resume_ownership, read_assignment_key,
                 report_applied, hold_heartbeats, stale_assignment>;

class ownership_gate {
 public:
  /// `read_back_retry`: the pause before a failed read-back is tried again.
  ownership_gate(lease_options lease, duration read_back_retry);

  // -- the id --------------------------------------------------------------------------------
  /// An id is held from now on: a fresh lease (unheld until a heartbeat is acknowledged).
  void id_claimed();
  /// The id is lost: what is owned is dropped (an apply with nothing, reason "id_lost") and
  /// the lease ends.
  void id_lost(time_point now);
  /// The id claim is surely ours until `until`: the lease never outlasts it.
  void claim_safe_until(time_point until);

  // -- heartbeats ----------------------------------------------------------------------------
  void heartbeat(const heartbeat_outcome& outcome, time_point now);

  // -- assignments ---------------------------------------------------------------------------
  /// A change from the assignment watch; `lease_epoch` is the newest leader epoch seen.
  void assignment(assignment_update u, std::uint64_t lease_epoch, time_point now);
  /// The application was told an apply_assignment; `acks` acknowledgements of its revocation
  /// are awaited (one per subscriber; 0 when it revokes nothing). Call after each one.
  void applied_told(std::size_t acks);
  /// One acknowledgement came (or its subscriber is gone, which serves nothing any more).
  void revocation_acknowledged();
  /// One acknowledgement did not come within the hand-off timeout.
  void revocation_unacknowledged();

  // -- the read-back -------------------------------------------------------------------------
  /// The key holds this decodable record (its `worker`, `owned`, stamp, reason and grants).
  void read_back_found(std::uint64_t token, assignment_update record, time_point now);
  /// The key is absent or deleted.
  void read_back_absent(std::uint64_t token, time_point now);
  /// The key holds something that does not decode: skipped, as the watch skips it.
  void read_back_undecodable(std::uint64_t token, time_point now);
  /// The read failed: it is tried again after read_back_retry.
  void read_back_failed(std::uint64_t token);

  /// Decides what is due and returns the outputs since the last poll, in order.
  std::vector<gate_output> poll(time_point now);
  /// When poll() would change something if nothing else happens (the lease horizon).
  std::optional<time_point> next_deadline() const;

  // -- what the node reports -----------------------------------------------------------------
  bool may_serve(time_point now) const { return lease_ && lease_->may_serve(now); }
  /// Null while no id is held.
  const ownership_lease* lease() const { return lease_.get(); }
  const std::vector<partition>& owned() const { return owned_; }
  const std::vector<partition_grant>& grants() const { return grants_; }
  const std::vector<partition>& suspended() const { return suspended_; }
  /// Revocations told to the application and not acknowledged yet: it may still serve them.
  bool revocations_unacknowledged() const { return acks_pending_ > 0; }
  /// A revocation went unacknowledged and the lease has not lapsed yet: the application may
  /// still serve it until then.
  bool revocation_lapsing() const { return revocation_lapsing_; }
  version_stamp applied() const { return applied_; }
  /// Something is owned or was applied (for a late subscriber's snapshot).
  bool has_applied() const { return applied_.version > 0 || !owned_.empty(); }

 private:
  void apply(assignment_update u, bool served);
  void on_lease_events(time_point now);
  void apply_deferred_if_serving(time_point now);
  void start_read_back(duration after = {});
  /// The read-back's verdict: `newer` (if any) becomes the change to apply at the resume.
  void read_back_decided(std::optional<assignment_update> newer, time_point now);
  std::optional<assignment_update> deleted_if_owning() const;
  void report_if_acknowledged();
  void new_id();
  /// The stamp and partitions known newest: the deferred change, else the applied one.
  version_stamp newest_stamp() const;
  const std::vector<partition>& newest_owned() const;

  lease_options lease_options_;
  duration read_back_retry_;
  std::unique_ptr<ownership_lease> lease_;  // of the id held now
  std::vector<partition> owned_;
  std::vector<partition_grant> grants_;
  version_stamp applied_;
  std::optional<assignment_update> deferred_;  // the newest change not applied yet
  std::vector<partition> suspended_;           // what the application was told to suspend
  time_point suspended_since_{};
  bool read_back_in_flight_ = false;
  std::uint64_t read_back_token_ = 0;  // of the read in flight; a new id starts a new series
  std::size_t acks_pending_ = 0;       // revocations the application has not acknowledged yet
  bool revocation_lapsing_ = false;    // heartbeats held after an unacknowledged revocation
  std::vector<gate_output> pending_;
};

}  // namespace parti
