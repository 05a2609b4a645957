#include <boost/test/unit_test.hpp>

#include <time.h>

#include <string>
#include <vector>

#include "parti/actors/node/ownership_lease.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

// The defaults: the horizon is 2.7 s after the send of the newest acknowledged heartbeat.
constexpr duration ttl = 3s;
constexpr duration margin = 300ms;
constexpr duration span = ttl - margin;

const std::string no_ack_for_2_7s = "suspended: no heartbeat acknowledged for 2.7s";
const std::string fenced = "suspended: heartbeat key rewritten by another writer";
const std::string claim_expired = "suspended: id claim may have expired";
const std::string resumed = "resumed: heartbeat acknowledged and assignment confirmed";

using events = std::vector<std::string>;

lease_options options(lease_policy policy = lease_policy::suspend) {
  lease_options o;
  o.ttl = ttl;
  o.margin = margin;
  o.policy = policy;
  return o;
}

/// "<kind>: <reason>" of each event, in order.
events describe(const std::vector<lease_event>& in) {
  events out;
  for (const auto& e : in) out.push_back(std::string(to_string(e.what)) + ": " + e.reason);
  return out;
}

events poll(ownership_lease& lease, const manual_clock& clock) {
  return describe(lease.poll(clock.now()));
}

/// A heartbeat sent now and acknowledged at once.
std::uint64_t beat(ownership_lease& lease, const manual_clock& clock) {
  const auto ticket = lease.sending(clock.now());
  lease.acknowledged(ticket, clock.now());
  return ticket;
}

/// Valid, then lapsed by a silent heartbeat TTL; the suspension already polled.
ownership_lease lapsed_lease(manual_clock& clock) {
  ownership_lease lease(options());
  beat(lease, clock);
  clock.advance(span);
  BOOST_REQUIRE(poll(lease, clock) == events{no_ack_for_2_7s});
  return lease;
}

}  // namespace

// -- fresh start --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_fresh_lease_serves_nothing_and_the_first_ack_makes_it_valid_silently) {
  manual_clock clock;
  ownership_lease lease(options());
  BOOST_TEST((lease.state() == lease_state::unheld));
  BOOST_TEST(!lease.may_serve(clock.now()));
  BOOST_TEST(!lease.horizon().has_value());
  BOOST_TEST(!lease.next_deadline().has_value());
  BOOST_TEST((lease.remaining(clock.now()) == 0s));
  BOOST_TEST(poll(lease, clock) == events{});

  const time_point sent_at = clock.now();
  const auto ticket = lease.sending(sent_at);
  clock.advance(100ms);
  BOOST_TEST(!lease.may_serve(clock.now()));  // sent is not acknowledged
  lease.acknowledged(ticket, clock.now());
  BOOST_TEST((lease.state() == lease_state::valid));
  BOOST_TEST(lease.may_serve(clock.now()));
  BOOST_TEST((lease.horizon() == sent_at + 3s - 300ms));
  BOOST_TEST((lease.next_deadline() == sent_at + 3s - 300ms));
  BOOST_TEST((lease.remaining(clock.now()) == 2600ms));
  BOOST_TEST(poll(lease, clock) == events{});  // nothing was suspended, so nothing resumes
  BOOST_TEST(lease.suspensions() == 0u);
  BOOST_TEST(!lease.needs_readback());
}

BOOST_AUTO_TEST_CASE(a_first_ack_whose_horizon_is_already_past_holds_nothing) {
  manual_clock clock;
  for (auto policy : {lease_policy::suspend, lease_policy::keep}) {
    ownership_lease lease(options(policy));
    const auto ticket = lease.sending(clock.now());
    clock.advance(span);  // e.g. the host was paused while the write was in flight
    lease.acknowledged(ticket, clock.now());
    BOOST_TEST((lease.state() == lease_state::unheld), to_string(policy));
    BOOST_TEST(!lease.may_serve(clock.now()), to_string(policy));
    BOOST_TEST(poll(lease, clock) == events{}, to_string(policy));
  }
}

