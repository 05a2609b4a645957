#pragma once
// calculator: partition source + strategy -> target assignment. Takes rebalance_order from the
// state machine, sends target_ready to the publisher (or round_done{ok=false} to the state
// machine when it cannot compute one). Sticky strategies start from `previous`, the assignment
// read back from KV when this leader started, so stickiness survives failover.
//
// It never calls the partition source itself: it asks the partition loader (load), which runs
// load() on a thread of its own with a timeout (partition_loader_actor.hpp). A round that needs
// partitions (the first, or one that reloads) waits for that answer; a failed or timed-out
// reload keeps the partitions it had; a round without any fails (the state machine retries it
// after its failure backoff).
#include <memory>
#include <optional>
#include <vector>

#include "parti/messages/interfaces.hpp"
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/strategy/strategy.hpp"

namespace parti {

struct calculator_settings {
  partition_loader_actor loader;
  std::shared_ptr<const strategy> algorithm;
  strategy_options options;
  assignment previous;
  std::shared_ptr<metrics> stats;
  std::string worker;  // the leader's id
  /// How long to wait for the loader's answer. It answers within its own timeout; this only
  /// guards against a loader that is gone.
  duration load_wait = std::chrono::seconds(10);
};

struct calculator_state {
  calculator_settings settings;
  publisher_actor publisher;
  state_machine_actor state_machine;
  std::optional<std::vector<partition>> partitions;  // the last good load
  std::uint64_t latest_round = 0;  // a load answered for an older order is not used
  static inline const char* name = "parti.calculator";
};

calculator_actor::behavior_type calculator(
    calculator_actor::stateful_pointer<calculator_state> self, calculator_settings settings,
    publisher_actor publisher, state_machine_actor state_machine);

}  // namespace parti
