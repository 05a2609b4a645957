#pragma once
// A circuit breaker in front of the store: after repeated failures it stops calls for a while
// instead of piling more requests on a store that is not answering, then lets a few trial
// calls through to find out whether it is back.
//
//   closed    --failure_threshold consecutive failures-->  open
//   open      --open_timeout passed, on the next acquire-->  half_open
//   half_open --success_threshold trial successes-->       closed
//   half_open --any trial failure-->                       open (the timeout starts again)
//
// Thread-safe: nats.c callbacks and actors on different threads share one breaker. Each admitted
// call gets a ticket naming the breaker period it was admitted in; a result reported for an
// older period (a slow call that outlived a state change) is ignored, so it cannot close or
// re-open the breaker by accident.
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>

#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"

namespace parti {

enum class breaker_state { closed, open, half_open };
std::string_view to_string(breaker_state x);

struct circuit_breaker_policy {
  std::uint32_t failure_threshold = 5;  // consecutive failures that open a closed breaker
  std::uint32_t success_threshold = 2;  // trial successes that close a half-open breaker
  duration open_timeout = std::chrono::seconds(5);
  std::uint32_t half_open_max_trials = 1;  // trial calls in flight at once while half-open

  /// Every field > 0; the failure names the field.
  status validate() const;
};

/// Counters since construction, for metrics and tests.
struct breaker_counts {
  std::uint64_t admitted = 0;
  std::uint64_t rejected = 0;
  std::uint64_t successes = 0;  // reported for the current period, hence counted
  std::uint64_t failures = 0;
  std::uint64_t ignored = 0;  // results of an older period
  std::uint64_t transitions = 0;
};

class circuit_breaker {
 public:
  /// Called on every state change, in order, while the breaker's lock is held: keep it short
  /// (e.g. send a message) and do not call back into the breaker from it.
  using listener = std::function<void(breaker_state from, breaker_state to, time_point at)>;

  /// Permission for one call; report its result with exactly one of the on_* methods.
  struct ticket {
    std::uint64_t period = 0;
    bool trial = false;  // admitted while half-open
  };

  explicit circuit_breaker(circuit_breaker_policy policy, listener on_change = {});

  /// Admits a call, or returns nothing while open (or while half-open with every trial slot
  /// taken). Moves open -> half_open once the open timeout has passed.
  std::optional<ticket> try_acquire(time_point now);

  void on_success(const ticket& t, time_point now);
  void on_failure(const ticket& t, time_point now);

  /// The store is known to be reachable again (the connection was re-established): closes the
  /// breaker at once instead of failing calls fast until the open timeout has passed, which
  /// would keep heartbeats from renewing ownership leases for seconds after an outage ended.
  /// Results of calls admitted before count no more.
  void on_reachable(time_point now);

  /// The call was abandoned without a result (cancelled): frees its trial slot, counts nothing.
  void on_abandoned(const ticket& t);

  breaker_state state() const;
  breaker_counts counts() const;
  const circuit_breaker_policy& policy() const { return policy_; }

 private:
  void move_to(breaker_state to, time_point now);  // callers hold mutex_
  bool is_current(const ticket& t) const { return t.period == period_; }
  void release_trial(const ticket& t);

  const circuit_breaker_policy policy_;
  const listener on_change_;
  mutable std::mutex mutex_;
  breaker_state state_ = breaker_state::closed;
  std::uint64_t period_ = 1;  // increments on every state change
  std::uint32_t consecutive_failures_ = 0;
  std::uint32_t trial_successes_ = 0;
  std::uint32_t trials_in_flight_ = 0;
  time_point opened_at_{};
  breaker_counts counts_;
};

}  // namespace parti
