#pragma once
// One pending timer per actor for the pure logic's next_deadline(): arm() keeps the earliest
// wake-up and supersedes later ones, so events that re-arm never multiply the timers.
// The actor handles (caf::tick_atom, std::uint64_t token) and calls fire(token) first.
#include <caf/event_based_actor.hpp>

#include <algorithm>
#include <cstdint>

#include "parti/runtime/clock.hpp"

namespace parti {

class wakeup {
 public:
  /// Wakes the actor at `at` (at once when it is past) unless an earlier wake-up is pending.
  /// Times are on the actor clock, which a test coordinator drives.
  template <class Self>
  void arm(Self* self, time_point at) {
    if (at >= armed_) return;
    armed_ = at;
    auto delay = std::max<duration>(at - self->clock().now(), duration::zero());
    self->delayed_send(self, delay, caf::tick_atom::value, ++token_);
  }

  /// True for the tick of the current wake-up (which is then used up); false for superseded ones.
  bool fire(std::uint64_t token) {
    if (token != token_) return false;
    armed_ = time_point::max();
    return true;
  }

  /// A wake-up is pending.
  bool armed() const { return armed_ != time_point::max(); }

  /// Forgets the pending wake-up: its tick will be ignored.
  void cancel() {
    ++token_;
    armed_ = time_point::max();
  }

 private:
  time_point armed_ = time_point::max();
  std::uint64_t token_ = 0;
};

}  // namespace parti
