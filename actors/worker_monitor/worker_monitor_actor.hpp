#pragma once
// worker_monitor: the leader's view of who is alive, from the heartbeat watch with a local
// deadline per worker (liveness_tracker decides; no polling of key lists). On start it rebuilds
// from the watch's initial values by each record's age, then sends the state machine a
// monitor_ready, and from then on liveness_notice to the state machine and the emergency detector, and an
// applied_snapshot to the publisher whenever a worker's applied version or liveness changes.
#include <caf/fwd.hpp>

#include <memory>
#include <string>
#include <vector>

#include "actors/worker_monitor/liveness_tracker.hpp"
#include "runtime/metrics/metrics.hpp"
#include "runtime/nats/kv_store.hpp"

namespace parti {

struct worker_monitor_peers {
  caf::actor state_machine;
  caf::actor emergency_detector;
  caf::actor publisher;
  std::shared_ptr<metrics> stats;
  std::string worker;  // the leader's id
};

/// Connection events of `heartbeats`' connection pause the deadlines while the store is
/// unreachable (the leader could not have seen heartbeats) and start the recovery grace after.
caf::behavior worker_monitor(caf::event_based_actor* self, liveness_options options,
                             std::shared_ptr<kv_store> heartbeats,
                             std::vector<std::string> assigned_workers,
                             worker_monitor_peers peers);

}  // namespace parti
