#include "parti/actors/node/node_rules.hpp"

#include <utility>

namespace parti {

namespace {

// The states a leader mirrors from its state machine, besides Stable.
bool is_group_state(node_state s) {
  return s == node_state::scaling || s == node_state::rebalancing || s == node_state::emergency;
}

node_state mirrored(group_phase phase) {
  switch (phase) {
    case group_phase::scaling:
      return node_state::scaling;
    case group_phase::rebalancing:
      return node_state::rebalancing;
    case group_phase::emergency:
      return node_state::emergency;
    case group_phase::stable:
      break;
  }
  return node_state::stable;
}

}  // namespace

const char* to_string(child_kind x) {
  switch (x) {
    case child_kind::id_claimer:
      return "id_claimer";
    case child_kind::heartbeat:
      return "heartbeat";
    case child_kind::election:
      return "election";
    case child_kind::assignment_watch:
      return "assignment_watch";
    case child_kind::leader:
      return "leader";
  }
  return "child";
}

node_rules::node_rules(node_rules_options options, random_source random, time_point now)
    : life_(now),
      degraded_(options.degraded),
      supervision_(std::move(options.supervision), std::move(random)) {
  enter(node_state::claiming_id, now, "starting");
}

void node_rules::id_claimed(const std::string& id, time_point now) {
  holds_id_ = true;
  if (!degraded()) enter(node_state::election, now, "claimed " + id);
}

void node_rules::id_lost(const std::string& id, const std::string& reason, time_point now) {
  holds_id_ = false;
  leading_ = false;  // the leader's work ends with the id
  leads_round_ = false;
  // During an outage the id claim may lapse (it cannot be renewed): the node stays Degraded,
  // which says why, and re-validation enters ClaimingID when the store is back.
  if (!degraded()) enter(node_state::claiming_id, now, "lost " + id + ": " + reason);
}

void node_rules::leadership_changed(bool leads, const std::string& leader_id, time_point now) {
  const bool was_leading = leading_;
  leading_ = leads;
  // A new term's state machine starts idle; a lost one runs nothing of ours.
  if (leads != was_leading) leads_round_ = false;
  leader_known_ = !leader_id.empty();
  if (was_leading && !leads) leave_group_state(now);
  if (state() == node_state::election && (leads || leader_known_)) {
    enter(node_state::waiting_assignment, now, "leader is " + leader_id);
    // A restarted worker gets its kept assignment before it learns who leads: applied already,
    // so it is Stable at once (found by parti-chaos: it stayed waiting).
    if (has_assignment_) enter(node_state::stable, now, "assignment applied");
  }
}

void node_rules::group_state(group_phase phase, time_point now) {
  if (!leading_) return;
  // Also while stopping: a draining leader waits for its round (see poll).
  leads_round_ = phase == group_phase::rebalancing || phase == group_phase::emergency;
  if (!stopping()) enter(mirrored(phase), now, std::string("group is ") + to_string(phase));
}

void node_rules::assignment_applied(std::uint64_t version, bool owns_partitions) {
  has_assignment_ = version > 0;
  owns_partitions_ = owns_partitions;
}

void node_rules::assignment_served(time_point now) {
  if (state() == node_state::waiting_assignment)
    enter(node_state::stable, now, "assignment applied");
}

void node_rules::store_unreachable(time_point now) {
  degraded_.unreachable(now);
}

void node_rules::store_reachable() {
  degraded_.reachable();
}

void node_rules::heartbeat_acknowledged() {
  degraded_.reachable();
}

void node_rules::child_failed(child_kind kind, time_point now) {
  // Its round ended with it (a restarted leader starts idle): a drain does not wait for it.
  if (kind == child_kind::leader) leads_round_ = false;
  if (stopping()) return;  // children end as the node stops
  if (auto delay = supervision_.failed(now))
    pending_.push_back(restart_child{kind, *delay});
  else
    enter(node_state::failed, now, std::string(to_string(kind)) + " keeps failing");
}

bool node_rules::may_restart(child_kind kind) const {
  if (stopping()) return false;
  if (kind != child_kind::id_claimer && !holds_id_) return false;  // starts with the next claim
  return kind != child_kind::leader || leading_;
}

void node_rules::stop(shutdown_intent intent, time_point now) {
  if (auto action = stop_.begin(intent, busy())) carry(*action, now);
}

void node_rules::drain_timed_out(time_point now) {
  end_drain(now);
}

void node_rules::released(release_step step, time_point now) {
  if (auto action = stop_.released(step)) carry(*action, now);
}

std::vector<node_output> node_rules::poll(time_point now) {
  auto change = degraded_.poll(now);
  if (change == degraded_change::entered)
    enter(node_state::degraded, now, "the store is unreachable");
  else if (change == degraded_change::recovered && state() == node_state::degraded)
    revalidate(now);
  // A drain ends when the leader has handed everything on: when this node leads, once its own
  // round published the grants too, not only the revocations.
  if (!busy()) end_drain(now);
  return std::exchange(pending_, {});
}

void node_rules::end_drain(time_point now) {
  if (auto action = stop_.drained()) carry(*action, now);
}

void node_rules::enter(node_state to, time_point now, std::string reason) {
  if (state() == to) return;
  const node_state from = state();
  if (!life_.transition(to, now, std::move(reason))) pending_.push_back(state_refused{from, to});
  take_notices();
}

void node_rules::take_notices() {
  for (auto& change : life_.take_notices()) pending_.push_back(std::move(change));
}

void node_rules::revalidate(time_point now) {
  // What was true before the outage may be false after it: replay the assignment key (the
  // claim keeper checks the id on its own) and enter what the node holds now.
  pending_.push_back(resync_assignment{});
  life_.recover(revalidated_state(), now, "the store is reachable again");
  take_notices();
}

node_state node_rules::revalidated_state() const {
  if (!holds_id_) return node_state::claiming_id;
  if (!leader_known_) return node_state::election;
  if (!has_assignment_) return node_state::waiting_assignment;
  return node_state::stable;
}

void node_rules::leave_group_state(time_point now) {
  if (is_group_state(state()) && !stopping())
    enter(has_assignment_ ? node_state::stable : node_state::waiting_assignment, now,
          "no longer leads");
}

void node_rules::carry(stop_action action, time_point now) {
  switch (action.what) {
    case stop_action::kind::drain:
      pending_.push_back(drain_partitions{});
      break;
    case stop_action::kind::release:
      pending_.push_back(release_held{action.step, stop_.intent()});
      break;
    case stop_action::kind::finish:
      enter(node_state::shutdown, now, "stopped");
      pending_.push_back(stop_finished{});
      break;
  }
}

}  // namespace parti
