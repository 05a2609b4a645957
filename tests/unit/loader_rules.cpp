// The partition loader's rules (actors/partition_loader/loader_rules.hpp) in manual time: one
// load at a time, requests joined to it, timeouts, a hung load never doubled, the last good set
// kept, retries with backoff, and recovery; and node_config's timeout for it.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "parti/actors/partition_loader/loader_rules.hpp"
#include "parti/runtime/config.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

std::vector<partition> parts(std::initializer_list<const char*> keys) {
  std::vector<partition> out;
  for (const auto* k : keys) out.push_back(partition{{k}, 1});
  return out;
}

struct fixture {
  manual_clock clock;
  loader_options options = [] {
    loader_options o;
    o.timeout = 2s;
    o.retry = {500ms, 4s, 2.0, 0.0};  // no jitter: exact delays
    return o;
  }();
  loader_rules rules{options, [] { return 0.5; }};

  time_point now() const { return clock.now(); }
  loader_outputs poll() { return rules.poll(now()); }
};

const loader_answer* answer_to(const loader_outputs& out, std::uint64_t id) {
  for (const auto& a : out.answers)
    for (auto r : a.requests)
      if (r == id) return &a;
  return nullptr;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(loader_rules_suite, fixture)

BOOST_AUTO_TEST_CASE(a_request_starts_one_load_and_later_requests_join_it) {
  rules.request(1, now());
  auto out = poll();
  BOOST_TEST(out.start_load);
  BOOST_TEST(out.answers.empty());
  BOOST_TEST((rules.next_deadline() == now() + 2s));
  clock.advance(300ms);
  rules.request(2, now());
  out = poll();
  BOOST_TEST(!out.start_load, "a second load started while one runs");
  clock.advance(200ms);
  rules.succeeded(parts({"a", "b"}), now());
  out = poll();
  BOOST_REQUIRE_EQUAL(out.answers.size(), 1u);
  BOOST_TEST((out.answers[0].requests == std::vector<std::uint64_t>{1, 2}));
  BOOST_TEST(out.answers[0].load.loaded);
  BOOST_TEST(out.answers[0].load.fresh);
  BOOST_TEST((out.answers[0].load.partitions == parts({"a", "b"})));
  BOOST_REQUIRE_EQUAL(out.reports.size(), 1u);
  BOOST_TEST((out.reports[0].kind == load_report_kind::succeeded));
  BOOST_TEST((out.reports[0].took == 500ms));
  BOOST_TEST(!out.reports[0].recovered);
  BOOST_TEST(!rules.next_deadline(), "nothing to do after a success");
  // The next request loads again: every question gets the source's current state.
  rules.request(3, now());
  BOOST_TEST(poll().start_load);
}

BOOST_AUTO_TEST_CASE(a_failure_without_a_good_set_answers_no_set_and_retries_with_backoff) {
  rules.request(1, now());
  poll();
  rules.failed("disk on fire", now());
  auto out = poll();
  auto* a = answer_to(out, 1);
  BOOST_REQUIRE(a);
  BOOST_TEST(!a->load.loaded);
  BOOST_TEST(!a->load.fresh);
  BOOST_TEST(a->load.problem == "partition source: disk on fire");
  BOOST_REQUIRE_EQUAL(out.reports.size(), 1u);
  BOOST_TEST((out.reports[0].kind == load_report_kind::failed));
  BOOST_TEST((out.reports[0].retry_in == duration(500ms)));
  BOOST_TEST((rules.next_deadline() == now() + 500ms));

  // While backing off, a request is answered at once, without a load of its own.
  clock.advance(200ms);
  rules.request(2, now());
  out = poll();
  BOOST_TEST(!out.start_load);
  a = answer_to(out, 2);
  BOOST_REQUIRE(a);
  BOOST_TEST(!a->load.loaded);
  BOOST_TEST(a->load.problem == "partition source: disk on fire; next attempt in 300ms");

  // The retry starts on its own; the delays double up to the maximum.
  std::vector<duration> delays;
  for (int i = 0; i < 4; ++i) {
    clock.set(*rules.next_deadline());
    BOOST_TEST(poll().start_load);
    rules.failed("still on fire", now());
    out = poll();
    BOOST_REQUIRE_EQUAL(out.reports.size(), 1u);
    delays.push_back(*out.reports[0].retry_in);
  }
  BOOST_TEST((delays == std::vector<duration>{1s, 2s, 4s, 4s}));
}

BOOST_AUTO_TEST_CASE(a_failed_reload_answers_the_last_good_set_not_fresh) {
  rules.request(1, now());
  poll();
  rules.succeeded(parts({"a"}), now());
  poll();
  clock.advance(1s);
  rules.request(2, now());
  BOOST_TEST(poll().start_load);
  rules.failed("timeout talking to the database", now());
  auto out = poll();
  auto* a = answer_to(out, 2);
  BOOST_REQUIRE(a);
  BOOST_TEST(a->load.loaded);
  BOOST_TEST(!a->load.fresh);
  BOOST_TEST((a->load.partitions == parts({"a"})));
  BOOST_TEST(a->load.problem == "partition source: timeout talking to the database");
  BOOST_TEST((rules.last_good() == parts({"a"})));
}

BOOST_AUTO_TEST_CASE(a_hung_load_times_out_and_is_never_started_twice) {
  rules.request(1, now());
  poll();
  clock.advance(2s - 1ns);
  BOOST_TEST(poll().answers.empty(), "timed out before the deadline");
  clock.advance(1ns);
  auto out = poll();
  auto* a = answer_to(out, 1);
  BOOST_REQUIRE(a);
  BOOST_TEST(!a->load.loaded);
  BOOST_TEST(a->load.problem == "partition source: no answer within 2s");
  BOOST_REQUIRE_EQUAL(out.reports.size(), 1u);
  BOOST_TEST((out.reports[0].kind == load_report_kind::timed_out));
  BOOST_TEST(!rules.next_deadline(), "nothing is due while the load hangs");
  BOOST_TEST(rules.load_running());

  // Requests while it hangs: answered at once, and no second load, however long it hangs.
  for (std::uint64_t id = 2; id < 6; ++id) {
    clock.advance(10s);
    rules.request(id, now());
    out = poll();
    BOOST_TEST(!out.start_load);
    a = answer_to(out, id);
    BOOST_REQUIRE(a);
    BOOST_TEST(!a->load.loaded);
  }
  BOOST_TEST(a->load.problem ==
             "partition source: the last load has not returned for 42s (timed out after 2s); no "
             "new load starts before it does");

  // It returns after all, with a set: that counts (the source recovered).
  rules.succeeded(parts({"x", "y"}), now());
  out = poll();
  BOOST_TEST(out.answers.empty(), "everyone waiting was answered at the timeout");
  BOOST_REQUIRE_EQUAL(out.reports.size(), 1u);
  BOOST_TEST((out.reports[0].kind == load_report_kind::late_success));
  BOOST_TEST(out.reports[0].recovered);
  BOOST_TEST((rules.last_good() == parts({"x", "y"})));
  BOOST_TEST(!rules.load_running());
  rules.request(6, now());
  BOOST_TEST(poll().start_load, "loads again once the hung one returned");
}

BOOST_AUTO_TEST_CASE(a_hung_load_after_a_good_one_answers_the_good_set) {
  rules.request(1, now());
  poll();
  rules.succeeded(parts({"a", "b"}), now());
  poll();
  rules.request(2, now());
  poll();
  clock.advance(2s);
  auto out = poll();
  auto* a = answer_to(out, 2);
  BOOST_REQUIRE(a);
  BOOST_TEST(a->load.loaded);
  BOOST_TEST(!a->load.fresh);
  BOOST_TEST((a->load.partitions == parts({"a", "b"})));
  clock.advance(1s);
  rules.request(3, now());
  out = poll();
  a = answer_to(out, 3);
  BOOST_REQUIRE(a);
  BOOST_TEST((a->load.partitions == parts({"a", "b"})));
  BOOST_TEST(!out.start_load);
}

BOOST_AUTO_TEST_CASE(a_hung_load_that_fails_late_is_retried_after_the_backoff) {
  rules.request(1, now());
  poll();
  clock.advance(2s);
  poll();
  clock.advance(5s);
  rules.failed("connection reset", now());
  auto out = poll();
  BOOST_REQUIRE_EQUAL(out.reports.size(), 1u);
  BOOST_TEST((out.reports[0].kind == load_report_kind::late_failure));
  BOOST_TEST((out.reports[0].took == 7s));
  BOOST_TEST((rules.next_deadline() == now() + 500ms));
  clock.advance(500ms);
  BOOST_TEST(poll().start_load);
}

BOOST_AUTO_TEST_CASE(a_retry_that_succeeds_reports_the_recovery_and_resets_the_backoff) {
  rules.request(1, now());
  poll();
  rules.failed("no", now());
  poll();
  clock.advance(500ms);
  BOOST_TEST(poll().start_load);
  // A request during the retry joins it and gets its fresh set.
  rules.request(2, now());
  BOOST_TEST(!poll().start_load);
  rules.succeeded(parts({"a"}), now());
  auto out = poll();
  BOOST_REQUIRE_EQUAL(out.reports.size(), 1u);
  BOOST_TEST(out.reports[0].recovered);
  auto* a = answer_to(out, 2);
  BOOST_REQUIRE(a);
  BOOST_TEST(a->load.fresh);
  BOOST_TEST((rules.last_good_at() == now()));
  // Failing again starts from the first delay.
  rules.request(3, now());
  poll();
  rules.failed("no", now());
  out = poll();
  BOOST_TEST((out.reports[0].retry_in == duration(500ms)));
  BOOST_TEST(!out.reports[0].recovered);
}

BOOST_AUTO_TEST_CASE(a_load_still_running_from_an_earlier_loader_is_adopted_not_doubled) {
  rules.adopt_running_load(now());
  rules.request(1, now());
  auto out = poll();
  BOOST_TEST(!out.start_load);
  auto* a = answer_to(out, 1);
  BOOST_REQUIRE(a);
  BOOST_TEST(!a->load.loaded);
  clock.advance(3s);
  rules.succeeded(parts({"a"}), now());
  out = poll();
  BOOST_TEST(out.reports.size() == 1u);
  BOOST_TEST((rules.last_good() == parts({"a"})));
}

BOOST_AUTO_TEST_CASE(a_result_without_a_running_load_is_ignored) {
  rules.succeeded(parts({"a"}), now());
  rules.failed("stray", now());
  auto out = poll();
  BOOST_TEST(out.reports.empty());
  BOOST_TEST(!rules.last_good());
  BOOST_TEST(!rules.next_deadline());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(the_node_s_partition_source_timeout_must_be_positive) {
  for (duration bad : {duration::zero(), duration(-1)}) {
    node_config c;
    c.partition_source_timeout = bad;
    auto v = c.violations();
    BOOST_REQUIRE_EQUAL(v.size(), 1u);
    BOOST_TEST(v[0].text() == "partition_source_timeout: must be greater than 0 (is " +
                                  format_duration(bad) + ")");
  }
}
