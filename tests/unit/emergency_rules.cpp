#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "parti/actors/emergency_detector/emergency_rules.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

using strings = std::vector<std::string>;

strings names(const std::vector<confirmed_emergency>& confirmed) {
  strings out;
  for (const auto& c : confirmed) out.push_back(c.worker);
  return out;
}

/// Rules with a 1 s grace and the given owners.
emergency_rules rules_owned_by(std::set<std::string> owners) {
  emergency_rules rules(emergency_options{1s});
  rules.set_owners(std::move(owners));
  return rules;
}

}  // namespace

BOOST_AUTO_TEST_CASE(options_are_validated) {
  BOOST_TEST(emergency_options{}.validate().ok());
  BOOST_TEST(emergency_options{-1s}.validate().error().find("grace") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(one_owner_is_confirmed_exactly_at_the_end_of_the_grace) {
  manual_clock clock;
  auto rules = rules_owned_by({"a"});
  auto expired_at = clock.now();
  BOOST_TEST(rules.worker_expired("a", expired_at));
  BOOST_TEST((rules.next_deadline() == expired_at + 1s));
  BOOST_TEST(rules.poll(expired_at + 1s - 1ns).empty());
  auto confirmed = rules.poll(expired_at + 1s);  // the boundary itself confirms
  BOOST_TEST(names(confirmed) == strings{"a"}, boost::test_tools::per_element());
  BOOST_TEST((confirmed.at(0).expired_at == expired_at));
  BOOST_TEST(rules.poll(expired_at + 10s).empty());  // reported once
  BOOST_TEST(!rules.next_deadline().has_value());
}

BOOST_AUTO_TEST_CASE(zero_owners_never_cause_an_emergency) {
  manual_clock clock;
  auto rules = rules_owned_by({});
  auto t = clock.now();
  rules.worker_expired("a", t);
  auto confirmed = rules.poll(t + 1h);
  BOOST_TEST(confirmed.size() == 1u);
  BOOST_TEST(!confirmed.at(0).owned);  // gone, not an emergency
  BOOST_TEST(rules.poll(t + 2h).empty());
  BOOST_TEST(!rules.next_deadline().has_value());
}

// A worker that owned nothing is reported after the same grace, as gone: the state machine must
// drop it from the live set, or the next round would give partitions to a dead worker.
BOOST_AUTO_TEST_CASE(a_worker_that_owned_nothing_is_gone_after_the_grace_not_an_emergency) {
  manual_clock clock;
  auto rules = rules_owned_by({"a"});
  auto t = clock.now();
  BOOST_TEST(rules.worker_expired("idle", t));
  BOOST_TEST(rules.poll(t + 1s - 1ns).empty());
  auto confirmed = rules.poll(t + 1s);
  BOOST_TEST(names(confirmed) == strings{"idle"}, boost::test_tools::per_element());
  BOOST_TEST(!confirmed.at(0).owned);
}

// A round that started while the worker still counted as live gives it partitions after it
// expired: once the assignment names it as an owner it is an emergency at once, whether its
// grace had ended (it was reported gone) or not (it is reported as an owner when it ends).
BOOST_AUTO_TEST_CASE(a_gone_worker_given_partitions_later_is_an_emergency_at_once) {
  manual_clock clock;
  auto rules = rules_owned_by({"a"});
  auto t = clock.now();
  rules.worker_expired("late", t);
  BOOST_TEST(!rules.poll(t + 1s).at(0).owned);
  rules.set_owners({"a", "late"});
  BOOST_TEST((rules.next_deadline() == t + 1s));
  auto confirmed = rules.poll(t + 1500ms);
  BOOST_TEST(names(confirmed) == strings{"late"}, boost::test_tools::per_element());
  BOOST_TEST(confirmed.at(0).owned);
  BOOST_TEST(rules.poll(t + 1h).empty());  // reported once as an owner
  rules.set_owners({"a", "late"});         // the same owners again: nothing new
  BOOST_TEST(rules.poll(t + 2h).empty());

  rules.worker_expired("soon", t + 2h);
  rules.set_owners({"a", "soon"});  // within its grace: an owner when the grace ends
  auto soon = rules.poll(t + 2h + 1s);
  BOOST_TEST(names(soon) == strings{"soon"}, boost::test_tools::per_element());
  BOOST_TEST(soon.at(0).owned);
}

BOOST_AUTO_TEST_CASE(a_gone_worker_that_returns_is_forgotten) {
  manual_clock clock;
  auto rules = rules_owned_by({});
  auto t = clock.now();
  rules.worker_expired("b", t);
  BOOST_TEST(rules.poll(t + 1s).size() == 1u);
  rules.worker_returned("b");
  rules.set_owners({"b"});  // given partitions after its return: nothing to confirm
  BOOST_TEST(rules.poll(t + 1h).empty());
  BOOST_TEST(rules.worker_expired("b", t + 1h));  // a new expiry starts a new grace
  BOOST_TEST((rules.next_deadline() == t + 1h + 1s));
}

BOOST_AUTO_TEST_CASE(two_owners_are_confirmed_each_on_its_own_grace) {
  manual_clock clock;
  auto rules = rules_owned_by({"a", "b"});
  auto t = clock.now();
  rules.worker_expired("a", t);
  rules.worker_expired("b", t + 500ms);
  BOOST_TEST(names(rules.poll(t + 1s)) == strings{"a"}, boost::test_tools::per_element());
  BOOST_TEST((rules.next_deadline() == t + 1500ms));
  BOOST_TEST(rules.poll(t + 1500ms - 1ns).empty());
  BOOST_TEST(names(rules.poll(t + 1500ms)) == strings{"b"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(all_owners_disappearing_at_once_are_all_confirmed_together) {
  manual_clock clock;
  auto rules = rules_owned_by({"a", "b", "c"});
  auto t = clock.now();
  for (auto w : {"c", "a", "b"}) BOOST_TEST(rules.worker_expired(w, t));
  BOOST_TEST(rules.pending() == (strings{"a", "b", "c"}), boost::test_tools::per_element());
  BOOST_TEST(names(rules.poll(t + 1s)) == (strings{"a", "b", "c"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(flapping_within_the_grace_is_never_confirmed) {
  manual_clock clock;
  auto rules = rules_owned_by({"a"});
  auto t = clock.now();
  rules.worker_expired("a", t);
  BOOST_TEST(rules.worker_returned("a"));  // at t + 0.5 s
  rules.worker_expired("a", t + 800ms);    // a new absence: a new grace, not the first one's
  BOOST_TEST(rules.poll(t + 1s).empty());  // the first grace would have ended here
  BOOST_TEST(rules.worker_returned("a"));  // at t + 1.2 s
  BOOST_TEST(rules.poll(t + 1h).empty());
}

BOOST_AUTO_TEST_CASE(flapping_that_finally_stays_gone_is_confirmed_from_its_last_expiry) {
  manual_clock clock;
  auto rules = rules_owned_by({"a"});
  auto t = clock.now();
  rules.worker_expired("a", t);
  rules.worker_returned("a");
  rules.worker_expired("a", t + 800ms);
  BOOST_TEST(rules.poll(t + 1800ms - 1ns).empty());
  auto confirmed = rules.poll(t + 1800ms);
  BOOST_TEST(names(confirmed) == strings{"a"}, boost::test_tools::per_element());
  BOOST_TEST((confirmed.at(0).expired_at == t + 800ms));
}

BOOST_AUTO_TEST_CASE(a_second_expiry_without_return_keeps_the_first_time) {
  manual_clock clock;
  auto rules = rules_owned_by({"a"});
  auto t = clock.now();
  BOOST_TEST(rules.worker_expired("a", t));
  BOOST_TEST(!rules.worker_expired("a", t + 900ms));
  BOOST_TEST(names(rules.poll(t + 1s)) == strings{"a"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(rejoin_before_confirmation_cancels_the_emergency) {
  manual_clock clock;
  auto rules = rules_owned_by({"a"});
  auto t = clock.now();
  rules.worker_expired("a", t);
  BOOST_TEST(rules.poll(t + 999ms).empty());
  BOOST_TEST(rules.worker_returned("a"));
  BOOST_TEST(rules.poll(t + 1h).empty());
  BOOST_TEST(!rules.next_deadline().has_value());
}

BOOST_AUTO_TEST_CASE(rejoin_after_confirmation_does_not_undo_it) {
  manual_clock clock;
  auto rules = rules_owned_by({"a"});
  auto t = clock.now();
  rules.worker_expired("a", t);
  BOOST_TEST(names(rules.poll(t + 1s)) == strings{"a"}, boost::test_tools::per_element());
  BOOST_TEST(!rules.worker_returned("a"));  // nothing pending to cancel: it is a plain join now
  BOOST_TEST(rules.poll(t + 1h).empty());
}

BOOST_AUTO_TEST_CASE(rapid_restarts_never_confirm_while_each_absence_is_short) {
  manual_clock clock;
  auto rules = rules_owned_by({"a"});
  for (int i = 0; i < 20; ++i) {
    rules.worker_expired("a", clock.now());
    clock.advance(300ms);
    BOOST_TEST(rules.poll(clock.now()).empty());
    BOOST_TEST(rules.worker_returned("a"));
    clock.advance(100ms);
  }
  // 8 s of flapping in total: far beyond one grace, yet never one absence as long as it.
  BOOST_TEST(rules.poll(clock.now() + 1h).empty());
}

BOOST_AUTO_TEST_CASE(flapping_workers_are_tracked_independently) {
  manual_clock clock;
  auto rules = rules_owned_by({"a", "b"});
  auto t = clock.now();
  rules.worker_expired("a", t);
  rules.worker_expired("b", t + 200ms);
  BOOST_TEST(rules.worker_returned("a"));  // cancels a only
  BOOST_TEST(rules.pending() == strings{"b"}, boost::test_tools::per_element());
  rules.worker_expired("a", t + 600ms);  // a flaps again: its own grace, from its own expiry
  BOOST_TEST(names(rules.poll(t + 1200ms)) == strings{"b"}, boost::test_tools::per_element());
  BOOST_TEST(rules.worker_returned("a"));
  BOOST_TEST(rules.poll(t + 1h).empty());
}

BOOST_AUTO_TEST_CASE(decided_by_identity_not_by_count) {
  manual_clock clock;
  auto rules = rules_owned_by({"a", "b"});
  auto t = clock.now();
  rules.worker_expired("a", t);
  // A new worker joins at the same time: the head count is unchanged, the emergency is not.
  BOOST_TEST(!rules.worker_returned("c"));
  BOOST_TEST(names(rules.poll(t + 1s)) == strings{"a"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_graceful_leave_drops_it_and_a_new_assignment_makes_it_only_gone) {
  manual_clock clock;
  auto rules = rules_owned_by({"a", "b", "c"});
  auto t = clock.now();
  rules.worker_expired("a", t);
  rules.worker_expired("b", t);
  BOOST_TEST(rules.worker_left("a"));  // handled as a drain by the state machine
  rules.set_owners({"c"});             // b's partitions were moved by a published assignment
  BOOST_TEST(rules.pending() == strings{"b"}, boost::test_tools::per_element());
  auto confirmed = rules.poll(t + 1h);
  BOOST_TEST(names(confirmed) == strings{"b"}, boost::test_tools::per_element());
  BOOST_TEST(!confirmed.at(0).owned);  // nothing left to rescue: it only leaves the live set
}
