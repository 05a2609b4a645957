#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "parti/actors/worker_monitor/liveness_tracker.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

using strings = std::vector<std::string>;

heartbeat_record beat(const std::string& worker, std::uint64_t sent_at = 0,
                      const std::string& instance = "i1") {
  heartbeat_record r;
  r.worker = worker;
  r.instance = instance;
  r.sent_at = sent_at;
  return r;
}

heartbeat_record leaving_beat(const std::string& worker) {
  auto r = beat(worker);
  r.leaving = true;
  return r;
}

heartbeat_record restarting_beat(const std::string& worker) {
  auto r = beat(worker);
  r.restarting = true;
  return r;
}

/// "change:worker" for each event, so a failing check prints what happened.
strings described(const std::vector<liveness_event>& events) {
  strings out;
  for (const auto& e : events) {
    std::string text = to_string(e.change);
    if (!e.worker.empty()) text += ":" + e.worker;
    for (const auto& w : e.workers) text += ":" + w;
    out.push_back(text);
  }
  return out;
}

liveness_options no_guards() {
  liveness_options o;
  o.recovery_grace = 0s;
  o.rebuild_grace = 0s;
  o.mass_expiry_share = 1.0;  // never trips: more than 100% cannot expire
  o.silence_threshold = 0s;   // a lone worker falling quiet would otherwise be a silence
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(options_are_validated) {
  BOOST_TEST(liveness_options{}.validate().ok());
  auto o = liveness_options{};
  o.heartbeat_ttl = 0s;
  BOOST_TEST(o.validate().error().find("heartbeat_ttl") != std::string::npos);
  o = liveness_options{};
  o.mass_expiry_share = 1.5;
  BOOST_TEST(o.validate().error().find("mass_expiry_share") != std::string::npos);
  o = liveness_options{};
  o.silence_threshold = -1ns;
  BOOST_TEST(o.validate().error().find("silence_threshold") != std::string::npos);
  o.silence_threshold = 0s;  // disables the guard
  BOOST_TEST(o.validate().ok());
  o.silence_threshold = o.heartbeat_ttl + 1s;  // useless, but not wrong
  BOOST_TEST(o.validate().ok());
}

BOOST_AUTO_TEST_CASE(a_new_heartbeat_joins_once) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  BOOST_TEST(described(t.heartbeat_put("w1", beat("w1"), clock.now())) == strings{"joined:w1"},
             boost::test_tools::per_element());
  clock.advance(1s);
  BOOST_TEST(t.heartbeat_put("w1", beat("w1"), clock.now()).empty());
  BOOST_TEST(t.live_workers() == strings{"w1"}, boost::test_tools::per_element());
  BOOST_TEST(t.last_heartbeat("w1") != nullptr);
}

BOOST_AUTO_TEST_CASE(expires_exactly_one_ttl_after_the_last_heartbeat) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  t.heartbeat_put("w1", beat("w1"), clock.now());
  clock.advance(2s);
  t.heartbeat_put("w1", beat("w1"), clock.now());  // moves the deadline
  auto deadline = clock.now() + 3s;
  BOOST_TEST((t.next_deadline() == deadline));
  BOOST_TEST(t.expire(deadline - 1ns).empty());
  BOOST_TEST(described(t.expire(deadline)) == strings{"expired:w1"},
             boost::test_tools::per_element());
  BOOST_TEST(t.live_workers().empty());
  BOOST_TEST(!t.next_deadline().has_value());
}

BOOST_AUTO_TEST_CASE(a_deleted_key_is_a_graceful_leave) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  t.heartbeat_put("w1", beat("w1"), clock.now());
  BOOST_TEST(described(t.heartbeat_deleted("w1", clock.now())) == strings{"left:w1"},
             boost::test_tools::per_element());
  BOOST_TEST(t.expire(clock.now() + 1h).empty());  // never also reported expired
  BOOST_TEST(t.heartbeat_deleted("nobody", clock.now()).empty());
}

BOOST_AUTO_TEST_CASE(the_leaving_flag_is_a_graceful_leave_reported_once) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  t.heartbeat_put("w1", beat("w1"), clock.now());
  BOOST_TEST(
      described(t.heartbeat_put("w1", leaving_beat("w1"), clock.now())) == strings{"left:w1"},
      boost::test_tools::per_element());
  clock.advance(1s);
  BOOST_TEST(t.heartbeat_put("w1", leaving_beat("w1"), clock.now()).empty());  // still draining
  BOOST_TEST(t.live_workers().empty());
  BOOST_TEST(t.expire(clock.now() + 3s).empty());  // falls silent: no expiry, it left already
  BOOST_TEST((t.state_of("w1") == worker_liveness::unknown));
}