BOOST_AUTO_TEST_CASE(acks_of_unknown_tickets_are_ignored) {
  manual_clock clock;
  ownership_lease lease(options());
  lease.acknowledged(0, clock.now());
  lease.acknowledged(1, clock.now());  // the first ticket, before it was handed out
  lease.acknowledged(42, clock.now());
  BOOST_TEST((lease.state() == lease_state::unheld));
  BOOST_TEST(!lease.horizon().has_value());
  const auto ticket = lease.sending(clock.now());
  lease.acknowledged(ticket + 1, clock.now());
  BOOST_TEST((lease.state() == lease_state::unheld));
}

// -- keeping it valid ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(regular_heartbeats_keep_it_valid) {
  manual_clock clock;
  ownership_lease lease(options());
  for (int i = 0; i < 20; ++i) {
    const time_point sent_at = clock.now();
    const auto ticket = lease.sending(sent_at);
    clock.advance(50ms);
    lease.acknowledged(ticket, clock.now());
    BOOST_TEST((lease.horizon() == sent_at + span));
    clock.advance(950ms);  // the next heartbeat is due
    BOOST_TEST(lease.may_serve(clock.now()));
    BOOST_TEST(poll(lease, clock) == events{});
    BOOST_TEST((lease.state() == lease_state::valid));
  }
  BOOST_TEST(lease.suspensions() == 0u);
}

BOOST_AUTO_TEST_CASE(the_horizon_counts_from_the_send_not_from_the_ack) {
  manual_clock clock;
  ownership_lease lease(options());
  const time_point t = clock.now();
  const auto ticket = lease.sending(t);
  clock.advance(900ms);  // a slow acknowledgement
  lease.acknowledged(ticket, clock.now());
  BOOST_TEST((lease.horizon() == t + span));
  BOOST_TEST((lease.remaining(clock.now()) == span - 900ms));

  clock.set(t + span - 1ns);
  BOOST_TEST(lease.may_serve(clock.now()));
  BOOST_TEST(poll(lease, clock) == events{});
  clock.set(t + span);  // exactly at the horizon: lapsed
  BOOST_TEST(!lease.may_serve(clock.now()));
  BOOST_TEST((lease.remaining(clock.now()) == 0s));
  BOOST_TEST(poll(lease, clock) == events{no_ack_for_2_7s});
  BOOST_TEST((lease.state() == lease_state::suspended));
}

BOOST_AUTO_TEST_CASE(a_clock_jump_suspends_once_and_stops_serving_before_any_poll) {
  manual_clock clock;
  ownership_lease lease(options());
  beat(lease, clock);
  clock.advance(10s);  // the process (or the host) was paused
  // A reader on another thread asks before the timer fired: the answer must already be no.
  BOOST_TEST(!lease.may_serve(clock.now()));
  BOOST_TEST((lease.remaining(clock.now()) == 0s));
  BOOST_TEST(poll(lease, clock) == events{"suspended: no heartbeat acknowledged for 10s"});
  BOOST_TEST(poll(lease, clock) == events{});
  clock.advance(10s);
  BOOST_TEST(poll(lease, clock) == events{});
  BOOST_TEST((lease.state() == lease_state::suspended));
  BOOST_TEST(!lease.next_deadline().has_value());
  BOOST_TEST(lease.suspensions() == 1u);
}

BOOST_AUTO_TEST_CASE(late_and_out_of_order_acks_never_shorten_the_horizon) {
  manual_clock clock;
  ownership_lease lease(options());
  const time_point t = clock.now();
  const auto first = lease.sending(t);
  clock.advance(1s);
  const auto second = lease.sending(clock.now());
  clock.advance(100ms);
  lease.acknowledged(second, clock.now());
  BOOST_TEST((lease.horizon() == t + 1s + span));
  clock.advance(100ms);
  lease.acknowledged(first, clock.now());  // older write, acknowledged last
  BOOST_TEST((lease.horizon() == t + 1s + span));
  BOOST_TEST((lease.next_deadline() == t + 1s + span));
  clock.set(t + span);  // the first write's horizon: the second one still holds
  BOOST_TEST(lease.may_serve(clock.now()));
  BOOST_TEST(poll(lease, clock) == events{});
  clock.set(t + 1s + span);  // the age is the newest write's, not the last acknowledged one's
  BOOST_TEST(poll(lease, clock) == events{no_ack_for_2_7s});
}

