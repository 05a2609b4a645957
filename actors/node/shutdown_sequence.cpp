#include "parti/actors/node/shutdown_sequence.hpp"

namespace parti {

const char* to_string(release_step x) {
  switch (x) {
    case release_step::leadership:
      return "leadership";
    case release_step::heartbeat:
      return "heartbeat";
    case release_step::id:
      return "id";
  }
  return "unknown";
}

std::optional<stop_action> shutdown_sequence::begin(shutdown_intent intent, bool busy) {
  if (stopping()) return std::nullopt;
  intent_ = intent;
  if (intent == shutdown_intent::restart || !busy) return release(release_step::leadership);
  phase_ = phase::draining;
  return stop_action{stop_action::kind::drain};
}

std::optional<stop_action> shutdown_sequence::drained() {
  if (phase_ != phase::draining) return std::nullopt;
  return release(release_step::leadership);
}

std::optional<stop_action> shutdown_sequence::released(release_step step) {
  if (phase_ != phase::releasing || step != step_) return std::nullopt;
  switch (step) {
    case release_step::leadership:
      return release(release_step::heartbeat);
    case release_step::heartbeat:
      return release(release_step::id);
    case release_step::id:
      break;
  }
  phase_ = phase::finished;
  return stop_action{stop_action::kind::finish};
}

stop_action shutdown_sequence::release(release_step step) {
  phase_ = phase::releasing;
  step_ = step;
  return stop_action{stop_action::kind::release, step};
}

}  // namespace parti
