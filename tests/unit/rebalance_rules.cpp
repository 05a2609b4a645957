#include <boost/test/unit_test.hpp>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "parti/actors/calculator/partition_refresh.hpp"
#include "parti/actors/state_machine/rebalance_rules.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

using strings = std::vector<std::string>;
using names = std::set<std::string>;

/// "state:from->to" and "start:reason#round", in the order poll() reported them.
strings described(const std::vector<machine_output>& outputs) {
  strings out;
  for (const auto& o : outputs) {
    if (const auto* s = std::get_if<state_changed>(&o))
      out.push_back(std::string("state:") + to_string(s->from) + "->" + to_string(s->to));
    if (const auto* r = std::get_if<start_rebalance>(&o))
      out.push_back(std::string("start:") + to_string(r->reason) + "#" + std::to_string(r->round));
  }
  return out;
}

std::optional<start_rebalance> started(const std::vector<machine_output>& outputs) {
  for (const auto& o : outputs)
    if (const auto* r = std::get_if<start_rebalance>(&o)) return *r;
  return std::nullopt;
}

// Safe to use on an output without a start: they report "none", nobody, round 0.
std::string started_reason(const std::vector<machine_output>& outputs) {
  auto r = started(outputs);
  return r ? to_string(r->reason) : "none";
}

strings started_workers(const std::vector<machine_output>& outputs) {
  auto r = started(outputs);
  return r ? r->workers : strings{};
}

std::uint64_t started_round(const std::vector<machine_output>& outputs) {
  auto r = started(outputs);
  return r ? r->round : 0;
}

std::size_t start_count(const std::vector<machine_output>& outputs) {
  std::size_t n = 0;
  for (const auto& o : outputs) n += std::holds_alternative<start_rebalance>(o) ? 1 : 0;
  return n;
}

/// The window rules alone: cold start in `wait` mode (the immediate mode's tests set it).
rebalance_options defaults() {
  rebalance_options o;  // cold start 30 s, planned scale 10 s, x3 bound, cooldown 10 s
  o.cold_start = cold_start_mode::wait;
  return o;
}

/// The default cold start: a first round one settle (1 s) in, the window's round at its end.
rebalance_options immediate() {
  rebalance_options o;
  o.cold_start = cold_start_mode::immediate;
  o.cold_start_settle = 1s;
  return o;
}

/// A machine with a stable published fleet {a, b, c, d}, idle.
rebalance_rules stable_fleet(time_point now, rebalance_options o = defaults()) {
  names fleet{"a", "b", "c", "d"};
  return rebalance_rules(o, fleet, fleet, now);
}

/// Runs one round to success at `now` and returns its id (for cooldown tests).
std::uint64_t complete_round(rebalance_rules& rules, time_point now) {
  auto round = started(rules.poll(now));
  BOOST_TEST_REQUIRE(round.has_value());
  BOOST_TEST_REQUIRE(rules.round_completed(round->round, true, now));
  rules.poll(now);
  return round->round;
}

}  // namespace

BOOST_AUTO_TEST_CASE(options_are_validated) {
  BOOST_TEST(rebalance_options{}.validate().ok());
  auto o = rebalance_options{};
  o.max_window_factor = 0.5;
  BOOST_TEST(o.validate().error().find("max_window_factor") != std::string::npos);
  o = rebalance_options{};
  o.restart_ratio = 0;
  BOOST_TEST(o.validate().error().find("restart_ratio") != std::string::npos);
}

