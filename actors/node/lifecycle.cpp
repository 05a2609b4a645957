#include "parti/actors/node/lifecycle.hpp"

#include <array>
#include <utility>

namespace parti {

namespace {

struct state_name {
  node_state state;
  std::string_view name;
};

constexpr std::array<state_name, 11> state_names{{
    {node_state::init, "Init"},
    {node_state::claiming_id, "ClaimingID"},
    {node_state::election, "Election"},
    {node_state::waiting_assignment, "WaitingAssignment"},
    {node_state::stable, "Stable"},
    {node_state::scaling, "Scaling"},
    {node_state::rebalancing, "Rebalancing"},
    {node_state::emergency, "Emergency"},
    {node_state::degraded, "Degraded"},
    {node_state::shutdown, "Shutdown"},
    {node_state::failed, "Failed"},
}};

// States in which the node holds (or is getting) an id and talks to the store.
bool is_running(node_state s) {
  switch (s) {
    case node_state::claiming_id:
    case node_state::election:
    case node_state::waiting_assignment:
    case node_state::stable:
    case node_state::scaling:
    case node_state::rebalancing:
    case node_state::emergency:
      return true;
    default:
      return false;
  }
}

// States that describe how the fleet's assignment is changing, once the node has one.
bool is_assignment_state(node_state s) {
  return s == node_state::stable || s == node_state::scaling || s == node_state::rebalancing ||
         s == node_state::emergency;
}

// The forward path of start-up and the moves among assignment states.
bool is_progress(node_state from, node_state to) {
  switch (from) {
    case node_state::init:
      return to == node_state::claiming_id;
    case node_state::claiming_id:
      return to == node_state::election;
    case node_state::election:
      return to == node_state::waiting_assignment;
    case node_state::waiting_assignment:
      // A leader's first decision may be a window, a rebalance or (after a failover) an
      // emergency; a follower usually just receives its assignment.
      return is_assignment_state(to);
    case node_state::stable:
      return is_assignment_state(to);
    case node_state::scaling:
    case node_state::rebalancing:
    case node_state::emergency:
      // Back to waiting: a leader that stepped down before the group's first assignment.
      return is_assignment_state(to) || to == node_state::waiting_assignment;
    default:
      return false;
  }
}

}  // namespace

std::string_view to_string(node_state s) {
  for (const auto& entry : state_names)
    if (entry.state == s) return entry.name;
  return "Unknown";
}

result<node_state> node_state_from_string(std::string_view text) {
  for (const auto& entry : state_names)
    if (entry.name == text) return entry.state;
  return failure{"unknown node state \"" + std::string(text) + "\""};
}

bool is_valid_transition(node_state from, node_state to) {
  if (from == to) return false;
  if (from == node_state::shutdown) return false;  // terminal
  if (from == node_state::failed) return to == node_state::shutdown;
  if (to == node_state::shutdown || to == node_state::failed) return true;
  // Out of Degraded by a transition only when the id is lost; the re-validated running state is
  // recover()'s alone (a leader's group state must not take the node out unchecked).
  if (from == node_state::degraded) return to == node_state::claiming_id;
  if (to == node_state::degraded) return is_running(from);
  // Losing the id sends every running state back to claiming (ClaimingID itself retries in place).
  if (to == node_state::claiming_id && is_running(from)) return true;
  return is_progress(from, to);
}

lifecycle::lifecycle(time_point now) : entered_at_(now) {}

status lifecycle::transition(node_state to, time_point now, std::string reason) {
  if (!is_valid_transition(state_, to))
    return failure{"invalid transition " + std::string(to_string(state_)) + " -> " +
                   std::string(to_string(to))};
  enter(to, now, std::move(reason));
  return done{};
}

void lifecycle::enter(node_state to, time_point now, std::string reason) {
  const node_state from = state_;
  if (to == node_state::degraded)
    before_degraded_ = from;
  else
    before_degraded_.reset();
  state_ = to;
  entered_at_ = now;
  notices_.push_back(state_change{++seq_, from, to, now, std::move(reason)});
}

status lifecycle::recover(node_state revalidated, time_point now, std::string reason) {
  if (state_ != node_state::degraded)
    return failure{"cannot recover: the node is " + std::string(to_string(state_)) +
                   ", not Degraded"};
  if (!is_running(revalidated))
    return failure{"cannot recover into " + std::string(to_string(revalidated)) +
                   ": not a running state"};
  enter(revalidated, now, std::move(reason));
  return done{};
}

std::vector<state_change> lifecycle::take_notices() {
  return std::exchange(notices_, {});
}

}  // namespace parti
