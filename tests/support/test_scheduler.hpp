#pragma once
// An actor system on CAF's deterministic test scheduler, for the actor tests: virtual time that
// moves only when the test says, every actor run on the test's thread.
#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <memory>

#include "parti/runtime/clock.hpp"

namespace parti::test {

struct scheduled_system {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  caf::actor_clock::time_point origin;  // the test's zero for now_ms()

  scheduled_system() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    sched->advance_time(std::chrono::hours(1));  // no time point of a test is the clock's zero
    origin = sched->clock().now();
  }

  /// Runs everything due now.
  void run_all() { sched->run(); }

  /// Lets virtual time pass in steps of `step`, running everything due at each step.
  void advance(caf::timespan d, caf::timespan step) {
    for (caf::timespan done{0}; done < d; done += step) {
      sched->advance_time(std::min<caf::timespan>(step, d - done));
      run_all();
    }
  }

  /// Virtual milliseconds since `origin`.
  long long now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(sched->clock().now() - origin)
        .count();
  }
};

/// A clock (runtime/clock.hpp) that reads the scheduler's virtual time, e.g. for the lease.
class scheduler_clock final : public clock {
 public:
  explicit scheduler_clock(caf::actor_clock& c) : clock_(c) {}
  time_point now() const override { return clock_.now(); }

 private:
  caf::actor_clock& clock_;
};

}  // namespace parti::test
