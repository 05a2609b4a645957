#pragma once
// The node's policy, for the node actor: the lifecycle state it is in, how it re-validates after
// a store outage, whether a failed child is restarted, and how it stops. Pure: no CAF, no NATS;
// time is passed in.
//
// Rules:
//  - Start-up: ClaimingID; an id claimed -> Election; a known leader (or leading) ->
//    WaitingAssignment, and Stable at once when an assignment was applied before (a restarted
//    worker gets its kept assignment before it learns who leads); an assignment served ->
//    Stable. A lost id -> ClaimingID from any running state but Degraded.
//  - While the node leads it mirrors the group's state from its state machine (Stable, Scaling,
//    Rebalancing, Emergency). When it stops leading it goes back to what it holds (Stable, or
//    WaitingAssignment without an assignment), or it would show Emergency forever.
//  - Store outage (degraded_monitor.hpp): a dropped connection or a refused write starts one;
//    any sign of a working store ends it: a reconnect, a write taken, or an acknowledged
//    heartbeat (the surest sign, also when the errors came from an earlier heartbeat actor,
//    one per claimed id). One lasting the threshold -> Degraded: the node keeps its assignment.
//    Only re-validation leaves Degraded for a running state (the lifecycle refuses every other
//    move out of it, the group's state included, except a stop or a failure). An id claimed or
//    lost meanwhile is noted, not entered (an outage longer than the id TTL loses the id: the
//    node still reports Degraded, the cause, rather than ClaimingID, the effect). When
//    the outage ends the assignment key is replayed and the node enters what it holds now:
//    ClaimingID without an id, Election without a known leader, WaitingAssignment without an
//    assignment, else Stable.
//  - A failed child is restarted after a backoff, or the node goes Failed past the budget
//    (child_supervision.hpp). A failed leader subtree too: leadership itself is unchanged. A
//    restart is carried out only if still wanted when it is due: not while stopping, member
//    children only while an id is held, the leader only while leading.
//  - Stopping (shutdown_sequence.hpp): failures and the group's state are ignored; finished ->
//    Shutdown. A drain ends once the node owns nothing and, while it leads, its state machine
//    runs no round (Rebalancing, Emergency): a leader that revoked its own partitions publishes
//    their grant before it lets go of the leadership, instead of leaving a hand-off cut in half
//    to its successor. A leader subtree that failed runs no round any more.
//
// Use from the actor: feed events, then call poll(now) and carry out its outputs in order; set
// a timer for next_deadline().
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "parti/actors/node/child_supervision.hpp"
#include "parti/actors/node/degraded_monitor.hpp"
#include "parti/actors/node/lifecycle.hpp"
#include "parti/actors/node/shutdown_sequence.hpp"
#include "parti/messages/node_events.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/config.hpp"

namespace parti {

/// The node's children: the id claimer always, the member children while an id is held
/// (heartbeat, election, assignment_watch), the leader subtree while leading.
enum class child_kind { id_claimer, heartbeat, election, assignment_watch, leader };
const char* to_string(child_kind x);

struct node_rules_options {
  supervision_options supervision;
  degraded_options degraded;
};

/// A move the lifecycle does not allow; nothing changed.
struct state_refused {
  node_state from;
  node_state to;
};

/// Re-validation: replay this worker's assignment key from the store.
struct resync_assignment {};

/// Start the child again after `after`, if may_restart() still says so then.
struct restart_child {
  child_kind kind;
  duration after;
};

/// Announce `leaving` and wait for an empty assignment, at most the drain timeout (then call
/// drain_timed_out()).
struct drain_partitions {};

/// Release what the node holds at `step` (see shutdown_sequence.hpp), then call released(step).
struct release_held {
  release_step step;
  shutdown_intent intent;
};

/// Stopped: answer the stop request, end the children and quit.
struct stop_finished {};

using node_output = std::variant<state_change, state_refused, resync_assignment, restart_child,
                                 drain_partitions, release_held, stop_finished>;

class node_rules {
 public:
  /// Starts in ClaimingID: the first poll() reports Init -> ClaimingID.
  node_rules(node_rules_options options, random_source random, time_point now);

  // -- what the node holds ----------------------------------------------------------------------
  void id_claimed(const std::string& id, time_point now);
  void id_lost(const std::string& id, const std::string& reason, time_point now);
  /// `leads`: this node leads; `leader_id`: the leader as far as known (empty: unknown).
  void leadership_changed(bool leads, const std::string& leader_id, time_point now);
  /// The leader's state machine says the group is in `phase` (a round runs: Rebalancing,
  /// Emergency).
  void group_state(group_phase phase, time_point now);
  /// The application now has assignment `version` (0: none yet); `owns_partitions`: not empty.
  void assignment_applied(std::uint64_t version, bool owns_partitions);
  /// An applied assignment is being served: WaitingAssignment -> Stable.
  void assignment_served(time_point now);

  // -- the store --------------------------------------------------------------------------------
  /// The connection dropped, or the store refused a write for lack of a connection.
  void store_unreachable(time_point now);
  /// The connection is back, or the store took a write.
  void store_reachable();
  /// A heartbeat was acknowledged: the store works, whoever reported the errors before.
  void heartbeat_acknowledged();

  // -- children ---------------------------------------------------------------------------------
  /// A child ended without being asked to.
  void child_failed(child_kind kind, time_point now);
  /// Whether a restart that comes due now should start `kind` (when it does not run already).
  bool may_restart(child_kind kind) const;

  // -- stopping ---------------------------------------------------------------------------------
  /// The first request decides; later ones change nothing (see stopping()).
  void stop(shutdown_intent intent, time_point now);
  void drain_timed_out(time_point now);
  void released(release_step step, time_point now);

  /// Decides what is due and returns the outputs since the last poll, in order.
  std::vector<node_output> poll(time_point now);
  /// When poll() would enter Degraded if nothing changes.
  std::optional<time_point> next_deadline() const { return degraded_.next_deadline(); }

  node_state state() const { return life_.state(); }
  bool stopping() const { return stop_.stopping(); }
  bool draining() const { return stop_.draining(); }
  bool degraded() const { return state() == node_state::degraded; }

 private:
  void enter(node_state to, time_point now, std::string reason);
  void take_notices();
  void revalidate(time_point now);
  node_state revalidated_state() const;
  void leave_group_state(time_point now);
  void end_drain(time_point now);
  void carry(stop_action action, time_point now);
  bool busy() const { return owns_partitions_ || leads_round_; }

  lifecycle life_;
  degraded_monitor degraded_;
  child_supervision supervision_;
  shutdown_sequence stop_;
  bool holds_id_ = false;
  bool leading_ = false;
  bool leader_known_ = false;
  bool has_assignment_ = false;
  bool owns_partitions_ = false;
  bool leads_round_ = false;  // leading, and its state machine runs a round (a hand-off)
  std::vector<node_output> pending_;
};

}  // namespace parti
