#include "actors/calculator/calculator_actor.hpp"

#include <caf/all.hpp>

#include <optional>

#include "actors/calculator/partition_refresh.hpp"
#include "messages/atoms.hpp"
#include "runtime/log.hpp"

namespace parti {

namespace {

using self_ptr = calculator_actor::stateful_pointer<calculator_state>;

/// Loads the partitions when asked to or never loaded; a failed reload keeps the old ones.
status ensure_partitions(calculator_state& c, bool reload) {
  if (c.partitions && !reload) return done{};
  auto loaded = c.settings.source->load();
  if (!loaded) {
    log(log_level::error, "calculator: partition source: ", loaded.error());
    if (c.partitions) return done{};
    return failure{"partition source: " + loaded.error()};
  }
  if (c.partitions && *c.partitions != *loaded)
    log(log_level::info, "calculator: partitions changed: ", c.partitions->size(), " -> ",
        loaded->size());
  c.partitions = std::move(*loaded);
  return done{};
}

/// A periodic re-read: whether the source now differs from the last load (before any, from the
/// assignment read back). The load is not kept: the refresh round it leads to loads again, and
/// until one has, every re-read still reports the change. A failed load is no change.
bool source_changed(calculator_state& c) {
  auto loaded = c.settings.source->load();
  if (!loaded) {
    log(log_level::warning, "calculator: partition source: ", loaded.error());
    return false;
  }
  auto changed =
      partitions_changed(refresh_baseline(c.partitions, c.settings.previous), std::move(*loaded));
  if (changed) log(log_level::debug, "calculator: the partition source changed");
  return changed;
}

void on_order(self_ptr self, const rebalance_order& order) {
  auto& c = self->state;
  auto fail = [&](const std::string& error) {
    self->send(c.state_machine, round_done{order.round, false, error});
  };
  if (auto ok = ensure_partitions(c, order.reload_partitions); !ok) return fail(ok.error());
  if (c.settings.stats)
    c.settings.stats->set_calculator_input(c.settings.worker, order.workers.size(),
                                           c.partitions->size());
  if (order.workers.empty()) {
    // Every worker left (the last ones drained): nobody owns anything. Publishing that lets
    // the leavers finish their drain instead of waiting for the timeout.
    c.settings.previous.clear();
    self->send(
        c.publisher,
        target_ready{
            order.round, order.reason, {}, static_cast<std::uint64_t>(c.partitions->size())});
    return;
  }
  auto start = std::chrono::steady_clock::now();
  auto target = checked_assign(*c.settings.algorithm, c.settings.previous, order.workers,
                               *c.partitions, c.settings.options);
  if (!target) return fail("strategy: " + target.error());
  auto took = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  log(log_level::debug, "calculator: round ", order.round, " computed in ", took.count(), "us");
  c.settings.previous = *target;
  self->send(c.publisher, target_ready{order.round, order.reason, std::move(*target),
                                       static_cast<std::uint64_t>(c.partitions->size())});
}

}  // namespace

calculator_actor::behavior_type calculator(self_ptr self, calculator_settings settings,
                                           publisher_actor publisher,
                                           state_machine_actor state_machine) {
  auto& c = self->state;
  c.settings = std::move(settings);
  c.publisher = std::move(publisher);
  c.state_machine = std::move(state_machine);
  return {
      [=](const rebalance_order& order) { on_order(self, order); },
      [=](refresh_atom) { return source_changed(self->state); },
  };
}

}  // namespace parti
