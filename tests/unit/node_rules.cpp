#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <type_traits>
#include <vector>

#include "parti/actors/node/node_rules.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

using outputs = std::vector<std::string>;

constexpr duration threshold = 5s;

// Jitter 0.5 spreads by nothing: restart delays are the policy's exact steps.
node_rules make_rules(manual_clock& clock, int max_failures = 5) {
  node_rules_options o;
  o.supervision.max_failures = max_failures;
  o.supervision.failure_window = 60s;
  o.supervision.restart_backoff = {100ms, 10s, 2.0, 0.2};
  o.degraded.threshold = threshold;
  return node_rules(
      o, [] { return 0.5; }, clock.now());
}

std::string describe(const node_output& out) {
  return std::visit(
      [](const auto& o) -> std::string {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, state_change>)
          return std::string(to_string(o.from)) + " -> " + std::string(to_string(o.to)) + " (" +
                 o.reason + ")";
        else if constexpr (std::is_same_v<T, state_refused>)
          return "refused " + std::string(to_string(o.from)) + " -> " +
                 std::string(to_string(o.to));
        else if constexpr (std::is_same_v<T, resync_assignment>)
          return "resync";
        else if constexpr (std::is_same_v<T, restart_child>)
          return std::string("restart ") + to_string(o.kind) + " after " +
                 std::to_string(
                     std::chrono::duration_cast<std::chrono::milliseconds>(o.after).count()) +
                 "ms";
        else if constexpr (std::is_same_v<T, drain_partitions>)
          return "drain";
        else if constexpr (std::is_same_v<T, release_held>)
          return std::string("release ") + to_string(o.step) + " (" +
                 std::string(to_string(o.intent)) + ")";
        else
          return "finished";
      },
      out);
}

outputs poll(node_rules& r, manual_clock& clock) {
  outputs out;
  for (const auto& o : r.poll(clock.now())) out.push_back(describe(o));
  return out;
}

/// Claimed w-1, w-0 leads (or this node when `leads`), assignment v1 applied and served.
node_rules stable_node(manual_clock& clock, bool leads = false) {
  auto r = make_rules(clock);
  r.id_claimed("w-1", clock.now());
  r.leadership_changed(leads, leads ? "w-1" : "w-0", clock.now());
  r.assignment_applied(1, true);
  r.assignment_served(clock.now());
  r.poll(clock.now());
  BOOST_REQUIRE((r.state() == node_state::stable));
  return r;
}

/// The store unreachable for the whole threshold: Degraded.
void store_outage(node_rules& r, manual_clock& clock) {
  r.store_unreachable(clock.now());
  clock.advance(threshold);
  auto out = poll(r, clock);
  BOOST_REQUIRE(out.size() == 1u);
  BOOST_REQUIRE((r.state() == node_state::degraded));
}

}  // namespace

BOOST_AUTO_TEST_CASE(start_up_claims_learns_the_leader_and_serves_its_assignment) {
  manual_clock clock;
  auto r = make_rules(clock);
  BOOST_TEST(poll(r, clock) == outputs{"Init -> ClaimingID (starting)"},
             boost::test_tools::per_element());
  r.id_claimed("w-1", clock.now());
  r.leadership_changed(false, "w-0", clock.now());
  r.assignment_applied(1, true);
  r.assignment_served(clock.now());
  BOOST_TEST(poll(r, clock) == (outputs{"ClaimingID -> Election (claimed w-1)",
                                        "Election -> WaitingAssignment (leader is w-0)",
                                        "WaitingAssignment -> Stable (assignment applied)"}),
             boost::test_tools::per_element());
  BOOST_TEST(poll(r, clock).empty());
}