BOOST_AUTO_TEST_CASE(a_second_ack_of_the_same_ticket_is_ignored) {
  // Observable only when the ack would matter: suspended by the claim while the heartbeat
  // horizon is still ahead, then the claim renewed.
  manual_clock clock;
  ownership_lease lease(options());
  const time_point t = clock.now();
  lease.claim_safe_until(t + 1s);
  const auto ticket = beat(lease, clock);
  clock.advance(1s);
  BOOST_TEST(poll(lease, clock) == events{claim_expired});
  lease.claim_safe_until(t + 30s);
  lease.acknowledged(ticket, clock.now());  // again: its horizon t + 2.7 s is ahead
  BOOST_TEST((lease.state() == lease_state::suspended));
  BOOST_TEST(!lease.needs_readback());
  beat(lease, clock);  // a fresh write does count
  BOOST_TEST((lease.state() == lease_state::confirming));
}

BOOST_AUTO_TEST_CASE(a_failed_write_that_lands_later_does_not_extend) {
  manual_clock clock;
  ownership_lease lease(options());
  const time_point t = clock.now();
  beat(lease, clock);
  clock.advance(1s);
  const auto timed_out = lease.sending(clock.now());
  clock.advance(1s);
  lease.failed(timed_out, clock.now());
  BOOST_TEST((lease.horizon() == t + span));  // a failure does not shorten it either
  BOOST_TEST(lease.may_serve(clock.now()));
  clock.advance(500ms);
  lease.acknowledged(timed_out, clock.now());  // it landed after all
  BOOST_TEST((lease.horizon() == t + span));
  clock.set(t + span);
  BOOST_TEST(poll(lease, clock) == events{no_ack_for_2_7s});
}

BOOST_AUTO_TEST_CASE(failing_an_unknown_ticket_changes_nothing) {
  manual_clock clock;
  ownership_lease lease(options());
  const auto ticket = lease.sending(clock.now());
  lease.failed(ticket + 7, clock.now());
  lease.acknowledged(ticket, clock.now());
  BOOST_TEST((lease.state() == lease_state::valid));
}

// -- fencing ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_fence_suspends_at_once_and_only_a_later_write_re_establishes) {
  manual_clock clock;
  ownership_lease lease(options());
  beat(lease, clock);
  clock.advance(500ms);
  const auto before = lease.sending(clock.now());
  clock.advance(100ms);
  lease.fenced(clock.now());
  BOOST_TEST((lease.state() == lease_state::suspended));  // before any poll
  BOOST_TEST(!lease.may_serve(clock.now()));
  BOOST_TEST((lease.remaining(clock.now()) == 0s));
  BOOST_TEST((lease.horizon() == clock.now()));  // the lease ended now
  BOOST_TEST(!lease.next_deadline().has_value());
  BOOST_TEST(poll(lease, clock) == events{fenced});

  lease.acknowledged(before, clock.now());  // sent before the fence: proves nothing
  BOOST_TEST((lease.state() == lease_state::suspended));
  BOOST_TEST(!lease.needs_readback());

  clock.advance(100ms);
  const time_point after_at = clock.now();
  const auto after = lease.sending(after_at);
  clock.advance(100ms);
  lease.acknowledged(after, clock.now());
  BOOST_TEST((lease.state() == lease_state::confirming));
  BOOST_TEST(lease.needs_readback());
  BOOST_TEST(!lease.may_serve(clock.now()));
  BOOST_TEST((lease.remaining(clock.now()) == 0s));
  BOOST_TEST((lease.next_deadline() == after_at + span));
  BOOST_TEST(poll(lease, clock) == events{});

  lease.read_back(true, clock.now());  // the leader wrote a newer assignment: apply it first
  BOOST_TEST((lease.state() == lease_state::confirming));
  BOOST_TEST(!lease.may_serve(clock.now()));
  BOOST_TEST(poll(lease, clock) == events{});
  lease.read_back(true, clock.now());
  BOOST_TEST((lease.state() == lease_state::confirming));

  lease.read_back(false, clock.now());
  BOOST_TEST((lease.state() == lease_state::valid));
  BOOST_TEST(!lease.needs_readback());
  BOOST_TEST(lease.may_serve(clock.now()));
  BOOST_TEST(poll(lease, clock) == events{resumed});
  BOOST_TEST(poll(lease, clock) == events{});
  BOOST_TEST(lease.suspensions() == 1u);
}

