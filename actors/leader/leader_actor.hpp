#pragma once
// The leader subtree, spawned by a node while it leads:
//
//   leader ── worker_monitor      heartbeat watch -> joined / left / expired (liveness_tracker)
//          ├─ emergency_detector  grace per missing owner (emergency_rules)
//          ├─ state_machine       Idle / Scaling / Rebalancing / Emergency (rebalance_rules)
//          ├─ partition_loader    partition_source::load() on a thread of its own, with a timeout
//          ├─ calculator          partitions (from the loader) + strategy -> target assignment
//          └─ publisher           versioned, epoch-fenced, pipelined writes; hand-off
//
// The node ends the subtree on step-down; every write carries the leader's epoch. On start the
// leader reads the published assignment back (stickiness, the publisher's hand-off state) and
// compares it with the partition source (one load through the loader, waited for at most the
// partition source timeout): a partition in no worker's key (a predecessor gone between a
// hand-off's revocation and its grant) or in several, or a source that did not load, makes the
// first round due at once (coverage.hpp, rebalance_rules::unowned_partitions_found).
#include <memory>

#include "parti/actors/node/node_actor.hpp"
#include "parti/runtime/partition_source.hpp"
#include "parti/runtime/strategy/strategy.hpp"

namespace parti {

struct leader_settings {
  std::shared_ptr<const partition_source> partitions;   // required
  std::shared_ptr<const strategy_registry> strategies;  // empty: the built-ins
  strategy_options strategy;
  /// Re-read the partition source this often (zero: only on refresh requests).
  duration refresh_period = duration::zero();
};

/// A leader_factory for node_options::leader.
leader_factory make_leader_factory(leader_settings settings);

}  // namespace parti
