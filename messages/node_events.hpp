#pragma once
// What a node tells its subscribers (the application), and what its children tell the node.
// Plain structs; their CAF inspectors are in inspect.hpp.
#include <cstdint>
#include <string>
#include <vector>

#include "messages/records.hpp"

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
};

/// leader -> its node: the group's rebalance state as the leader's state machine sees it
/// ("Stable", "Scaling", "Rebalancing", "Emergency"), mirrored in the node's lifecycle.
struct group_state_update {
  std::string state;
};

/// id_claimer -> node: this process now holds `id`.
struct id_claimed {
  std::string id;
  std::uint64_t revision = 0;
};

/// id_claimer -> node: the id is lost (someone else wrote it, it expired, or it could have).
struct id_lost {
  std::string id;
  std::string reason;
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
  std::vector<partition> owned;
  std::uint64_t ids_lost = 0;
};

}  // namespace parti
