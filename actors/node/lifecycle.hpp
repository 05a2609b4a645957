#pragma once
// The states of one node and the rules for moving between them. The node supervisor owns one
// `lifecycle`, asks it for every move, and forwards the ordered notices it records to hooks,
// metrics and the heartbeat's `state` field. Pure: no CAF, no NATS; time is passed in.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"

namespace parti {

enum class node_state {
  init,                // created, nothing done yet
  claiming_id,         // looking for a free <prefix>-<n>, or claiming again after losing it
  election,            // id held; campaigning or learning who leads
  waiting_assignment,  // knows the leader; has not received its first assignment yet
  stable,              // owns its assignment; nothing is moving
  scaling,             // workers joined or left; a planned-scale window is running
  rebalancing,         // a new assignment is being computed, published or handed off
  emergency,           // an assigned worker died; its partitions are being moved at once
  degraded,            // the store is unreachable; keeps its last assignment
  shutdown,            // stopping (drain or restart); terminal
  failed,              // a child kept failing past its restart budget; waits to be shut down
};

/// The wire name of a state, as written in the heartbeat `state` field: "Init", "ClaimingID",
/// "Election", "WaitingAssignment", "Stable", "Scaling", "Rebalancing", "Emergency", "Degraded",
/// "Shutdown", "Failed".
std::string_view to_string(node_state s);

/// The inverse of to_string (exact, case-sensitive); a failure names the unknown text.
result<node_state> node_state_from_string(std::string_view text);

/// Whether the transition table allows `from` -> `to`. Staying in the same state is not a
/// transition. Summary:
///  - start-up runs Init -> ClaimingID -> Election -> WaitingAssignment -> Stable;
///  - Stable, Scaling, Rebalancing and Emergency move among themselves as the fleet changes
///    (Scaling -> Rebalancing -> Stable; an emergency pre-empts a window); Scaling,
///    Rebalancing and Emergency go back to WaitingAssignment when a leader steps down before
///    the group's first assignment;
///  - every running state may fall back to ClaimingID (id lost), enter Degraded, Shutdown
///    or Failed;
///  - Degraded moves on its own only to ClaimingID (id lost), Shutdown or Failed: it returns to
///    a running state only through lifecycle::recover(), into whichever one re-validation finds
///    true, so nothing else (a leader's group state, say) ends it unchecked;
///  - Failed can only be shut down; Shutdown is terminal.
bool is_valid_transition(node_state from, node_state to);

/// One recorded state change, in the order it happened.
struct state_change {
  std::uint64_t seq = 0;  // 1, 2, 3...: lets consumers verify they missed nothing
  node_state from = node_state::init;
  node_state to = node_state::init;
  time_point at{};
  std::string reason;
};

class lifecycle {
 public:
  explicit lifecycle(time_point now);

  node_state state() const { return state_; }
  time_point entered_at() const { return entered_at_; }

  /// Moves to `to` if the table allows it; otherwise fails with "invalid transition <from> ->
  /// <to>" and changes nothing. Entering Degraded remembers the state it left.
  status transition(node_state to, time_point now, std::string reason = {});

  /// The state the node was in when it entered Degraded; empty when not degraded. A hint only:
  /// what was true before the outage may be false after it (the id may be gone, the leader
  /// changed), so recovery re-validates and then calls recover().
  std::optional<node_state> state_before_degraded() const { return before_degraded_; }

  /// Leaves Degraded for `revalidated`, the state the caller found to be true after checking
  /// the store again: any running state. Fails when not degraded or `revalidated` is not a
  /// running state. The only way from Degraded back to a running state besides ClaimingID.
  status recover(node_state revalidated, time_point now, std::string reason = {});

  /// The notices recorded since the last call, oldest first; clears them.
  std::vector<state_change> take_notices();

  /// The number of changes ever recorded (the seq of the last one).
  std::uint64_t changes() const { return seq_; }

 private:
  /// Records the move (no check).
  void enter(node_state to, time_point now, std::string reason);

  node_state state_ = node_state::init;
  time_point entered_at_;
  std::optional<node_state> before_degraded_;
  std::uint64_t seq_ = 0;
  std::vector<state_change> notices_;
};

}  // namespace parti