// -- windows --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(cold_start_without_a_previous_assignment_uses_the_long_window) {
  manual_clock clock;
  auto t = clock.now();
  rebalance_rules rules(defaults(), {}, {}, t);
  BOOST_TEST(rules.poll(t).empty());
  rules.worker_joined("a", t);
  BOOST_TEST(described(rules.poll(t)) == strings{"state:idle->scaling"},
             boost::test_tools::per_element());
  BOOST_TEST((rules.next_deadline() == t + 30s));
  BOOST_TEST(rules.poll(t + 30s - 1ns).empty());
  auto out = rules.poll(t + 30s);
  BOOST_TEST(described(out) == (strings{"state:scaling->rebalancing", "start:cold_start#1"}),
             boost::test_tools::per_element());
  BOOST_TEST(started_workers(out) == strings{"a"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(most_workers_new_at_leader_start_is_a_cold_start) {
  manual_clock clock;
  auto t = clock.now();
  // Half of the live workers are new: restart_ratio 0.5 is reached (>=).
  rebalance_rules rules(defaults(), {"a", "b"}, {"a", "b", "x", "y"}, t);
  BOOST_TEST((rules.next_deadline() == t + 30s));
  BOOST_TEST(started_reason(rules.poll(t + 30s)) == "cold_start");
}

BOOST_AUTO_TEST_CASE(planned_scale_uses_the_short_window) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.worker_joined("e", t);  // 1 new of 5: below the restart ratio
  rules.poll(t);
  BOOST_TEST((rules.next_deadline() == t + 10s));
  BOOST_TEST(rules.poll(t + 10s - 1ns).empty());
  auto round = started(rules.poll(t + 10s));
  BOOST_TEST_REQUIRE(round.has_value());
  BOOST_TEST((round->reason == rebalance_reason::planned_scale));
  BOOST_TEST(round->workers == (strings{"a", "b", "c", "d", "e"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_further_change_extends_the_window_from_that_change) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.worker_joined("e", t);
  rules.poll(t);
  rules.worker_joined("f", t + 5s);
  BOOST_TEST(rules.poll(t + 5s).empty());
  BOOST_TEST((rules.next_deadline() == t + 15s));
  BOOST_TEST(rules.poll(t + 10s).empty());  // the first window would have closed here
  BOOST_TEST(rules.poll(t + 15s - 1ns).empty());
  BOOST_TEST(started(rules.poll(t + 15s)).has_value());
}

BOOST_AUTO_TEST_CASE(a_steady_trickle_cannot_extend_the_window_beyond_its_bound) {
  manual_clock clock;
  auto t = clock.now();
  auto o = defaults();
  o.restart_ratio = 1.0;  // stay a planned scale however many join
  auto rules = stable_fleet(t, o);
  // A join every 5 s, each restarting a 10 s window: the bound (3 x 10 s) closes it at 30 s.
  for (int k = 0; k < 6; ++k) {
    rules.worker_joined("n" + std::to_string(k), t + k * 5s);
    BOOST_TEST(start_count(rules.poll(t + k * 5s)) == 0u);
  }
  BOOST_TEST((rules.next_deadline() == t + 30s));
  BOOST_TEST(rules.poll(t + 30s - 1ns).empty());
  auto round = started(rules.poll(t + 30s));
  BOOST_TEST_REQUIRE(round.has_value());
  BOOST_TEST(round->workers.size() == 10u);  // all six joins in the one round
}

BOOST_AUTO_TEST_CASE(a_planned_window_becomes_a_cold_start_when_most_workers_are_new) {
  manual_clock clock;
  auto t = clock.now();
  rebalance_rules rules(defaults(), {"a", "b"}, {"a", "b"}, t);
  rules.worker_joined("x", t);  // 1 of 3 new: planned scale
  BOOST_TEST((rules.next_deadline() == t + 10s));
  rules.worker_joined("y", t + 1s);  // 2 of 4 new: the restart ratio is reached
  BOOST_TEST((rules.next_deadline() == t + 31s));
  BOOST_TEST(started_reason(rules.poll(t + 31s)) == "cold_start");
}

BOOST_AUTO_TEST_CASE(many_events_batch_into_one_rebalance) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  std::size_t starts = 0;
  for (int k = 0; k < 5; ++k) {
    rules.worker_joined("n" + std::to_string(k), t + k * 1s);
    starts += start_count(rules.poll(t + k * 1s));
  }
  for (auto at = t + 5s; at <= t + 60s; at += 500ms) starts += start_count(rules.poll(at));
  BOOST_TEST(starts == 1u);
}

// -- cooldown -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(cooldown_blocks_a_planned_rebalance_and_allows_it_exactly_at_its_end) {
  manual_clock clock;
  auto o = defaults();
  o.cooldown = 20s;
  auto t = clock.now();
  auto rules = stable_fleet(t, o);
  rules.manual_request(t);
  complete_round(rules, t);  // last successful round completed at t
  rules.worker_joined("e", t + 1s);
  rules.poll(t + 1s);
  BOOST_TEST(rules.poll(t + 11s).empty());  // window over, cooldown not
  BOOST_TEST((rules.state() == machine_state::scaling));
  BOOST_TEST((rules.next_deadline() == t + 20s));
  BOOST_TEST(rules.poll(t + 20s - 1ns).empty());
  // The boundary belongs to the allowed side: at exactly last completion + cooldown it starts.
  BOOST_TEST(started_reason(rules.poll(t + 20s)) == "planned_scale");
}

BOOST_AUTO_TEST_CASE(an_emergency_ignores_the_cooldown) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.manual_request(t);
  complete_round(rules, t);
  rules.emergency_confirmed("a", t + 1s);
  auto out = rules.poll(t + 1s);
  BOOST_TEST(described(out) == (strings{"state:idle->emergency", "start:emergency#2"}),
             boost::test_tools::per_element());
  BOOST_TEST(started_workers(out) == (strings{"b", "c", "d"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_manual_request_starts_at_once_and_a_refresh_waits_for_the_cooldown) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.manual_request(t);
  BOOST_TEST(started_reason(rules.poll(t)) == "manual");
  rules.round_completed(1, true, t);
  rules.partitions_refreshed(t + 1s);
  BOOST_TEST(start_count(rules.poll(t + 1s)) == 0u);
  BOOST_TEST((rules.next_deadline() == t + 10s));
  BOOST_TEST(started_reason(rules.poll(t + 10s)) == "refresh");
}

// -- emergencies and leaves -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(an_emergency_preempts_an_open_window_and_serves_it) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.worker_joined("e", t);
  rules.poll(t);
  rules.emergency_confirmed("a", t + 2s);
  auto round = started(rules.poll(t + 2s));
  BOOST_TEST_REQUIRE(round.has_value());
  BOOST_TEST((round->reason == rebalance_reason::emergency));
  BOOST_TEST(round->workers == (strings{"b", "c", "d", "e"}), boost::test_tools::per_element());
  rules.round_completed(round->round, true, t + 3s);
  BOOST_TEST(described(rules.poll(t + 3s)) == strings{"state:emergency->idle"},
             boost::test_tools::per_element());
  BOOST_TEST(!rules.next_deadline().has_value());  // the join was served: no second round
  BOOST_TEST(rules.poll(t + 1h).empty());
}

BOOST_AUTO_TEST_CASE(graceful_leaves_need_no_window_and_arriving_together_batch) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.worker_left("a", leave_kind::drain, t);
  rules.worker_left("b", leave_kind::drain, t);
  auto out = rules.poll(t);
  BOOST_TEST(start_count(out) == 1u);
  BOOST_TEST(started_reason(out) == "drain");
  BOOST_TEST(started_workers(out) == (strings{"c", "d"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_drain_batch_delay_gathers_leaves_from_the_first_one) {
  manual_clock clock;
  auto o = defaults();
  o.drain_batch_delay = 200ms;
  auto t = clock.now();
  auto rules = stable_fleet(t, o);
  rules.worker_left("a", leave_kind::drain, t);
  BOOST_TEST(start_count(rules.poll(t)) == 0u);
  rules.worker_left("b", leave_kind::drain, t + 150ms);  // joins the batch, does not delay it
  BOOST_TEST((rules.next_deadline() == t + 200ms));
  BOOST_TEST(start_count(rules.poll(t + 200ms - 1ns)) == 0u);
  auto round = started(rules.poll(t + 200ms));
  BOOST_TEST_REQUIRE(round.has_value());
  BOOST_TEST(round->workers == (strings{"c", "d"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_drain_does_not_wait_for_the_cooldown) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.manual_request(t);
  complete_round(rules, t);
  rules.worker_left("a", leave_kind::drain, t + 1s);
  BOOST_TEST(started_reason(rules.poll(t + 1s)) == "drain");
}

BOOST_AUTO_TEST_CASE(an_ended_restart_grace_is_served_at_once_with_its_reason) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.worker_left("a", leave_kind::restart_expired, t);
  BOOST_TEST(started_reason(rules.poll(t)) == "restart_expired");
}

BOOST_AUTO_TEST_CASE(workers_outside_the_assignment_need_no_round) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.worker_left("stranger", leave_kind::drain, t);
  rules.emergency_confirmed("ghost", t);
  rules.worker_joined("a", t);  // already assigned (e.g. came back from a restart)
  BOOST_TEST(rules.poll(t).empty());
  BOOST_TEST(!rules.next_deadline().has_value());
  BOOST_TEST((rules.state() == machine_state::idle));
}

// -- rounds ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(notifications_come_in_order) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  strings seen;
  auto record = [&seen](const std::vector<machine_output>& out) {
    for (auto& line : described(out)) seen.push_back(line);
  };
  rules.worker_joined("e", t);
  record(rules.poll(t));
  record(rules.poll(t + 10s));
  rules.round_completed(1, true, t + 11s);
  rules.worker_left("a", leave_kind::drain, t + 11s);
  record(rules.poll(t + 11s));
  rules.round_completed(2, true, t + 12s);
  record(rules.poll(t + 12s));
  strings expected{"state:idle->scaling", "state:scaling->rebalancing", "start:planned_scale#1",
                   "start:drain#2", "state:rebalancing->idle"};
  BOOST_TEST(seen == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(only_one_of_concurrent_transitions_wins) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.worker_joined("e", t);
  rules.poll(t);
  // The window closes, an emergency is confirmed and a drain arrives, all by the same poll.
  rules.emergency_confirmed("a", t + 10s);
  rules.worker_left("b", leave_kind::drain, t + 10s);
  auto out = rules.poll(t + 10s);
  BOOST_TEST(start_count(out) == 1u);
  BOOST_TEST(started_reason(out) == "emergency");
  BOOST_TEST(start_count(rules.poll(t + 10s)) == 0u);    // no second round while one runs
  BOOST_TEST(!rules.round_completed(7, true, t + 11s));  // unknown round: ignored
  BOOST_TEST(rules.round_completed(1, true, t + 11s));
  BOOST_TEST(!rules.round_completed(1, false, t + 11s));  // repeated: ignored, not a failure
  BOOST_TEST(rules.poll(t + 11s).size() == 1u);           // back to idle, nothing re-queued
  BOOST_TEST((rules.state() == machine_state::idle));
}

BOOST_AUTO_TEST_CASE(a_stale_completion_does_not_end_the_running_round) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.worker_left("a", leave_kind::drain, t);
  rules.poll(t);
  rules.round_completed(1, false, t);  // fails: retried as round 2 after the backoff
  BOOST_TEST(started_round(rules.poll(t + 1s)) == 2u);
  BOOST_TEST(!rules.round_completed(1, true, t + 2s));
  BOOST_TEST((rules.running_round() == std::optional<std::uint64_t>(2)));
  BOOST_TEST((rules.state() == machine_state::rebalancing));
}

BOOST_AUTO_TEST_CASE(changes_during_a_round_are_kept_for_the_next_one) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.worker_left("a", leave_kind::drain, t);
  BOOST_TEST(started_workers(rules.poll(t)) == (strings{"b", "c", "d"}),
             boost::test_tools::per_element());
  rules.worker_joined("e", t + 1s);        // not in the running round: a window opens
  rules.emergency_confirmed("b", t + 2s);  // in the running round: an emergency is queued
  BOOST_TEST(start_count(rules.poll(t + 2s)) == 0u);
  rules.round_completed(1, true, t + 3s);
  auto next = started(rules.poll(t + 3s));  // the emergency goes at once, cooldown or not
  BOOST_TEST_REQUIRE(next.has_value());
  BOOST_TEST((next->reason == rebalance_reason::emergency));
  BOOST_TEST(next->workers == (strings{"c", "d", "e"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_join_during_a_round_gets_its_own_round_after_it) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.worker_left("a", leave_kind::drain, t);
  rules.poll(t);
  rules.worker_joined("e", t + 1s);
  rules.round_completed(1, true, t + 2s);
  BOOST_TEST(described(rules.poll(t + 2s)) == strings{"state:rebalancing->scaling"},
             boost::test_tools::per_element());
  // Window from the join (t + 11 s), cooldown from the completion (t + 12 s): the later wins.
  BOOST_TEST((rules.next_deadline() == t + 12s));
  auto next = started(rules.poll(t + 12s));
  BOOST_TEST_REQUIRE(next.has_value());
  BOOST_TEST((next->reason == rebalance_reason::planned_scale));
  BOOST_TEST(rules.assigned_workers() == (names{"b", "c", "d"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_failed_round_puts_its_work_back_and_retries_after_the_backoff) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.worker_left("a", leave_kind::drain, t);
  rules.poll(t);
  BOOST_TEST(rules.round_completed(1, false, t + 1s));
  BOOST_TEST(described(rules.poll(t + 1s)) == strings{"state:rebalancing->scaling"},
             boost::test_tools::per_element());
  BOOST_TEST((rules.next_deadline() == t + 2s));
  BOOST_TEST(rules.poll(t + 2s - 1ns).empty());
  auto retry = started(rules.poll(t + 2s));
  BOOST_TEST_REQUIRE(retry.has_value());
  BOOST_TEST((retry->reason == rebalance_reason::drain));
  BOOST_TEST(retry->round == 2u);
  BOOST_TEST(rules.assigned_workers().count("a") == 1u);  // nothing was published
}

BOOST_AUTO_TEST_CASE(stop_during_a_round_ends_cleanly) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.worker_left("a", leave_kind::drain, t);
  rules.poll(t);
  rules.worker_joined("e", t + 1s);  // pending work at the time of the stop
  rules.stop(t + 1s);
  BOOST_TEST(described(rules.poll(t + 1s)) == strings{"state:rebalancing->stopped"},
             boost::test_tools::per_element());
  BOOST_TEST(!rules.running_round().has_value());
  BOOST_TEST(!rules.round_completed(1, true, t + 2s));
  rules.emergency_confirmed("b", t + 2s);
  rules.manual_request(t + 2s);
  rules.worker_joined("f", t + 2s);
  BOOST_TEST(rules.poll(t + 1h).empty());
  BOOST_TEST(!rules.next_deadline().has_value());
  BOOST_TEST((rules.state() == machine_state::stopped));
}

BOOST_AUTO_TEST_CASE(a_freeze_holds_every_round_and_keeps_the_pending_work) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.set_frozen(true, t);
  rules.emergency_confirmed("a", t);
  rules.worker_joined("e", t);
  BOOST_TEST(described(rules.poll(t + 1h)) == strings{"state:idle->scaling"},
             boost::test_tools::per_element());
  BOOST_TEST(!rules.next_deadline().has_value());
  rules.set_frozen(false, t + 1h);
  auto round = started(rules.poll(t + 1h));
  BOOST_TEST_REQUIRE(round.has_value());
  BOOST_TEST((round->reason == rebalance_reason::emergency));
  BOOST_TEST(round->workers == (strings{"b", "c", "d", "e"}), boost::test_tools::per_element());
}

// Drains kept before the machine knows who is live add up: a later notice without a worker (the
// periodic refresh sends none) must not drop an earlier drain request from _control.
BOOST_AUTO_TEST_CASE(early_drain_requests_add_up_and_a_later_empty_list_drops_none) {
  BOOST_TEST(merged_drains({"b"}, {}) == strings{"b"}, boost::test_tools::per_element());
  BOOST_TEST(merged_drains({"b", "c"}, {"c", "d"}) == (strings{"b", "c", "d"}),
             boost::test_tools::per_element());
  BOOST_TEST(merged_drains({}, {"a"}) == strings{"a"}, boost::test_tools::per_element());
  // Fed to the rules as the actor does once the monitor is ready: the drain still happens.
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  for (const auto& w : merged_drains({"b"}, {})) rules.worker_left(w, leave_kind::drain, t);
  auto round = started(rules.poll(t));
  BOOST_TEST_REQUIRE(round.has_value());
  BOOST_TEST((round->reason == rebalance_reason::drain));
  BOOST_TEST(round->workers == (strings{"a", "c", "d"}), boost::test_tools::per_element());
}

namespace {

std::vector<partition> parts(const strings& keys, std::int64_t weight = 1) {
  std::vector<partition> out;
  for (const auto& k : keys) out.push_back(partition{{k}, weight});
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_periodic_refresh_sees_a_change_only_when_the_source_differs) {
  BOOST_TEST(!partitions_changed(parts({"p0", "p1", "p2"}), parts({"p0", "p1", "p2"})));
  BOOST_TEST(!partitions_changed(parts({"p0", "p1", "p2"}), parts({"p2", "p0", "p1"})));  // order
  BOOST_TEST(!partitions_changed(std::vector<partition>{}, {}));
  BOOST_TEST(partitions_changed(parts({"p0", "p1", "p2"}), parts({"p0", "p1"})));  // removed
  BOOST_TEST(partitions_changed(parts({"p0", "p1"}), parts({"p0", "p1", "q0"})));  // added
  BOOST_TEST(partitions_changed(parts({"p0", "p1"}), parts({"p0", "q1"})));        // replaced
  BOOST_TEST(partitions_changed(parts({"p0"}), parts({"p0"}, 2)));                 // reweighted
  BOOST_TEST(partitions_changed(std::vector<partition>{}, parts({"p0"})));
  BOOST_TEST(!partitions_changed(std::nullopt, parts({"p0"})));  // nothing to differ from
}

BOOST_AUTO_TEST_CASE(before_any_load_a_refresh_compares_with_the_assignment_read_back) {
  assignment previous{{"a", parts({"p2", "p0"})}, {"b", parts({"p1"})}, {"c", {}}};
  auto baseline = refresh_baseline(std::nullopt, previous);
  BOOST_TEST(!partitions_changed(baseline, parts({"p0", "p1", "p2"})));
  BOOST_TEST(partitions_changed(baseline, parts({"p0", "p1", "p2", "p3"})));
  // Nothing published, nothing loaded: no baseline (the first round loads the source anyway).
  BOOST_TEST(!refresh_baseline(std::nullopt, {}).has_value());
  BOOST_TEST(!partitions_changed(refresh_baseline(std::nullopt, {}), parts({"p0"})));
  // Published, but with nobody owning anything: every loaded partition is new.
  BOOST_TEST(partitions_changed(refresh_baseline(std::nullopt, {{"a", {}}}), parts({"p0"})));
  // Once loaded, the last load is what counts.
  auto loaded = refresh_baseline(parts({"p0", "p1", "p2", "p3"}), previous);
  BOOST_TEST(!partitions_changed(loaded, parts({"p3", "p2", "p1", "p0"})));
  BOOST_TEST(partitions_changed(loaded, parts({"p0", "p1", "p2"})));
}

// A worker that stayed gone while it owned nothing starts no round, but the next round, for any
// reason, leaves it out: partitions are never given to a dead worker.
BOOST_AUTO_TEST_CASE(a_worker_gone_owning_nothing_starts_nothing_and_is_left_out_of_later_rounds) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.poll(t);
  rules.worker_gone("d", t);
  BOOST_TEST(start_count(rules.poll(t + 1s)) == 0u);
  BOOST_TEST(rules.live_workers() == (names{"a", "b", "c"}), boost::test_tools::per_element());
  rules.emergency_confirmed("a", t + 2s);
  auto out = rules.poll(t + 2s);
  BOOST_TEST(started_reason(out) == "emergency");
  BOOST_TEST(started_workers(out) == (strings{"b", "c"}), boost::test_tools::per_element());
}

// The reported loss: the leader (d) drained itself, published the revocation of its partitions
// and left before it published their grants. Its successor finds d's key empty and d gone, and
// everybody else in the assignment: no join, and d's expiry confirms it "gone, owning nothing".
// Only the partitions in nobody's key tell that a round is due, and it must start at once.
BOOST_AUTO_TEST_CASE(unowned_partitions_at_takeover_start_an_emergency_round_at_once) {
  manual_clock clock;
  auto t = clock.now();
  rebalance_rules rules(defaults(), {"a", "b", "c", "d"}, {"a", "b", "c"}, t);
  BOOST_TEST(rules.poll(t).empty());  // nothing else would ever start one
  BOOST_TEST(!rules.next_deadline().has_value());
  rules.unowned_partitions_found(t);
  BOOST_TEST((rules.next_deadline() == time_point::min()));
  auto out = rules.poll(t);
  BOOST_TEST(described(out) == (strings{"state:idle->emergency", "start:emergency#1"}),
             boost::test_tools::per_element());
  BOOST_TEST(started_workers(out) == (strings{"a", "b", "c"}), boost::test_tools::per_element());
  rules.worker_gone("d", t + 1s);  // its expiry, owning nothing: no second round
  BOOST_TEST(rules.round_completed(1, true, t + 1s));
  BOOST_TEST(described(rules.poll(t + 1s)) == strings{"state:emergency->idle"},
             boost::test_tools::per_element());
  BOOST_TEST(rules.poll(t + 1h).empty());
}

BOOST_AUTO_TEST_CASE(unowned_partitions_preempt_a_planned_window_and_the_cooldown) {
  manual_clock clock;
  auto t = clock.now();
  auto rules = stable_fleet(t);
  rules.manual_request(t);
  complete_round(rules, t);  // the cooldown runs until t + 10s
  rules.worker_joined("e", t + 1s);
  BOOST_TEST(described(rules.poll(t + 1s)) == strings{"state:idle->scaling"},
             boost::test_tools::per_element());  // the window runs until t + 11s
  rules.unowned_partitions_found(t + 2s);
  auto out = rules.poll(t + 2s);  // within the window and the cooldown
  BOOST_TEST(started_reason(out) == "emergency");
  BOOST_TEST(started_workers(out) == (strings{"a", "b", "c", "d", "e"}),
             boost::test_tools::per_element());
  rules.round_completed(started_round(out), true, t + 3s);
  rules.poll(t + 3s);
  BOOST_TEST(!rules.next_deadline().has_value());  // the join was served too
}

BOOST_AUTO_TEST_CASE(unowned_partitions_without_an_assignment_or_in_a_cold_start_wait_the_window) {
  manual_clock clock;
  auto t = clock.now();
  // Nothing published: every partition is unassigned, and the cold start window serves them.
  rebalance_rules fresh(defaults(), {}, {"a", "b"}, t);
  fresh.unowned_partitions_found(t);
  BOOST_TEST(fresh.poll(t + 30s - 1ns).size() == 1u);  // idle -> scaling, no round
  BOOST_TEST(started_reason(fresh.poll(t + 30s)) == "cold_start");

  // Most live workers new: the fleet gathers first, then one round serves both.
  rebalance_rules restarted(defaults(), {"a", "b"}, {"a", "b", "x", "y"}, t);
  restarted.unowned_partitions_found(t);
  BOOST_TEST(start_count(restarted.poll(t + 30s - 1ns)) == 0u);
  BOOST_TEST(started_reason(restarted.poll(t + 30s)) == "cold_start");
}

BOOST_AUTO_TEST_CASE(unowned_partitions_wait_for_a_freeze_and_a_running_round_serves_them) {
  manual_clock clock;
  auto t = clock.now();
  auto frozen = stable_fleet(t);
  frozen.set_frozen(true, t);
  frozen.unowned_partitions_found(t);
  BOOST_TEST(start_count(frozen.poll(t + 1h)) == 0u);
  frozen.set_frozen(false, t + 1h);
  BOOST_TEST(started_reason(frozen.poll(t + 1h)) == "emergency");

  // A round already running holds every partition once in its target: no second round.
  auto busy = stable_fleet(t);
  busy.manual_request(t);
  auto round = started(busy.poll(t));
  BOOST_TEST_REQUIRE(round.has_value());
  busy.unowned_partitions_found(t);
  busy.round_completed(round->round, true, t + 1s);
  BOOST_TEST(start_count(busy.poll(t + 1s)) == 0u);
  BOOST_TEST(!busy.next_deadline().has_value());

  auto stopped = stable_fleet(t);
  stopped.stop(t);
  stopped.unowned_partitions_found(t);
  BOOST_TEST(start_count(stopped.poll(t)) == 0u);
}

// -- immediate cold start -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(immediate_cold_start_assigns_after_the_settle_and_rebalances_at_window_end) {
  manual_clock clock;
  auto t = clock.now();
  rebalance_rules rules(immediate(), {}, {"a", "b"}, t);
  BOOST_TEST((rules.next_deadline() == t + 1s));
  BOOST_TEST(start_count(rules.poll(t + 1s - 1ns)) == 0u);
  auto first = rules.poll(t + 1s);
  BOOST_TEST(described(first) == (strings{"state:scaling->rebalancing", "start:cold_start#1"}),
             boost::test_tools::per_element());
  BOOST_TEST(started_workers(first) == (strings{"a", "b"}), boost::test_tools::per_element());
  BOOST_TEST(rules.round_completed(1, true, t + 2s));
  // The window is still open: the group is scaling until it closes.
  BOOST_TEST(described(rules.poll(t + 2s)) == strings{"state:rebalancing->scaling"},
             boost::test_tools::per_element());
  rules.worker_joined("c", t + 5s);
  // The late joiner waits for the window, which a join extends as ever (to t + 5s + 30s).
  BOOST_TEST((rules.next_deadline() == t + 35s));
  BOOST_TEST(start_count(rules.poll(t + 35s - 1ns)) == 0u);
  auto last = rules.poll(t + 35s);
  BOOST_TEST(started_reason(last) == "cold_start");
  BOOST_TEST(started_round(last) == 2u);
  BOOST_TEST(started_workers(last) == (strings{"a", "b", "c"}), boost::test_tools::per_element());
  BOOST_TEST(rules.round_completed(2, true, t + 36s));
  BOOST_TEST(described(rules.poll(t + 36s)) == strings{"state:rebalancing->idle"},
             boost::test_tools::per_element());
  BOOST_TEST(!rules.next_deadline().has_value());
}

BOOST_AUTO_TEST_CASE(immediate_cold_start_without_late_joiners_needs_no_second_round) {
  manual_clock clock;
  auto t = clock.now();
  rebalance_rules rules(immediate(), {}, {"a", "b"}, t);
  rules.poll(t + 1s);
  BOOST_TEST(rules.round_completed(1, true, t + 1s));
  rules.poll(t + 1s);
  BOOST_TEST((rules.next_deadline() == t + 30s));
  auto end = rules.poll(t + 30s);
  BOOST_TEST(start_count(end) == 0u);
  BOOST_TEST(described(end) == strings{"state:scaling->idle"}, boost::test_tools::per_element());
  BOOST_TEST(!rules.next_deadline().has_value());
}

BOOST_AUTO_TEST_CASE(joins_within_the_settle_extend_it_up_to_the_window_factor) {
  manual_clock clock;
  auto t = clock.now();
  rebalance_rules rules(immediate(), {}, {}, t);
  rules.worker_joined("a", t);
  rules.worker_joined("b", t + 800ms);
  BOOST_TEST((rules.next_deadline() == t + 1800ms));  // extended from the last join
  rules.worker_joined("c", t + 1500ms);
  rules.worker_joined("d", t + 2500ms);
  BOOST_TEST((rules.next_deadline() == t + 3s));  // never more than 3 settles after the first
  BOOST_TEST(start_count(rules.poll(t + 3s - 1ns)) == 0u);
  auto first = rules.poll(t + 3s);
  BOOST_TEST(started_workers(first) == (strings{"a", "b", "c", "d"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_failed_first_round_is_retried_and_the_window_still_closes_on_time) {
  manual_clock clock;
  auto t = clock.now();
  auto o = immediate();
  o.failure_backoff = 2s;
  rebalance_rules rules(o, {}, {"a"}, t);
  BOOST_TEST(started_round(rules.poll(t + 1s)) == 1u);
  BOOST_TEST(rules.round_completed(1, false, t + 1500ms));
  rules.poll(t + 1500ms);
  BOOST_TEST((rules.next_deadline() == t + 3500ms));  // after the retry delay, not the window
  auto retry = rules.poll(t + 3500ms);
  BOOST_TEST(started_round(retry) == 2u);
  BOOST_TEST(started_reason(retry) == "cold_start");
  BOOST_TEST(rules.round_completed(2, true, t + 4s));
  rules.worker_joined("b", t + 10s);
  rules.poll(t + 10s);
  BOOST_TEST((rules.next_deadline() == t + 40s));
  BOOST_TEST(started_workers(rules.poll(t + 40s)) == (strings{"a", "b"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_emergency_after_the_first_round_serves_the_window_too) {
  manual_clock clock;
  auto t = clock.now();
  rebalance_rules rules(immediate(), {}, {"a", "b"}, t);
  rules.poll(t + 1s);
  rules.round_completed(1, true, t + 1s);
  rules.poll(t + 1s);
  rules.worker_joined("c", t + 2s);
  rules.emergency_confirmed("b", t + 3s);
  auto out = rules.poll(t + 3s);
  BOOST_TEST(started_reason(out) == "emergency");
  BOOST_TEST(started_workers(out) == (strings{"a", "c"}), boost::test_tools::per_element());
  rules.round_completed(2, true, t + 4s);
  rules.poll(t + 4s);
  BOOST_TEST(!rules.next_deadline().has_value());  // the window was served by that round
}

BOOST_AUTO_TEST_CASE(a_restart_of_most_of_the_fleet_is_assigned_after_the_settle_too) {
  manual_clock clock;
  auto t = clock.now();
  rebalance_rules rules(immediate(), {"a", "b"}, {"a", "b", "x", "y"}, t);
  rules.unowned_partitions_found(t);
  BOOST_TEST((rules.next_deadline() == t + 1s));
  auto first = rules.poll(t + 1s);
  BOOST_TEST(started_reason(first) == "cold_start");
  BOOST_TEST(started_workers(first) == (strings{"a", "b", "x", "y"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_planned_scale_is_not_touched_by_the_immediate_mode) {
  manual_clock clock;
  auto t = clock.now();
  names fleet{"a", "b", "c", "d"};
  rebalance_rules rules(immediate(), fleet, fleet, t);
  rules.worker_joined("e", t);
  BOOST_TEST((rules.next_deadline() == t + 10s));
  BOOST_TEST(start_count(rules.poll(t + 10s - 1ns)) == 0u);
  BOOST_TEST(started_reason(rules.poll(t + 10s)) == "planned_scale");
}

BOOST_AUTO_TEST_CASE(a_negative_settle_is_rejected) {
  auto o = immediate();
  o.cold_start_settle = -1ms;
  BOOST_TEST(!o.validate());
}
