#include <boost/test/unit_test.hpp>

#include <vector>

#include "parti/runtime/resilience/backoff.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {
random_source constant(double x) {
  return [x] { return x; };
}
}  // namespace

BOOST_AUTO_TEST_CASE(grows_exponentially_without_jitter_up_to_max) {
  backoff b({100ms, 1s, 2.0, 0.0}, constant(0.9));
  std::vector<long> seen;  // milliseconds
  for (int i = 0; i < 6; ++i)
    seen.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(b.next()).count());
  std::vector<long> expected{100, 200, 400, 800, 1000, 1000};
  BOOST_TEST(seen == expected, boost::test_tools::per_element());
  BOOST_TEST(b.attempts() == 6u);
}

BOOST_AUTO_TEST_CASE(reset_starts_again_from_initial) {
  backoff b({50ms, 10s, 3.0, 0.0}, constant(0.5));
  b.next();
  b.next();
  b.reset();
  BOOST_TEST(b.attempts() == 0u);
  BOOST_TEST((b.next() == 50ms));
}

BOOST_AUTO_TEST_CASE(jitter_stays_within_its_fraction) {
  backoff_policy policy{1s, 1s, 2.0, 0.25};
  backoff low(policy, constant(0.0));
  backoff high(policy, constant(0.999999));
  BOOST_TEST((low.next() == 750ms));
  auto h = high.next();
  BOOST_TEST((h <= 1s));  // never above max, even with positive jitter at the cap
  BOOST_TEST((h > 999ms));
  backoff mid({1s, 10s, 2.0, 0.25}, constant(0.999999));
  auto m = mid.next();
  BOOST_TEST((m > 1249ms && m < 1250ms + 1ms));
}

BOOST_AUTO_TEST_CASE(seeded_random_is_reproducible_and_in_range) {
  auto a = seeded_random(42);
  auto b = seeded_random(42);
  auto c = seeded_random(43);
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    double x = a();
    BOOST_TEST(x == b());
    BOOST_TEST((x >= 0.0 && x < 1.0));
    differs = differs || x != c();
  }
  BOOST_TEST(differs);
}

BOOST_AUTO_TEST_CASE(many_attempts_do_not_overflow) {
  backoff b({1ms, 5s, 10.0, 0.0}, constant(0.0));
  duration last{};
  for (int i = 0; i < 500; ++i) last = b.next();
  BOOST_TEST((last == 5s));
}

BOOST_AUTO_TEST_CASE(validation_names_the_field) {
  BOOST_TEST(backoff_policy{}.validate().ok());
  BOOST_TEST(backoff_policy({0ms, 1s, 2.0, 0.1}).validate().error().find("backoff.initial") == 0u);
  BOOST_TEST(backoff_policy({2s, 1s, 2.0, 0.1}).validate().error().find("backoff.max") == 0u);
  BOOST_TEST(backoff_policy({1s, 2s, 0.5, 0.1}).validate().error().find("backoff.multiplier") ==
             0u);
  BOOST_TEST(backoff_policy({1s, 2s, 2.0, 1.5}).validate().error().find("backoff.jitter") == 0u);
}
