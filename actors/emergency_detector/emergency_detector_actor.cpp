#include "actors/emergency_detector/emergency_detector_actor.hpp"

#include <caf/all.hpp>

#include "actors/leader/leader_messages.hpp"
#include "runtime/log.hpp"
#include "runtime/wakeup.hpp"

namespace parti {

namespace {

struct detector {
  emergency_rules rules;
  caf::actor state_machine;
  wakeup timer;
  detector(emergency_options o, caf::actor sm) : rules(o), state_machine(std::move(sm)) {}
};

time_point now() {
  return std::chrono::steady_clock::now();
}

void confirm_due(caf::event_based_actor* self, const std::shared_ptr<detector>& d) {
  for (const auto& e : d->rules.poll(now())) {
    if (e.owned)
      log(log_level::warning, "emergency: ", e.worker, " stayed gone for the grace period");
    else
      log(log_level::info, "emergency: ", e.worker, " stayed gone, owning nothing");
    self->send(d->state_machine, emergency_notice{e.worker, e.owned});
  }
  if (auto deadline = d->rules.next_deadline()) d->timer.arm(self, *deadline);
}

void on_liveness(caf::event_based_actor* self, const std::shared_ptr<detector>& d,
                 const liveness_notice& n) {
  switch (n.change) {
    case liveness_change::expired: {
      // The grace counts from when the deadline passed (a new leader notices long-dead
      // workers late), never from the future.
      auto since = time_point(duration(n.since_ns));
      d->rules.worker_expired(n.worker, n.since_ns > 0 ? std::min(since, now()) : now());
      break;
    }
    case liveness_change::joined:
    case liveness_change::restarted:
      d->rules.worker_returned(n.worker);
      break;
    case liveness_change::left:
    case liveness_change::restart_expired:
      d->rules.worker_left(n.worker);
      break;
    default:
      break;
  }
  confirm_due(self, d);
}

}  // namespace

caf::behavior emergency_detector(caf::event_based_actor* self, emergency_options options,
                                 std::vector<std::string> owners, caf::actor state_machine) {
  auto d = std::make_shared<detector>(options, std::move(state_machine));
  d->rules.set_owners({owners.begin(), owners.end()});
  return {
      [=](const liveness_notice& n) { on_liveness(self, d, n); },
      [=](const owners_notice& o) {
        d->rules.set_owners({o.owners.begin(), o.owners.end()});
        confirm_due(self, d);
      },
      [=](caf::tick_atom, std::uint64_t token) {
        if (d->timer.fire(token)) confirm_due(self, d);
      },
  };
}

}  // namespace parti
