#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "parti/actors/election/lease_rules.hpp"

// Lets BOOST_TEST print time points (as nanoseconds since the clock's epoch) when it compares
// vectors of them element by element.
namespace boost::test_tools::tt_detail {
template <>
struct print_log_value<parti::time_point> {
  void operator()(std::ostream& os, const parti::time_point& t) {
    os << t.time_since_epoch().count() << "ns";
  }
};
}  // namespace boost::test_tools::tt_detail

using namespace parti;
using namespace std::chrono_literals;

namespace {

const lease_timing defaults{};  // TTL 3 s, operation timeout 1 s

leader_lease lease_by(std::string instance, std::uint64_t epoch) {
  leader_lease l;
  l.worker = "worker-x";
  l.instance = std::move(instance);
  l.epoch = epoch;
  return l;
}

}  // namespace

// -- timing -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(default_timing) {
  BOOST_TEST((defaults.ttl == 3s));
  BOOST_TEST((defaults.operation_timeout == 1s));
  BOOST_TEST((defaults.renew_interval() == 1s));
  BOOST_TEST((defaults.renew_margin() == 1s));
  BOOST_TEST((defaults.renew_deadline_after() == 2s));
  BOOST_TEST((defaults.retry_interval() == 250ms));
  BOOST_TEST((defaults.poll_interval() == 1s));
  BOOST_TEST(defaults.validate().ok());
}

BOOST_AUTO_TEST_CASE(the_margin_is_the_larger_of_a_third_and_the_operation_timeout) {
  BOOST_TEST((lease_timing{30s, 4s}.renew_margin() == 10s));        // a third wins
  BOOST_TEST((lease_timing{3s, 1500ms}.renew_margin() == 1500ms));  // the timeout wins
  BOOST_TEST((lease_timing{3s, 1500ms}.renew_deadline_after() == 1500ms));
}

BOOST_AUTO_TEST_CASE(timing_validation_at_the_boundary) {
  BOOST_TEST((lease_timing{3s, 1s}.validate().ok()));
  auto too_slow = lease_timing{3s, 1s + 1ns}.validate();
  BOOST_TEST(!too_slow.ok());
  BOOST_TEST(too_slow.error().find("kv_operation_timeout: must not exceed election_ttl / 3") == 0u);
  BOOST_TEST(!(lease_timing{0s, 1s}.validate().ok()));
  BOOST_TEST(!(lease_timing{3s, 0s}.validate().ok()));
}

BOOST_AUTO_TEST_CASE(a_leader_always_stops_before_anyone_else_can_hold_the_lease) {
  // The deadline plus one operation timeout (a write sent just before it) stays within the TTL.
  for (auto t :
       std::vector<lease_timing>{{3s, 1s}, {3s, 10ms}, {1s, 333ms}, {30s, 10s}, {10s, 2s}}) {
    BOOST_REQUIRE(t.validate().ok());
    BOOST_TEST((t.renew_deadline_after() + t.operation_timeout <= t.ttl));
    BOOST_TEST((t.renew_deadline_after() + t.ttl / 3 <= t.ttl));
    BOOST_TEST((t.renew_deadline_after() >= t.renew_interval()));  // one renewal fits
  }
}

// -- leader ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_leader_renews_every_third_and_keeps_leading) {
  manual_clock clock;
  leader_term term(defaults, 42, clock.now());
  BOOST_TEST(term.epoch() == 42u);
  BOOST_TEST(term.revision() == 42u);
  BOOST_TEST((term.next_deadline() == clock.now() + 1s));
  for (int round = 0; round < 5; ++round) {
    clock.set(term.next_deadline() - 1ns);
    BOOST_TEST((term.due(clock.now()) == leader_action::wait));
    clock.advance(1ns);
    BOOST_REQUIRE((term.due(clock.now()) == leader_action::renew));
    const time_point sent = clock.now();
    clock.advance(30ms);  // the answer's round trip
    BOOST_TEST(
        (term.on_renew(lease_write::ok, 43 + round, sent, clock.now()) == leader_action::wait));
    BOOST_TEST(term.may_lead(clock.now()));
    BOOST_TEST((term.renew_deadline() == sent + 2s));
    BOOST_TEST((term.next_deadline() == sent + 1s));
  }
  BOOST_TEST(term.revision() == 47u);
  BOOST_TEST(!term.stepped_down());
}

