#include <boost/test/unit_test.hpp>

#include <optional>

#include "parti/actors/node/child_supervision.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

// Jitter 0.5 spreads by nothing: the delays are the policy's exact steps.
random_source no_jitter() {
  return [] { return 0.5; };
}

supervision_options options(int max_failures, duration window) {
  supervision_options o;
  o.max_failures = max_failures;
  o.failure_window = window;
  o.restart_backoff = {100ms, 1s, 2.0, 0.2};
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(restarts_with_a_growing_backoff_up_to_its_maximum) {
  manual_clock clock;
  child_supervision s(options(10, 60s), no_jitter());
  for (duration expected : {100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms}) {
    auto delay = s.failed(clock.now());
    BOOST_REQUIRE(delay.has_value());
    BOOST_TEST(delay->count() == duration(expected).count());
    clock.advance(1s);
  }
}

BOOST_AUTO_TEST_CASE(gives_up_on_the_first_failure_past_the_budget_within_the_window) {
  manual_clock clock;
  child_supervision s(options(3, 60s), no_jitter());
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(s.failed(clock.now()).has_value(), "failure " << i + 1);
    clock.advance(10s);
  }
  BOOST_TEST(!s.failed(clock.now()).has_value());  // the 4th within 30 s
}

BOOST_AUTO_TEST_CASE(failures_older_than_the_window_do_not_count) {
  manual_clock clock;
  child_supervision s(options(2, 60s), no_jitter());
  BOOST_TEST(s.failed(clock.now()).has_value());
  clock.advance(30s);
  BOOST_TEST(s.failed(clock.now()).has_value());
  clock.advance(30s + 1ns);  // the first is now older than the window
  BOOST_TEST(s.failed(clock.now()).has_value());
  BOOST_TEST(!s.failed(clock.now()).has_value());  // the 2nd, 3rd and 4th are within it
}

BOOST_AUTO_TEST_CASE(a_failure_exactly_one_window_old_still_counts) {
  manual_clock clock;
  child_supervision s(options(1, 60s), no_jitter());
  BOOST_TEST(s.failed(clock.now()).has_value());
  clock.advance(60s);
  BOOST_TEST(!s.failed(clock.now()).has_value());
}