BOOST_AUTO_TEST_CASE(a_fence_while_confirming_falls_back_silently) {
  manual_clock clock;
  ownership_lease lease(options());
  beat(lease, clock);
  lease.fenced(clock.now());
  BOOST_TEST(poll(lease, clock) == events{fenced});
  beat(lease, clock);
  BOOST_TEST((lease.state() == lease_state::confirming));
  lease.fenced(clock.now());  // fenced again before the read-back
  BOOST_TEST((lease.state() == lease_state::suspended));
  BOOST_TEST(poll(lease, clock) == events{});  // the application already sees it suspended
  BOOST_TEST(lease.suspensions() == 1u);
  lease.read_back(false, clock.now());  // the read started before the second fence
  BOOST_TEST((lease.state() == lease_state::suspended));
  BOOST_TEST(poll(lease, clock) == events{});
}

BOOST_AUTO_TEST_CASE(a_fence_before_the_first_ack_leaves_it_unheld_and_drops_earlier_writes) {
  manual_clock clock;
  ownership_lease lease(options());
  const auto before = lease.sending(clock.now());
  lease.fenced(clock.now());
  BOOST_TEST((lease.state() == lease_state::unheld));
  BOOST_TEST(poll(lease, clock) == events{});  // nothing was held, nothing is reported
  lease.acknowledged(before, clock.now());
  BOOST_TEST((lease.state() == lease_state::unheld));
  beat(lease, clock);
  BOOST_TEST((lease.state() == lease_state::valid));
}

// -- resuming after a lapse ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(resuming_needs_a_live_ack_after_the_lapse_and_a_read_back) {
  manual_clock clock;
  ownership_lease lease(options());
  const time_point t = clock.now();
  beat(lease, clock);
  clock.set(t + 2s);
  const auto old = lease.sending(clock.now());  // in flight across the lapse
  clock.set(t + span);
  BOOST_TEST(poll(lease, clock) == events{no_ack_for_2_7s});

  clock.set(t + 5s);  // past the old write's own horizon (t + 4.7 s)
  lease.acknowledged(old, clock.now());
  BOOST_TEST((lease.state() == lease_state::suspended));
  BOOST_TEST(!lease.needs_readback());
  BOOST_TEST(!lease.next_deadline().has_value());

  const time_point fresh_at = clock.now();
  beat(lease, clock);
  BOOST_TEST((lease.state() == lease_state::confirming));
  BOOST_TEST((lease.next_deadline() == fresh_at + span));
  BOOST_TEST(poll(lease, clock) == events{});

  // The read-back does not come in time: back to suspended, without a second report.
  clock.set(fresh_at + span);
  BOOST_TEST(poll(lease, clock) == events{});
  BOOST_TEST((lease.state() == lease_state::suspended));
  BOOST_TEST(!lease.needs_readback());
  BOOST_TEST(lease.suspensions() == 1u);
  lease.read_back(false, clock.now());  // the late answer is ignored
  BOOST_TEST((lease.state() == lease_state::suspended));
  BOOST_TEST(poll(lease, clock) == events{});

  beat(lease, clock);
  BOOST_TEST((lease.state() == lease_state::confirming));
  lease.read_back(false, clock.now());
  BOOST_TEST(lease.may_serve(clock.now()));
  BOOST_TEST(poll(lease, clock) == events{resumed});
  BOOST_TEST(lease.suspensions() == 1u);
}

BOOST_AUTO_TEST_CASE(a_write_sent_before_the_lapse_and_acknowledged_after_it_still_needs_the_read) {
  manual_clock clock;
  ownership_lease lease(options());
  const time_point t = clock.now();
  beat(lease, clock);
  clock.set(t + 2500ms);
  const auto slow = lease.sending(clock.now());
  clock.set(t + span);
  BOOST_TEST(poll(lease, clock) == events{no_ack_for_2_7s});
  clock.set(t + 3s);
  lease.acknowledged(slow, clock.now());  // its horizon t + 5.2 s is ahead
  BOOST_TEST((lease.state() == lease_state::confirming));
  BOOST_TEST(!lease.may_serve(clock.now()));
  BOOST_TEST((lease.horizon() == t + 2500ms + span));
}

