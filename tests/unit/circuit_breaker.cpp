#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "parti/runtime/resilience/circuit_breaker.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

struct transition {
  breaker_state from;
  breaker_state to;
  time_point at;
};

// Records every notification; the breaker calls it under its own lock, so no lock is needed.
struct recorder {
  std::vector<transition> seen;
  circuit_breaker::listener listener() {
    return [this](breaker_state from, breaker_state to, time_point at) {
      seen.push_back({from, to, at});
    };
  }
};

circuit_breaker_policy policy(std::uint32_t failures, std::uint32_t successes, duration timeout,
                              std::uint32_t trials = 1) {
  circuit_breaker_policy p;
  p.failure_threshold = failures;
  p.success_threshold = successes;
  p.open_timeout = timeout;
  p.half_open_max_trials = trials;
  return p;
}

void fail_once(circuit_breaker& b, time_point now) {
  auto t = b.try_acquire(now);
  BOOST_REQUIRE(t.has_value());
  b.on_failure(*t, now);
}

void succeed_once(circuit_breaker& b, time_point now) {
  auto t = b.try_acquire(now);
  BOOST_REQUIRE(t.has_value());
  b.on_success(*t, now);
}

// Opens a breaker with a failure threshold of `n` at `now`.
void open_it(circuit_breaker& b, std::uint32_t n, time_point now) {
  for (std::uint32_t i = 0; i < n; ++i) fail_once(b, now);
  BOOST_REQUIRE((b.state() == breaker_state::open));
}

}  // namespace

BOOST_AUTO_TEST_CASE(policy_validation_names_the_field) {
  BOOST_TEST(circuit_breaker_policy{}.validate().ok());
  BOOST_TEST(policy(0, 1, 1s).validate().error() ==
             "breaker.failure_threshold: must be at least 1");
  BOOST_TEST(policy(1, 0, 1s).validate().error() ==
             "breaker.success_threshold: must be at least 1");
  BOOST_TEST(policy(1, 1, 0s).validate().error() == "breaker.open_timeout: must be greater than 0");
  BOOST_TEST(policy(1, 1, 1s, 0).validate().error() ==
             "breaker.half_open_max_trials: must be at least 1");
}

BOOST_AUTO_TEST_CASE(opens_after_exactly_the_failure_threshold_of_consecutive_failures) {
  manual_clock clock;
  recorder r;
  circuit_breaker b(policy(3, 1, 5s), r.listener());
  fail_once(b, clock.now());
  fail_once(b, clock.now());
  BOOST_TEST((b.state() == breaker_state::closed));
  succeed_once(b, clock.now());  // a success resets the run of failures
  fail_once(b, clock.now());
  fail_once(b, clock.now());
  BOOST_TEST((b.state() == breaker_state::closed));
  clock.advance(1s);
  fail_once(b, clock.now());
  BOOST_TEST((b.state() == breaker_state::open));
  BOOST_REQUIRE(r.seen.size() == 1u);
  BOOST_TEST((r.seen[0].from == breaker_state::closed && r.seen[0].to == breaker_state::open));
  BOOST_TEST((r.seen[0].at == clock.now()));
}

BOOST_AUTO_TEST_CASE(open_rejects_until_the_timeout_then_admits_a_trial) {
  manual_clock clock;
  recorder r;
  circuit_breaker b(policy(1, 1, 5s), r.listener());
  const time_point opened = clock.now();
  open_it(b, 1, opened);
  BOOST_TEST(!b.try_acquire(opened + 5s - 1ns).has_value());
  BOOST_TEST((b.state() == breaker_state::open));
  auto trial = b.try_acquire(opened + 5s);
  BOOST_REQUIRE(trial.has_value());
  BOOST_TEST(trial->trial);
  BOOST_TEST((b.state() == breaker_state::half_open));
  BOOST_REQUIRE(r.seen.size() == 2u);
  BOOST_TEST((r.seen[1].from == breaker_state::open && r.seen[1].to == breaker_state::half_open));
  BOOST_TEST(b.counts().rejected == 1u);
}

BOOST_AUTO_TEST_CASE(a_reachable_store_closes_an_open_breaker_before_its_timeout) {
  manual_clock clock;
  recorder r;
  circuit_breaker b(policy(1, 2, 5s), r.listener());
  open_it(b, 1, clock.now());
  auto before = b.try_acquire(clock.now());  // rejected: open
  BOOST_TEST(!before.has_value());
  clock.advance(1s);
  b.on_reachable(clock.now());
  BOOST_TEST((b.state() == breaker_state::closed));
  auto t = b.try_acquire(clock.now());
  BOOST_REQUIRE(t.has_value());
  BOOST_TEST(!t->trial);  // a regular call, not a half-open trial
  BOOST_REQUIRE(r.seen.size() == 2u);
  BOOST_TEST((r.seen[1].from == breaker_state::open && r.seen[1].to == breaker_state::closed));
  b.on_reachable(clock.now());  // already closed: nothing changes
  BOOST_TEST(r.seen.size() == 2u);
}

