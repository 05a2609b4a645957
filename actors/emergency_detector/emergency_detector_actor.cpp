#include "parti/actors/emergency_detector/emergency_detector_actor.hpp"

#include <caf/all.hpp>

#include "parti/runtime/log.hpp"

namespace parti {

namespace {

using self_ptr = emergency_detector_actor::stateful_pointer<emergency_detector_state>;

void confirm_due(self_ptr self) {
  auto& st = self->state;
  for (const auto& e : st.rules->poll(self->clock().now())) {
    if (e.owned)
      log(log_level::warning, "emergency: ", e.worker, " stayed gone for the grace period");
    else
      log(log_level::info, "emergency: ", e.worker, " stayed gone, owning nothing");
    self->send(st.state_machine, emergency_notice{e.worker, e.owned});
  }
  if (auto deadline = st.rules->next_deadline()) st.timer.arm(self, *deadline);
}

void on_liveness(self_ptr self, const liveness_notice& n) {
  auto& rules = *self->state.rules;
  auto now = self->clock().now();
  switch (n.change) {
    case liveness_change::expired: {
      // The grace counts from when the deadline passed (a new leader notices long-dead
      // workers late), never from the future.
      auto since = time_point(duration(n.since_ns));
      rules.worker_expired(n.worker, n.since_ns > 0 ? std::min(since, now) : now);
      break;
    }
    case liveness_change::joined:
    case liveness_change::restarted:
      rules.worker_returned(n.worker);
      break;
    case liveness_change::left:
    case liveness_change::restart_expired:
      rules.worker_left(n.worker);
      break;
    default:
      break;
  }
  confirm_due(self);
}

}  // namespace

emergency_detector_actor::behavior_type emergency_detector(self_ptr self, emergency_options options,
                                                           std::vector<std::string> owners,
                                                           state_machine_actor state_machine) {
  auto& st = self->state;
  st.rules.emplace(options);
  st.rules->set_owners({owners.begin(), owners.end()});
  st.state_machine = std::move(state_machine);
  return {
      [=](const liveness_notice& n) { on_liveness(self, n); },
      [=](const owners_notice& o) {
        self->state.rules->set_owners({o.owners.begin(), o.owners.end()});
        confirm_due(self);
      },
      [=](caf::tick_atom, std::uint64_t token) {
        if (self->state.timer.fire(token)) confirm_due(self);
      },
  };
}

}  // namespace parti
