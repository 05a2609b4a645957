#include "actors/state_machine/state_machine_actor.hpp"

#include <caf/all.hpp>

#include <optional>

#include "actors/leader/leader_messages.hpp"
#include "runtime/log.hpp"
#include "runtime/wakeup.hpp"

namespace parti {

namespace {

struct machine {
  state_machine_settings settings;
  caf::actor calculator;
  caf::actor node;
  std::optional<rebalance_rules> rules;  // from monitor_ready on
  wakeup timer;
  bool frozen = false;
  std::optional<control_notice> early_control;
  std::map<std::uint64_t, std::pair<std::string, time_point>> started;  // round -> reason, start
};

using machine_ptr = std::shared_ptr<machine>;
using self_ptr = caf::event_based_actor*;

time_point now() { return std::chrono::steady_clock::now(); }

const char* node_state_name(machine_state s) {
  switch (s) {
    case machine_state::scaling: return "Scaling";
    case machine_state::rebalancing: return "Rebalancing";
    case machine_state::emergency: return "Emergency";
    default: return "Stable";
  }
}

/// Counts a finished round (rebalance total and duration by reason and result).
void record_round(const machine_ptr& m, std::uint64_t round, bool ok) {
  auto it = m->started.find(round);
  if (it == m->started.end()) return;
  if (m->settings.stats)
    m->settings.stats->observe_rebalance(
        m->settings.worker, it->second.first,
        ok ? rebalance_result::success : rebalance_result::failure, now() - it->second.second);
  m->started.erase(it);
}

/// Carries out what the rules decided, in order, and sets the next wake-up.
void drive(self_ptr self, const machine_ptr& m) {
  if (!m->rules) return;
  for (auto& out : m->rules->poll(now())) {
    if (auto* change = std::get_if<state_changed>(&out)) {
      log(log_level::info, "state machine: ", to_string(change->from), " -> ",
          to_string(change->to));
      self->send(m->node, group_state_update{node_state_name(change->to)});
    } else {
      auto& start = std::get<start_rebalance>(out);
      log(log_level::info, "state machine: round ", start.round, " (", to_string(start.reason),
          ") for ", start.workers.size(), " workers");
      m->started[start.round] = {to_string(start.reason), now()};
      self->send(m->calculator,
                 rebalance_order{start.round, to_string(start.reason), start.workers,
                                 start.reason == rebalance_reason::refresh});
      // A round that never reports back (stuck publisher) must not block the machine.
      self->delayed_send(self, m->settings.round_timeout, caf::timeout_atom::value, start.round);
    }
  }
  if (auto deadline = m->rules->next_deadline()) m->timer.arm(self, *deadline);
}

void on_liveness(const machine_ptr& m, const liveness_notice& n) {
  switch (n.change) {
    case liveness_change::joined:
    case liveness_change::restarted: m->rules->worker_joined(n.worker, now()); break;
    case liveness_change::left: m->rules->worker_left(n.worker, leave_kind::drain, now()); break;
    case liveness_change::restart_expired:
      m->rules->worker_left(n.worker, leave_kind::restart_expired, now());
      break;
    default: break;  // expiry is the emergency detector's; restarting keeps its partitions
  }
}

void on_control(const machine_ptr& m, const control_notice& c) {
  if (c.frozen != m->frozen) {
    log(log_level::info, "state machine: ", c.frozen ? "frozen" : "unfrozen");
    m->frozen = c.frozen;
    m->rules->set_frozen(c.frozen, now());
  }
  if (c.rebalance) m->rules->manual_request(now());
  if (c.refresh) m->rules->partitions_refreshed(now());
  for (const auto& w : c.drain) m->rules->worker_left(w, leave_kind::drain, now());
}

}  // namespace

caf::behavior state_machine(caf::event_based_actor* self, state_machine_settings settings,
                            caf::actor calculator, caf::actor node) {
  auto m = std::make_shared<machine>();
  m->settings = std::move(settings);
  m->calculator = std::move(calculator);
  m->node = std::move(node);
  return {
      [=](const monitor_ready& r) {
        std::set<std::string> assigned(m->settings.assigned.begin(), m->settings.assigned.end());
        m->rules.emplace(m->settings.rules, std::move(assigned),
                         std::set<std::string>(r.live.begin(), r.live.end()), now());
        if (m->early_control) on_control(m, *m->early_control);
        m->early_control.reset();
        drive(self, m);
      },
      [=](const liveness_notice& n) {
        if (m->rules) on_liveness(m, n);
        drive(self, m);
      },
      [=](const control_notice& c) {
        // Before the monitor has replayed the heartbeats the machine cannot know who is live:
        // keep the request until it can.
        if (!m->rules) {
          auto merged = c;  // requests and drains add up; frozen takes the latest
          if (m->early_control) {
            merged.rebalance = merged.rebalance || m->early_control->rebalance;
            merged.refresh = merged.refresh || m->early_control->refresh;
            merged.drain = merged_drains(m->early_control->drain, c.drain);
          }
          m->early_control = merged;
          return;
        }
        on_control(m, c);
        drive(self, m);
      },
      [=](const emergency_notice& e) {
        if (m->rules && e.owned) m->rules->emergency_confirmed(e.worker, now());
        if (m->rules && !e.owned) m->rules->worker_gone(e.worker, now());
        drive(self, m);
      },
      [=](const round_done& r) {
        if (!m->rules) return;
        if (!r.ok) log(log_level::warning, "state machine: round ", r.round, " failed: ", r.error);
        if (m->rules->round_completed(r.round, r.ok, now())) record_round(m, r.round, r.ok);
        drive(self, m);
      },
      [=](caf::timeout_atom, std::uint64_t round) {
        if (m->rules && m->rules->running_round() == round) {
          log(log_level::warning, "state machine: round ", round, " timed out");
          m->rules->round_completed(round, false, now());
          record_round(m, round, false);
          drive(self, m);
        }
      },
      [=](caf::tick_atom, std::uint64_t token) {
        if (m->timer.fire(token)) drive(self, m);
      },
  };
}

}  // namespace parti