BOOST_AUTO_TEST_CASE(half_open_admits_only_the_allowed_number_of_trials_in_flight) {
  manual_clock clock;
  circuit_breaker b(policy(1, 3, 5s, 2));
  open_it(b, 1, clock.now());
  clock.advance(5s);
  auto t1 = b.try_acquire(clock.now());
  auto t2 = b.try_acquire(clock.now());
  BOOST_TEST((t1.has_value() && t2.has_value()));
  BOOST_TEST(!b.try_acquire(clock.now()).has_value());  // both slots taken
  b.on_success(*t1, clock.now());                       // frees one slot, 1 of 3 successes
  auto t3 = b.try_acquire(clock.now());
  BOOST_TEST(t3.has_value());
  BOOST_TEST(!b.try_acquire(clock.now()).has_value());
  BOOST_TEST((b.state() == breaker_state::half_open));
}

BOOST_AUTO_TEST_CASE(half_open_closes_after_exactly_the_success_threshold) {
  manual_clock clock;
  recorder r;
  circuit_breaker b(policy(1, 2, 5s), r.listener());
  open_it(b, 1, clock.now());
  clock.advance(5s);
  succeed_once(b, clock.now());
  BOOST_TEST((b.state() == breaker_state::half_open));
  succeed_once(b, clock.now());
  BOOST_TEST((b.state() == breaker_state::closed));
  BOOST_REQUIRE(r.seen.size() == 3u);
  BOOST_TEST((r.seen[2].from == breaker_state::half_open && r.seen[2].to == breaker_state::closed));
  // Closed again with a fresh failure count: one failure (threshold 1) opens it again.
  fail_once(b, clock.now());
  BOOST_TEST((b.state() == breaker_state::open));
}

BOOST_AUTO_TEST_CASE(a_trial_failure_reopens_and_restarts_the_timeout) {
  manual_clock clock;
  circuit_breaker b(policy(1, 2, 5s));
  open_it(b, 1, clock.now());
  clock.advance(5s);
  succeed_once(b, clock.now());
  clock.advance(1s);
  fail_once(b, clock.now());
  BOOST_TEST((b.state() == breaker_state::open));
  const time_point reopened = clock.now();
  BOOST_TEST(!b.try_acquire(reopened + 5s - 1ns).has_value());
  auto t = b.try_acquire(reopened + 5s);
  BOOST_REQUIRE(t.has_value());
  // The success counted before the failure is forgotten: two new successes are needed.
  b.on_success(*t, reopened + 5s);
  BOOST_TEST((b.state() == breaker_state::half_open));
}

BOOST_AUTO_TEST_CASE(an_abandoned_trial_frees_its_slot_without_counting) {
  manual_clock clock;
  circuit_breaker b(policy(1, 1, 5s));
  open_it(b, 1, clock.now());
  clock.advance(5s);
  auto t = b.try_acquire(clock.now());
  BOOST_REQUIRE(t.has_value());
  BOOST_TEST(!b.try_acquire(clock.now()).has_value());
  b.on_abandoned(*t);
  BOOST_TEST((b.state() == breaker_state::half_open));
  BOOST_TEST(b.try_acquire(clock.now()).has_value());
}

BOOST_AUTO_TEST_CASE(results_from_an_earlier_period_are_ignored) {
  manual_clock clock;
  circuit_breaker b(policy(2, 1, 5s));
  auto slow_success = b.try_acquire(clock.now());  // admitted while closed
  auto slow_failure = b.try_acquire(clock.now());
  BOOST_REQUIRE((slow_success && slow_failure));
  open_it(b, 2, clock.now());
  clock.advance(5s);
  auto trial = b.try_acquire(clock.now());
  BOOST_REQUIRE(trial.has_value());
  // The slow calls from the closed period answer now: neither closes nor re-opens the breaker.
  b.on_success(*slow_success, clock.now());
  b.on_failure(*slow_failure, clock.now());
  BOOST_TEST((b.state() == breaker_state::half_open));
  BOOST_TEST(!b.try_acquire(clock.now()).has_value());  // the trial slot is still taken
  const auto counts = b.counts();
  BOOST_TEST(counts.ignored == 2u);
  BOOST_TEST(counts.failures == 2u);
  BOOST_TEST(counts.successes == 0u);
  b.on_success(*trial, clock.now());
  BOOST_TEST((b.state() == breaker_state::closed));
}

BOOST_AUTO_TEST_CASE(state_names) {
  BOOST_TEST(to_string(breaker_state::half_open) == "half_open");
  BOOST_TEST(to_string(breaker_state::closed) == "closed");
  BOOST_TEST(to_string(breaker_state::open) == "open");
}

// -- concurrent use -----------------------------------------------------------------------------

namespace {

constexpr int thread_count = 8;

// Runs `body(thread_index)` on thread_count threads released together.
template <class Body>
void run_together(Body body) {
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < thread_count; ++i)
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      body(i);
    });
  go.store(true);
  for (auto& t : threads) t.join();
}

}  // namespace

