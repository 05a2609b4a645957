#include <boost/test/unit_test.hpp>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "parti/actors/partition_reader/reader_rules.hpp"
#include "parti/runtime/config.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

// Small numbers that are easy to follow: pulls of 10 messages that expire after 20 s (given up
// 1 s later), messages valid for 9 s after their pull (ack_wait 10 s - margin 1 s), handlers
// timed out after 5 s.
reader_settings test_settings() {
  reader_settings s;
  s.pull_batch = 10;
  s.pull_expiry = 20s;
  s.pull_grace = 1s;
  s.min_pull_expiry = 100ms;
  s.lease_margin_for_pull = 200ms;
  s.ack_wait = 10s;
  s.ack_margin = 1s;
  s.handler_timeout = 5s;
  s.release_timeout = 2s;
  s.in_flight = 1;
  s.max_deliver = 3;
  s.dead_letter = false;
  s.max_lost_pulls = 3;
  return s;
}

const char* note_name(reader_note::kind k) {
  switch (k) {
    case reader_note::kind::handled:
      return "handled";
    case reader_note::kind::handler_failed:
      return "failed";
    case reader_note::kind::late_arrival:
      return "late";
    case reader_note::kind::lost_pull:
      return "lost";
    case reader_note::kind::redelivered:
      return "redelivered";
    case reader_note::kind::exhausted:
      return "exhausted";
  }
  return "?";
}

std::string show(const reader_output& o) {
  struct visitor {
    std::string operator()(const send_pull& x) const {
      return "pull " + std::to_string(x.pull_id) + " x" + std::to_string(x.batch) + " " +
             format_duration(x.expires);
    }
    std::string operator()(const run_handler& x) const { return "run " + std::to_string(x.id); }
    std::string operator()(const settle_message& x) const {
      std::string text = std::string(to_string(x.verdict)) + " " + std::to_string(x.id);
      if (x.delay != duration::zero()) text += " " + format_duration(x.delay);
      return text;
    }
    std::string operator()(const confirm_progress& x) const {
      return "progress " + std::to_string(x.id);
    }
    std::string operator()(const dead_letter_message& x) const {
      return "dead-letter " + std::to_string(x.id);
    }
    std::string operator()(const reader_note& x) const {
      return std::string("note ") + note_name(x.what) + " " + std::to_string(x.id);
    }
    std::string operator()(const reader_released&) const { return "released"; }
    std::string operator()(const reader_failed& x) const { return "failed: " + x.reason; }
  };
  return std::visit(visitor{}, o);
}

// The outputs as one line: "pull 1 x10 20s; run 7; ack 7".
std::string show(const std::vector<reader_output>& out) {
  std::string text;
  for (const auto& o : out) {
    if (!text.empty()) text += "; ";
    text += show(o);
  }
  return text;
}

template <class T>
std::vector<T> only(const std::vector<reader_output>& out) {
  std::vector<T> found;
  for (const auto& o : out)
    if (const auto* x = std::get_if<T>(&o)) found.push_back(*x);
  return found;
}

// The outputs of one kind, still as outputs (for show()).
template <class T>
std::vector<reader_output> of_kind(const std::vector<reader_output>& out) {
  std::vector<reader_output> found;
  for (const auto& o : out)
    if (std::holds_alternative<T>(o)) found.push_back(o);
  return found;
}

// One reader and its time. Time starts at 1 h on the boot clock.
struct reader {
  explicit reader(reader_settings s = test_settings()) : rules(s) {}

  reader_rules rules;
  time_point now = time_point{} + 1h;

  std::string poll() { return show(rules.poll(now)); }
  std::vector<reader_output> poll_raw() { return rules.poll(now); }
  void advance(duration d) { now += d; }

  /// Started with a lease of `lease` from now: the first pull goes out.
  std::string start(duration lease = 60s) {
    rules.lease(now + lease);
    rules.start(now);
    return poll();
  }
  void arrive(std::uint64_t pull_id, std::uint64_t id, std::uint64_t delivery_count = 1) {
    rules.arrived(pull_id, id, delivery_count, now);
  }
  void answer(std::uint64_t id, consume_reply reply = ack_reply()) {
    rules.handler_done(id, true, reply, now);
  }
  duration until_deadline() const {
    auto d = rules.next_deadline();
    BOOST_REQUIRE(d.has_value());
    return *d - now;
  }
};

}  // namespace

// -- pulling ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(pulls_only_once_started_with_a_valid_lease) {
  reader r;
  BOOST_TEST(r.poll() == "");
  r.rules.lease(r.now + 60s);
  BOOST_TEST(r.poll() == "");  // not started
  BOOST_TEST(!r.rules.serving(r.now));
  r.rules.start(r.now);
  BOOST_TEST(r.rules.serving(r.now));
  BOOST_TEST(r.poll() == "pull 1 x10 20s");
  BOOST_TEST(r.poll() == "");  // one pull at a time
  // Nothing happens before the pull is given up (expiry + grace).
  BOOST_TEST((r.until_deadline() == 21s));
}

BOOST_AUTO_TEST_CASE(a_started_reader_without_a_lease_does_not_pull) {
  reader r;
  r.rules.start(r.now);
  BOOST_TEST(r.poll() == "");
  BOOST_TEST(!r.rules.next_deadline().has_value());
  r.rules.lease(r.now + 60s);
  BOOST_TEST(r.poll() == "pull 1 x10 20s");
}