BOOST_AUTO_TEST_CASE(an_ack_after_the_horizon_with_no_poll_between_still_suspends) {
  manual_clock clock;
  ownership_lease lease(options());
  const time_point t = clock.now();
  beat(lease, clock);
  clock.set(t + 2s);
  const auto late = lease.sending(clock.now());
  clock.set(t + 2800ms);  // the timer has not fired yet
  lease.acknowledged(late, clock.now());
  // The lease was not valid from t + 2.7 s to now: the leader may have moved on meanwhile.
  BOOST_TEST((lease.state() == lease_state::confirming));
  BOOST_TEST(!lease.may_serve(clock.now()));
  BOOST_TEST(poll(lease, clock) == events{"suspended: no heartbeat acknowledged for 2.8s"});
}

BOOST_AUTO_TEST_CASE(a_read_back_after_the_horizon_with_no_poll_between_does_not_resume) {
  manual_clock clock;
  auto lease = lapsed_lease(clock);
  const time_point fresh_at = clock.now();
  beat(lease, clock);
  BOOST_TEST((lease.state() == lease_state::confirming));
  clock.set(fresh_at + span);
  lease.read_back(false, clock.now());
  BOOST_TEST((lease.state() == lease_state::suspended));
  BOOST_TEST(!lease.may_serve(clock.now()));
  BOOST_TEST(poll(lease, clock) == events{});
}

BOOST_AUTO_TEST_CASE(read_back_is_ignored_unless_confirming) {
  manual_clock clock;
  ownership_lease lease(options());
  lease.read_back(false, clock.now());
  BOOST_TEST((lease.state() == lease_state::unheld));
  beat(lease, clock);
  lease.read_back(false, clock.now());
  BOOST_TEST(poll(lease, clock) == events{});  // no resumed without a suspension
  clock.advance(span);
  BOOST_TEST(poll(lease, clock) == events{no_ack_for_2_7s});
  lease.read_back(false, clock.now());
  BOOST_TEST((lease.state() == lease_state::suspended));
  BOOST_TEST(poll(lease, clock) == events{});
}

BOOST_AUTO_TEST_CASE(acks_while_confirming_extend_the_horizon) {
  manual_clock clock;
  auto lease = lapsed_lease(clock);
  beat(lease, clock);
  clock.advance(1s);
  const time_point second_at = clock.now();
  beat(lease, clock);
  BOOST_TEST((lease.state() == lease_state::confirming));  // still waiting for the read
  BOOST_TEST((lease.next_deadline() == second_at + span));
  lease.read_back(false, clock.now());
  BOOST_TEST((lease.remaining(clock.now()) == span));
}

// -- the claim and stopping on purpose ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_claim_caps_the_horizon) {
  manual_clock clock;
  ownership_lease lease(options());
  const time_point t = clock.now();
  lease.claim_safe_until(t + 1500ms);
  beat(lease, clock);
  BOOST_TEST((lease.horizon() == t + 1500ms));
  BOOST_TEST((lease.next_deadline() == t + 1500ms));
  BOOST_TEST((lease.remaining(clock.now()) == 1500ms));
  lease.claim_safe_until(t + 10s);  // renewed: the heartbeat horizon binds again
  BOOST_TEST((lease.next_deadline() == t + span));
  lease.claim_safe_until(t + 1500ms);
  clock.set(t + 1500ms - 1ns);
  BOOST_TEST(lease.may_serve(clock.now()));
  clock.set(t + 1500ms);
  BOOST_TEST(!lease.may_serve(clock.now()));
  BOOST_TEST(poll(lease, clock) == events{claim_expired});
}

BOOST_AUTO_TEST_CASE(a_claim_beyond_the_heartbeat_horizon_is_not_the_reason) {
  manual_clock clock;
  ownership_lease lease(options());
  lease.claim_safe_until(clock.now() + span + 1ns);
  beat(lease, clock);
  clock.advance(span);
  BOOST_TEST(poll(lease, clock) == events{no_ack_for_2_7s});
}