BOOST_AUTO_TEST_CASE(may_lead_ends_exactly_at_the_renew_deadline) {
  manual_clock clock;
  const time_point won = clock.now();
  leader_term term(defaults, 1, won);
  BOOST_TEST((term.renew_deadline() == won + 2s));
  BOOST_TEST(term.may_lead(won + 2s - 1ns));
  BOOST_TEST(!term.may_lead(won + 2s));
}

BOOST_AUTO_TEST_CASE(an_unanswered_renewal_steps_down_at_the_deadline) {
  manual_clock clock;
  const time_point won = clock.now();
  leader_term term(defaults, 1, won);
  clock.advance(1s);
  BOOST_REQUIRE((term.due(clock.now()) == leader_action::renew));
  BOOST_TEST((term.next_deadline() == won + 2s));  // in flight: only the deadline remains
  clock.advance(500ms);
  BOOST_TEST((term.due(clock.now()) == leader_action::wait));  // one renewal at a time
  clock.set(won + 2s);
  BOOST_TEST((term.due(clock.now()) == leader_action::step_down));
  BOOST_TEST(term.stepped_down());
  BOOST_TEST(!term.may_lead(clock.now()));
  // The answer arrives late: the term does not resume.
  BOOST_TEST(
      (term.on_renew(lease_write::ok, 2, won + 1s, clock.now()) == leader_action::step_down));
  BOOST_TEST((term.next_deadline() == time_point::max()));
}

BOOST_AUTO_TEST_CASE(unknown_renewals_are_retried_until_the_deadline) {
  manual_clock clock;
  const time_point won = clock.now();
  leader_term term(defaults, 1, won);
  std::vector<time_point> attempts;
  for (;;) {
    clock.set(term.next_deadline());
    auto action = term.due(clock.now());
    if (action == leader_action::step_down) break;
    BOOST_REQUIRE((action == leader_action::renew));
    attempts.push_back(clock.now());
    BOOST_REQUIRE(
        (term.on_renew(lease_write::unknown, 0, clock.now(), clock.now()) == leader_action::wait));
  }
  const std::vector<time_point> expected{won + 1s, won + 1250ms, won + 1500ms, won + 1750ms};
  BOOST_TEST(attempts == expected, boost::test_tools::per_element());
  BOOST_TEST((clock.now() == won + 2s));
}

BOOST_AUTO_TEST_CASE(a_retry_that_succeeds_restores_the_schedule) {
  manual_clock clock;
  const time_point won = clock.now();
  leader_term term(defaults, 1, won);
  clock.set(won + 1s);
  term.due(clock.now());
  term.on_renew(lease_write::unknown, 0, clock.now(), clock.now());
  clock.set(term.next_deadline());
  BOOST_REQUIRE((clock.now() == won + 1250ms));
  BOOST_REQUIRE((term.due(clock.now()) == leader_action::renew));
  BOOST_TEST((term.on_renew(lease_write::ok, 2, won + 1250ms, clock.now()) == leader_action::wait));
  BOOST_TEST((term.next_deadline() == won + 2250ms));
  BOOST_TEST((term.renew_deadline() == won + 3250ms));
}

BOOST_AUTO_TEST_CASE(a_conflicting_renewal_steps_down_at_once) {
  manual_clock clock;
  leader_term term(defaults, 1, clock.now());
  clock.advance(1s);
  term.due(clock.now());
  BOOST_TEST((term.on_renew(lease_write::conflict, 0, clock.now(), clock.now()) ==
              leader_action::step_down));
  BOOST_TEST(!term.may_lead(clock.now()));
  BOOST_TEST((term.due(clock.now()) == leader_action::step_down));
}

