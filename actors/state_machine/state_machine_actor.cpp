#include "parti/actors/state_machine/state_machine_actor.hpp"

#include <caf/all.hpp>

#include "parti/runtime/log.hpp"

namespace parti {

namespace {

using self_ptr = state_machine_actor::stateful_pointer<state_machine_state>;

group_phase group_state_of(machine_state s) {
  switch (s) {
    case machine_state::scaling:
      return group_phase::scaling;
    case machine_state::rebalancing:
      return group_phase::rebalancing;
    case machine_state::emergency:
      return group_phase::emergency;
    default:
      return group_phase::stable;
  }
}

/// Counts a finished round (rebalance total and duration by reason and result).
void record_round(self_ptr self, std::uint64_t round, bool ok) {
  auto& st = self->state;
  auto it = st.started.find(round);
  if (it == st.started.end()) return;
  if (st.settings.stats)
    st.settings.stats->observe_rebalance(st.settings.worker, to_string(it->second.first),
                                         ok ? rebalance_result::success : rebalance_result::failure,
                                         self->clock().now() - it->second.second);
  st.started.erase(it);
}

void start(self_ptr self, const start_rebalance& start) {
  auto& st = self->state;
  log(log_level::info, "state machine: round ", start.round, " (", to_string(start.reason),
      ") for ", start.workers.size(), " workers");
  st.started[start.round] = {start.reason, self->clock().now()};
  self->send(st.calculator, rebalance_order{start.round, start.reason, start.workers,
                                            start.reason == rebalance_reason::refresh});
  // A round that never reports back (stuck publisher) must not block the machine.
  self->delayed_send(self, st.settings.round_timeout, caf::timeout_atom::value, start.round);
}

/// Carries out what the rules decided, in order, and sets the next wake-up.
void drive(self_ptr self) {
  auto& st = self->state;
  if (!st.rules) return;
  for (auto& out : st.rules->poll(self->clock().now())) {
    if (auto* change = std::get_if<state_changed>(&out)) {
      log(log_level::info, "state machine: ", to_string(change->from), " -> ",
          to_string(change->to));
      self->send(st.node, group_state_update{group_state_of(change->to)});
    } else {
      start(self, std::get<start_rebalance>(out));
    }
  }
  if (auto deadline = st.rules->next_deadline()) st.timer.arm(self, *deadline);
}

void on_liveness(self_ptr self, const liveness_notice& n) {
  auto& rules = *self->state.rules;
  auto now = self->clock().now();
  switch (n.change) {
    case liveness_change::joined:
    case liveness_change::restarted:
      rules.worker_joined(n.worker, now);
      break;
    case liveness_change::left:
      rules.worker_left(n.worker, leave_kind::drain, now);
      break;
    case liveness_change::restart_expired:
      rules.worker_left(n.worker, leave_kind::restart_expired, now);
      break;
    default:
      break;  // expiry is the emergency detector's; restarting keeps its partitions
  }
}

void on_control(self_ptr self, const control_notice& c) {
  auto& st = self->state;
  auto now = self->clock().now();
  if (c.frozen != st.frozen) {
    log(log_level::info, "state machine: ", c.frozen ? "frozen" : "unfrozen");
    st.frozen = c.frozen;
    st.rules->set_frozen(c.frozen, now);
  }
  if (c.rebalance) st.rules->manual_request(now);
  if (c.refresh) st.rules->partitions_refreshed(now);
  for (const auto& w : c.drain) st.rules->worker_left(w, leave_kind::drain, now);
}

/// Before the monitor has replayed the heartbeats the machine cannot know who is live: a
/// request is kept until it can (requests and drains add up; frozen takes the latest).
void keep_early(self_ptr self, const control_notice& c) {
  auto& st = self->state;
  auto merged = c;
  if (st.early_control) {
    merged.rebalance = merged.rebalance || st.early_control->rebalance;
    merged.refresh = merged.refresh || st.early_control->refresh;
    merged.drain = merged_drains(st.early_control->drain, c.drain);
  }
  st.early_control = merged;
}

void on_ready(self_ptr self, const monitor_ready& r) {
  auto& st = self->state;
  std::set<std::string> assigned(st.settings.assigned.begin(), st.settings.assigned.end());
  auto now = self->clock().now();
  st.rules.emplace(st.settings.rules, std::move(assigned),
                   std::set<std::string>(r.live.begin(), r.live.end()), now);
  if (st.settings.unowned_partitions) st.rules->unowned_partitions_found(now);
  if (st.early_control) on_control(self, *st.early_control);
  st.early_control.reset();
}

void on_round_done(self_ptr self, const round_done& r) {
  auto& rules = *self->state.rules;
  if (!r.ok) log(log_level::warning, "state machine: round ", r.round, " failed: ", r.error);
  if (rules.round_completed(r.round, r.ok, self->clock().now())) record_round(self, r.round, r.ok);
}

void on_round_timeout(self_ptr self, std::uint64_t round) {
  auto& rules = *self->state.rules;
  if (rules.running_round() != round) return;
  log(log_level::warning, "state machine: round ", round, " timed out");
  rules.round_completed(round, false, self->clock().now());
  record_round(self, round, false);
}

}  // namespace

state_machine_actor::behavior_type state_machine(self_ptr self, state_machine_settings settings,
                                                 group_phase_listener node) {
  self->state.settings = std::move(settings);
  self->state.node = std::move(node);
  if (auto& stats = self->state.settings.stats) {
    std::vector<std::string_view> reasons;
    for (auto r :
         {rebalance_reason::cold_start, rebalance_reason::planned_scale, rebalance_reason::drain,
          rebalance_reason::restart_expired, rebalance_reason::emergency, rebalance_reason::manual,
          rebalance_reason::refresh})
      reasons.emplace_back(to_string(r));
    stats->init_rebalance(self->state.settings.worker, reasons);
  }
  // Every handler but `peers` changes the rules (once there are any), then drives them.
  auto with_rules = [=](auto f) {
    if (self->state.rules) f();
    drive(self);
  };
  return {
      [=](peers_atom, calculator_actor calculator) {
        self->state.calculator = std::move(calculator);
      },
      [=](const monitor_ready& r) {
        on_ready(self, r);
        drive(self);
      },
      [=](const liveness_notice& n) { with_rules([&] { on_liveness(self, n); }); },
      [=](const control_notice& c) {
        if (!self->state.rules) return keep_early(self, c);
        on_control(self, c);
        drive(self);
      },
      [=](const emergency_notice& e) {
        with_rules([&] {
          auto now = self->clock().now();
          if (e.owned)
            self->state.rules->emergency_confirmed(e.worker, now);
          else
            self->state.rules->worker_gone(e.worker, now);
        });
      },
      [=](const round_done& r) {
        if (self->state.rules) {
          on_round_done(self, r);
          drive(self);
        }
      },
      [=](caf::timeout_atom, std::uint64_t round) {
        if (self->state.rules) {
          on_round_timeout(self, round);
          drive(self);
        }
      },
      [=](caf::tick_atom, std::uint64_t token) {
        if (self->state.timer.fire(token)) drive(self);
      },
  };
}

}  // namespace parti