BOOST_AUTO_TEST_CASE(a_kept_assignment_makes_the_node_stable_as_soon_as_it_knows_the_leader) {
  manual_clock clock;
  auto r = make_rules(clock);
  r.id_claimed("w-1", clock.now());
  r.assignment_applied(4, true);  // applied before the leader is known
  r.poll(clock.now());
  r.leadership_changed(false, "w-0", clock.now());
  BOOST_TEST(poll(r, clock) == (outputs{"Election -> WaitingAssignment (leader is w-0)",
                                        "WaitingAssignment -> Stable (assignment applied)"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_unknown_leader_keeps_the_node_in_election_unless_it_leads) {
  manual_clock clock;
  auto r = make_rules(clock);
  r.id_claimed("w-1", clock.now());
  r.poll(clock.now());
  r.leadership_changed(false, "", clock.now());
  BOOST_TEST(poll(r, clock).empty());
  r.leadership_changed(true, "", clock.now());
  BOOST_TEST(poll(r, clock) == outputs{"Election -> WaitingAssignment (leader is )"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(serving_an_assignment_only_ends_waiting) {
  manual_clock clock;
  auto r = make_rules(clock);
  r.id_claimed("w-1", clock.now());
  r.poll(clock.now());
  r.assignment_served(clock.now());  // in Election: the lifecycle has no Election -> Stable
  BOOST_TEST(poll(r, clock).empty());
  auto s = stable_node(clock);
  s.assignment_served(clock.now());
  BOOST_TEST(poll(s, clock).empty());
}

BOOST_AUTO_TEST_CASE(a_lost_id_returns_to_claiming_and_ends_leading) {
  manual_clock clock;
  auto r = stable_node(clock, true);
  r.group_state(group_phase::rebalancing, clock.now());
  r.id_lost("w-1", "expired", clock.now());
  BOOST_TEST(poll(r, clock) == (outputs{"Stable -> Rebalancing (group is Rebalancing)",
                                        "Rebalancing -> ClaimingID (lost w-1: expired)"}),
             boost::test_tools::per_element());
  BOOST_TEST(!r.may_restart(child_kind::leader));
  BOOST_TEST(!r.may_restart(child_kind::heartbeat));
  r.group_state(group_phase::scaling,
                clock.now());  // a late word from the old leader's state machine
  BOOST_TEST(poll(r, clock).empty());
}

BOOST_AUTO_TEST_CASE(a_leader_mirrors_the_group_state_only_while_it_leads) {
  manual_clock clock;
  auto follower = stable_node(clock);
  follower.group_state(group_phase::scaling, clock.now());
  BOOST_TEST(poll(follower, clock).empty());

  auto r = stable_node(clock, true);
  r.group_state(group_phase::scaling, clock.now());
  r.group_state(group_phase::scaling, clock.now());  // no change, no notice
  r.group_state(group_phase::rebalancing, clock.now());
  r.group_state(group_phase::stable, clock.now());
  r.group_state(group_phase::emergency, clock.now());
  BOOST_TEST(poll(r, clock) == (outputs{"Stable -> Scaling (group is Scaling)",
                                        "Scaling -> Rebalancing (group is Rebalancing)",
                                        "Rebalancing -> Stable (group is Stable)",
                                        "Stable -> Emergency (group is Emergency)"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_leader_that_steps_down_leaves_the_group_state_for_what_it_holds) {
  manual_clock clock;
  auto r = stable_node(clock, true);
  r.group_state(group_phase::emergency, clock.now());
  r.leadership_changed(false, "w-2", clock.now());
  BOOST_TEST(poll(r, clock) == (outputs{"Stable -> Emergency (group is Emergency)",
                                        "Emergency -> Stable (no longer leads)"}),
             boost::test_tools::per_element());

  // A leader in Stable stays there.
  auto s = stable_node(clock, true);
  s.leadership_changed(false, "w-2", clock.now());
  BOOST_TEST(poll(s, clock).empty());
}

// A leader of a cold start (no assignment yet) that steps down while its window runs goes back to
// waiting for one; it used to stay in Scaling for good (the table refused the move).
BOOST_AUTO_TEST_CASE(a_leader_without_an_assignment_that_steps_down_waits_for_one) {
  manual_clock clock;
  auto r = make_rules(clock);
  r.id_claimed("w-1", clock.now());
  r.leadership_changed(true, "w-1", clock.now());
  r.group_state(group_phase::scaling, clock.now());
  r.poll(clock.now());
  BOOST_REQUIRE((r.state() == node_state::scaling));
  r.leadership_changed(false, "w-2", clock.now());
  BOOST_TEST(poll(r, clock) == (outputs{"Scaling -> WaitingAssignment (no longer leads)"}),
             boost::test_tools::per_element());
  r.assignment_applied(1, true);
  r.assignment_served(clock.now());
  BOOST_TEST(poll(r, clock) == (outputs{"WaitingAssignment -> Stable (assignment applied)"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_short_outage_changes_nothing_a_long_one_degrades_at_the_threshold) {
  manual_clock clock;
  auto r = stable_node(clock);
  r.store_unreachable(clock.now());
  BOOST_TEST((r.next_deadline() == clock.now() + threshold));
  clock.advance(threshold - 1ms);
  BOOST_TEST(poll(r, clock).empty());
  r.store_reachable();
  BOOST_TEST(!r.next_deadline().has_value());
  clock.advance(1h);
  BOOST_TEST(poll(r, clock).empty());

  r.store_unreachable(clock.now());
  clock.advance(threshold);
  BOOST_TEST(poll(r, clock) == outputs{"Stable -> Degraded (the store is unreachable)"},
             boost::test_tools::per_element());
  BOOST_TEST(!r.next_deadline().has_value());
}

BOOST_AUTO_TEST_CASE(the_end_of_an_outage_replays_the_assignment_and_enters_what_the_node_holds) {
  manual_clock clock;
  auto r = stable_node(clock);
  r.group_state(group_phase::scaling, clock.now());  // ignored: not leading
  store_outage(r, clock);
  r.store_reachable();
  BOOST_TEST(
      poll(r, clock) == (outputs{"resync", "Degraded -> Stable (the store is reachable again)"}),
      boost::test_tools::per_element());

  // An outage during the election: still no leader known afterwards.
  auto e = make_rules(clock);
  e.id_claimed("w-1", clock.now());
  e.poll(clock.now());
  store_outage(e, clock);
  e.store_reachable();
  BOOST_TEST(
      poll(e, clock) == (outputs{"resync", "Degraded -> Election (the store is reachable again)"}),
      boost::test_tools::per_element());

  // A leader known, no assignment yet.
  auto w = make_rules(clock);
  w.id_claimed("w-1", clock.now());
  w.leadership_changed(false, "w-0", clock.now());
  w.poll(clock.now());
  store_outage(w, clock);
  w.store_reachable();
  BOOST_TEST(poll(w, clock) == (outputs{"resync",
                                        "Degraded -> WaitingAssignment (the store is reachable "
                                        "again)"}),
             boost::test_tools::per_element());
}

// An outage longer than the id TTL loses the id (its claim cannot be renewed). Found by CI:
// the node went ClaimingID while the store was still out, hiding the outage.
BOOST_AUTO_TEST_CASE(an_id_lost_during_an_outage_stays_degraded_and_revalidates_to_claiming) {
  manual_clock clock;
  auto r = stable_node(clock, true);
  store_outage(r, clock);
  r.id_lost("w-1", "claim may have expired", clock.now());
  BOOST_TEST(poll(r, clock).empty());
  BOOST_TEST((r.state() == node_state::degraded));
  r.store_reachable();
  BOOST_TEST(poll(r, clock) ==
                 (outputs{"resync", "Degraded -> ClaimingID (the store is reachable again)"}),
             boost::test_tools::per_element());
  r.group_state(group_phase::scaling, clock.now());  // it led before: not any more
  BOOST_TEST(poll(r, clock).empty());
}

BOOST_AUTO_TEST_CASE(an_id_claimed_during_an_outage_is_entered_by_revalidation) {
  manual_clock clock;
  auto r = stable_node(clock);
  store_outage(r, clock);
  r.id_lost("w-1", "claim may have expired", clock.now());
  r.id_claimed("w-1", clock.now());
  BOOST_TEST(poll(r, clock).empty());
  r.store_reachable();
  BOOST_TEST(
      poll(r, clock) == (outputs{"resync", "Degraded -> Stable (the store is reachable again)"}),
      boost::test_tools::per_element());
}

// The leader's state machine keeps reporting while the store is out. Mirroring it would take
// the node out of Degraded without re-validation, and the end of the outage would then find
// the node not degraded: no replay of the assignment, no re-validated state.
BOOST_AUTO_TEST_CASE(a_group_state_does_not_move_a_degraded_node_which_revalidates_when_back) {
  manual_clock clock;
  auto r = stable_node(clock, true);
  store_outage(r, clock);
  r.group_state(group_phase::scaling, clock.now());
  r.group_state(group_phase::rebalancing, clock.now());
  BOOST_TEST(
      poll(r, clock) == (outputs{"refused Degraded -> Scaling", "refused Degraded -> Rebalancing"}),
      boost::test_tools::per_element());
  BOOST_TEST((r.state() == node_state::degraded));
  r.store_reachable();
  BOOST_TEST(
      poll(r, clock) == (outputs{"resync", "Degraded -> Stable (the store is reachable again)"}),
      boost::test_tools::per_element());
  r.group_state(group_phase::rebalancing, clock.now());  // mirrored again once re-validated
  BOOST_TEST(poll(r, clock) == outputs{"Stable -> Rebalancing (group is Rebalancing)"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_acknowledged_heartbeat_ends_an_outage) {
  manual_clock clock;
  auto r = stable_node(clock);
  r.store_unreachable(clock.now());
  r.heartbeat_acknowledged();
  clock.advance(threshold);
  BOOST_TEST(poll(r, clock).empty());

  store_outage(r, clock);
  r.heartbeat_acknowledged();
  BOOST_TEST(
      poll(r, clock) == (outputs{"resync", "Degraded -> Stable (the store is reachable again)"}),
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_failed_child_restarts_after_a_growing_backoff_until_the_budget_is_spent) {
  manual_clock clock;
  auto r = make_rules(clock, 3);
  r.poll(clock.now());
  r.child_failed(child_kind::id_claimer, clock.now());
  r.child_failed(child_kind::heartbeat, clock.now());
  r.child_failed(child_kind::leader, clock.now());
  r.child_failed(child_kind::election, clock.now());
  BOOST_TEST(
      poll(r, clock) ==
          (outputs{"restart id_claimer after 100ms", "restart heartbeat after 200ms",
                   "restart leader after 400ms", "ClaimingID -> Failed (election keeps failing)"}),
      boost::test_tools::per_element());
  r.child_failed(child_kind::election, clock.now());  // Failed -> Failed is no transition
  BOOST_TEST(poll(r, clock) == outputs{}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(failures_spread_wider_than_the_window_never_fail_the_node) {
  manual_clock clock;
  auto r = make_rules(clock, 1);
  r.poll(clock.now());
  for (int i = 0; i < 5; ++i) {
    r.child_failed(child_kind::heartbeat, clock.now());
    clock.advance(61s);
  }
  BOOST_TEST((r.state() == node_state::claiming_id));
}

BOOST_AUTO_TEST_CASE(a_restart_is_carried_out_only_while_the_child_is_still_wanted) {
  manual_clock clock;
  auto r = make_rules(clock);
  BOOST_TEST(r.may_restart(child_kind::id_claimer));
  for (auto kind : {child_kind::heartbeat, child_kind::election, child_kind::assignment_watch,
                    child_kind::leader})
    BOOST_TEST(!r.may_restart(kind), to_string(kind) << " without an id");
  r.id_claimed("w-1", clock.now());
  BOOST_TEST(r.may_restart(child_kind::heartbeat));
  BOOST_TEST(r.may_restart(child_kind::election));
  BOOST_TEST(r.may_restart(child_kind::assignment_watch));
  BOOST_TEST(!r.may_restart(child_kind::leader));
  r.leadership_changed(true, "w-1", clock.now());
  BOOST_TEST(r.may_restart(child_kind::leader));
  r.leadership_changed(false, "w-2", clock.now());
  BOOST_TEST(!r.may_restart(child_kind::leader));
  r.stop(shutdown_intent::restart, clock.now());
  for (auto kind : {child_kind::id_claimer, child_kind::heartbeat, child_kind::leader})
    BOOST_TEST(!r.may_restart(kind), to_string(kind) << " while stopping");
}

BOOST_AUTO_TEST_CASE(a_drain_waits_for_an_empty_assignment_then_releases_and_shuts_down) {
  manual_clock clock;
  auto r = stable_node(clock, true);
  r.stop(shutdown_intent::drain, clock.now());
  BOOST_TEST(poll(r, clock) == outputs{"drain"}, boost::test_tools::per_element());
  BOOST_TEST(r.draining());
  r.group_state(group_phase::rebalancing, clock.now());  // no longer mirrored
  r.child_failed(child_kind::heartbeat, clock.now());    // children end as the node stops
  r.assignment_applied(2, true);
  BOOST_TEST(poll(r, clock).empty());
  r.assignment_applied(3, false);
  // It leads the round that revoked its partitions: the grants are not published yet.
  BOOST_TEST(poll(r, clock).empty());
  r.group_state(group_phase::stable, clock.now());  // the round completed
  BOOST_TEST(poll(r, clock) == outputs{"release leadership (drain)"},
             boost::test_tools::per_element());
  r.drain_timed_out(clock.now());  // late: changes nothing
  r.assignment_applied(4, false);
  BOOST_TEST(poll(r, clock).empty());
  r.released(release_step::leadership, clock.now());
  BOOST_TEST(poll(r, clock) == outputs{"release heartbeat (drain)"},
             boost::test_tools::per_element());
  r.released(release_step::heartbeat, clock.now());
  BOOST_TEST(poll(r, clock) == outputs{"release id (drain)"}, boost::test_tools::per_element());
  r.released(release_step::id, clock.now());
  BOOST_TEST(poll(r, clock) == (outputs{"Stable -> Shutdown (stopped)", "finished"}),
             boost::test_tools::per_element());
}

// A leader's own drain round first publishes the revocation of its partitions (it owns nothing
// then), and only later their grants. Releasing the leadership in between left the grants to a
// successor that did not know about them: the partitions stayed in nobody's key.
BOOST_AUTO_TEST_CASE(a_draining_leader_lets_go_only_once_its_round_completed) {
  manual_clock clock;
  auto r = stable_node(clock, true);
  r.stop(shutdown_intent::drain, clock.now());
  BOOST_TEST(poll(r, clock) == outputs{"drain"}, boost::test_tools::per_element());
  r.group_state(group_phase::rebalancing, clock.now());  // its leave is served
  r.assignment_applied(2, false);                        // revoked: first phase
  clock.advance(1s);
  BOOST_TEST(poll(r, clock).empty());
  BOOST_TEST(r.draining());
  r.group_state(group_phase::scaling, clock.now());  // done; other work waits for a window
  BOOST_TEST(poll(r, clock) == outputs{"release leadership (drain)"},
             boost::test_tools::per_element());

  // An emergency round counts the same.
  auto e = stable_node(clock, true);
  e.stop(shutdown_intent::drain, clock.now());
  e.group_state(group_phase::emergency, clock.now());
  e.assignment_applied(2, false);
  BOOST_TEST(poll(e, clock) == outputs{"drain"}, boost::test_tools::per_element());
  e.group_state(group_phase::stable, clock.now());
  BOOST_TEST(poll(e, clock) == outputs{"release leadership (drain)"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_leader_that_owns_nothing_but_runs_a_round_drains_instead_of_leaving) {
  manual_clock clock;
  auto r = make_rules(clock);
  r.id_claimed("w-1", clock.now());
  r.leadership_changed(true, "w-1", clock.now());
  r.assignment_applied(1, false);
  r.assignment_served(clock.now());
  r.group_state(group_phase::rebalancing, clock.now());  // a hand-off between two others
  r.poll(clock.now());
  r.stop(shutdown_intent::drain, clock.now());
  BOOST_TEST(poll(r, clock) == outputs{"drain"}, boost::test_tools::per_element());
  r.group_state(group_phase::stable, clock.now());
  BOOST_TEST(poll(r, clock) == outputs{"release leadership (drain)"},
             boost::test_tools::per_element());

  // Idle, it leaves at once, as before.
  auto idle = stable_node(clock, true);
  idle.assignment_applied(2, false);
  idle.poll(clock.now());
  idle.stop(shutdown_intent::drain, clock.now());
  BOOST_TEST(poll(idle, clock) == outputs{"release leadership (drain)"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_round_that_can_no_longer_complete_does_not_hold_a_drain) {
  manual_clock clock;
  // The leader subtree failed: its round ended with it (no restart while stopping).
  auto failed = stable_node(clock, true);
  failed.stop(shutdown_intent::drain, clock.now());
  failed.group_state(group_phase::rebalancing, clock.now());
  failed.assignment_applied(2, false);
  BOOST_TEST(poll(failed, clock) == outputs{"drain"}, boost::test_tools::per_element());
  failed.child_failed(child_kind::leader, clock.now());
  BOOST_TEST(poll(failed, clock) == outputs{"release leadership (drain)"},
             boost::test_tools::per_element());

  // The node lost the leadership: the round is its successor's.
  auto deposed = stable_node(clock, true);
  deposed.stop(shutdown_intent::drain, clock.now());
  deposed.group_state(group_phase::rebalancing, clock.now());
  deposed.assignment_applied(2, false);
  BOOST_TEST(poll(deposed, clock) == outputs{"drain"}, boost::test_tools::per_element());
  deposed.leadership_changed(false, "w-2", clock.now());
  BOOST_TEST(poll(deposed, clock) == outputs{"release leadership (drain)"},
             boost::test_tools::per_element());

  // A round that never completes: the drain timeout ends the wait.
  auto stuck = stable_node(clock, true);
  stuck.stop(shutdown_intent::drain, clock.now());
  stuck.group_state(group_phase::rebalancing, clock.now());
  stuck.assignment_applied(2, false);
  BOOST_TEST(poll(stuck, clock) == outputs{"drain"}, boost::test_tools::per_element());
  stuck.drain_timed_out(clock.now());
  BOOST_TEST(poll(stuck, clock) == outputs{"release leadership (drain)"},
             boost::test_tools::per_element());

  // A follower never waits for a group state (it mirrors none).
  auto follower = stable_node(clock);
  follower.group_state(group_phase::rebalancing, clock.now());
  follower.stop(shutdown_intent::drain, clock.now());
  follower.assignment_applied(2, false);
  BOOST_TEST(poll(follower, clock) == (outputs{"drain", "release leadership (drain)"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_drain_timeout_releases_what_is_still_owned) {
  manual_clock clock;
  auto r = stable_node(clock);
  r.stop(shutdown_intent::drain, clock.now());
  r.drain_timed_out(clock.now());
  BOOST_TEST(poll(r, clock) == (outputs{"drain", "release leadership (drain)"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_restart_or_an_empty_node_releases_at_once_and_a_second_stop_is_ignored) {
  manual_clock clock;
  auto r = stable_node(clock);
  r.stop(shutdown_intent::restart, clock.now());
  r.stop(shutdown_intent::drain, clock.now());
  BOOST_TEST(poll(r, clock) == outputs{"release leadership (restart)"},
             boost::test_tools::per_element());
  BOOST_TEST(r.stopping());

  auto empty = make_rules(clock);
  empty.poll(clock.now());
  empty.stop(shutdown_intent::drain, clock.now());
  BOOST_TEST(poll(empty, clock) == outputs{"release leadership (drain)"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_failed_node_can_still_be_shut_down_and_refused_moves_are_reported) {
  manual_clock clock;
  auto r = make_rules(clock, 0);
  r.poll(clock.now());
  r.child_failed(child_kind::id_claimer, clock.now());
  BOOST_TEST(poll(r, clock) == outputs{"ClaimingID -> Failed (id_claimer keeps failing)"},
             boost::test_tools::per_element());
  r.store_unreachable(clock.now());
  clock.advance(threshold);
  BOOST_TEST(poll(r, clock) == outputs{"refused Failed -> Degraded"},
             boost::test_tools::per_element());
  r.stop(shutdown_intent::drain, clock.now());
  for (auto step : {release_step::leadership, release_step::heartbeat, release_step::id})
    r.released(step, clock.now());
  BOOST_TEST(
      poll(r, clock) == (outputs{"release leadership (drain)", "release heartbeat (drain)",
                                 "release id (drain)", "Failed -> Shutdown (stopped)", "finished"}),
      boost::test_tools::per_element());
}