BOOST_AUTO_TEST_CASE(concurrent_successes_are_all_counted) {
  const time_point now = manual_clock{}.now();
  circuit_breaker b(policy(1, 1, 5s));
  constexpr int calls = 20000;
  run_together([&](int) {
    for (int i = 0; i < calls; ++i) {
      auto t = b.try_acquire(now);
      if (t) b.on_success(*t, now);
    }
  });
  const auto counts = b.counts();
  BOOST_TEST(counts.admitted == std::uint64_t{thread_count} * calls);
  BOOST_TEST(counts.successes == std::uint64_t{thread_count} * calls);
  BOOST_TEST(counts.rejected == 0u);
  BOOST_TEST(counts.transitions == 0u);
  BOOST_TEST((b.state() == breaker_state::closed));
}

BOOST_AUTO_TEST_CASE(concurrent_failures_open_the_breaker_exactly_once) {
  const time_point now = manual_clock{}.now();
  recorder r;
  constexpr std::uint32_t threshold = 100;
  circuit_breaker b(policy(threshold, 1, 1h), r.listener());
  constexpr int calls = 2000;
  std::atomic<std::uint64_t> admitted{0}, rejected{0};
  run_together([&](int) {
    for (int i = 0; i < calls; ++i) {
      if (auto t = b.try_acquire(now)) {
        ++admitted;
        b.on_failure(*t, now);
      } else {
        ++rejected;
      }
    }
  });
  const auto counts = b.counts();
  BOOST_TEST(admitted.load() + rejected.load() == std::uint64_t{thread_count} * calls);
  BOOST_TEST(counts.admitted == admitted.load());
  BOOST_TEST(counts.rejected == rejected.load());
  BOOST_TEST(admitted.load() >= threshold);
  // Exactly the threshold counted; failures of calls admitted before the opening are ignored.
  BOOST_TEST(counts.failures == threshold);
  BOOST_TEST(counts.failures + counts.ignored == admitted.load());
  BOOST_REQUIRE(r.seen.size() == 1u);
  BOOST_TEST((r.seen[0].to == breaker_state::open));
  BOOST_TEST((b.state() == breaker_state::open));
}

BOOST_AUTO_TEST_CASE(concurrent_trials_are_limited_to_the_allowed_number) {
  manual_clock clock;
  recorder r;
  constexpr std::uint32_t trials = 3;
  circuit_breaker b(policy(1, 10, 5s, trials), r.listener());
  open_it(b, 1, clock.now());
  const time_point later = clock.now() + 5s;
  std::atomic<std::uint32_t> admitted{0};
  run_together([&](int) {
    for (int i = 0; i < 100; ++i)
      if (b.try_acquire(later)) ++admitted;  // never reported: the slots stay taken
  });
  BOOST_TEST(admitted.load() == trials);
  BOOST_TEST(b.counts().rejected == std::uint64_t{thread_count} * 100 - trials);
  BOOST_REQUIRE(r.seen.size() == 2u);  // closed -> open, open -> half_open: once
  BOOST_TEST((r.seen[1].to == breaker_state::half_open));
}

BOOST_AUTO_TEST_CASE(concurrent_mixed_use_notifies_a_consistent_chain_of_states) {
  const time_point start = manual_clock{}.now();
  recorder r;
  // Threshold 1: the first failure reported is necessarily current (nothing changed the period
  // before it), so the breaker opens at least once and then cycles through half-open.
  circuit_breaker b(policy(1, 2, 10ms, 2), r.listener());
  std::atomic<std::int64_t> ticks{0};  // a shared, moving clock: 1 ms per call
  std::atomic<std::uint64_t> admitted{0}, rejected{0};
  run_together([&](int thread) {
    for (int i = 0; i < 5000; ++i) {
      const time_point now = start + std::chrono::milliseconds(ticks++);
      auto t = b.try_acquire(now);
      if (!t) {
        ++rejected;
        continue;
      }
      ++admitted;
      if ((i + thread) % 4 == 0)
        b.on_failure(*t, now);
      else
        b.on_success(*t, now);
    }
  });
  const auto counts = b.counts();
  BOOST_TEST(counts.admitted == admitted.load());
  BOOST_TEST(counts.rejected == rejected.load());
  BOOST_TEST(counts.successes + counts.failures + counts.ignored == admitted.load());
  BOOST_TEST(counts.transitions == r.seen.size());
  BOOST_TEST(r.seen.size() >= 2u);  // opened, and half-opened after 10 ms of ticks
  breaker_state expected_from = breaker_state::closed;
  for (const auto& t : r.seen) {
    BOOST_TEST((t.from == expected_from));
    const bool valid_edge =
        (t.from == breaker_state::closed && t.to == breaker_state::open) ||
        (t.from == breaker_state::open && t.to == breaker_state::half_open) ||
        (t.from == breaker_state::half_open && t.to != breaker_state::half_open);
    BOOST_TEST(valid_edge);
    expected_from = t.to;
  }
  BOOST_TEST((b.state() == expected_from));
}