BOOST_AUTO_TEST_CASE(a_renewed_claim_alone_does_not_resume) {
  manual_clock clock;
  ownership_lease lease(options());
  const time_point t = clock.now();
  lease.claim_safe_until(t + 1s);
  beat(lease, clock);
  clock.set(t + 1s);
  BOOST_TEST(poll(lease, clock) == events{claim_expired});
  lease.claim_safe_until(t + 30s);  // the heartbeat horizon t + 2.7 s is ahead again
  BOOST_TEST((lease.state() == lease_state::suspended));
  BOOST_TEST(!lease.may_serve(clock.now()));
  BOOST_TEST(poll(lease, clock) == events{});
}

BOOST_AUTO_TEST_CASE(an_old_ack_is_judged_by_its_own_horizon_not_a_newer_one) {
  // Suspended by the claim while a newer write's horizon is still ahead: a late ack of an older
  // write, whose own horizon is past, says nothing about now and must not start the resume.
  manual_clock clock;
  ownership_lease lease(options());
  const time_point t = clock.now();
  lease.claim_safe_until(t + 1500ms);
  const auto older = lease.sending(t);
  clock.set(t + 1s);
  beat(lease, clock);  // horizon t + 3.7 s, capped at t + 1.5 s
  clock.set(t + 1500ms);
  BOOST_TEST(poll(lease, clock) == events{claim_expired});
  lease.claim_safe_until(t + 30s);
  clock.set(t + 3s);
  lease.acknowledged(older, clock.now());  // its own horizon t + 2.7 s is past
  BOOST_TEST((lease.state() == lease_state::suspended));
  BOOST_TEST(!lease.needs_readback());
}

BOOST_AUTO_TEST_CASE(an_ack_capped_into_the_past_by_the_claim_holds_nothing) {
  manual_clock clock;
  ownership_lease lease(options());
  lease.claim_safe_until(clock.now());
  beat(lease, clock);
  BOOST_TEST((lease.state() == lease_state::unheld));
  BOOST_TEST(!lease.may_serve(clock.now()));
}

BOOST_AUTO_TEST_CASE(stopping_on_purpose_names_the_reason_when_the_horizon_passes) {
  manual_clock clock;
  ownership_lease lease(options());
  const time_point t = clock.now();
  beat(lease, clock);
  clock.advance(500ms);
  const auto in_flight = lease.sending(clock.now());
  lease.stop_extending("revocation not acknowledged");
  BOOST_TEST(lease.may_serve(clock.now()));  // it runs out, it does not end
  clock.advance(500ms);
  lease.acknowledged(in_flight, clock.now());  // the leader saw it: it still counts
  BOOST_TEST((lease.horizon() == t + 500ms + span));
  clock.set(t + 500ms + span);
  BOOST_TEST(poll(lease, clock) ==
             events{"suspended: stopped heartbeating: revocation not acknowledged"});

  // Heartbeating again ends it: the next lapse has the ordinary reason.
  beat(lease, clock);
  lease.read_back(false, clock.now());
  BOOST_TEST(poll(lease, clock) == events{resumed});
  clock.advance(span);
  BOOST_TEST(poll(lease, clock) == events{no_ack_for_2_7s});
}

// -- policy keep --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(policy_keep_serves_once_held_and_never_reports) {
  manual_clock clock;
  ownership_lease lease(options(lease_policy::keep));
  BOOST_TEST(!lease.may_serve(clock.now()));  // nothing to serve before the first ack
  beat(lease, clock);
  BOOST_TEST(lease.may_serve(clock.now()));
  clock.advance(10s);
  BOOST_TEST(lease.may_serve(clock.now()));
  BOOST_TEST(poll(lease, clock) == events{});
  BOOST_TEST((lease.state() == lease_state::suspended));  // tracked all the same
  BOOST_TEST(lease.suspensions() == 1u);

  beat(lease, clock);
  BOOST_TEST((lease.state() == lease_state::confirming));
  lease.read_back(false, clock.now());
  BOOST_TEST((lease.state() == lease_state::valid));
  BOOST_TEST(poll(lease, clock) == events{});

  lease.fenced(clock.now());
  BOOST_TEST(lease.may_serve(clock.now()));
  BOOST_TEST(poll(lease, clock) == events{});
  BOOST_TEST(lease.suspensions() == 2u);
}

