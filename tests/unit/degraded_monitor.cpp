#include <boost/test/unit_test.hpp>

#include "parti/actors/node/degraded_monitor.hpp"

using namespace parti;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(enters_only_after_the_threshold_and_recovers_once) {
  manual_clock clock;
  degraded_monitor m({5s});
  BOOST_TEST(!m.poll(clock.now()).has_value());
  m.unreachable(clock.now());
  BOOST_TEST((m.next_deadline() == clock.now() + 5s));
  clock.advance(5s - 1ms);
  BOOST_TEST(!m.poll(clock.now()).has_value());
  clock.advance(1ms);  // exactly at the threshold
  BOOST_TEST((m.poll(clock.now()) == degraded_change::entered));
  BOOST_TEST(m.degraded());
  BOOST_TEST(!m.poll(clock.now()).has_value());  // reported once
  BOOST_TEST(!m.next_deadline().has_value());
  m.reachable();
  BOOST_TEST((m.poll(clock.now()) == degraded_change::recovered));
  BOOST_TEST(!m.degraded());
  BOOST_TEST(!m.poll(clock.now()).has_value());
}

BOOST_AUTO_TEST_CASE(a_short_outage_does_not_flip_the_state) {
  manual_clock clock;
  degraded_monitor m({5s});
  m.unreachable(clock.now());
  clock.advance(4s);
  m.reachable();
  clock.advance(10s);
  BOOST_TEST(!m.poll(clock.now()).has_value());
  BOOST_TEST(!m.degraded());
}

BOOST_AUTO_TEST_CASE(repeated_failures_keep_the_first_start_of_the_outage) {
  manual_clock clock;
  degraded_monitor m({2s});
  m.unreachable(clock.now());
  clock.advance(1500ms);
  m.unreachable(clock.now());  // does not restart the clock
  clock.advance(500ms);
  BOOST_TEST((m.poll(clock.now()) == degraded_change::entered));
}
