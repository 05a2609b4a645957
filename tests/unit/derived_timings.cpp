#include <boost/test/unit_test.hpp>

#include "parti/runtime/config.hpp"
#include "tests/support/chrono_print.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

/// The liveness timings of the embedding example (apps/embed-example), scaled down five times.
node_config short_timings() {
  node_config c;
  c.heartbeat_interval = 200ms;
  c.heartbeat_ttl = 600ms;
  c.emergency_grace = 200ms;
  c.election_ttl = 1500ms;
  c.lease_margin = 60ms;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_multiples_of_the_request_timeout_are_those_the_actors_rely_on) {
  node_config c;
  c.kv_operation_timeout = 700ms;
  c.hand_off_timeout = 4s;
  auto t = derive_timings(c);
  BOOST_TEST(t.release_step == 2100ms);                        // 3 x
  BOOST_TEST(t.leader_read == 7s);                             // 10 x
  BOOST_TEST(t.round == 12s + 7s);                             // 3 hand-offs + the leader's read
  BOOST_TEST(bulk_timeout(c.kv_operation_timeout) == 3500ms);  // 5 x
}

BOOST_AUTO_TEST_CASE(defaults_keep_their_settings_when_fitted) {
  node_config c;
  auto fitted = with_fitted_timings(c);
  // 1 s fits: election 3 s / 3 = 1 s, and 3 s - 1 s - 300 ms - 10 ms = 1.69 s.
  BOOST_TEST(fitted.kv_operation_timeout == 1s);
  BOOST_TEST(fitted.degraded.recovery_grace == c.degraded.recovery_grace);
  BOOST_TEST(fitted.violations().empty());
}

BOOST_AUTO_TEST_CASE(the_kv_timeout_leaves_a_timed_out_heartbeat_room_before_the_lease_lapses) {
  auto c = short_timings();
  BOOST_TEST(!c.violations().empty());  // the default 1 s does not fit these timings
  auto fitted = with_fitted_timings(c);
  BOOST_TEST(fitted.kv_operation_timeout == 330ms);  // 600 - 200 - 60 - 10
  BOOST_TEST(fitted.heartbeat_interval + fitted.kv_operation_timeout + fitted.lease_margin <
             fitted.heartbeat_ttl);
  BOOST_TEST(fitted.violations().empty());
}

BOOST_AUTO_TEST_CASE(the_kv_timeout_is_at_most_a_third_of_the_election_ttl) {
  node_config c;
  c.heartbeat_ttl = 10s;
  c.id_ttl = 30s;
  c.election_ttl = 1200ms;
  c.degraded.recovery_grace = 10s;
  auto fitted = with_fitted_timings(c);
  BOOST_TEST(fitted.kv_operation_timeout == 400ms);
  BOOST_TEST(fitted.violations().empty());
}

BOOST_AUTO_TEST_CASE(the_kv_timeout_never_goes_below_a_millisecond) {
  node_config c;
  c.heartbeat_interval = 1s;
  c.heartbeat_ttl = 1300ms;
  c.lease_margin = 295ms;  // 5 ms of room, less than the 10 ms kept spare
  auto fitted = with_fitted_timings(c);
  BOOST_TEST(fitted.kv_operation_timeout == 1ms);
}

BOOST_AUTO_TEST_CASE(the_recovery_grace_is_at_least_one_heartbeat_ttl) {
  node_config c;
  c.heartbeat_ttl = 8s;
  c.degraded.recovery_grace = 2s;
  BOOST_TEST(with_fitted_timings(c).degraded.recovery_grace == 8s);
  c.degraded.recovery_grace = 9s;
  BOOST_TEST(with_fitted_timings(c).degraded.recovery_grace == 9s);
}

BOOST_AUTO_TEST_CASE(fitting_changes_nothing_else) {
  auto c = short_timings();
  c.hand_off_timeout = 7s;
  auto fitted = with_fitted_timings(c);
  fitted.kv_operation_timeout = c.kv_operation_timeout;
  fitted.degraded.recovery_grace = c.degraded.recovery_grace;
  BOOST_TEST(fitted.heartbeat_interval == c.heartbeat_interval);
  BOOST_TEST(fitted.heartbeat_ttl == c.heartbeat_ttl);
  BOOST_TEST(fitted.election_ttl == c.election_ttl);
  BOOST_TEST(fitted.lease_margin == c.lease_margin);
  BOOST_TEST(fitted.hand_off_timeout == c.hand_off_timeout);
  BOOST_TEST(fitted.violations() == c.violations(), boost::test_tools::per_element());
}