// -- counting -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(suspensions_count_each_valid_to_suspended_transition) {
  manual_clock clock;
  auto lease = lapsed_lease(clock);  // 1: lapse
  BOOST_TEST(lease.suspensions() == 1u);

  beat(lease, clock);
  lease.read_back(false, clock.now());
  BOOST_TEST(poll(lease, clock) == events{resumed});
  lease.fenced(clock.now());  // 2: fence
  BOOST_TEST(poll(lease, clock) == events{fenced});
  BOOST_TEST(lease.suspensions() == 2u);

  beat(lease, clock);  // confirming, then its horizon passes: not a new suspension
  clock.advance(span);
  BOOST_TEST(poll(lease, clock) == events{});
  BOOST_TEST(lease.suspensions() == 2u);

  beat(lease, clock);
  lease.read_back(false, clock.now());
  clock.advance(span);  // 3: lapse again
  BOOST_TEST(poll(lease, clock) == (events{resumed, no_ack_for_2_7s}));
  BOOST_TEST(lease.suspensions() == 3u);
}

// -- settings -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(options_validation_names_the_field_and_the_rule) {
  BOOST_TEST(lease_options{}.validate().ok());
  BOOST_TEST((lease_options{}.ttl == 3s));
  BOOST_TEST((lease_options{}.margin == 300ms));
  BOOST_TEST((lease_options{}.policy == lease_policy::suspend));

  lease_options o;
  o.ttl = 0s;
  BOOST_TEST(o.validate().error() == "lease: ttl must be greater than 0 (is 0s)");
  o.ttl = -1s;
  BOOST_TEST(!o.validate().ok());

  o = lease_options{};
  o.margin = -1ms;
  BOOST_TEST(o.validate().error() == "lease: margin must not be negative (is -1ms)");
  o.margin = 0s;
  BOOST_TEST(o.validate().ok());

  o.margin = 3s;  // equal to the TTL
  BOOST_TEST(o.validate().error().rfind("lease: margin (3s) must be below ttl (3s)", 0) == 0u);
  o.margin = 3s - 1ns;
  BOOST_TEST(o.validate().ok());
}

BOOST_AUTO_TEST_CASE(names_of_policies_states_and_events) {
  BOOST_TEST((parse_lease_loss_policy("suspend").value() == lease_policy::suspend));
  BOOST_TEST((parse_lease_loss_policy("keep").value() == lease_policy::keep));
  for (const char* bad : {"", "Keep", "SUSPEND", "keep ", "serve"})
    BOOST_TEST(!parse_lease_loss_policy(bad).ok(), bad);
  for (auto p : {lease_policy::suspend, lease_policy::keep})
    BOOST_TEST((parse_lease_loss_policy(to_string(p)).value() == p));
  BOOST_TEST(std::string(to_string(lease_state::unheld)) == "unheld");
  BOOST_TEST(std::string(to_string(lease_state::valid)) == "valid");
  BOOST_TEST(std::string(to_string(lease_state::suspended)) == "suspended");
  BOOST_TEST(std::string(to_string(lease_state::confirming)) == "confirming");
}

// -- the boot clock -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_boot_clock_reads_clock_boottime_in_nanoseconds) {
  // Bracketed by raw reads of CLOCK_BOOTTIME: catches another clock id and a wrong conversion.
  const auto raw = [] {
    timespec ts{};
    BOOST_REQUIRE(::clock_gettime(CLOCK_BOOTTIME, &ts) == 0);
    return std::chrono::nanoseconds(std::chrono::seconds(ts.tv_sec)) +
           std::chrono::nanoseconds(ts.tv_nsec);
  };
  const auto before = raw();
  const boot_clock_source boot;
  const time_point first = boot.now();
  const time_point second = boot_now();
  const auto after = raw();
  BOOST_TEST(before.count() <= first.time_since_epoch().count());
  BOOST_TEST(first.time_since_epoch().count() <= second.time_since_epoch().count());
  BOOST_TEST(second.time_since_epoch().count() <= after.count());
}