BOOST_AUTO_TEST_CASE(an_answer_at_the_deadline_is_too_late) {
  manual_clock clock;
  const time_point won = clock.now();
  leader_term term(defaults, 1, won);
  clock.set(won + 1s);
  term.due(clock.now());
  clock.set(won + 2s);  // a timeout answered exactly at the deadline
  BOOST_TEST(
      (term.on_renew(lease_write::unknown, 0, won + 1s, clock.now()) == leader_action::step_down));
}

BOOST_AUTO_TEST_CASE(resigning_ends_the_term) {
  manual_clock clock;
  leader_term term(defaults, 1, clock.now());
  term.resign();
  BOOST_TEST(!term.may_lead(clock.now()));
  BOOST_TEST((term.due(clock.now()) == leader_action::step_down));
}

// -- follower -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_fresh_follower_campaigns_at_once_and_wins_with_the_create_revision) {
  manual_clock clock;
  lease_follower f(defaults, "me");
  BOOST_TEST(!f.must_have_expired_at().has_value());
  BOOST_REQUIRE((f.due(clock.now()) == follower_action::campaign));
  BOOST_TEST((f.next_deadline() == time_point::max()));       // in flight
  BOOST_TEST((f.due(clock.now()) == follower_action::wait));  // one campaign at a time
  const time_point sent = clock.now();
  clock.advance(5ms);
  auto win = f.on_campaign(lease_write::ok, 77, sent, clock.now());
  BOOST_REQUIRE(win.has_value());
  BOOST_TEST(win->epoch == 77u);
  BOOST_TEST((win->sent_at == sent));
}

BOOST_AUTO_TEST_CASE(a_seen_lease_is_left_alone_until_it_must_have_expired) {
  manual_clock clock;
  lease_follower f(defaults, "me");
  const time_point seen = clock.now();
  BOOST_TEST(!f.on_lease_put(lease_by("other", 5), 100, seen).has_value());
  BOOST_TEST((*f.must_have_expired_at() == seen + 3s));
  BOOST_TEST((f.next_deadline() == seen + 3s));
  BOOST_TEST((f.due(seen + 3s - 1ns) == follower_action::wait));
  // Renewals keep pushing the campaign out.
  f.on_lease_put(lease_by("other", 5), 101, seen + 1s);
  BOOST_TEST((f.next_deadline() == seen + 4s));
  BOOST_TEST((f.due(seen + 3s) == follower_action::wait));
  BOOST_TEST((f.due(seen + 4s) == follower_action::campaign));
}

BOOST_AUTO_TEST_CASE(a_deleted_lease_is_campaigned_for_at_once) {
  manual_clock clock;
  lease_follower f(defaults, "me");
  f.on_lease_put(lease_by("other", 5), 100, clock.now());
  clock.advance(200ms);
  f.on_lease_deleted(clock.now());
  BOOST_TEST(!f.must_have_expired_at().has_value());
  BOOST_TEST((f.next_deadline() == clock.now()));
  BOOST_TEST((f.due(clock.now()) == follower_action::campaign));
}

BOOST_AUTO_TEST_CASE(an_expired_lease_is_taken_within_a_third_of_the_ttl_without_watch_events) {
  // The last put we saw was at 0; the holder renewed unseen at 1 s and 2 s, then died. Its lease
  // expires at 5 s, with no watch event. We must win by 5 s + TTL/3.
  manual_clock clock;
  const time_point t0 = clock.now();
  const time_point real_expiry = t0 + 5s;
  lease_follower f(defaults, "me");
  f.on_lease_put(lease_by("other", 5), 100, t0);
  std::vector<time_point> campaigns;
  std::optional<election_win> win;
  while (!win) {
    clock.set(f.next_deadline());
    BOOST_REQUIRE((f.due(clock.now()) == follower_action::campaign));
    campaigns.push_back(clock.now());
    const bool key_exists = clock.now() < real_expiry;
    win = f.on_campaign(key_exists ? lease_write::conflict : lease_write::ok, 200, clock.now(),
                        clock.now());
  }
  const std::vector<time_point> expected{t0 + 3s, t0 + 4s, t0 + 5s};
  BOOST_TEST(campaigns == expected, boost::test_tools::per_element());
  BOOST_TEST((campaigns.back() - real_expiry <= defaults.ttl / 3));
  BOOST_TEST(win->epoch == 200u);
}

