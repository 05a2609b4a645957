#include "parti/runtime/resilience/circuit_breaker.hpp"

#include <utility>

namespace parti {

std::string_view to_string(breaker_state x) {
  switch (x) {
    case breaker_state::closed:
      return "closed";
    case breaker_state::open:
      return "open";
    case breaker_state::half_open:
      return "half_open";
  }
  return "unknown";
}

status circuit_breaker_policy::validate() const {
  if (failure_threshold == 0) return failure{"breaker.failure_threshold: must be at least 1"};
  if (success_threshold == 0) return failure{"breaker.success_threshold: must be at least 1"};
  if (open_timeout <= duration::zero())
    return failure{"breaker.open_timeout: must be greater than 0"};
  if (half_open_max_trials == 0) return failure{"breaker.half_open_max_trials: must be at least 1"};
  return done{};
}

circuit_breaker::circuit_breaker(circuit_breaker_policy policy, listener on_change)
    : policy_(policy), on_change_(std::move(on_change)) {}

void circuit_breaker::move_to(breaker_state to, time_point now) {
  const breaker_state from = state_;
  state_ = to;
  ++period_;  // results of calls admitted before this point no longer count
  ++counts_.transitions;
  consecutive_failures_ = 0;
  trial_successes_ = 0;
  trials_in_flight_ = 0;
  if (to == breaker_state::open) opened_at_ = now;
  if (on_change_) on_change_(from, to, now);
}

std::optional<circuit_breaker::ticket> circuit_breaker::try_acquire(time_point now) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (state_ == breaker_state::open && now - opened_at_ >= policy_.open_timeout)
    move_to(breaker_state::half_open, now);
  switch (state_) {
    case breaker_state::closed:
      ++counts_.admitted;
      return ticket{period_, false};
    case breaker_state::half_open:
      if (trials_in_flight_ < policy_.half_open_max_trials) {
        ++trials_in_flight_;
        ++counts_.admitted;
        return ticket{period_, true};
      }
      break;
    case breaker_state::open:
      break;
  }
  ++counts_.rejected;
  return std::nullopt;
}

void circuit_breaker::release_trial(const ticket& t) {
  if (t.trial && trials_in_flight_ > 0) --trials_in_flight_;
}

void circuit_breaker::on_success(const ticket& t, time_point now) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (!is_current(t)) {
    ++counts_.ignored;
    return;
  }
  ++counts_.successes;
  if (state_ == breaker_state::closed) {
    consecutive_failures_ = 0;
  } else if (state_ == breaker_state::half_open) {
    release_trial(t);
    if (++trial_successes_ >= policy_.success_threshold) move_to(breaker_state::closed, now);
  }
}

void circuit_breaker::on_failure(const ticket& t, time_point now) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (!is_current(t)) {
    ++counts_.ignored;
    return;
  }
  ++counts_.failures;
  if (state_ == breaker_state::closed) {
    if (++consecutive_failures_ >= policy_.failure_threshold) move_to(breaker_state::open, now);
  } else if (state_ == breaker_state::half_open) {
    move_to(breaker_state::open, now);  // the store is still not healthy
  }
}

void circuit_breaker::on_reachable(time_point now) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (state_ != breaker_state::closed) move_to(breaker_state::closed, now);
}

void circuit_breaker::on_abandoned(const ticket& t) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (is_current(t)) release_trial(t);
}

breaker_state circuit_breaker::state() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return state_;
}

breaker_counts circuit_breaker::counts() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return counts_;
}

}  // namespace parti
