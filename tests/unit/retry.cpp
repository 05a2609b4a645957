#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "parti/runtime/resilience/retry.hpp"

// Lets BOOST_TEST print durations (C++17 has no operator<< for them) in failure messages.
namespace boost::test_tools::tt_detail {
template <>
struct print_log_value<parti::duration> {
  void operator()(std::ostream& os, const parti::duration& d) { os << d.count() << "ns"; }
};
}  // namespace boost::test_tools::tt_detail

using namespace parti;
using namespace std::chrono_literals;

namespace {

random_source constant(double x) {
  return [x] { return x; };
}

retry_policy no_jitter(std::uint32_t max_attempts) {
  retry_policy p;
  p.delays = backoff_policy{100ms, 1s, 2.0, 0.0};
  p.max_attempts = max_attempts;
  return p;
}

// A sleeper that only records what it was asked to sleep.
struct recording_sleeper {
  std::vector<duration> slept;
  sleeper get() {
    return [this](duration d) { slept.push_back(d); };
  }
};

// An operation that fails `failures` times, then returns `value`.
struct flaky {
  int failures;
  int calls = 0;
  result<int> operator()() {
    ++calls;
    if (calls <= failures) return failure{"boom " + std::to_string(calls)};
    return 42;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(policy_validation) {
  BOOST_TEST(retry_policy{}.validate().ok());
  BOOST_TEST(no_jitter(0).validate().error() == "retry.max_attempts: must be at least 1");
  retry_policy bad = no_jitter(3);
  bad.delays.initial = 0ms;
  BOOST_TEST(bad.validate().error() == "retry.backoff.initial: must be greater than 0");
}

BOOST_AUTO_TEST_CASE(decisions_back_off_and_give_up_after_exactly_max_attempts) {
  retrier r(no_jitter(4), constant(0.5));
  std::vector<duration> delays;
  for (int i = 0; i < 3; ++i) {
    auto d = r.on_failure(failure{"timeout"});
    BOOST_REQUIRE(d.retry);
    delays.push_back(d.delay);
  }
  const std::vector<duration> expected{100ms, 200ms, 400ms};
  BOOST_TEST(delays == expected, boost::test_tools::per_element());
  auto last = r.on_failure(failure{"timeout"});  // the 4th attempt failed
  BOOST_TEST(!last.retry);
  BOOST_TEST((last.reason == give_up_reason::attempts_exhausted));
  BOOST_TEST(r.failed_attempts() == 4u);
}

BOOST_AUTO_TEST_CASE(one_attempt_means_no_retry) {
  retrier r(no_jitter(1), constant(0.5));
  auto d = r.on_failure(failure{"timeout"});
  BOOST_TEST(!d.retry);
  BOOST_TEST((d.reason == give_up_reason::attempts_exhausted));
}

BOOST_AUTO_TEST_CASE(delays_are_capped_at_max) {
  retrier r(no_jitter(100), constant(0.5));
  duration last{};
  for (int i = 0; i < 20; ++i) last = r.on_failure(failure{"x"}).delay;
  BOOST_TEST((last == 1s));
}

BOOST_AUTO_TEST_CASE(a_permanent_error_is_not_retried) {
  auto transient = [](const failure& f) { return f.message.find("timeout") != std::string::npos; };
  retrier r(no_jitter(10), constant(0.5), transient);
  BOOST_TEST(r.on_failure(failure{"timeout"}).retry);
  auto d = r.on_failure(failure{"bucket not found"});
  BOOST_TEST(!d.retry);
  BOOST_TEST((d.reason == give_up_reason::not_retryable));
}

BOOST_AUTO_TEST_CASE(cancellation_wins_over_everything) {
  cancel_token token;
  retrier r(no_jitter(10), constant(0.5), retry_all(), token);
  BOOST_TEST(r.on_failure(failure{"x"}).retry);
  cancel_token copy = token;  // copies share the flag
  copy.cancel();
  BOOST_TEST(token.cancelled());
  auto d = r.on_failure(failure{"x"});
  BOOST_TEST(!d.retry);
  BOOST_TEST((d.reason == give_up_reason::cancelled));
}

BOOST_AUTO_TEST_CASE(jitter_stays_within_its_bounds) {
  retry_policy p = no_jitter(100);
  p.delays = backoff_policy{1s, 10s, 2.0, 0.25};
  retrier low(p, constant(0.0));
  BOOST_TEST((low.on_failure(failure{"x"}).delay == 750ms));  // -25 %
  retrier high(p, constant(0.999999));
  auto h = high.on_failure(failure{"x"}).delay;
  BOOST_TEST((h > 1249ms && h <= 1250ms));  // just under +25 %
  // With a real random source: every delay within +-25 % of its base and never above max,
  // and the delays really vary from one seed to the next.
  std::set<duration::rep> first_delays;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    retrier r(p, seeded_random(seed));
    for (int i = 0; i < 8; ++i) {
      const double base = std::min(1e9 * std::pow(2.0, i), 1e10);
      const auto d = r.on_failure(failure{"x"});
      BOOST_REQUIRE(d.retry);
      const double ns = static_cast<double>(d.delay.count());
      BOOST_TEST(ns >= base * 0.75 - 1, "seed " << seed << " attempt " << i);
      BOOST_TEST(ns <= std::min(base * 1.25, 1e10) + 1, "seed " << seed << " attempt " << i);
      if (i == 0) first_delays.insert(d.delay.count());
    }
  }
  BOOST_TEST(first_delays.size() > 40u);
}

BOOST_AUTO_TEST_CASE(reset_starts_over) {
  retrier r(no_jitter(2), constant(0.5));
  r.on_failure(failure{"x"});
  r.reset();
  BOOST_TEST(r.failed_attempts() == 0u);
  auto d = r.on_failure(failure{"x"});
  BOOST_TEST(d.retry);
  BOOST_TEST((d.delay == 100ms));
}

// -- run ----------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(run_returns_at_once_on_success) {
  retrier r(no_jitter(3), constant(0.5));
  recording_sleeper s;
  flaky op{0};
  auto result = r.run(op, s.get());
  BOOST_TEST(result.ok());
  BOOST_TEST(*result == 42);
  BOOST_TEST(op.calls == 1);
  BOOST_TEST(s.slept.empty());
}

BOOST_AUTO_TEST_CASE(run_retries_with_backoff_until_success) {
  retrier r(no_jitter(5), constant(0.5));
  recording_sleeper s;
  flaky op{2};
  auto result = r.run(op, s.get());
  BOOST_TEST(result.ok());
  BOOST_TEST(*result == 42);
  BOOST_TEST(op.calls == 3);
  const std::vector<duration> expected{100ms, 200ms};
  BOOST_TEST(s.slept == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(run_gives_up_after_max_attempts_with_the_last_error) {
  retrier r(no_jitter(3), constant(0.5));
  recording_sleeper s;
  flaky op{10};
  auto result = r.run(op, s.get());
  BOOST_TEST(!result.ok());
  BOOST_TEST(result.error() == "gave up after 3 attempts (attempts exhausted): boom 3");
  BOOST_TEST(op.calls == 3);
  BOOST_TEST(s.slept.size() == 2u);  // no sleep after the last attempt
}

BOOST_AUTO_TEST_CASE(run_stops_on_a_permanent_error) {
  retrier r(no_jitter(5), constant(0.5), [](const failure&) { return false; });
  recording_sleeper s;
  flaky op{10};
  auto result = r.run(op, s.get());
  BOOST_TEST(result.error() == "gave up after 1 attempt (not retryable): boom 1");
  BOOST_TEST(s.slept.empty());
}

BOOST_AUTO_TEST_CASE(run_stops_when_cancelled_during_a_sleep) {
  cancel_token token;
  retrier r(no_jitter(10), constant(0.5), retry_all(), token);
  std::vector<duration> slept;
  auto cancelling_sleeper = [&](duration d) {
    slept.push_back(d);
    if (slept.size() == 2) token.cancel();  // cancelled while waiting for the 3rd attempt
  };
  flaky op{10};
  auto result = r.run(op, cancelling_sleeper);
  BOOST_TEST(!result.ok());
  BOOST_TEST(result.error() == "cancelled after 2 failed attempts");
  BOOST_TEST(op.calls == 2);
}

BOOST_AUTO_TEST_CASE(run_does_not_start_when_already_cancelled) {
  cancel_token token;
  token.cancel();
  retrier r(no_jitter(10), constant(0.5), retry_all(), token);
  recording_sleeper s;
  flaky op{0};
  auto result = r.run(op, s.get());
  BOOST_TEST(result.error() == "cancelled after 0 failed attempts");
  BOOST_TEST(op.calls == 0);
}

BOOST_AUTO_TEST_CASE(run_starts_each_run_afresh_and_works_for_status) {
  retrier r(no_jitter(2), constant(0.5));
  recording_sleeper s;
  int calls = 0;
  auto op = [&]() -> status {
    ++calls;
    if (calls % 2 == 1) return failure{"odd"};
    return done{};
  };
  BOOST_TEST(r.run(op, s.get()).ok());
  BOOST_TEST(r.run(op, s.get()).ok());  // a fresh budget of 2 attempts, not 0 left
  BOOST_TEST(calls == 4);
  const std::vector<duration> expected{100ms, 100ms};
  BOOST_TEST(s.slept == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(reason_names) {
  BOOST_TEST(to_string(give_up_reason::attempts_exhausted) == "attempts exhausted");
  BOOST_TEST(to_string(give_up_reason::not_retryable) == "not retryable");
  BOOST_TEST(to_string(give_up_reason::cancelled) == "cancelled");
}
