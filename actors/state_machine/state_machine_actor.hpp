#pragma once
// state_machine: decides when to rebalance (rebalance_rules: cold start, planned scale, drain,
// emergency, manual, refresh; windows, cooldown, freeze). It learns the calculator after spawn
// (peers), starts once the worker monitor reports who is live (monitor_ready), sends
// rebalance_order to the calculator, takes round_done from the calculator or publisher, and
// mirrors its state to the node (group_state_update).
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "parti/actors/state_machine/rebalance_rules.hpp"
#include "parti/messages/interfaces.hpp"
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/wakeup.hpp"

namespace parti {

struct state_machine_settings {
  rebalance_options rules;
  std::vector<std::string> assigned;  // workers of the assignment published before this leader
  /// A round that has not completed after this long counts as failed (a stuck publisher).
  duration round_timeout = std::chrono::seconds(60);
  std::shared_ptr<metrics> stats;
  std::string worker;  // the leader's id, the `worker` label of its series
  /// The assignment of `assigned` gives some partition of the source to nobody or to several
  /// workers (or the source could not be read to tell): a round is due as soon as the machine
  /// knows who is live (rebalance_rules::unowned_partitions_found).
  bool unowned_partitions = false;
};

struct state_machine_state {
  state_machine_settings settings;
  calculator_actor calculator;
  group_phase_listener node;
  std::optional<rebalance_rules> rules;  // from monitor_ready on
  wakeup timer;
  bool frozen = false;
  std::optional<control_notice> early_control;
  std::map<std::uint64_t, std::pair<rebalance_reason, time_point>> started;  // round -> ...
  static inline const char* name = "parti.state_machine";
};

state_machine_actor::behavior_type state_machine(
    state_machine_actor::stateful_pointer<state_machine_state> self,
    state_machine_settings settings, group_phase_listener node);

}  // namespace parti
