// The stall rule of a KV watch (runtime/watch_stall.hpp): a quiet bucket is left alone, a watch
// that misses what the store has is replaced, and a store that cannot answer decides nothing.
#include <boost/test/unit_test.hpp>

#include "parti/runtime/watch_stall.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

const stall_options options{2s, 1s};

struct at_start {
  manual_clock clock;
  watch_stall_detector d{options, clock.now()};

  void advance(duration by) { clock.advance(by); }
  time_point now() const { return clock.now(); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(watch_stall, at_start)

BOOST_AUTO_TEST_CASE(no_probe_while_entries_keep_coming) {
  for (std::uint64_t rev = 1; rev <= 10; ++rev) {
    advance(1500ms);  // less than the silence each time
    d.delivered(rev, now());
    BOOST_TEST(!d.probe_due(now()));
  }
  BOOST_TEST(d.delivered_up_to() == 10u);
}

BOOST_AUTO_TEST_CASE(a_quiet_bucket_is_probed_once_per_silence_and_left_alone) {
  d.delivered(7, now());
  d.caught_up(now());
  advance(1999ms);
  BOOST_TEST(!d.probe_due(now()));
  advance(1ms);
  BOOST_REQUIRE(d.probe_due(now()));
  BOOST_TEST((d.probed(7, now()) == stall_verdict::quiet));
  BOOST_TEST(!d.probe_due(now()));
  advance(2s);
  BOOST_REQUIRE(d.probe_due(now()));
  BOOST_TEST((d.probed(7, now()) == stall_verdict::quiet));
  BOOST_TEST(!d.missing().has_value());
}

BOOST_AUTO_TEST_CASE(a_watch_that_misses_a_newer_revision_is_stalled_after_confirm) {
  d.delivered(7, now());
  advance(2s);
  BOOST_REQUIRE(d.probe_due(now()));
  BOOST_TEST((d.probed(9, now()) == stall_verdict::suspect));
  BOOST_TEST(*d.missing() == 9u);
  advance(999ms);
  BOOST_TEST(!d.probe_due(now()));
  advance(1ms);
  BOOST_REQUIRE(d.probe_due(now()));
  BOOST_TEST((d.probed(11, now()) == stall_verdict::stalled));
}

BOOST_AUTO_TEST_CASE(a_delivery_of_the_suspected_revision_clears_the_suspicion) {
  d.delivered(7, now());
  advance(2s);
  BOOST_TEST((d.probed(9, now()) == stall_verdict::suspect));
  advance(10ms);
  d.delivered(8, now());  // not enough yet
  BOOST_TEST(d.missing().has_value());
  d.delivered(9, now());  // the watch was just slow
  BOOST_TEST(!d.missing().has_value());
  advance(1s);
  BOOST_TEST(!d.probe_due(now()));  // a delivery restarts the silence
  advance(1s);
  BOOST_REQUIRE(d.probe_due(now()));
  BOOST_TEST((d.probed(9, now()) == stall_verdict::quiet));
}

BOOST_AUTO_TEST_CASE(a_failed_probe_decides_nothing_and_is_repeated) {
  d.delivered(3, now());
  advance(2s);
  BOOST_REQUIRE(d.probe_due(now()));
  d.probe_failed(now());  // the stream has no leader
  BOOST_TEST(!d.probe_due(now()));
  advance(2s);
  BOOST_REQUIRE(d.probe_due(now()));
  BOOST_TEST((d.probed(5, now()) == stall_verdict::suspect));
  advance(1s);
  d.probe_failed(now());  // suspect, and the store still cannot answer: ask again after confirm
  advance(999ms);
  BOOST_TEST(!d.probe_due(now()));
  advance(1ms);
  BOOST_REQUIRE(d.probe_due(now()));
  BOOST_TEST((d.probed(5, now()) == stall_verdict::stalled));
}

BOOST_AUTO_TEST_CASE(a_new_watch_gets_the_silence_to_deliver_its_replay) {
  BOOST_TEST(!d.probe_due(now()));
  advance(2s);
  BOOST_REQUIRE(d.probe_due(now()));
  BOOST_TEST((d.probed(0, now()) == stall_verdict::quiet));  // an empty bucket
}

BOOST_AUTO_TEST_CASE(an_expired_entry_is_not_missed) {
  // The store's newest revision can drop (entries expire): below what was delivered is quiet.
  d.delivered(20, now());
  advance(2s);
  BOOST_TEST((d.probed(0, now()) == stall_verdict::quiet));
}

BOOST_AUTO_TEST_CASE(zero_silence_never_probes) {
  watch_stall_detector off{stall_options{duration::zero(), 1s}, now()};
  advance(1h);
  BOOST_TEST(!off.probe_due(now()));
}

BOOST_AUTO_TEST_SUITE_END()
