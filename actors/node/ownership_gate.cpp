#include "parti/actors/node/ownership_gate.hpp"

#include <utility>

#include "parti/actors/assignment_watch/assignment_tracker.hpp"

namespace parti {

namespace {

version_stamp stamp_of(const assignment_update& u) {
  return {u.epoch, u.version};
}

}  // namespace

ownership_gate::ownership_gate(lease_options lease, duration read_back_retry)
    : lease_options_(std::move(lease)), read_back_retry_(read_back_retry) {}

// -- the id ------------------------------------------------------------------------------------

void ownership_gate::new_id() {
  read_back_in_flight_ = false;
  ++read_back_token_;  // a read of the earlier id proves nothing about this one
  revocation_lapsing_ = false;
}

void ownership_gate::id_claimed() {
  new_id();
  lease_ = std::make_unique<ownership_lease>(lease_options_);
}

void ownership_gate::id_lost(time_point) {
  // Own nothing at once: another process may hold this id now.
  deferred_.reset();
  if (!owned_.empty()) {
    assignment_update nothing;
    nothing.epoch = applied_.epoch;
    nothing.version = applied_.version;
    nothing.reason = "id_lost";
    apply(std::move(nothing), false);
  }
  lease_.reset();
  suspended_.clear();
  new_id();
}

void ownership_gate::claim_safe_until(time_point until) {
  if (lease_) lease_->claim_safe_until(until);
}

// -- heartbeats --------------------------------------------------------------------------------

void ownership_gate::heartbeat(const heartbeat_outcome& outcome, time_point now) {
  if (!lease_) return;
  auto ticket = lease_->sending(time_point{duration{outcome.sent_at_ns}});
  switch (outcome.result) {
    case heartbeat_result::acknowledged:
      lease_->acknowledged(ticket, now);
      break;
    case heartbeat_result::failed:
      lease_->failed(ticket, now);
      break;
    case heartbeat_result::fenced:
      lease_->failed(ticket, now);
      lease_->fenced(now);
      break;
  }
}

// -- assignments -------------------------------------------------------------------------------

void ownership_gate::assignment(assignment_update u, std::uint64_t lease_epoch, time_point now) {
  if (u.epoch != 0 && u.epoch < lease_epoch) {
    pending_.push_back(stale_assignment{stamp_of(u), lease_epoch});
    return;
  }
  // A read-back may have taken a newer record than the watch delivered so far. (A delete is
  // obeyed whatever its stamp: owning nothing never gives a partition two owners.)
  if (u.reason != "deleted" && stamp_of(u) < newest_stamp()) return;
  if (!may_serve(now)) {
    deferred_ = std::move(u);
    if (lease_ && lease_->needs_readback()) start_read_back();
    return;
  }
  deferred_.reset();
  apply(std::move(u), true);
}

void ownership_gate::apply(assignment_update u, bool served) {
  u.added = partitions_minus(u.owned, owned_);
  u.removed = partitions_minus(owned_, u.owned);
  owned_ = u.owned;
  grants_ = u.grants;
  applied_ = stamp_of(u);
  suspended_ = partitions_common(suspended_, owned_);  // a removed partition is not suspended
  pending_.push_back(apply_assignment{std::move(u), served});
}

void ownership_gate::applied_told(std::size_t acks) {
  acks_pending_ += acks;
  report_if_acknowledged();
}

void ownership_gate::revocation_acknowledged() {
  if (acks_pending_ > 0) --acks_pending_;
  report_if_acknowledged();
}

void ownership_gate::revocation_unacknowledged() {
  if (acks_pending_ > 0) --acks_pending_;
  revocation_lapsing_ = true;
  if (lease_) lease_->stop_extending("revocation not acknowledged");
  pending_.push_back(hold_heartbeats{true});
}

void ownership_gate::report_if_acknowledged() {
  if (acks_pending_ == 0) pending_.push_back(report_applied{applied_});
}

// -- the read-back -----------------------------------------------------------------------------

void ownership_gate::start_read_back(duration after) {
  if (read_back_in_flight_) return;
  read_back_in_flight_ = true;
  pending_.push_back(read_assignment_key{after, read_back_token_});
}

void ownership_gate::read_back_found(std::uint64_t token, assignment_update record,
                                     time_point now) {
  if (token != read_back_token_) return;
  // The key as read is at least as new as what the node knows: it becomes the change to apply
  // at the resume (before it), so a revocation is applied and never resumed. The watch may lag
  // (a stalled consumer): it delivers the same record later, which then changes nothing.
  if (newest_stamp() < stamp_of(record))
    read_back_decided(std::move(record), now);
  else
    read_back_decided(std::nullopt, now);
}

void ownership_gate::read_back_absent(std::uint64_t token, time_point now) {
  if (token == read_back_token_) read_back_decided(deleted_if_owning(), now);
}

void ownership_gate::read_back_undecodable(std::uint64_t token, time_point now) {
  // Skipped, as the watch skips it: only a decodable record can revoke anything.
  if (token == read_back_token_) read_back_decided(std::nullopt, now);
}

void ownership_gate::read_back_failed(std::uint64_t token) {
  if (token != read_back_token_) return;
  read_back_in_flight_ = false;
  start_read_back(read_back_retry_);
}

void ownership_gate::read_back_decided(std::optional<assignment_update> newer, time_point now) {
  read_back_in_flight_ = false;
  if (!lease_) return;
  if (newer) deferred_ = std::move(*newer);
  lease_->read_back(false, now);
}

std::optional<assignment_update> ownership_gate::deleted_if_owning() const {
  // A deleted key: own nothing, the stamp unchanged.
  if (newest_owned().empty()) return std::nullopt;
  assignment_update u;
  auto at = newest_stamp();
  u.epoch = at.epoch;
  u.version = at.version;
  u.reason = "deleted";
  return u;
}

version_stamp ownership_gate::newest_stamp() const {
  return deferred_ ? stamp_of(*deferred_) : applied_;
}

const std::vector<partition>& ownership_gate::newest_owned() const {
  return deferred_ ? deferred_->owned : owned_;
}

// -- polling -----------------------------------------------------------------------------------

std::vector<gate_output> ownership_gate::poll(time_point now) {
  if (lease_) {
    on_lease_events(now);
    if (lease_->needs_readback()) start_read_back();
    apply_deferred_if_serving(now);  // e.g. the first heartbeat of a claim
  }
  return std::exchange(pending_, {});
}

void ownership_gate::on_lease_events(time_point now) {
  for (auto& e : lease_->poll(now)) {
    if (e.what == lease_event::kind::suspended) {
      suspended_ = owned_;
      suspended_since_ = now;
      pending_.push_back(suspend_ownership{owned_, e.reason});
      // A held heartbeat (an unacknowledged revocation) has done its job: the lease is gone,
      // and only a new write followed by a read-back of the assignment can bring it back.
      pending_.push_back(hold_heartbeats{false});
      // The revoked partitions are served by nobody here now (the lease lapsed on our clock,
      // and a revocation is never resumed): report the revocation applied. Otherwise the
      // leader waits for a fence that cannot land (the node heartbeats again from here on) and
      // never grants them.
      if (revocation_lapsing_) {
        revocation_lapsing_ = false;
        report_if_acknowledged();
      }
    } else {
      if (deferred_) {  // what changed meanwhile first: removals are never resumed
        auto u = std::move(*deferred_);
        deferred_.reset();
        apply(std::move(u), true);
      }
      pending_.push_back(
          resume_ownership{partitions_common(suspended_, owned_), now - suspended_since_});
      suspended_.clear();
    }
  }
}

void ownership_gate::apply_deferred_if_serving(time_point now) {
  if (!deferred_ || !may_serve(now)) return;
  auto u = std::move(*deferred_);
  deferred_.reset();
  apply(std::move(u), true);
}

std::optional<time_point> ownership_gate::next_deadline() const {
  return lease_ ? lease_->next_deadline() : std::nullopt;
}

}  // namespace parti