BOOST_AUTO_TEST_CASE(a_pull_ends_before_the_lease_does) {
  reader r;
  // 1 s of lease left: the pull gets 1 s - 200 ms.
  BOOST_TEST(r.start(1s) == "pull 1 x10 800ms");
}

BOOST_AUTO_TEST_CASE(no_pull_below_the_shortest_expiry_and_no_spinning_meanwhile) {
  reader r;
  // 299 ms of lease: 99 ms left for a pull, below the 100 ms minimum.
  BOOST_TEST(r.start(299ms) == "");
  BOOST_TEST((r.until_deadline() == 299ms));  // the lease's end, not now
  r.advance(299ms);
  BOOST_TEST(r.poll() == "");  // the lapse: nothing to drop
  BOOST_TEST(!r.rules.next_deadline().has_value());
  // 300 ms of lease: exactly the minimum.
  r.rules.lease(r.now + 300ms);
  BOOST_TEST(r.poll() == "pull 1 x10 100ms");
}

BOOST_AUTO_TEST_CASE(the_next_pull_goes_out_when_the_last_one_ended) {
  reader r;
  r.start();
  for (int code : {408, 404, 0}) {
    const auto id = static_cast<std::uint64_t>(code == 408 ? 1 : code == 404 ? 2 : 3);
    r.rules.pull_ended(id, code, "");
    BOOST_TEST(r.poll() == "pull " + std::to_string(id + 1) + " x10 20s");
  }
  r.rules.pull_ended(4, 100, "Idle Heartbeat");  // a heartbeat ends nothing
  BOOST_TEST(r.poll() == "");
  r.rules.pull_ended(3, 408, "");  // an old pull's status changes nothing
  BOOST_TEST(r.poll() == "");
}

BOOST_AUTO_TEST_CASE(a_complete_batch_ends_the_pull_and_the_next_waits_for_an_empty_queue) {
  auto s = test_settings();
  s.pull_batch = 2;
  reader r(s);
  BOOST_TEST(r.start() == "pull 1 x2 20s");
  r.arrive(1, 11);
  r.arrive(1, 12);
  BOOST_TEST(r.poll() == "run 11");  // 12 queued: no pull yet
  r.answer(11);
  BOOST_TEST(r.poll() == "note handled 11; ack 11; run 12; pull 2 x2 20s");
}

// -- order and concurrency --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(in_flight_1_handles_in_arrival_order_one_at_a_time) {
  reader r;
  r.start();
  r.arrive(1, 13);
  r.arrive(1, 11);
  r.arrive(1, 12);
  BOOST_TEST(r.poll() == "run 13");
  BOOST_TEST(r.rules.running() == 1u);
  BOOST_TEST(r.rules.queued() == 2u);
  r.answer(13);
  BOOST_TEST(r.poll() == "note handled 13; ack 13; run 11");
  r.answer(11, nak_reply(1'000'000));
  BOOST_TEST(r.poll() == "note handled 11; nak 11 1ms; run 12");
  r.answer(12, consume_reply{consume_verdict::term, 0});
  BOOST_TEST(r.poll() == "note handled 12; term 12");
  BOOST_TEST(r.rules.running() == 0u);
}

BOOST_AUTO_TEST_CASE(in_flight_3_runs_three_at_once) {
  auto s = test_settings();
  s.in_flight = 3;
  reader r(s);
  r.start();
  for (std::uint64_t id = 1; id <= 5; ++id) r.arrive(1, id);
  BOOST_TEST(r.poll() == "run 1; run 2; run 3");
  r.answer(2);
  BOOST_TEST(r.poll() == "note handled 2; ack 2; run 4");
  r.answer(1);
  r.answer(3);
  BOOST_TEST(r.poll() == "note handled 1; ack 1; note handled 3; ack 3; run 5");
  BOOST_TEST(r.rules.running() == 2u);
}

BOOST_AUTO_TEST_CASE(a_handler_may_act_until_the_earlier_of_lease_and_deadline) {
  reader r;
  const auto pulled_at = r.now;
  r.start(60s);
  r.arrive(1, 7);
  auto out = r.poll_raw();
  auto runs = only<run_handler>(out);
  BOOST_REQUIRE(runs.size() == 1u);
  BOOST_TEST((runs[0].valid_until == pulled_at + 9s));  // the deadline: 10 s - 1 s
  BOOST_TEST((*r.rules.message_deadline(7) == pulled_at + 9s));
  r.answer(7);
  r.poll();

  reader short_lease;
  short_lease.start(3s);
  short_lease.arrive(1, 8);
  runs = only<run_handler>(short_lease.poll_raw());
  BOOST_REQUIRE(runs.size() == 1u);
  BOOST_TEST((runs[0].valid_until == short_lease.now + 3s));  // the lease
}

// -- deadlines --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_message_arriving_past_its_deadline_is_nakked_not_handled) {
  reader r;
  r.start();
  r.advance(9s);  // the pull's time + 10 s - 1 s
  r.arrive(1, 5);
  BOOST_TEST(r.poll() == "note late 5; nak 5");
  BOOST_TEST(r.rules.queued() == 0u);
}

