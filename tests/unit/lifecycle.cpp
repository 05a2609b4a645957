#include <boost/test/unit_test.hpp>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "parti/actors/node/lifecycle.hpp"

using namespace parti;
using namespace std::chrono_literals;
using S = node_state;

namespace {

const std::vector<S> all_states{S::init,     S::claiming_id, S::election,    S::waiting_assignment,
                                S::stable,   S::scaling,     S::rebalancing, S::emergency,
                                S::degraded, S::shutdown,    S::failed};

// The complete table, written out independently of the implementation: anything not listed
// must be rejected.
const std::set<std::pair<S, S>> allowed{
    {S::init, S::claiming_id},
    {S::init, S::shutdown},
    {S::init, S::failed},
    // start-up
    {S::claiming_id, S::election},
    {S::election, S::waiting_assignment},
    {S::election, S::claiming_id},
    {S::waiting_assignment, S::stable},
    {S::waiting_assignment, S::scaling},
    {S::waiting_assignment, S::rebalancing},
    {S::waiting_assignment, S::emergency},
    {S::waiting_assignment, S::claiming_id},
    // the fleet changing
    {S::stable, S::scaling},
    {S::stable, S::rebalancing},
    {S::stable, S::emergency},
    {S::stable, S::claiming_id},
    {S::scaling, S::stable},
    {S::scaling, S::rebalancing},
    {S::scaling, S::emergency},
    {S::scaling, S::claiming_id},
    {S::rebalancing, S::stable},
    {S::rebalancing, S::scaling},
    {S::rebalancing, S::emergency},
    {S::rebalancing, S::claiming_id},
    {S::emergency, S::stable},
    {S::emergency, S::scaling},
    {S::emergency, S::rebalancing},
    {S::emergency, S::claiming_id},
    // a leader that steps down before its group's first assignment
    {S::scaling, S::waiting_assignment},
    {S::rebalancing, S::waiting_assignment},
    {S::emergency, S::waiting_assignment},
    // degraded: in from any running state; out by transition only when the id is lost (the
    // re-validated running state is recover()'s alone)
    {S::claiming_id, S::degraded},
    {S::election, S::degraded},
    {S::waiting_assignment, S::degraded},
    {S::stable, S::degraded},
    {S::scaling, S::degraded},
    {S::rebalancing, S::degraded},
    {S::emergency, S::degraded},
    {S::degraded, S::claiming_id},
    // stopping and failing
    {S::claiming_id, S::shutdown},
    {S::election, S::shutdown},
    {S::waiting_assignment, S::shutdown},
    {S::stable, S::shutdown},
    {S::scaling, S::shutdown},
    {S::rebalancing, S::shutdown},
    {S::emergency, S::shutdown},
    {S::degraded, S::shutdown},
    {S::claiming_id, S::failed},
    {S::election, S::failed},
    {S::waiting_assignment, S::failed},
    {S::stable, S::failed},
    {S::scaling, S::failed},
    {S::rebalancing, S::failed},
    {S::emergency, S::failed},
    {S::degraded, S::failed},
    {S::failed, S::shutdown},
};

time_point t0() {
  return manual_clock{}.now();
}

lifecycle started_and_stable(time_point at) {
  lifecycle l(at);
  for (S s : {S::claiming_id, S::election, S::waiting_assignment, S::stable})
    BOOST_REQUIRE(l.transition(s, at).ok());
  l.take_notices();
  return l;
}

}  // namespace

BOOST_AUTO_TEST_CASE(state_names_are_the_heartbeat_strings_and_round_trip) {
  const std::vector<const char*> names{"Init",     "ClaimingID", "Election",    "WaitingAssignment",
                                       "Stable",   "Scaling",    "Rebalancing", "Emergency",
                                       "Degraded", "Shutdown",   "Failed"};
  BOOST_REQUIRE(names.size() == all_states.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    BOOST_TEST(to_string(all_states[i]) == names[i]);
    auto back = node_state_from_string(names[i]);
    BOOST_TEST((back.ok() && *back == all_states[i]), names[i]);
  }
  BOOST_TEST(node_state_from_string("stable").error() == "unknown node state \"stable\"");
  BOOST_TEST(!node_state_from_string("").ok());
}

BOOST_AUTO_TEST_CASE(the_transition_table_is_exactly_the_documented_one) {
  for (S from : all_states)
    for (S to : all_states) {
      const bool expected = allowed.count({from, to}) > 0;
      BOOST_TEST(is_valid_transition(from, to) == expected,
                 to_string(from) << " -> " << to_string(to) << " should be "
                                 << (expected ? "allowed" : "rejected"));
    }
}

BOOST_AUTO_TEST_CASE(start_up_path_records_ordered_notices) {
  manual_clock clock;
  lifecycle l(clock.now());
  BOOST_TEST((l.state() == S::init));
  const std::vector<S> path{S::claiming_id, S::election, S::waiting_assignment, S::stable};
  for (S s : path) {
    clock.advance(1s);
    BOOST_TEST(l.transition(s, clock.now(), "step").ok());
  }
  BOOST_TEST((l.state() == S::stable));
  BOOST_TEST((l.entered_at() == clock.now()));
  auto notices = l.take_notices();
  BOOST_REQUIRE(notices.size() == 4u);
  S previous = S::init;
  for (std::size_t i = 0; i < notices.size(); ++i) {
    BOOST_TEST(notices[i].seq == i + 1);
    BOOST_TEST((notices[i].from == previous));
    BOOST_TEST((notices[i].to == path[i]));
    BOOST_TEST((notices[i].at == t0() + std::chrono::seconds(i + 1)));
    BOOST_TEST(notices[i].reason == "step");
    previous = path[i];
  }
  BOOST_TEST(l.take_notices().empty());  // drained
  BOOST_TEST(l.changes() == 4u);
}

