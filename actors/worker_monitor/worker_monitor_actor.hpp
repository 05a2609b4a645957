#pragma once
// worker_monitor: the leader's view of who is alive, from the heartbeat watch with a local
// deadline per worker (liveness_tracker decides; no polling of key lists). When the watch has
// replayed the current values it rebuilds (every record counts as heard then), sends the state
// machine a monitor_ready, and from then on liveness_notice to the state machine and the
// emergency detector, and an applied_snapshot to the publisher whenever a worker's applied
// version or liveness changes.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parti/actors/worker_monitor/liveness_tracker.hpp"
#include "parti/messages/interfaces.hpp"
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/nats/kv_store.hpp"
#include "parti/runtime/wakeup.hpp"

namespace parti {

struct worker_monitor_peers {
  state_machine_actor state_machine;
  emergency_detector_actor emergency_detector;
  publisher_actor publisher;
  std::shared_ptr<metrics> stats;
  std::string worker;  // the leader's id
};

struct worker_monitor_state {
  std::optional<liveness_tracker> tracker;
  std::vector<std::string> assigned;
  worker_monitor_peers peers;
  std::vector<observed_heartbeat> initial;
  bool ready = false;
  wakeup timer;
  std::uint64_t undecodable = 0;
  std::map<std::string, heartbeat_seen> seen;  // every worker's key, for fences
  static inline const char* name = "parti.worker_monitor";
};

/// Watches `heartbeats`; connection events of its connection pause the deadlines while the
/// store is unreachable (the leader could not have seen heartbeats) and start the recovery
/// grace after. Without a store (tests) nothing is watched: the spawner sends the watch's
/// messages itself.
worker_monitor_actor::behavior_type worker_monitor(
    worker_monitor_actor::stateful_pointer<worker_monitor_state> self, liveness_options options,
    std::shared_ptr<kv_store> heartbeats, std::vector<std::string> assigned_workers,
    worker_monitor_peers peers);

}  // namespace parti