BOOST_AUTO_TEST_CASE(a_queued_message_whose_deadline_passes_is_nakked) {
  auto s = test_settings();
  s.handler_timeout = 20s;  // the first handler outlives the second's deadline
  reader r(s);
  r.start();
  r.arrive(1, 1);
  r.arrive(1, 2);
  BOOST_TEST(r.poll() == "run 1");
  BOOST_TEST((r.until_deadline() == 9s));  // 2's deadline
  r.advance(9s);
  BOOST_TEST(r.poll() == "note late 2; nak 2");
  r.answer(1);
  BOOST_TEST(r.poll() == "note handled 1; ack 1");
}

BOOST_AUTO_TEST_CASE(messages_of_unknown_pulls_or_before_start_are_nakked) {
  reader r;
  r.arrive(1, 3);  // not started
  BOOST_TEST(r.poll() == "note late 3; nak 3");
  r.start();
  r.arrive(7, 4);  // no such pull
  BOOST_TEST(r.poll() == "note late 4; nak 4");
  r.arrive(1, 5, 2);  // a redelivery of the open pull: handled
  BOOST_TEST(r.poll() == "note redelivered 5; run 5");
}

// -- handler failures ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_handler_past_its_timeout_counts_as_a_nak_and_its_late_answer_is_ignored) {
  reader r;
  r.start();
  r.arrive(1, 1);
  r.arrive(1, 2);
  BOOST_TEST(r.poll() == "run 1");
  r.rules.pull_ended(1, 408, "Request Timeout");
  BOOST_TEST(r.poll() == "");              // 2 is queued: no pull
  BOOST_TEST((r.until_deadline() == 5s));  // the handler's timeout
  r.advance(5s - 1ns);
  BOOST_TEST(r.poll() == "");
  r.advance(1ns);
  // The slot is free, and with the queue empty the next pull goes out.
  BOOST_TEST(r.poll() == "note failed 1; nak 1; run 2; pull 2 x10 20s");
  r.answer(1);  // too late
  BOOST_TEST(r.poll() == "");
  r.answer(2);
  BOOST_TEST(r.poll() == "note handled 2; ack 2");
}

