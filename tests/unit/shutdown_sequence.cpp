#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>

#include "parti/actors/node/shutdown_sequence.hpp"

using namespace parti;

namespace {

/// "drain", "release <step>", "finish" or "-" for no action.
std::string describe(const std::optional<stop_action>& a) {
  if (!a) return "-";
  switch (a->what) {
    case stop_action::kind::drain:
      return "drain";
    case stop_action::kind::release:
      return std::string("release ") + to_string(a->step);
    case stop_action::kind::finish:
      return "finish";
  }
  return "?";
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_drain_waits_until_nothing_is_owned_then_releases_in_order) {
  shutdown_sequence s;
  BOOST_TEST(!s.stopping());
  BOOST_TEST(describe(s.begin(shutdown_intent::drain, true)) == "drain");
  BOOST_TEST(s.stopping());
  BOOST_TEST(s.draining());
  BOOST_TEST((s.intent() == shutdown_intent::drain));
  BOOST_TEST(describe(s.released(release_step::leadership)) == "-");  // not releasing yet
  BOOST_TEST(describe(s.drained()) == "release leadership");
  BOOST_TEST(!s.draining());
  BOOST_TEST(describe(s.released(release_step::leadership)) == "release heartbeat");
  BOOST_TEST(describe(s.released(release_step::heartbeat)) == "release id");
  BOOST_TEST(describe(s.released(release_step::id)) == "finish");
  BOOST_TEST(s.stopping());
}

BOOST_AUTO_TEST_CASE(a_restart_or_a_node_that_owns_nothing_releases_at_once) {
  shutdown_sequence restart;
  BOOST_TEST(describe(restart.begin(shutdown_intent::restart, true)) == "release leadership");
  BOOST_TEST((restart.intent() == shutdown_intent::restart));
  BOOST_TEST(!restart.draining());
  shutdown_sequence empty;
  BOOST_TEST(describe(empty.begin(shutdown_intent::drain, false)) == "release leadership");
}

BOOST_AUTO_TEST_CASE(the_first_request_decides_and_later_ones_change_nothing) {
  shutdown_sequence s;
  BOOST_TEST(describe(s.begin(shutdown_intent::drain, true)) == "drain");
  BOOST_TEST(describe(s.begin(shutdown_intent::restart, true)) == "-");
  BOOST_TEST((s.intent() == shutdown_intent::drain));
  BOOST_TEST(s.draining());
}

BOOST_AUTO_TEST_CASE(a_late_drain_timeout_or_a_second_empty_assignment_does_not_release_again) {
  shutdown_sequence s;
  s.begin(shutdown_intent::drain, true);
  BOOST_TEST(describe(s.drained()) == "release leadership");
  BOOST_TEST(describe(s.drained()) == "-");  // e.g. the drain timeout while releasing
  BOOST_TEST(describe(s.released(release_step::leadership)) == "release heartbeat");
  BOOST_TEST(describe(s.drained()) == "-");
  BOOST_TEST(describe(s.released(release_step::heartbeat)) == "release id");
  BOOST_TEST(describe(s.released(release_step::id)) == "finish");
  BOOST_TEST(describe(s.drained()) == "-");
}

BOOST_AUTO_TEST_CASE(only_the_current_step_advances_the_release) {
  shutdown_sequence s;
  s.begin(shutdown_intent::restart, false);
  BOOST_TEST(describe(s.released(release_step::id)) == "-");
  BOOST_TEST(describe(s.released(release_step::heartbeat)) == "-");
  BOOST_TEST(describe(s.released(release_step::leadership)) == "release heartbeat");
  BOOST_TEST(describe(s.released(release_step::leadership)) == "-");  // answered twice
  BOOST_TEST(describe(s.released(release_step::heartbeat)) == "release id");
  BOOST_TEST(describe(s.released(release_step::id)) == "finish");
  BOOST_TEST(describe(s.released(release_step::id)) == "-");  // finished
}

BOOST_AUTO_TEST_CASE(an_idle_sequence_ignores_everything_but_begin) {
  shutdown_sequence s;
  BOOST_TEST(describe(s.drained()) == "-");
  BOOST_TEST(describe(s.released(release_step::leadership)) == "-");
  BOOST_TEST(!s.stopping());
}