BOOST_AUTO_TEST_CASE(a_failed_campaign_waits_for_the_last_seen_lease_to_expire) {
  manual_clock clock;
  const time_point t0 = clock.now();
  lease_follower f(defaults, "me");
  BOOST_REQUIRE((f.due(t0) == follower_action::campaign));
  f.on_lease_put(lease_by("other", 5), 100, t0 + 200ms);  // the replay arrives meanwhile
  BOOST_TEST(!f.on_campaign(lease_write::conflict, 0, t0, t0 + 300ms).has_value());
  BOOST_TEST((f.next_deadline() == t0 + 3200ms));  // not t0 + 1.3 s: the holder is alive
}

BOOST_AUTO_TEST_CASE(a_failed_campaign_without_any_lease_seen_polls_every_third) {
  manual_clock clock;
  lease_follower f(defaults, "me");
  f.due(clock.now());
  f.on_campaign(lease_write::conflict, 0, clock.now(), clock.now());
  BOOST_TEST((f.next_deadline() == clock.now() + 1s));
}

BOOST_AUTO_TEST_CASE(an_unknown_campaign_is_won_when_the_watch_shows_our_create) {
  manual_clock clock;
  const time_point t0 = clock.now();
  lease_follower f(defaults, "me");
  f.due(t0);
  BOOST_TEST(!f.on_campaign(lease_write::unknown, 0, t0, t0 + 1s).has_value());
  BOOST_TEST((f.next_deadline() == t0 + 1250ms));  // asked again soon
  // The store did not answer: the next request only probes whether it takes writes.
  clock.set(t0 + 1250ms);
  BOOST_REQUIRE((f.due(clock.now()) == follower_action::probe));
  f.on_probe(lease_write::conflict, clock.now());
  // The watch shows the first Create (epoch 0, our instance): that is our win, dated from
  // when it was sent.
  auto win = f.on_lease_put(lease_by("me", 0), 90, t0 + 1300ms);
  BOOST_REQUIRE(win.has_value());
  BOOST_TEST(win->epoch == 90u);
  BOOST_TEST((win->sent_at == t0));
}

BOOST_AUTO_TEST_CASE(our_create_seen_before_its_answer_wins_and_the_late_answer_is_ignored) {
  manual_clock clock;
  const time_point t0 = clock.now();
  lease_follower f(defaults, "me");
  BOOST_REQUIRE((f.due(t0) == follower_action::campaign));
  auto win = f.on_lease_put(lease_by("me", 0), 55, t0 + 2ms);
  BOOST_REQUIRE(win.has_value());
  BOOST_TEST(win->epoch == 55u);
  BOOST_TEST((win->sent_at == t0));
  BOOST_TEST(!f.on_campaign(lease_write::ok, 55, t0, t0 + 3ms).has_value());
}

BOOST_AUTO_TEST_CASE(a_late_renewal_of_our_former_term_is_not_a_win) {
  manual_clock clock;
  const time_point t0 = clock.now();
  lease_follower f(defaults, "me");
  f.due(t0);
  f.on_campaign(lease_write::unknown, 0, t0, t0 + 1s);
  // Our old renewal (it carries the old epoch 12) lands: not the Create we wait for.
  BOOST_TEST(!f.on_lease_put(lease_by("me", 12), 99, t0 + 1100ms).has_value());
  BOOST_TEST((f.next_deadline() == t0 + 1100ms + 3s));
}