BOOST_AUTO_TEST_CASE(an_unknown_worker_announcing_leave_or_restart_reports_nothing) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  BOOST_TEST(t.heartbeat_put("w1", leaving_beat("w1"), clock.now()).empty());
  BOOST_TEST(t.heartbeat_put("w2", restarting_beat("w2"), clock.now()).empty());
  BOOST_TEST(t.live_workers().empty());
  // The leaver may still hold partitions, so it is heard; the restart is of nothing we know.
  BOOST_TEST(t.heard_workers() == strings{"w1"}, boost::test_tools::per_element());
  BOOST_TEST((t.state_of("w2") == worker_liveness::unknown));
}

BOOST_AUTO_TEST_CASE(restart_intent_within_the_grace_is_simply_alive_again) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  t.heartbeat_put("w1", beat("w1"), clock.now());
  BOOST_TEST(described(t.heartbeat_put("w1", restarting_beat("w1"), clock.now())) ==
                 strings{"restarting:w1"},
             boost::test_tools::per_element());
  clock.advance(20s);  // far beyond the TTL: a restarting worker does not expire
  BOOST_TEST(t.expire(clock.now()).empty());
  BOOST_TEST(t.live_workers() == strings{"w1"}, boost::test_tools::per_element());
  clock.advance(9s);
  BOOST_TEST(
      described(t.heartbeat_put("w1", beat("w1", 0, "i2"), clock.now())) == strings{"restarted:w1"},
      boost::test_tools::per_element());
  BOOST_TEST((t.state_of("w1") == worker_liveness::alive));
  BOOST_TEST(t.expire(clock.now() + 2s).empty());
}

BOOST_AUTO_TEST_CASE(restart_intent_beyond_the_grace_becomes_a_graceful_leave) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  t.heartbeat_put("w1", beat("w1"), clock.now());
  t.heartbeat_put("w1", restarting_beat("w1"), clock.now());
  auto grace_end = clock.now() + 30s;
  clock.advance(5s);
  t.heartbeat_put("w1", restarting_beat("w1"), clock.now());  // does not extend the grace
  BOOST_TEST((t.next_deadline() == grace_end));
  BOOST_TEST(t.expire(grace_end - 1ns).empty());
  BOOST_TEST(described(t.expire(grace_end)) == strings{"restart_expired:w1"},
             boost::test_tools::per_element());
  BOOST_TEST(t.live_workers().empty());
}

