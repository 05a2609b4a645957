#pragma once
// What a node tells its subscribers (the application), and what its children tell the node.
// Plain structs; their CAF inspectors are in inspect.hpp.
#include <cstdint>
#include <string>
#include <vector>

#include "parti/messages/records.hpp"

namespace parti {

/// This worker's assignment changed. `owned` is the full new set; `added` and `removed` are the
/// difference to the previous one. Delivered one at a time, in order.
struct assignment_update {
  std::string worker;
  std::vector<partition> owned;
  std::vector<partition> added;
  std::vector<partition> removed;
  std::uint64_t epoch = 0;
  std::uint64_t version = 0;
  std::string reason;
  /// The fencing token of every partition in `owned` (same order as `owned` when the leader
  /// wrote tokens; empty from a leader that predates them). Pass it to downstream stores with
  /// each write so that they refuse writes from an owner that lost the partition meanwhile.
  std::vector<partition_grant> grants;
};

/// The node's ownership lease lapsed (its heartbeats are not acknowledged, or it was fenced):
/// it must stop serving `partitions` now. They stay assigned; `ownership_resumed` or an
/// assignment_update that removes them follows. Sent as an actor message and to the callbacks.
struct ownership_suspended {
  std::string worker;
  std::vector<partition> partitions;
  std::string reason;
};

/// The lease is valid again and the store confirmed the assignment unchanged: serve
/// `partitions` again (the same ones, nothing moved).
struct ownership_resumed {
  std::string worker;
  std::vector<partition> partitions;
};

/// The node's lease, for readers in the same process that answer from a cache on other threads
/// (parti-node's /status): the node may serve its partitions while boot_now() is before
/// `serving_until_ns` (boot clock, ns; 0: not serving; the maximum with --on-lease-loss=keep).
/// Comparing at the moment of answering keeps a reader right even when the node's thread was
/// paused past the horizon and has not run since.
struct lease_update {
  std::string worker;
  std::string state;  // unheld, valid, suspended, confirming
  std::int64_t serving_until_ns = 0;
};

/// The node's lifecycle state changed (names as in the heartbeat `state` field).
struct node_state_update {
  std::string worker;
  std::string from;
  std::string to;
  std::string reason;
  std::uint64_t seq = 0;  // 1, 2, 3, ... per node: a gap means a missed update
};

/// Who leads, as this node sees it. `leader` is true when this node leads (with its `epoch`).
struct leadership_update {
  std::string worker;
  bool leader = false;
  std::uint64_t epoch = 0;
  std::string leader_id;  // the current leader's worker id, when known
  /// The newest leader epoch this node has seen in the election bucket: an assignment record of
  /// an older epoch comes from a deposed leader (a write delayed past its term) and is ignored.
  std::uint64_t lease_epoch = 0;
};

/// What a stopping node asks of the fleet (the request `(leave, intent)` to a node).
enum class shutdown_intent {
  drain,    // hand my partitions to others now, then leave
  restart,  // keep my partitions for the restart grace: I will be back under the same id
};

/// The group's rebalance state as the leader's state machine sees it.
enum class group_phase : std::uint8_t { stable, scaling, rebalancing, emergency };

/// The node state of the same name ("Stable", "Scaling", "Rebalancing", "Emergency").
inline const char* to_string(group_phase s) {
  switch (s) {
    case group_phase::stable:
      return "Stable";
    case group_phase::scaling:
      return "Scaling";
    case group_phase::rebalancing:
      return "Rebalancing";
    case group_phase::emergency:
      return "Emergency";
  }
  return "Stable";
}

/// leader -> its node: the group's state, mirrored in the node's lifecycle while it leads.
struct group_state_update {
  group_phase state = group_phase::stable;
};

/// id_claimer -> node: this process now holds `id`.
struct id_claimed {
  std::string id;
  std::uint64_t revision = 0;
};

/// id_claimer -> node: after the claim and each renewal, until when the claim is surely still
/// this process's (boot clock, ns): the ownership lease never outlasts it.
struct claim_validity {
  std::string id;
  std::int64_t safe_until_ns = 0;
};

/// id_claimer -> node: the id is lost (someone else wrote it, it expired, or it could have).
struct id_lost {
  std::string id;
  std::string reason;
};

/// heartbeat -> node: how one heartbeat write ended. Writes are compare-and-set on the worker's
/// own last revision and one at a time, so outcomes arrive in the order the writes were sent.
enum class heartbeat_result : std::uint8_t {
  acknowledged,  // the store took it: the lease extends from `sent_at_ns`
  failed,        // refused or timed out (may still land: it never extends the lease)
  fenced,        // the key holds another writer's revision: a leader's fence or another process
};

struct heartbeat_outcome {
  std::int64_t sent_at_ns = 0;  // boot clock, read before the write
  heartbeat_result result = heartbeat_result::acknowledged;
  std::string detail;
};

/// node -> heartbeat: the node's lifecycle state changed. `state` is the name written in the
/// heartbeat record's `state` field, as lifecycle.hpp names it ("Stable", "Degraded", ...).
struct node_state_changed {
  std::string state;
};

/// A node's view of itself, for /status, parti-ctl and tests.
struct node_status {
  std::string worker;  // empty while no id is held
  std::string instance;
  std::string state;
  bool leader = false;
  std::uint64_t epoch = 0;  // this node's leader epoch while it leads
  std::string leader_id;
  std::uint64_t applied_epoch = 0;
  std::uint64_t applied_version = 0;
  std::vector<partition> owned;  // what the node may serve now (empty while suspended)
  std::uint64_t ids_lost = 0;
  std::vector<partition> suspended;  // assigned, but not served: the lease lapsed
  std::string lease;                 // unheld, valid, suspended, confirming
  std::uint64_t lease_remaining_ms = 0;
  std::vector<partition_grant> grants;  // fencing tokens of `owned`
  /// The lease horizon on the node's boot clock (ns), for readers in the same process that must
  /// compare it with the clock at the moment they answer (the HTTP /status cache).
  std::int64_t lease_horizon_ns = 0;
  bool lease_enforced = true;  // false with --on-lease-loss=keep
};

}  // namespace parti
