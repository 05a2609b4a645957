#pragma once
// state_machine: decides when to rebalance (rebalance_rules: cold start, planned scale, drain,
// emergency, manual, refresh; windows, cooldown, freeze). It starts once the worker monitor
// reports who is live (monitor_ready), sends rebalance_order to the calculator, takes
// round_done from the calculator or publisher, and mirrors its state to the node
// (group_state_update: Stable / Scaling / Rebalancing / Emergency).
#include <caf/fwd.hpp>

#include <string>
#include <vector>

#include "actors/state_machine/rebalance_rules.hpp"
#include "runtime/metrics/metrics.hpp"

namespace parti {

struct state_machine_settings {
  rebalance_options rules;
  std::vector<std::string> assigned;  // workers of the assignment published before this leader
  /// A round that has not completed after this long counts as failed (a stuck publisher).
  duration round_timeout = std::chrono::seconds(60);
  std::shared_ptr<metrics> stats;
  std::string worker;  // the leader's id, the `worker` label of its series
};

caf::behavior state_machine(caf::event_based_actor* self, state_machine_settings settings,
                            caf::actor calculator, caf::actor node);

}  // namespace parti
