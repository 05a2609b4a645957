#pragma once
// calculator: partition source + strategy -> target assignment. Takes rebalance_order from the
// state machine, sends target_ready to the publisher (or round_done{ok=false} to the state
// machine when it cannot compute one). Sticky strategies start from `previous`, the assignment
// read back from KV when this leader started, so stickiness survives failover.
#include <memory>
#include <optional>
#include <vector>

#include "messages/interfaces.hpp"
#include "runtime/metrics/metrics.hpp"
#include "runtime/partition_source.hpp"
#include "runtime/strategy/strategy.hpp"

namespace parti {

struct calculator_settings {
  std::shared_ptr<const partition_source> source;
  std::shared_ptr<const strategy> algorithm;
  strategy_options options;
  assignment previous;
  std::shared_ptr<metrics> stats;
  std::string worker;  // the leader's id
};

struct calculator_state {
  calculator_settings settings;
  publisher_actor publisher;
  state_machine_actor state_machine;
  std::optional<std::vector<partition>> partitions;  // the last good load
  static inline const char* name = "parti.calculator";
};

calculator_actor::behavior_type calculator(
    calculator_actor::stateful_pointer<calculator_state> self, calculator_settings settings,
    publisher_actor publisher, state_machine_actor state_machine);

}  // namespace parti