BOOST_AUTO_TEST_CASE(our_instance_without_a_campaign_is_just_a_holder) {
  manual_clock clock;
  lease_follower f(defaults, "me");
  BOOST_TEST(!f.on_lease_put(lease_by("me", 0), 7, clock.now()).has_value());
  BOOST_TEST((f.next_deadline() == clock.now() + 3s));
}

BOOST_AUTO_TEST_CASE(another_holder_clears_an_unanswered_create) {
  manual_clock clock;
  const time_point t0 = clock.now();
  lease_follower f(defaults, "me");
  f.due(t0);
  f.on_campaign(lease_write::unknown, 0, t0, t0 + 1s);
  f.on_lease_put(lease_by("other", 0), 60, t0 + 1100ms);  // someone else won
  BOOST_TEST(!f.on_lease_put(lease_by("me", 0), 61, t0 + 1200ms).has_value());
}

// -- store outages: the incumbent leads again -----------------------------------------------

BOOST_AUTO_TEST_CASE(a_term_ends_unconfirmed_only_for_want_of_confirmation) {
  manual_clock clock;
  leader_term timed_out(defaults, 10, clock.now());
  BOOST_TEST(!timed_out.ended_unconfirmed());
  BOOST_TEST((timed_out.due(clock.now() + 2s) == leader_action::step_down));
  BOOST_TEST(timed_out.ended_unconfirmed());

  leader_term refused(defaults, 10, clock.now());
  BOOST_REQUIRE((refused.due(clock.now() + 1s) == leader_action::renew));
  refused.on_renew(lease_write::conflict, 0, clock.now() + 1s, clock.now() + 1s);
  BOOST_TEST(!refused.ended_unconfirmed());

  leader_term resigned(defaults, 10, clock.now());
  resigned.resign();
  BOOST_TEST(!resigned.ended_unconfirmed());
}

BOOST_AUTO_TEST_CASE(an_incumbent_reclaims_its_lease_with_the_same_epoch) {
  manual_clock clock;
  auto f = lease_follower::incumbent(defaults, "me", 10, 12);
  BOOST_TEST(f.is_incumbent());
  BOOST_REQUIRE((f.due(clock.now()) == follower_action::reclaim));
  BOOST_TEST(f.reclaim_epoch() == 10u);
  BOOST_TEST(f.reclaim_revision() == 12u);
  const time_point sent = clock.now();
  clock.advance(3ms);
  auto win = f.on_reclaim(lease_write::ok, 20, sent, clock.now());
  BOOST_REQUIRE(win.has_value());
  BOOST_TEST(win->epoch == 10u);
  BOOST_TEST((win->sent_at == sent));
  leader_term term(defaults, *win);
  BOOST_TEST(term.epoch() == 10u);
  BOOST_TEST(term.revision() == 20u);  // the next renewal compares against the reclaim
  BOOST_TEST((term.renew_deadline() == sent + 2s));
  BOOST_TEST(!f.is_incumbent());
}

BOOST_AUTO_TEST_CASE(an_incumbent_retries_an_unanswered_reclaim_then_campaigns_when_it_expired) {
  manual_clock clock;
  const time_point t0 = clock.now();
  auto f = lease_follower::incumbent(defaults, "me", 10, 12);
  BOOST_REQUIRE((f.due(t0) == follower_action::reclaim));
  BOOST_TEST(!f.on_reclaim(lease_write::unknown, 0, t0, t0 + 1s).has_value());
  BOOST_TEST((f.next_deadline() == t0 + 1250ms));
  BOOST_REQUIRE((f.due(t0 + 1250ms) == follower_action::reclaim));
  // The lease expired during the outage: campaign at once, and keep at it every TTL/12
  // without probing first (the incumbent does not yield).
  BOOST_TEST(!f.on_reclaim(lease_write::conflict, 0, t0 + 1250ms, t0 + 1260ms).has_value());
  BOOST_REQUIRE((f.due(t0 + 1260ms) == follower_action::campaign));
  f.on_campaign(lease_write::unknown, 0, t0 + 1260ms, t0 + 2260ms);
  BOOST_TEST(!f.store_troubled());
  BOOST_REQUIRE((f.due(t0 + 2510ms) == follower_action::campaign));
  auto win = f.on_campaign(lease_write::ok, 40, t0 + 2510ms, t0 + 2520ms);
  BOOST_REQUIRE(win.has_value());
  BOOST_TEST(win->epoch == 40u);  // a new term: the old lease is gone
}

