#include "parti/actors/calculator/calculator_actor.hpp"

#include <caf/all.hpp>

#include <optional>

#include "parti/actors/calculator/partition_refresh.hpp"
#include "parti/messages/atoms.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/nats/kv_actor.hpp"

namespace parti {

namespace {

using self_ptr = calculator_actor::stateful_pointer<calculator_state>;

/// Takes the loader's answer for a round: a fresh load replaces the partitions; otherwise (the
/// load failed, timed out, or cannot start yet) a failed reload keeps the old ones, and without
/// any the loader's last good set will do (e.g. the one the leader's coverage check loaded).
status take_load(calculator_state& c, const partition_load& load) {
  if (!load.fresh) {
    log(log_level::error, "calculator: ", load.problem);
    if (c.partitions) return done{};
    if (!load.loaded) return failure{load.problem};
  }
  if (c.partitions && *c.partitions != load.partitions)
    log(log_level::info, "calculator: partitions changed: ", c.partitions->size(), " -> ",
        load.partitions.size());
  c.partitions = load.partitions;
  return done{};
}

/// A periodic re-read: whether the source now differs from the last load (before any, from the
/// assignment read back). The load is not kept: the refresh round it leads to loads again, and
/// until one has, every re-read still reports the change. A load that is not fresh (failed,
/// timed out) is no change.
bool source_changed(const calculator_state& c, const partition_load& load) {
  if (!load.fresh) {
    log(log_level::warning, "calculator: ", load.problem);
    return false;
  }
  auto changed =
      partitions_changed(refresh_baseline(c.partitions, c.settings.previous), load.partitions);
  if (changed) log(log_level::debug, "calculator: the partition source changed");
  return changed;
}

void compute(self_ptr self, const rebalance_order& order);

void fail(self_ptr self, const rebalance_order& order, const std::string& error) {
  self->send(self->state.state_machine, round_done{order.round, false, error});
}

/// Computes the round at once when it has partitions and need not reload; otherwise asks the
/// loader first.
void on_order(self_ptr self, const rebalance_order& order) {
  auto& c = self->state;
  c.latest_round = order.round;
  if (c.partitions && !order.reload_partitions) return compute(self, order);
  self->request(c.settings.loader, c.settings.load_wait, load_atom::value)
      .then(
          [=](const partition_load& load) {
            auto& s = self->state;
            if (s.latest_round != order.round) return;  // given up: a newer round runs
            if (auto ok = take_load(s, load); !ok) return fail(self, order, ok.error());
            compute(self, order);
          },
          [=](const caf::error& err) {
            auto& s = self->state;
            if (s.latest_round != order.round) return;
            log(log_level::error, "calculator: partition loader: ", describe(err));
            if (!s.partitions) return fail(self, order, "partition loader: " + describe(err));
            compute(self, order);
          });
}

void compute(self_ptr self, const rebalance_order& order) {
  auto& c = self->state;
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
  if (!target) return fail(self, order, "strategy: " + target.error());
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
      [=](refresh_atom) -> caf::result<bool> {
        auto rp = self->make_response_promise<bool>();
        self->request(self->state.settings.loader, self->state.settings.load_wait, load_atom::value)
            .then(
                [=](const partition_load& load) mutable {
                  rp.deliver(source_changed(self->state, load));
                },
                [=](const caf::error& err) mutable {
                  log(log_level::warning, "calculator: partition loader: ", describe(err));
                  rp.deliver(false);
                });
        return rp;
      },
  };
}

}  // namespace parti