BOOST_AUTO_TEST_CASE(an_invalid_transition_is_refused_naming_both_states_and_changes_nothing) {
  lifecycle l(t0());
  auto s = l.transition(S::stable, t0() + 1s);
  BOOST_TEST(!s.ok());
  BOOST_TEST(s.error() == "invalid transition Init -> Stable");
  BOOST_TEST((l.state() == S::init));
  BOOST_TEST((l.entered_at() == t0()));
  BOOST_TEST(l.take_notices().empty());
  BOOST_TEST(l.changes() == 0u);
}

BOOST_AUTO_TEST_CASE(staying_in_the_same_state_is_not_a_transition) {
  auto l = started_and_stable(t0());
  auto s = l.transition(S::stable, t0());
  BOOST_TEST(s.error() == "invalid transition Stable -> Stable");
  BOOST_TEST(l.take_notices().empty());
}

BOOST_AUTO_TEST_CASE(degraded_remembers_the_state_it_left_and_recovers_to_the_revalidated_one) {
  auto l = started_and_stable(t0());
  BOOST_REQUIRE(l.transition(S::scaling, t0() + 1s).ok());
  BOOST_TEST(!l.state_before_degraded().has_value());
  BOOST_REQUIRE(l.transition(S::degraded, t0() + 2s, "store unreachable").ok());
  BOOST_TEST((l.state_before_degraded() == S::scaling));
  // The window was lost with the outage; re-validation says the node is simply stable.
  BOOST_TEST(l.recover(S::stable, t0() + 3s, "store back").ok());
  BOOST_TEST((l.state() == S::stable));
  BOOST_TEST(!l.state_before_degraded().has_value());
  auto notices = l.take_notices();
  BOOST_REQUIRE(notices.size() == 3u);
  BOOST_TEST((notices[1].from == S::scaling && notices[1].to == S::degraded));
  BOOST_TEST(notices[1].reason == "store unreachable");
  BOOST_TEST((notices[2].from == S::degraded && notices[2].to == S::stable));
}

// A leader's state machine keeps reporting the group's state during an outage. Mirrored by a
// plain transition it would take the node out of Degraded unchecked, and recover() would then be
// refused: the node would never re-validate.
BOOST_AUTO_TEST_CASE(only_recover_leaves_degraded_for_a_running_state_other_than_claiming) {
  auto l = started_and_stable(t0());
  BOOST_REQUIRE(l.transition(S::degraded, t0() + 1s).ok());
  l.take_notices();
  for (S s :
       {S::election, S::waiting_assignment, S::stable, S::scaling, S::rebalancing, S::emergency}) {
    auto moved = l.transition(s, t0() + 2s, "group is " + std::string(to_string(s)));
    BOOST_TEST(moved.error() == "invalid transition Degraded -> " + std::string(to_string(s)));
    BOOST_TEST((l.state() == S::degraded));
  }
  BOOST_TEST(l.take_notices().empty());
  for (S s : {S::stable, S::scaling, S::rebalancing, S::emergency})
    BOOST_TEST((l.recover(s, t0() + 3s).ok() && l.transition(S::degraded, t0() + 3s).ok()),
               to_string(s));
  BOOST_TEST(l.transition(S::claiming_id, t0() + 4s, "lost w-1").ok());  // the id is gone
}

BOOST_AUTO_TEST_CASE(recovery_may_find_the_id_lost) {
  auto l = started_and_stable(t0());
  BOOST_REQUIRE(l.transition(S::degraded, t0()).ok());
  BOOST_TEST(l.recover(S::claiming_id, t0() + 1s).ok());
  BOOST_TEST((l.state() == S::claiming_id));
}

BOOST_AUTO_TEST_CASE(recover_is_refused_when_not_degraded_or_into_a_non_running_state) {
  auto l = started_and_stable(t0());
  BOOST_TEST(l.recover(S::stable, t0()).error() ==
             "cannot recover: the node is Stable, not Degraded");
  BOOST_REQUIRE(l.transition(S::degraded, t0()).ok());
  for (S bad : {S::init, S::degraded, S::failed, S::shutdown}) {
    auto s = l.recover(bad, t0());
    BOOST_TEST(!s.ok(), to_string(bad));
    BOOST_TEST((l.state() == S::degraded));
    BOOST_TEST((l.state_before_degraded() == S::stable));  // still remembered
  }
  BOOST_TEST(l.recover(S::init, t0()).error() == "cannot recover into Init: not a running state");
}

BOOST_AUTO_TEST_CASE(failed_waits_for_shutdown_and_shutdown_is_terminal) {
  auto l = started_and_stable(t0());
  BOOST_REQUIRE(l.transition(S::failed, t0(), "heartbeat keeps crashing").ok());
  BOOST_TEST(l.transition(S::stable, t0()).error() == "invalid transition Failed -> Stable");
  BOOST_TEST(l.transition(S::shutdown, t0()).ok());
  for (S s : all_states) BOOST_TEST(!l.transition(s, t0()).ok(), to_string(s));
  BOOST_TEST((l.state() == S::shutdown));
}

BOOST_AUTO_TEST_CASE(losing_the_id_returns_to_claiming_from_every_running_state) {
  for (S s :
       {S::election, S::waiting_assignment, S::stable, S::scaling, S::rebalancing, S::emergency}) {
    BOOST_TEST(is_valid_transition(s, S::claiming_id), to_string(s));
  }
  BOOST_TEST(!is_valid_transition(S::claiming_id, S::claiming_id));
  BOOST_TEST(!is_valid_transition(S::init, S::degraded));  // nothing to keep yet
}