BOOST_AUTO_TEST_CASE(an_incumbent_that_sees_its_own_lease_reclaims_against_it) {
  manual_clock clock;
  const time_point t0 = clock.now();
  auto f = lease_follower::incumbent(defaults, "me", 10, 12);
  BOOST_REQUIRE((f.due(t0) == follower_action::reclaim));
  f.on_reclaim(lease_write::unknown, 0, t0, t0 + 1s);
  // A renewal of the ended term landed late (revision 15): the lease is still ours.
  BOOST_TEST(!f.on_lease_put(lease_by("me", 10), 15, t0 + 1100ms).has_value());
  BOOST_TEST((f.next_deadline() == t0 + 1100ms));
  BOOST_REQUIRE((f.due(t0 + 1100ms) == follower_action::reclaim));
  BOOST_TEST(f.reclaim_revision() == 15u);
}

BOOST_AUTO_TEST_CASE(another_holder_ends_the_incumbency) {
  manual_clock clock;
  const time_point t0 = clock.now();
  auto f = lease_follower::incumbent(defaults, "me", 10, 12);
  f.on_lease_put(lease_by("other", 30), 30, t0);
  BOOST_TEST(!f.is_incumbent());
  BOOST_TEST((f.next_deadline() == t0 + 3s));
  BOOST_TEST((f.due(t0 + 3s) == follower_action::campaign));
}

BOOST_AUTO_TEST_CASE(a_follower_that_met_an_outage_probes_then_yields_before_campaigning) {
  manual_clock clock;
  const time_point t0 = clock.now();
  lease_follower f(defaults, "me");
  f.on_lease_put(lease_by("other", 5), 100, t0);
  BOOST_REQUIRE((f.due(t0 + 3s) == follower_action::campaign));
  f.on_campaign(lease_write::unknown, 0, t0 + 3s, t0 + 4s);  // the store takes no writes
  BOOST_TEST(f.store_troubled());
  BOOST_REQUIRE((f.due(t0 + 4250ms) == follower_action::probe));
  f.on_probe(lease_write::unknown, t0 + 5250ms);
  BOOST_REQUIRE((f.due(t0 + 5500ms) == follower_action::probe));
  f.on_probe(lease_write::conflict, t0 + 5510ms);  // answered: the store is back
  BOOST_TEST(!f.store_troubled());
  BOOST_TEST((f.next_deadline() == t0 + 7510ms));  // the incumbent's turn first
  BOOST_TEST((f.due(t0 + 7509ms) == follower_action::wait));
  BOOST_TEST((f.due(t0 + 7510ms) == follower_action::campaign));
}