BOOST_AUTO_TEST_CASE(a_failed_handler_is_a_nak_without_delay) {
  reader r;
  r.start();
  r.arrive(1, 1);
  r.poll();
  r.rules.handler_done(1, false, nak_reply(5'000'000'000), r.now);
  BOOST_TEST(r.poll() == "note failed 1; nak 1");
}

BOOST_AUTO_TEST_CASE(the_last_delivery_is_dead_lettered_then_terminated) {
  auto s = test_settings();
  s.dead_letter = true;
  reader r(s);
  r.start();
  r.arrive(1, 1, 3);  // the third of at most 3 deliveries
  r.arrive(1, 2, 2);
  BOOST_TEST(r.poll() == "note redelivered 1; note redelivered 2; run 1");
  r.answer(1, nak_reply(1'000'000));
  BOOST_TEST(r.poll() == "note handled 1; dead-letter 1");
  BOOST_TEST(r.rules.running() == 1u);  // 2 waits: the slot is 1's until it is settled
  r.rules.dead_lettered(1, true);
  BOOST_TEST(r.poll() == "term 1; run 2");
  r.answer(2, nak_reply(1'000'000));  // not the last delivery: a plain nak
  BOOST_TEST(r.poll() == "note handled 2; nak 2 1ms");
}

BOOST_AUTO_TEST_CASE(a_failed_dead_letter_publish_naks_the_message) {
  auto s = test_settings();
  s.dead_letter = true;
  reader r(s);
  r.start();
  r.arrive(1, 1, 5);  // past max_deliver counts as last too
  r.poll();
  r.advance(5s);  // timed out: a failure like any other
  BOOST_TEST(r.poll() == "note failed 1; dead-letter 1");
  r.rules.dead_lettered(1, false);
  BOOST_TEST(r.poll() == "note exhausted 1; nak 1");  // the server will not deliver it again
  r.rules.dead_lettered(1, true);                     // no longer known
  BOOST_TEST(r.poll() == "");
}

BOOST_AUTO_TEST_CASE(without_a_dead_letter_subject_the_last_delivery_is_nakked_as_exhausted) {
  reader r;
  r.start();
  r.arrive(1, 1, 3);
  r.poll();
  r.answer(1, nak_reply());
  BOOST_TEST(r.poll() == "note handled 1; note exhausted 1; nak 1");
}

// -- the last delivery of a message that cannot be handled --------------------------------------

BOOST_AUTO_TEST_CASE(a_late_arrival_on_its_last_delivery_is_dead_lettered_without_a_slot) {
  auto s = test_settings();
  s.dead_letter = true;
  reader r(s);
  r.start();
  r.arrive(1, 1);
  BOOST_TEST(r.poll() == "run 1");
  r.arrive(7, 2, 3);  // of no open pull, on the third of 3 deliveries
  r.arrive(7, 3, 2);  // not the last: a plain nak
  BOOST_TEST(r.poll() ==
             "note redelivered 2; note late 2; dead-letter 2; note redelivered 3; note late 3; "
             "nak 3");
  BOOST_TEST(r.rules.running() == 1u);  // the dead letter holds no handler slot
  auto out = r.rules.poll(r.now);
  BOOST_TEST(out.empty());
  r.rules.dead_lettered(2, true);
  BOOST_TEST(r.poll() == "term 2");
}

BOOST_AUTO_TEST_CASE(the_dead_letter_reason_says_why_the_message_was_given_up) {
  auto s = test_settings();
  s.dead_letter = true;
  reader r(s);
  r.start();
  r.arrive(7, 1, 3);
  auto late = only<dead_letter_message>(r.poll_raw());
  BOOST_REQUIRE(late.size() == 1u);
  BOOST_TEST(late[0].reason.find("not handled on its last delivery") == 0u, late[0].reason);
  r.arrive(1, 2, 3);
  r.poll();
  r.answer(2, nak_reply());
  auto naked = only<dead_letter_message>(r.poll_raw());
  BOOST_REQUIRE(naked.size() == 1u);
  BOOST_TEST(naked[0].reason == "the handler answered nak");
}

BOOST_AUTO_TEST_CASE(a_lapse_dead_letters_the_queued_last_deliveries_and_naks_the_others) {
  auto s = test_settings();
  s.dead_letter = true;
  reader r(s);
  r.start();
  r.arrive(1, 1);
  r.arrive(1, 2, 3);
  r.arrive(1, 3, 1);
  BOOST_TEST(r.poll() == "note redelivered 2; run 1");
  r.rules.lease(std::nullopt);
  BOOST_TEST(r.poll() == "dead-letter 2; nak 3");
  r.rules.dead_lettered(2, true);
  BOOST_TEST(r.poll() == "term 2");
  r.answer(1);
  BOOST_TEST(r.poll() == "note handled 1; ack 1");
}

BOOST_AUTO_TEST_CASE(without_a_dead_letter_subject_an_unhandled_last_delivery_is_exhausted) {
  reader r;
  r.start();
  r.arrive(7, 1, 3);  // late
  BOOST_TEST(r.poll() == "note redelivered 1; note late 1; note exhausted 1; nak 1");
  r.arrive(1, 2);
  r.arrive(1, 3, 4);  // past max_deliver counts as last too
  r.poll();           // run 2
  r.rules.release(r.now);
  BOOST_TEST(r.poll() == "note exhausted 3; nak 3");
}

BOOST_AUTO_TEST_CASE(a_release_dead_letters_a_last_delivery_and_waits_for_it) {
  auto s = test_settings();
  s.dead_letter = true;
  reader r(s);
  r.start();
  r.arrive(1, 1);
  r.arrive(1, 2, 3);
  r.rules.pull_ended(1, 408, "");
  BOOST_TEST(r.poll() == "note redelivered 2; run 1");
  r.rules.release(r.now);
  BOOST_TEST(r.poll() == "dead-letter 2");
  r.answer(1);
  BOOST_TEST(r.poll() == "note handled 1; ack 1");  // the dead letter is still out
  BOOST_TEST(!r.rules.finished());
  r.rules.dead_lettered(2, true);
  BOOST_TEST(r.poll() == "term 2; released");
}

BOOST_AUTO_TEST_CASE(in_progress_on_the_last_delivery_while_not_serving_is_dead_lettered) {
  auto s = test_settings();
  s.dead_letter = true;
  reader r(s);
  r.start();
  r.arrive(1, 1, 3);
  r.rules.pull_ended(1, 408, "");
  r.poll();
  r.rules.pull_ended(2, 408, "");
  r.rules.release(r.now);
  r.answer(1, consume_reply{consume_verdict::in_progress, 0});
  BOOST_TEST(r.poll() == "note handled 1; dead-letter 1");
  r.rules.dead_lettered(1, true);
  BOOST_TEST(r.poll() == "term 1; released");
}

BOOST_AUTO_TEST_CASE(an_unlimited_max_deliver_never_dead_letters) {
  auto s = test_settings();
  s.dead_letter = true;
  s.max_deliver = -1;
  reader r(s);
  r.start();
  r.arrive(7, 1, 1000);  // late
  BOOST_TEST(r.poll() == "note redelivered 1; note late 1; nak 1");
  r.arrive(1, 2, 1000);
  r.poll();
  r.answer(2, nak_reply());
  BOOST_TEST(r.poll() == "note handled 2; nak 2");
}

// -- in progress ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(in_progress_is_confirmed_then_moves_the_deadline_and_reruns_the_handler) {
  reader r;
  const auto pulled_at = r.now;
  r.start();
  r.arrive(1, 1);
  r.arrive(1, 2);
  r.rules.pull_ended(1, 408, "");
  r.poll();
  r.advance(4s);
  const auto answered_at = r.now;
  r.answer(1, consume_reply{consume_verdict::in_progress, 1'000'000'000});
  BOOST_TEST(r.poll() == "note handled 1; progress 1");
  BOOST_TEST(r.rules.running() == 1u);  // 2 does not overtake 1
  r.advance(2s);
  BOOST_TEST(r.poll() == "");  // not confirmed yet: no re-run
  r.rules.progress_confirmed(1, answered_at);
  BOOST_TEST((*r.rules.message_deadline(1) == answered_at + 9s));
  BOOST_TEST((*r.rules.message_deadline(1) > pulled_at + 9s));
  auto out = r.poll_raw();  // the delay (1 s after the answer) has passed
  BOOST_TEST(show(out) == "run 1");
  BOOST_REQUIRE(only<run_handler>(out).size() == 1u);
  BOOST_TEST((only<run_handler>(out)[0].valid_until == answered_at + 9s));
  r.answer(1);
  BOOST_TEST(r.poll() == "note handled 1; ack 1; run 2; pull 2 x10 20s");
}

BOOST_AUTO_TEST_CASE(an_in_progress_rerun_waits_for_its_delay) {
  reader r;
  r.start();
  r.arrive(1, 1);
  r.rules.pull_ended(1, 408, "");
  BOOST_TEST(r.poll() == "run 1; pull 2 x10 20s");
  const auto answered_at = r.now;
  r.answer(1, consume_reply{consume_verdict::in_progress, 3'000'000'000});
  BOOST_TEST(r.poll() == "note handled 1; progress 1");
  r.rules.progress_confirmed(1, answered_at);
  BOOST_TEST(r.poll() == "");
  BOOST_TEST((r.until_deadline() == 3s));  // the re-run
  r.advance(3s - 1ns);
  BOOST_TEST(r.poll() == "");
  r.advance(1ns);
  BOOST_TEST(r.poll() == "run 1");
}

BOOST_AUTO_TEST_CASE(a_failed_progress_confirmation_is_a_nak) {
  reader r;
  r.start();
  r.arrive(1, 1);
  r.poll();
  r.answer(1, consume_reply{consume_verdict::in_progress, 0});
  BOOST_TEST(r.poll() == "note handled 1; progress 1");
  r.rules.progress_failed(1);
  BOOST_TEST(r.poll() == "nak 1");
}

BOOST_AUTO_TEST_CASE(automatic_progress_keeps_a_long_handler_s_message_alive) {
  auto s = test_settings();
  s.progress_interval = 2s;
  s.handler_timeout = 30s;
  reader r(s);
  const auto pulled_at = r.now;
  r.start();
  r.arrive(1, 1);
  r.rules.pull_ended(1, 408, "");
  BOOST_TEST(r.poll() == "run 1; pull 2 x10 20s");
  r.rules.pull_ended(2, 408, "");
  r.poll();  // pull 3
  BOOST_TEST((r.until_deadline() == 2s));
  r.advance(2s);
  const auto first = r.now;
  BOOST_TEST(show(of_kind<confirm_progress>(r.poll_raw())) == "progress 1");
  r.advance(3s);  // unconfirmed: no second one meanwhile
  BOOST_TEST(only<confirm_progress>(r.poll_raw()).empty());
  r.rules.progress_confirmed(1, first);
  BOOST_TEST((*r.rules.message_deadline(1) == first + 9s));
  BOOST_TEST((*r.rules.message_deadline(1) > pulled_at + 9s));
  // The next one is due 2 s after the confirmed one: already.
  const auto second = r.now;
  BOOST_TEST(show(of_kind<confirm_progress>(r.poll_raw())) == "progress 1");
  r.rules.progress_failed(1);  // tried again an interval later, the handler keeps running
  BOOST_TEST(only<confirm_progress>(r.poll_raw()).empty());
  BOOST_TEST(r.rules.running() == 1u);
  r.advance(second + 2s - r.now);
  BOOST_TEST(show(of_kind<confirm_progress>(r.poll_raw())) == "progress 1");
  r.answer(1);
  BOOST_TEST(show(of_kind<settle_message>(r.poll_raw())) == "ack 1");
  r.rules.progress_confirmed(1, r.now);  // the settled message's late confirmation
  BOOST_TEST(only<settle_message>(r.poll_raw()).empty());
}

// -- lease lapse (suspension) -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_lapsed_lease_stops_pulls_naks_the_queue_and_resumes_after) {
  reader r;
  r.start();
  r.arrive(1, 1);
  r.arrive(1, 2);
  r.arrive(1, 3);
  BOOST_TEST(r.poll() == "run 1");
  r.rules.lease(std::nullopt);
  BOOST_TEST(!r.rules.serving(r.now));
  BOOST_TEST(r.poll() == "nak 2; nak 3");
  r.arrive(1, 4);  // still coming from the open pull
  BOOST_TEST(r.poll() == "note late 4; nak 4");
  r.answer(1);  // the running handler goes on and settles
  BOOST_TEST(r.poll() == "note handled 1; ack 1");
  r.rules.pull_ended(1, 408, "");
  BOOST_TEST(r.poll() == "");  // no pull while suspended
  BOOST_TEST(!r.rules.next_deadline().has_value());
  r.rules.lease(r.now + 60s);
  BOOST_TEST(r.poll() == "pull 2 x10 20s");
  r.arrive(2, 5);
  BOOST_TEST(r.poll() == "run 5");
}

BOOST_AUTO_TEST_CASE(a_lease_running_out_is_a_lapse_too) {
  reader r;
  BOOST_TEST(r.start(5s) == "pull 1 x10 4.8s");
  r.arrive(1, 1);
  r.arrive(1, 2);
  r.poll();
  r.rules.pull_ended(1, 408, "");
  BOOST_TEST(r.poll() == "");              // 2 is queued: no pull
  BOOST_TEST((r.until_deadline() == 5s));  // the handler's timeout and the lease's end
  r.advance(5s);
  BOOST_TEST(r.poll() == "note failed 1; nak 1; nak 2");
  BOOST_TEST(!r.rules.next_deadline().has_value());  // no spinning on the lapsed lease
}

BOOST_AUTO_TEST_CASE(resuming_waits_for_the_open_pull_to_end_or_expire) {
  reader r;
  r.start();
  r.rules.lease(std::nullopt);
  r.poll();
  r.rules.lease(r.now + 60s);
  BOOST_TEST(r.poll() == "");  // pull 1 is still open
  r.advance(21s);
  BOOST_TEST(r.poll() == "note lost 1; pull 2 x10 20s");
}

BOOST_AUTO_TEST_CASE(a_message_waiting_for_its_rerun_is_nakked_on_a_lapse) {
  reader r;
  r.start();
  r.arrive(1, 1);
  r.poll();
  r.answer(1, consume_reply{consume_verdict::in_progress, 1'000'000'000});
  r.poll();
  r.rules.lease(std::nullopt);
  BOOST_TEST(r.poll() == "");  // its confirmation is outstanding
  r.rules.progress_confirmed(1, r.now);
  BOOST_TEST(r.poll() == "nak 1");
}

// -- release ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_release_waits_for_the_running_handler_then_for_the_pull_to_expire) {
  reader r;
  r.start();
  const auto pulled_at = r.now;
  r.arrive(1, 1);
  r.arrive(1, 2);
  BOOST_TEST(r.poll() == "run 1");
  r.advance(500ms);
  r.rules.release(r.now);
  BOOST_TEST(r.rules.releasing());
  BOOST_TEST(r.poll() == "nak 2");
  r.arrive(1, 3);  // arrivals during the release are nakked
  BOOST_TEST(r.poll() == "note late 3; nak 3");
  r.advance(1s);
  r.answer(1);
  BOOST_TEST(r.poll() == "note handled 1; ack 1");  // the pull may still bring messages
  BOOST_TEST(!r.rules.finished());
  BOOST_TEST((*r.rules.next_deadline() == pulled_at + 21s));
  r.now = pulled_at + 21s - 1ns;
  BOOST_TEST(r.poll() == "");
  r.now = pulled_at + 21s;
  BOOST_TEST(r.poll() == "released");  // no lost-pull note during a release
  BOOST_TEST(r.rules.finished());
  BOOST_TEST(!r.rules.next_deadline().has_value());
  r.arrive(1, 4);
  r.rules.lease(r.now + 60s);
  BOOST_TEST(r.poll() == "");  // done for good
}

BOOST_AUTO_TEST_CASE(a_release_ends_at_once_when_the_pull_s_status_came) {
  reader r;
  r.start();
  r.arrive(1, 1);
  r.poll();
  r.rules.release(r.now);
  BOOST_TEST(r.poll() == "");
  r.rules.pull_ended(1, 408, "Request Timeout");
  BOOST_TEST(r.poll() == "");  // the handler still runs
  r.answer(1);
  BOOST_TEST(r.poll() == "note handled 1; ack 1; released");
}

BOOST_AUTO_TEST_CASE(an_idle_reader_releases_at_once_without_a_pull) {
  reader r;
  r.rules.release(r.now);  // never started
  BOOST_TEST(r.poll() == "released");
  reader suspended;
  suspended.rules.start(suspended.now);
  suspended.rules.release(suspended.now);
  BOOST_TEST(suspended.poll() == "released");
}

BOOST_AUTO_TEST_CASE(the_release_timeout_frees_a_stuck_handler) {
  reader r;
  r.start();
  r.arrive(1, 1);
  r.poll();
  r.rules.pull_ended(1, 408, "");
  r.poll();  // pull 2
  r.rules.pull_ended(2, 408, "");
  r.advance(1s);
  r.rules.release(r.now);
  BOOST_TEST(r.poll() == "");
  BOOST_TEST((r.until_deadline() == 2s));  // the release timeout, before the handler's (4 s)
  r.advance(2s);
  BOOST_TEST(r.poll() == "note failed 1; nak 1; released");
  r.answer(1);
  BOOST_TEST(r.poll() == "");
}

BOOST_AUTO_TEST_CASE(a_release_waits_for_a_dead_letter_and_a_confirmation) {
  auto s = test_settings();
  s.dead_letter = true;
  reader r(s);
  r.start();
  r.arrive(1, 1, 3);
  BOOST_TEST(r.poll() == "note redelivered 1; run 1");
  r.rules.pull_ended(1, 408, "");
  r.poll();
  r.rules.pull_ended(2, 408, "");
  r.rules.release(r.now);
  r.advance(2s);  // the release deadline: the last delivery is dead-lettered, not dropped
  BOOST_TEST(r.poll() == "note failed 1; dead-letter 1");
  r.rules.dead_lettered(1, true);
  BOOST_TEST(r.poll() == "term 1; released");

  reader waiting;
  waiting.start();
  waiting.arrive(1, 1);
  waiting.rules.pull_ended(1, 408, "");
  waiting.poll();
  waiting.rules.pull_ended(2, 408, "");
  waiting.answer(1, consume_reply{consume_verdict::in_progress, 0});
  BOOST_TEST(waiting.poll() == "note handled 1; progress 1; pull 3 x10 20s");
  waiting.rules.release(waiting.now);
  waiting.rules.pull_ended(3, 408, "");
  waiting.advance(10s);
  BOOST_TEST(waiting.poll() == "");  // the confirmation is awaited
  waiting.rules.progress_confirmed(1, waiting.now);
  BOOST_TEST(waiting.poll() == "nak 1; released");
}

BOOST_AUTO_TEST_CASE(in_progress_while_not_serving_is_a_nak_at_once) {
  reader r;
  r.start();
  r.arrive(1, 1);
  r.poll();
  r.rules.pull_ended(1, 408, "");
  r.poll();
  r.rules.pull_ended(2, 408, "");
  r.rules.release(r.now);
  r.answer(1, consume_reply{consume_verdict::in_progress, 1'000'000'000});
  BOOST_TEST(r.poll() == "note handled 1; nak 1; released");
}

BOOST_AUTO_TEST_CASE(a_repeated_message_id_is_ignored) {
  reader r;
  r.start();
  r.arrive(1, 1);
  r.arrive(1, 1);
  BOOST_TEST(r.poll() == "run 1");
  BOOST_TEST(r.rules.queued() == 0u);
}

// -- lost pulls and failures ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(lost_pulls_are_asked_again_and_fail_the_reader_after_the_maximum) {
  reader r;
  r.start(600s);
  r.advance(21s - 1ns);
  BOOST_TEST(r.poll() == "");
  r.advance(1ns);
  BOOST_TEST(r.poll() == "note lost 1; pull 2 x10 20s");
  r.advance(21s);
  BOOST_TEST(r.poll() == "note lost 2; pull 3 x10 20s");
  r.advance(21s);
  BOOST_TEST(r.poll() ==
             "note lost 3; failed: 3 pull requests in a row lost (last: no status within its "
             "expiry + pull_grace)");
  BOOST_TEST(r.rules.finished());
  BOOST_TEST(!r.rules.next_deadline().has_value());
  BOOST_TEST(r.poll() == "");
}

BOOST_AUTO_TEST_CASE(an_arrival_or_a_normal_end_resets_the_lost_pull_count) {
  reader r;
  r.start(600s);
  r.advance(21s);
  r.poll();  // lost 1, pull 2
  r.advance(21s);
  r.poll();  // lost 2, pull 3
  r.rules.pull_ended(3, 408, "");
  r.poll();  // pull 4
  r.advance(21s);
  r.poll();  // lost 1, pull 5
  r.advance(21s);
  BOOST_TEST(r.poll() == "note lost 5; pull 6 x10 20s");
  r.arrive(6, 1);
  r.poll();
  r.answer(1);
  r.poll();
  r.advance(21s);
  r.poll();  // lost 1, pull 7
  r.advance(21s);
  BOOST_TEST(r.poll() == "note lost 7; pull 8 x10 20s");  // 2 in a row: not failed
}

BOOST_AUTO_TEST_CASE(a_pull_not_sent_counts_as_lost_at_once) {
  reader r;
  r.start();
  r.rules.pull_not_sent(1, "connection closed");
  BOOST_TEST(r.poll() == "note lost 1; pull 2 x10 20s");
  r.rules.pull_not_sent(2, "connection closed");
  r.poll();
  r.rules.pull_not_sent(3, "connection closed");
  BOOST_TEST(r.poll() ==
             "note lost 3; failed: 3 pull requests in a row lost (last: not sent: connection "
             "closed)");
}

BOOST_AUTO_TEST_CASE(a_deleted_consumer_or_a_missing_jetstream_fails_the_reader) {
  reader r;
  r.start();
  r.arrive(1, 1);
  r.poll();
  r.rules.pull_ended(1, 409, "Consumer Deleted");
  BOOST_TEST(r.poll() == "failed: pull request ended with 409 Consumer Deleted");
  BOOST_TEST(r.rules.finished());
  r.answer(1);
  BOOST_TEST(r.poll() == "");

  reader gone;
  gone.start();
  gone.rules.pull_ended(1, 503, "No Responders");
  BOOST_TEST(gone.poll() == "failed: pull request ended with 503 No Responders");

  reader releasing;
  releasing.start();
  releasing.rules.release(releasing.now);
  releasing.rules.pull_ended(1, 409, "Consumer Deleted");
  BOOST_TEST(releasing.poll() == "failed: pull request ended with 409 Consumer Deleted");
}

// -- no spinning, whatever happens ------------------------------------------------------------

// Random events against the rules, checking after every poll what must always hold: the next
// deadline lies ahead, at most in_flight handlers run, a handler runs only while serving and
// until a time ahead, no message is settled twice or run after it was settled, a release or a
// failure is the last output, and a pull is cut to the lease.
BOOST_AUTO_TEST_CASE(invariants_hold_under_random_events) {
  std::vector<int> seen(std::variant_size_v<reader_output>, 0);  // outputs of each kind
  for (std::uint32_t seed = 1; seed <= 200; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint32_t>(n)); };
    auto s = test_settings();
    s.in_flight = 1 + pick(3);
    s.dead_letter = pick(2) == 0;
    s.progress_interval = pick(2) == 0 ? duration::zero() : 2s;
    s.pull_batch = 1 + pick(4);
    reader r(s);
    std::uint64_t next_id = 1;
    std::uint64_t last_pull = 0;
    std::set<std::uint64_t> running, settled, dead_lettering;
    std::map<std::uint64_t, time_point> progress;
    std::optional<time_point> lease_until;
    bool done = false;
    const auto set_lease = [&](std::optional<time_point> until) {
      lease_until = until;
      r.rules.lease(until);
    };
    set_lease(r.now + std::chrono::milliseconds(500 + pick(8000)));
    r.rules.start(r.now);
    for (int step = 0; step < 300 && !done; ++step) {
      switch (pick(12)) {
        case 0:
          r.advance(std::chrono::milliseconds(pick(4000)));
          break;
        case 1:
          set_lease(pick(4) == 0
                        ? std::nullopt
                        : std::optional<time_point>(r.now + std::chrono::milliseconds(pick(8000))));
          break;
        case 2:
        case 3:
          if (last_pull != 0)
            r.rules.arrived(last_pull - static_cast<std::uint64_t>(pick(2)), next_id++,
                            1 + static_cast<std::uint64_t>(pick(4)), r.now);
          break;
        case 4:
          if (last_pull != 0)
            r.rules.pull_ended(last_pull, std::vector<int>{408, 404, 0, 100, 408}[pick(5)], "");
          break;
        case 5:
        case 6:
          if (!running.empty()) {
            auto it = running.begin();
            std::advance(it, pick(static_cast<int>(running.size())));
            const auto verdict = static_cast<consume_verdict>(pick(4));
            r.rules.handler_done(*it, pick(8) != 0, consume_reply{verdict, pick(2) * 1'000'000},
                                 r.now);
          }
          break;
        case 7:
          if (!progress.empty()) {
            auto it = progress.begin();
            if (pick(4) == 0)
              r.rules.progress_failed(it->first);
            else
              r.rules.progress_confirmed(it->first, it->second);
            progress.erase(it);
          }
          break;
        case 8:
          if (!dead_lettering.empty()) {
            r.rules.dead_lettered(*dead_lettering.begin(), pick(2) == 0);
            dead_lettering.erase(dead_lettering.begin());
          }
          break;
        case 9:
          if (pick(10) == 0) r.rules.release(r.now);
          break;
        case 10:
          if (auto d = r.rules.next_deadline()) r.now = std::max(r.now, *d);
          break;
        default:
          if (last_pull != 0 && pick(6) == 0) r.rules.pull_not_sent(last_pull, "refused");
          break;
      }
      const auto out = r.rules.poll(r.now);
      for (std::size_t i = 0; i < out.size(); ++i) {
        const auto& o = out[i];
        ++seen[o.index()];
        BOOST_TEST_CONTEXT("seed " << seed << " step " << step << ": " << show(out)) {
          if (const auto* p = std::get_if<send_pull>(&o)) {
            BOOST_TEST(r.rules.serving(r.now));
            BOOST_TEST((p->expires >= s.min_pull_expiry));
            BOOST_TEST((r.now + p->expires + s.lease_margin_for_pull <= *lease_until));
            last_pull = p->pull_id;
          } else if (const auto* h = std::get_if<run_handler>(&o)) {
            BOOST_TEST(r.rules.serving(r.now));
            BOOST_TEST((h->valid_until > r.now));
            BOOST_TEST((h->valid_until <= *lease_until));
            BOOST_TEST(settled.count(h->id) == 0u);
            running.insert(h->id);
          } else if (const auto* m = std::get_if<settle_message>(&o)) {
            BOOST_TEST(settled.insert(m->id).second);
            running.erase(m->id);
            progress.erase(m->id);
          } else if (const auto* c = std::get_if<confirm_progress>(&o)) {
            BOOST_TEST(progress.count(c->id) == 0u);  // one at a time
            progress[c->id] = c->sent_at;
          } else if (const auto* d = std::get_if<dead_letter_message>(&o)) {
            dead_lettering.insert(d->id);
            running.erase(d->id);
          } else if (std::holds_alternative<reader_released>(o) ||
                     std::holds_alternative<reader_failed>(o)) {
            BOOST_TEST(i + 1 == out.size());
            done = true;
          }
        }
      }
      BOOST_TEST_CONTEXT("seed " << seed << " step " << step) {
        BOOST_TEST(r.rules.running() <= static_cast<std::size_t>(s.in_flight));
        if (auto d = r.rules.next_deadline()) BOOST_TEST((*d > r.now));
        BOOST_TEST(r.rules.poll(r.now).empty());  // a second poll at once finds nothing due
      }
    }
  }
  // The events reach every rule: each kind of output came at least once.
  for (std::size_t kind = 0; kind < seen.size(); ++kind)
    BOOST_TEST(seen[kind] > 0, "output kind " << kind << " never came");
  BOOST_TEST_MESSAGE("outputs by kind: " << seen[0] << " " << seen[1] << " " << seen[2] << " "
                                         << seen[3] << " " << seen[4] << " " << seen[5] << " "
                                         << seen[6] << " " << seen[7]);
}
