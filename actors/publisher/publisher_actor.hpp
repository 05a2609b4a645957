#pragma once
// publisher: writes assignments toward the calculator's target (handoff_planner decides the
// steps: cooperative revoke-then-grant, or eager). Only the worker keys that changed are
// written, in one pipelined batch, then `_manifest` last; keys of workers no longer present
// are deleted. Every record carries the leader's epoch and a growing version. It reports
// round_done to the state machine when the target is reached, and the owners to the emergency
// detector after each write. It ends with the leader (the node stops the subtree on step-down).
#include <caf/fwd.hpp>

#include <string>

#include "actors/publisher/handoff_planner.hpp"
#include "messages/interfaces.hpp"
#include "runtime/metrics/metrics.hpp"

namespace parti {

struct publisher_settings {
  std::string leader;  // this leader's worker id, for logs
  std::uint64_t epoch = 0;
  handoff_options handoff;
  duration request_timeout = std::chrono::seconds(1);
  published_map published;  // as read from KV when the leader started
  /// The last version already written under `epoch` (the _manifest's, when a leader restarts
  /// under the same epoch); versions continue after it and after every published key's.
  std::uint64_t last_version = 0;
  std::shared_ptr<metrics> stats;
};

caf::behavior publisher(caf::event_based_actor* self, publisher_settings settings,
                        kv_actor assignments, caf::actor state_machine,
                        caf::actor emergency_detector);

}  // namespace parti