BOOST_AUTO_TEST_CASE(after_an_outage_longer_than_the_ttl_the_incumbent_leads_again) {
  // A model of the store: no writes are taken from t0 (just after the last renewal) until
  // t0 + outage; the lease expires TTL after it was written; a request is answered 1 ms after
  // it was sent by a working store, and times out after 1 s otherwise. One incumbent and three
  // followers act on their rules; whoever writes first after the outage leads. (An outage that
  // ends between the renew deadline and the lease's expiry may be won by a follower that
  // campaigns at the expiry: it never saw the store fail. Outages longer than the TTL are what
  // a JetStream stream leader election costs, 4-8 s.)
  // Every phase of the store's return relative to the nodes' retries (outages from 3.5 s to
  // 12 s), and refusals that come at once ("no responders") or only after the timeout, for the
  // incumbent and the others independently (the worst case: the others learn fast).
  for (duration incumbent_refused_after : {1ms, 1000ms})
    for (duration others_refused_after : {1ms, 1000ms})
      for (duration outage = 3500ms; outage <= 12s; outage += 37ms) {
        manual_clock clock;
        const time_point t0 = clock.now();
        const time_point outage_to = t0 + outage;
        std::optional<time_point> lease_written = t0;  // renewed at t0, then the outage began
        std::uint64_t lease_revision = 12;
        std::string holder = "inc";
        leader_term term(defaults, 10, t0 - 1ms);
        std::optional<lease_follower> inc;
        std::vector<lease_follower> others;
        for (int i = 0; i < 3; ++i) {
          others.emplace_back(defaults, "f" + std::to_string(i));
          others.back().on_lease_put(lease_by("inc", 10), 12,
                                     t0 + std::chrono::milliseconds(i * 7));
        }
        auto writable = [&](time_point at) { return at >= outage_to; };
        auto lease_alive = [&](time_point at) { return lease_written && at < *lease_written + 3s; };
        std::string winner;
        std::uint64_t winner_epoch = 0;
        time_point won_at{};
        // Answers come 1 ms after a request in a working store, after the timeout (1 s) otherwise.
        for (auto at = t0; winner.empty() && at < t0 + 30s; at += 1ms) {
          clock.set(at);
          if (!inc && (term.due(at) == leader_action::step_down || !term.may_lead(at))) {
            BOOST_REQUIRE(term.ended_unconfirmed());
            inc = lease_follower::incumbent(defaults, "inc", term.epoch(), term.revision());
          }
          auto act = [&](lease_follower& f, const std::string& who) {
            auto a = f.due(at);
            if (a == follower_action::wait) return;
            bool answered = writable(at);
            auto refused_after = who == "inc" ? incumbent_refused_after : others_refused_after;
            auto reply_at = answered ? at + 1ms : at + refused_after;
            bool alive = lease_alive(at);
            auto outcome = [&](bool ok) {
              return ok ? lease_write::ok : answered ? lease_write::conflict : lease_write::unknown;
            };
            std::optional<election_win> win;
            if (a == follower_action::probe) {
              f.on_probe(outcome(false), reply_at);
            } else if (a == follower_action::reclaim) {
              win = f.on_reclaim(outcome(answered && alive && holder == who), ++lease_revision, at,
                                 reply_at);
            } else {
              bool ok = answered && !alive;
              if (ok) {
                lease_written = at;
                holder = who;
              }
              win = f.on_campaign(outcome(ok), ++lease_revision, at, reply_at);
            }
            if (win) {
              winner = who;
              winner_epoch = win->epoch;
              won_at = at;
            }
          };
          if (inc) act(*inc, "inc");
          for (std::size_t i = 0; i < others.size(); ++i) act(others[i], "f" + std::to_string(i));
        }
        BOOST_TEST(
            winner == "inc",
            "outage " << std::chrono::duration_cast<std::chrono::milliseconds>(outage).count()
                      << " ms, refusals after " << incumbent_refused_after.count() / 1000000 << "/"
                      << others_refused_after.count() / 1000000 << " ms: " << winner << " leads");
        BOOST_TEST(winner_epoch > 10u);  // the lease expired meanwhile: a new term
        // Within a retry and a refused request of the store's return.
        BOOST_TEST(
            (won_at - outage_to <= defaults.retry_interval() + incumbent_refused_after + 1ms));
      }
}

BOOST_AUTO_TEST_CASE(action_names) {
  BOOST_TEST(to_string(leader_action::step_down) == "step_down");
  BOOST_TEST(to_string(follower_action::campaign) == "campaign");
}