BOOST_AUTO_TEST_CASE(a_delete_during_restart_keeps_the_restart_grace) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  t.heartbeat_put("w1", beat("w1"), clock.now());
  t.heartbeat_put("w1", restarting_beat("w1"), clock.now());
  BOOST_TEST(t.heartbeat_deleted("w1", clock.now()).empty());
  BOOST_TEST(t.live_workers() == strings{"w1"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_new_instance_within_the_ttl_is_a_restart_not_a_join) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  t.heartbeat_put("w1", beat("w1", 0, "first"), clock.now());
  clock.advance(1s);
  BOOST_TEST(described(t.heartbeat_put("w1", beat("w1", 0, "second"), clock.now())) ==
                 strings{"restarted:w1"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(rebuild_counts_every_record_as_heard_now_and_reports_no_joins) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  const std::uint64_t wall = 1'000'000;  // sent_at values as the workers' own clocks put them
  std::vector<observed_heartbeat> initial{
      {"fresh", beat("fresh", wall - 500)},
      {"old", beat("old", wall - 2'900)},
      {"stale", beat("stale", wall - 10'000)},
      {"skewed", beat("skewed", wall + 5'000)},
  };
  auto now = clock.now();
  BOOST_TEST(t.rebuild(initial, {"fresh", "unheard"}, now).empty());
  BOOST_TEST(t.live_workers() == (strings{"fresh", "old", "skewed", "stale", "unheard"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.last_heartbeat("unheard") == nullptr);
  // Nobody is overdue at the rebuild: every record, whatever its sent_at, and the owner without
  // any heartbeat key (it may have expired in a store outage) count as heard at the rebuild.
  BOOST_TEST(t.expire(now).empty());
  BOOST_TEST((t.next_deadline() == now + 3s));
  BOOST_TEST(t.expire(now + 3s - 1ns).empty());
  auto events = t.expire(now + 3s);
  BOOST_TEST(described(events) == (strings{"expired:fresh", "expired:old", "expired:skewed",
                                           "expired:stale", "expired:unheard"}),
             boost::test_tools::per_element());
  for (const auto& e : events) BOOST_TEST((e.since == now + 3s));
}

BOOST_AUTO_TEST_CASE(a_worker_whose_clock_runs_behind_is_not_expired_before_a_ttl_after_rebuild) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  const std::uint64_t wall = 1'000'000;
  auto now = clock.now();
  // Its wall clock is 10 s behind the leader's: its fresh heartbeat reads as 10 s old.
  t.rebuild({{"behind", beat("behind", wall - 10'000)}}, {"behind"}, now);
  BOOST_TEST((t.next_deadline() == now + 3s));
  BOOST_TEST(t.expire(now).empty());
  BOOST_TEST(t.expire(now + 3s - 1ns).empty());
  BOOST_TEST(t.live_workers() == strings{"behind"}, boost::test_tools::per_element());
  // It heartbeats on time: its deadline moves as for anybody else.
  t.heartbeat_put("behind", beat("behind", wall - 8'000), now + 2s);
  BOOST_TEST(t.expire(now + 5s - 1ns).empty());
  BOOST_TEST(described(t.expire(now + 5s)) == strings{"expired:behind"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_worker_whose_clock_runs_ahead_is_not_kept_longer_after_rebuild) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  const std::uint64_t wall = 1'000'000;
  auto now = clock.now();
  // Its wall clock is 10 s ahead: its last heartbeat reads as sent in the future. It is dead.
  t.rebuild({{"ahead", beat("ahead", wall + 10'000)}}, {"ahead"}, now);
  BOOST_TEST((t.next_deadline() == now + 3s));
  BOOST_TEST(t.expire(now + 3s - 1ns).empty());
  BOOST_TEST(described(t.expire(now + 3s)) == strings{"expired:ahead"},
             boost::test_tools::per_element());
  BOOST_TEST(t.live_workers().empty());
}

BOOST_AUTO_TEST_CASE(rebuild_reports_leaving_and_restarting_records) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  const std::uint64_t wall = 5'000'000;
  auto leaving = leaving_beat("a");
  leaving.sent_at = wall;
  auto restarting = restarting_beat("b");
  restarting.sent_at = wall - 10'000;  // by its own clock announced 10 s ago: not read
  auto now = clock.now();
  auto events = t.rebuild({{"a", leaving}, {"b", restarting}}, {}, now);
  BOOST_TEST(described(events) == (strings{"left:a", "restarting:b"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.live_workers() == strings{"b"}, boost::test_tools::per_element());
  BOOST_TEST(t.heard_workers() == (strings{"a", "b"}), boost::test_tools::per_element());
  // The restart grace runs in full from the rebuild; the leaver is heard for a TTL.
  BOOST_TEST((t.next_deadline() == now + 3s));
  BOOST_TEST(t.expire(now + 3s).empty());
  BOOST_TEST(t.heard_workers() == strings{"b"}, boost::test_tools::per_element());
  BOOST_TEST(t.expire(now + 30s - 1ns).empty());
  BOOST_TEST(described(t.expire(now + 30s)) == strings{"restart_expired:b"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(no_expiry_before_the_rebuild_grace_after_rebuild) {
  manual_clock clock;
  auto o = no_guards();
  o.rebuild_grace = 5s;    // longer than the TTL, so that it holds records too
  o.recovery_grace = 10s;  // for outages only: not used by a rebuild
  liveness_tracker t(o);
  auto now = clock.now();
  t.rebuild({{"a", beat("a")}}, {"a", "b", "c"}, now);  // b and c own partitions, unheard
  BOOST_TEST((t.next_deadline() == now + 5s));
  BOOST_TEST(t.expire(now).empty());
  BOOST_TEST(t.expire(now + 5s - 1ns).empty());
  t.heartbeat_put("c", beat("c"), now + 4s);  // its heartbeat was only late: alive
  BOOST_TEST(described(t.expire(now + 5s)) == (strings{"expired:a", "expired:b"}),
             boost::test_tools::per_element());  // heard at the rebuild, silent past the TTL
  BOOST_TEST(t.live_workers() == strings{"c"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(no_expiry_during_a_store_outage_nor_within_the_recovery_grace_after) {
  manual_clock clock;
  auto o = no_guards();
  o.recovery_grace = 3s;
  liveness_tracker t(o);
  auto start = clock.now();
  t.heartbeat_put("a", beat("a"), start);
  t.heartbeat_put("b", beat("b"), start);
  t.store_outage_began(start + 1s);
  BOOST_TEST(t.in_outage());
  BOOST_TEST(t.expire(start + 10s).empty());
  BOOST_TEST(!t.next_deadline().has_value());  // nothing to wake up for while blind
  t.store_outage_ended(start + 10s);
  BOOST_TEST(t.expire(start + 13s - 1ns).empty());
  t.heartbeat_put("a", beat("a"), start + 12s);
  BOOST_TEST(described(t.expire(start + 13s)) == strings{"expired:b"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(mass_disappearance_is_held_as_a_store_suspicion_and_cleared_on_return) {
  manual_clock clock;
  auto o = no_guards();
  o.mass_expiry_share = 0.5;
  o.mass_expiry_hold = 3s;
  liveness_tracker t(o);
  auto start = clock.now();
  for (auto w : {"a", "b", "c", "d"}) t.heartbeat_put(w, beat(w), start);
  t.heartbeat_put("d", beat("d"), start + 2s);  // only d keeps heartbeating
  // 3 of 4 at once: the store is suspected, nobody expires.
  BOOST_TEST(described(t.expire(start + 3s)) == strings{"store_suspected:a:b:c"},
             boost::test_tools::per_element());
  BOOST_TEST(t.store_suspected());
  BOOST_TEST(t.live_workers().size() == 4u);
  BOOST_TEST((t.next_deadline() == start + 6s));  // nobody expires during the hold
  t.heartbeat_put("d", beat("d"), start + 5s);
  BOOST_TEST(t.expire(start + 5s).empty());
  // They come back within the hold: the suspicion clears when the last one does.
  BOOST_TEST(t.heartbeat_put("a", beat("a"), start + 5s).empty());
  BOOST_TEST(t.heartbeat_put("b", beat("b"), start + 5s).empty());
  BOOST_TEST(described(t.heartbeat_put("c", beat("c"), start + 5s)) == strings{"store_trusted"},
             boost::test_tools::per_element());
  BOOST_TEST(!t.store_suspected());
  BOOST_TEST(t.expire(start + 6s).empty());
}

BOOST_AUTO_TEST_CASE(mass_disappearance_still_silent_after_the_hold_is_believed) {
  manual_clock clock;
  auto o = no_guards();
  o.mass_expiry_share = 0.5;
  o.mass_expiry_hold = 3s;
  liveness_tracker t(o);
  auto start = clock.now();
  for (auto w : {"a", "b", "c", "d"}) t.heartbeat_put(w, beat(w), start);
  for (auto s : {2s, 4s, 6s, 8s}) t.heartbeat_put("d", beat("d"), start + s);
  BOOST_TEST(described(t.expire(start + 3s)) == strings{"store_suspected:a:b:c"},
             boost::test_tools::per_element());
  BOOST_TEST(t.expire(start + 6s - 1ns).empty());
  BOOST_TEST(described(t.expire(start + 6s)) ==
                 (strings{"expired:a", "expired:b", "expired:c", "store_trusted"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.live_workers() == strings{"d"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(one_loss_among_many_is_not_a_mass_disappearance) {
  manual_clock clock;
  auto o = no_guards();
  o.mass_expiry_share = 0.5;
  liveness_tracker t(o);
  auto start = clock.now();
  for (auto w : {"a", "b", "c", "d"}) t.heartbeat_put(w, beat(w), start);
  for (auto w : {"b", "c", "d"}) t.heartbeat_put(w, beat(w), start + 2s);
  BOOST_TEST(described(t.expire(start + 3s)) == strings{"expired:a"},
             boost::test_tools::per_element());
  BOOST_TEST(!t.store_suspected());
}

BOOST_AUTO_TEST_CASE(exactly_the_configured_share_does_not_trip_the_guard) {
  manual_clock clock;
  auto o = no_guards();
  o.mass_expiry_share = 0.5;  // the guard wants more than half
  liveness_tracker t(o);
  auto start = clock.now();
  for (auto w : {"a", "b", "c", "d"}) t.heartbeat_put(w, beat(w), start);
  for (auto w : {"c", "d"}) t.heartbeat_put(w, beat(w), start + 2s);
  BOOST_TEST(described(t.expire(start + 3s)) == (strings{"expired:a", "expired:b"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_single_worker_fleet_is_below_the_guard_minimum_and_expires) {
  manual_clock clock;
  auto o = no_guards();
  o.mass_expiry_share = 0.5;
  o.mass_expiry_min_workers = 2;
  liveness_tracker t(o);
  t.heartbeat_put("only", beat("only"), clock.now());
  BOOST_TEST(described(t.expire(clock.now() + 3s)) == strings{"expired:only"},
             boost::test_tools::per_element());
}

// -- heard workers -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_leaving_worker_is_heard_but_not_live_until_its_key_is_deleted) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  auto start = clock.now();
  for (auto w : {"a", "b"}) t.heartbeat_put(w, beat(w), start);
  t.heartbeat_put("a", leaving_beat("a"), start + 1s);
  BOOST_TEST(t.live_workers() == strings{"b"}, boost::test_tools::per_element());
  BOOST_TEST(t.heard_workers() == (strings{"a", "b"}), boost::test_tools::per_element());
  BOOST_TEST(t.last_heartbeat("a") != nullptr);  // what it reports applied while it drains
  // Drained: it deletes its key.
  BOOST_TEST(t.heartbeat_deleted("a", start + 2s).empty());  // left was reported already
  BOOST_TEST(t.heard_workers() == strings{"b"}, boost::test_tools::per_element());
  BOOST_TEST(t.last_heartbeat("a") == nullptr);
}

BOOST_AUTO_TEST_CASE(a_leaving_worker_silent_for_the_ttl_is_no_longer_heard) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  auto start = clock.now();
  t.heartbeat_put("a", beat("a"), start);
  t.heartbeat_put("a", leaving_beat("a"), start);
  t.heartbeat_put("a", leaving_beat("a"), start + 1s);  // still draining: heard a TTL from here
  BOOST_TEST((t.next_deadline() == start + 4s));
  BOOST_TEST(t.expire(start + 4s - 1ns).empty());
  BOOST_TEST(t.heard_workers() == strings{"a"}, boost::test_tools::per_element());
  BOOST_TEST(t.expire(start + 4s).empty());  // forgotten without an event
  BOOST_TEST(t.heard_workers().empty());
  BOOST_TEST(!t.next_deadline().has_value());
  // Its next leaving heartbeat makes it heard again, still without an event.
  BOOST_TEST(t.heartbeat_put("a", leaving_beat("a"), start + 5s).empty());
  BOOST_TEST(t.heard_workers() == strings{"a"}, boost::test_tools::per_element());
  BOOST_TEST(t.live_workers().empty());
}

BOOST_AUTO_TEST_CASE(an_expired_worker_heartbeating_with_leaving_is_heard_again) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  auto start = clock.now();
  t.heartbeat_put("a", beat("a"), start);
  BOOST_TEST(described(t.expire(start + 3s)) == strings{"expired:a"},
             boost::test_tools::per_element());
  // Its heartbeats were lost while it began to drain; its partitions may not be revoked yet.
  BOOST_TEST(t.heartbeat_put("a", leaving_beat("a"), start + 4s).empty());
  BOOST_TEST(t.heard_workers() == strings{"a"}, boost::test_tools::per_element());
  BOOST_TEST(t.live_workers().empty());
}

BOOST_AUTO_TEST_CASE(an_owner_known_only_from_the_assignment_is_live_but_not_heard) {
  manual_clock clock;
  auto o = no_guards();
  o.rebuild_grace = 1s;
  liveness_tracker t(o);
  auto now = clock.now();
  t.rebuild({{"a", beat("a")}}, {"a", "b"}, now);
  BOOST_TEST(t.live_workers() == (strings{"a", "b"}), boost::test_tools::per_element());
  BOOST_TEST(t.heard_workers() == strings{"a"}, boost::test_tools::per_element());
  t.heartbeat_put("b", beat("b"), now + 500ms);
  BOOST_TEST(t.heard_workers() == (strings{"a", "b"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_restarting_worker_stays_heard_until_its_restart_grace_ends) {
  manual_clock clock;
  liveness_tracker t(no_guards());
  auto start = clock.now();
  t.heartbeat_put("a", beat("a"), start);
  t.heartbeat_put("a", restarting_beat("a"), start);
  t.heartbeat_deleted("a", start + 1s);  // its key may go while it restarts
  BOOST_TEST(t.expire(start + 30s - 1ns).empty());
  BOOST_TEST(t.heard_workers() == strings{"a"}, boost::test_tools::per_element());
  BOOST_TEST(described(t.expire(start + 30s)) == strings{"restart_expired:a"},
             boost::test_tools::per_element());
  BOOST_TEST(t.heard_workers().empty());
}

BOOST_AUTO_TEST_CASE(a_leaver_is_not_forgotten_during_a_store_outage_nor_within_the_grace_after) {
  manual_clock clock;
  auto o = no_guards();
  o.recovery_grace = 3s;
  liveness_tracker t(o);
  auto start = clock.now();
  t.heartbeat_put("a", beat("a"), start);
  t.heartbeat_put("a", leaving_beat("a"), start);
  t.store_outage_began(start + 1s);
  BOOST_TEST(t.expire(start + 10s).empty());
  BOOST_TEST(!t.next_deadline().has_value());
  BOOST_TEST(t.heard_workers() == strings{"a"}, boost::test_tools::per_element());
  t.store_outage_ended(start + 10s);
  BOOST_TEST((t.next_deadline() == start + 13s));
  BOOST_TEST(t.expire(start + 13s - 1ns).empty());
  BOOST_TEST(t.heard_workers() == strings{"a"}, boost::test_tools::per_element());
  t.expire(start + 13s);  // not heard since the outage: now it is the worker that is quiet
  BOOST_TEST(t.heard_workers().empty());
}

BOOST_AUTO_TEST_CASE(a_leaver_is_not_forgotten_during_a_heartbeat_silence) {
  manual_clock clock;
  liveness_tracker t;  // defaults: TTL 3 s, silence after 2 s, recovery grace 3 s
  auto start = clock.now();
  for (auto w : {"a", "b"}) t.heartbeat_put(w, beat(w), start);
  t.heartbeat_put("c", beat("c"), start);
  t.heartbeat_put("c", leaving_beat("c"), start);  // then nobody is heard
  BOOST_TEST(described(t.expire(start + 2s)) == strings{"heartbeats_silent:a:b"},
             boost::test_tools::per_element());
  BOOST_TEST(t.expire(start + 10s).empty());
  BOOST_TEST(t.heard_workers() == (strings{"a", "b", "c"}), boost::test_tools::per_element());
  t.heartbeat_put("a", beat("a"), start + 10s);  // resumed: the grace runs to 13 s
  for (auto s : {11s, 12s}) t.heartbeat_put("a", beat("a"), start + s);
  BOOST_TEST(t.expire(start + 13s - 1ns).empty());
  BOOST_TEST(t.heard_workers() == (strings{"a", "b", "c"}), boost::test_tools::per_element());
  BOOST_TEST(described(t.expire(start + 13s)) == strings{"expired:b"},
             boost::test_tools::per_element());
  BOOST_TEST(t.heard_workers() == strings{"a"}, boost::test_tools::per_element());
}

// -- heartbeat silence ----------------------------------------------------------------------
// Defaults throughout: TTL 3 s, silence after 2 s, recovery grace 3 s, mass-expiry hold 3 s.

BOOST_AUTO_TEST_CASE(a_silence_of_everybody_holds_every_expiry_until_heartbeats_resume) {
  manual_clock clock;
  liveness_tracker t;
  auto start = clock.now();
  for (auto w : {"a", "b", "c"}) t.heartbeat_put(w, beat(w), start);
  // Nothing from anybody: the silence begins before any deadline and holds them all.
  BOOST_TEST((t.next_deadline() == start + 2s));
  BOOST_TEST(t.expire(start + 2s - 1ns).empty());
  BOOST_TEST(described(t.expire(start + 2s)) == strings{"heartbeats_silent:a:b:c"},
             boost::test_tools::per_element());
  BOOST_TEST(t.heartbeats_silent());
  BOOST_TEST(!t.next_deadline().has_value());  // held until a heartbeat, no wake-up loop
  // Far beyond TTL + mass-expiry hold: still nobody expires, nor is a mass expiry suspected.
  BOOST_TEST(t.expire(start + 20s).empty());
  BOOST_TEST(t.live_workers() == (strings{"a", "b", "c"}), boost::test_tools::per_element());
  // a and b are heard again; c never comes back.
  BOOST_TEST(
      described(t.heartbeat_put("a", beat("a"), start + 20s)) == strings{"heartbeats_resumed"},
      boost::test_tools::per_element());
  BOOST_TEST(!t.heartbeats_silent());
  BOOST_TEST(t.heartbeat_put("b", beat("b"), start + 20s).empty());
  for (auto s : {21s, 22s})
    for (auto w : {"a", "b"}) t.heartbeat_put(w, beat(w), start + s);
  // The recovery grace runs from the first heartbeat after the silence.
  BOOST_TEST((t.next_deadline() == start + 23s));
  BOOST_TEST(t.expire(start + 23s - 1ns).empty());
  auto events = t.expire(start + 23s);
  BOOST_TEST(described(events) == strings{"expired:c"}, boost::test_tools::per_element());
  BOOST_TEST(t.live_workers() == (strings{"a", "b"}), boost::test_tools::per_element());
}

namespace {

/// a, b and c beat at `start`; a dies; b and c are heard until 1.5 s, then nobody is: the
/// silence (threshold 2 s) begins at 3.5 s.
void a_dies_then_everybody_falls_silent(liveness_tracker& t, time_point start) {
  for (auto w : {"a", "b", "c"}) t.heartbeat_put(w, beat(w), start);
  for (auto s : {1000ms, 1500ms})
    for (auto w : {"b", "c"}) t.heartbeat_put(w, beat(w), start + s);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_worker_dead_before_the_silence_expires_on_time) {
  manual_clock clock;
  liveness_tracker t;
  auto start = clock.now();
  a_dies_then_everybody_falls_silent(t, start);
  BOOST_TEST((t.next_deadline() == start + 3s));
  BOOST_TEST(described(t.expire(start + 3s)) == strings{"expired:a"},
             boost::test_tools::per_element());
  BOOST_TEST((t.next_deadline() == start + 3500ms));
  BOOST_TEST(described(t.expire(start + 3500ms)) == strings{"heartbeats_silent:b:c"},
             boost::test_tools::per_element());
  BOOST_TEST(t.expire(start + 30s).empty());
  BOOST_TEST(t.live_workers() == (strings{"b", "c"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_worker_dead_before_the_silence_expires_even_if_checked_during_it) {
  manual_clock clock;
  liveness_tracker t;
  auto start = clock.now();
  a_dies_then_everybody_falls_silent(t, start);
  // The first check comes late, inside the silence: a's deadline (3 s) still came before it.
  auto events = t.expire(start + 10s);
  BOOST_TEST(described(events) == (strings{"expired:a", "heartbeats_silent:b:c"}),
             boost::test_tools::per_element());
  BOOST_TEST((events.at(0).since == start + 3s));
  BOOST_TEST((events.at(1).since == start + 3500ms));
}

BOOST_AUTO_TEST_CASE(the_leader_heartbeating_alone_is_no_silence_for_a_dead_worker) {
  manual_clock clock;
  liveness_tracker t;
  auto start = clock.now();
  for (auto w : {"leader", "w"}) t.heartbeat_put(w, beat(w), start);
  for (auto s : {1s, 2s, 3s}) t.heartbeat_put("leader", beat("leader"), start + s);
  BOOST_TEST((t.next_deadline() == start + 3s));
  BOOST_TEST(t.expire(start + 3s - 1ns).empty());
  BOOST_TEST(described(t.expire(start + 3s)) == strings{"expired:w"},
             boost::test_tools::per_element());
  BOOST_TEST(!t.heartbeats_silent());
  BOOST_TEST(t.live_workers() == strings{"leader"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_zero_silence_threshold_disables_the_guard) {
  manual_clock clock;
  auto o = liveness_options{};
  o.silence_threshold = 0s;
  liveness_tracker t(o);
  auto start = clock.now();
  for (auto w : {"a", "b", "c"}) t.heartbeat_put(w, beat(w), start);
  // The old behaviour: only the mass-disappearance hold, then everybody expires.
  BOOST_TEST((t.next_deadline() == start + 3s));
  BOOST_TEST(described(t.expire(start + 3s)) == strings{"store_suspected:a:b:c"},
             boost::test_tools::per_element());
  BOOST_TEST(described(t.expire(start + 6s)) ==
                 (strings{"expired:a", "expired:b", "expired:c", "store_trusted"}),
             boost::test_tools::per_element());
  BOOST_TEST(!t.heartbeats_silent());
}

BOOST_AUTO_TEST_CASE(next_deadline_covers_the_start_of_a_silence) {
  manual_clock clock;
  auto o = liveness_options{};
  o.heartbeat_ttl = 5s;
  liveness_tracker t(o);
  auto start = clock.now();
  t.heartbeat_put("a", beat("a"), start);
  BOOST_TEST((t.next_deadline() == start + 2s));  // the silence, before a's deadline (5 s)
  t.heartbeat_put("b", beat("b"), start + 1s);
  BOOST_TEST((t.next_deadline() == start + 3s));  // any heartbeat moves it
  for (auto s : {2s, 3s, 4s}) t.heartbeat_put("b", beat("b"), start + s);
  BOOST_TEST((t.next_deadline() == start + 5s));  // a's deadline, before the silence (6 s)
  BOOST_TEST(described(t.expire(start + 5s)) == strings{"expired:a"},
             boost::test_tools::per_element());
  BOOST_TEST((t.next_deadline() == start + 6s));
  BOOST_TEST(described(t.expire(start + 6s)) == strings{"heartbeats_silent:b"},
             boost::test_tools::per_element());
  BOOST_TEST(!t.next_deadline().has_value());
}

BOOST_AUTO_TEST_CASE(a_heartbeat_ending_an_unreported_silence_still_starts_the_grace) {
  manual_clock clock;
  liveness_tracker t;
  auto start = clock.now();
  for (auto w : {"a", "b"}) t.heartbeat_put(w, beat(w), start);
  // The silence began at 2 s, but the timer had not fired yet when a is heard at 5 s.
  BOOST_TEST(described(t.heartbeat_put("a", beat("a"), start + 5s)) ==
                 (strings{"heartbeats_silent:a:b", "heartbeats_resumed"}),
             boost::test_tools::per_element());
  t.heartbeat_put("a", beat("a"), start + 6s);
  t.heartbeat_put("a", beat("a"), start + 7s);
  BOOST_TEST(t.expire(start + 8s - 1ns).empty());  // b's deadline (3 s) fell in the silence
  BOOST_TEST(described(t.expire(start + 8s)) == strings{"expired:b"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(with_nobody_alive_quiet_is_no_silence) {
  manual_clock clock;
  liveness_tracker t;
  auto start = clock.now();
  t.heartbeat_put("a", beat("a"), start);
  t.heartbeat_put("a", restarting_beat("a"), start);
  // Nobody is expected to heartbeat: the restart grace ends on time.
  BOOST_TEST((t.next_deadline() == start + 30s));
  BOOST_TEST(described(t.expire(start + 30s)) == strings{"restart_expired:a"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_silence_holds_a_restart_grace_ending_inside_it) {
  manual_clock clock;
  auto o = liveness_options{};
  o.restart_grace = 5s;
  liveness_tracker t(o);
  auto start = clock.now();
  for (auto w : {"a", "b"}) t.heartbeat_put(w, beat(w), start);
  t.heartbeat_put("b", restarting_beat("b"), start);  // its grace would end at 5 s
  BOOST_TEST(described(t.expire(start + 2s)) == strings{"heartbeats_silent:a"},
             boost::test_tools::per_element());
  BOOST_TEST(t.expire(start + 10s).empty());
  BOOST_TEST(t.live_workers() == (strings{"a", "b"}), boost::test_tools::per_element());
  // b's return during the silence went unheard, and it is heard now: no restart_expired.
  BOOST_TEST(described(t.heartbeat_put("b", beat("b", 0, "i2"), start + 10s)) ==
                 (strings{"heartbeats_resumed", "restarted:b"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_mass_hold_running_into_a_silence_waits_for_heartbeats_and_the_grace) {
  manual_clock clock;
  liveness_tracker t;
  auto start = clock.now();
  for (auto w : {"a", "b", "c", "d"}) t.heartbeat_put(w, beat(w), start);
  for (auto s : {1000ms, 2000ms, 2500ms}) t.heartbeat_put("d", beat("d"), start + s);
  // Then nobody is heard: the silence begins at 4.5 s.
  BOOST_TEST(described(t.expire(start + 3s)) == strings{"store_suspected:a:b:c"},
             boost::test_tools::per_element());
  BOOST_TEST(described(t.expire(start + 4500ms)) == strings{"heartbeats_silent:a:b:c:d"},
             boost::test_tools::per_element());
  BOOST_TEST(t.expire(start + 6s).empty());  // the end of the hold falls in the silence
  BOOST_TEST(t.expire(start + 20s).empty());
  BOOST_TEST(
      described(t.heartbeat_put("d", beat("d"), start + 20s)) == strings{"heartbeats_resumed"},
      boost::test_tools::per_element());
  for (auto s : {21s, 22s}) t.heartbeat_put("d", beat("d"), start + s);
  BOOST_TEST(t.expire(start + 23s - 1ns).empty());
  BOOST_TEST(described(t.expire(start + 23s)) ==
                 (strings{"expired:a", "expired:b", "expired:c", "store_trusted"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_rebuild_counts_as_heard_now) {
  manual_clock clock;
  liveness_tracker t;
  const std::uint64_t wall = 1'000'000;
  auto now = clock.now();
  // Records 2.5 s old by the workers' clocks: they count as heard now all the same (deadlines
  // at 3 s), and the silence clock starts at the rebuild.
  t.rebuild({{"a", beat("a", wall - 2'500)}, {"b", beat("b", wall - 2'500)}}, {}, now);
  BOOST_TEST((t.next_deadline() == now + 2s));  // the silence, before the deadlines
  BOOST_TEST(t.expire(now + 2s - 1ns).empty());
  BOOST_TEST(described(t.expire(now + 2s)) == strings{"heartbeats_silent:a:b"},
             boost::test_tools::per_element());
  BOOST_TEST(t.expire(now + 10s).empty());
  BOOST_TEST(t.live_workers() == (strings{"a", "b"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_rebuild_without_records_holds_assigned_workers_until_anything_is_heard) {
  manual_clock clock;
  liveness_tracker t;
  auto now = clock.now();
  t.rebuild({}, {"a", "b"}, now);
  BOOST_TEST(t.expire(now + 1s).empty());  // heard at the rebuild: a TTL to heartbeat
  BOOST_TEST(described(t.expire(now + 2s)) == strings{"heartbeats_silent:a:b"},
             boost::test_tools::per_element());
  BOOST_TEST(t.expire(now + 10s).empty());
  // The leader's own first heartbeat ends it; a and b expire once the grace has passed.
  BOOST_TEST(described(t.heartbeat_put("leader", beat("leader"), now + 10s)) ==
                 (strings{"heartbeats_resumed", "joined:leader"}),
             boost::test_tools::per_element());
  for (auto s : {11s, 12s}) t.heartbeat_put("leader", beat("leader"), now + s);
  BOOST_TEST(t.expire(now + 13s - 1ns).empty());
  BOOST_TEST(described(t.expire(now + 13s)) == (strings{"store_suspected:a:b"}),
             boost::test_tools::per_element());  // both at once: the mass guard holds them
  for (auto s : {13s, 14s, 15s}) t.heartbeat_put("leader", beat("leader"), now + s);
  BOOST_TEST(described(t.expire(now + 16s)) == (strings{"expired:a", "expired:b", "store_trusted"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(after_a_store_outage_the_silence_clock_starts_over) {
  manual_clock clock;
  liveness_tracker t;
  auto start = clock.now();
  for (auto w : {"a", "b"}) t.heartbeat_put(w, beat(w), start);
  t.store_outage_began(start + 1s);
  BOOST_TEST(t.expire(start + 10s).empty());
  BOOST_TEST(!t.next_deadline().has_value());
  t.store_outage_ended(start + 10s);
  // The quiet was the outage: no silence yet, but one if nothing is heard for 2 s from now.
  BOOST_TEST((t.next_deadline() == start + 12s));
  BOOST_TEST(t.expire(start + 12s - 1ns).empty());
  BOOST_TEST(described(t.expire(start + 12s)) == strings{"heartbeats_silent:a:b"},
             boost::test_tools::per_element());
  BOOST_TEST(
      described(t.heartbeat_put("a", beat("a"), start + 15s)) == strings{"heartbeats_resumed"},
      boost::test_tools::per_element());
  for (auto s : {16s, 17s}) t.heartbeat_put("a", beat("a"), start + s);
  BOOST_TEST(t.expire(start + 18s - 1ns).empty());
  BOOST_TEST(described(t.expire(start + 18s)) == strings{"expired:b"},
             boost::test_tools::per_element());
}
