// Partition consumption under faults, in one run: parti-consume processes (fast timings, every
// message from the stream's start) share a 16-partition stream while a producer publishes
// sequence-numbered messages at a steady rate, through
//   scale 3 -> 5 -> 3 (the scale-down by drains), kill -9 of the leader and a replacement,
//   a rolling restart with restart intent (every member, same preferred id), a drain and a
//   replacement, a follower and then the leader cut off from NATS (its relay holds every byte)
//   until its lease lapsed and its partitions moved, then healed, kill -9 of a follower and a
//   replacement, and a nats-server restart (same port and store).
// After each step the run waits (with a deadline) until every partition is owned exactly once,
// every member serves some, and every partition has handled a message since the step. At the
// end the producer stops, every published message must get a record, and the records must show:
// no gap, no two workers handling one partition at once, each owner in stream order, and every
// duplicate explained by a kill, a cut or a server restart whose time the run recorded
// (apps/lib/consume_fleet.hpp, apps/lib/consume_records.hpp). parti-chaos --consume applies the
// same steps in a seeded random order.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <functional>
#include <string>

#include "apps/lib/consume_fleet.hpp"
#include "tests/support/kept_dir.hpp"
#include "tests/support/run_program.hpp"

using namespace parti;
using namespace parti::consume_app;
using namespace std::chrono_literals;

namespace {

long long millis(duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

/// Carries out one step, then waits until the group settled and consumes everywhere again.
void step(consume_fleet& f, const std::string& what, const std::function<status()>& act) {
  const auto since = wall_ms();
  const auto started = std::chrono::steady_clock::now();
  auto done = act();
  BOOST_REQUIRE_MESSAGE(done.ok(), what << ": " << done.error());
  const auto acted = std::chrono::steady_clock::now() - started;
  auto settled = f.settle(since);
  BOOST_REQUIRE_MESSAGE(settled.ok(), what << ": " << settled.error());
  BOOST_TEST_MESSAGE(what << ": " << millis(acted) << " ms, settled and consuming "
                          << millis(*settled) << " ms later");
}

/// The first follower: the member a drain may take.
int a_follower(consume_fleet& f) {
  auto followers = f.followers();
  BOOST_REQUIRE(!followers.empty());
  return followers.front();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(consume_faults)

BOOST_AUTO_TEST_CASE(no_gap_no_overlap_in_order_through_scaling_kills_restarts_cuts) {
  const auto run_started = std::chrono::steady_clock::now();
  test::kept_dir dir("parti-consume-faults");
  consume_fleet_options o;
  o.binary = test::app_binary("parti-consume");
  o.work_dir = dir.path;
  consume_fleet f(o);

  step(f, "start 3", [&] {
    for (int i = 0; i < 3; ++i) f.start_member();
    return status{done{}};
  });
  step(f, "scale up to 5", [&] {
    f.start_member();
    f.start_member();
    return status{done{}};
  });
  for (int n : {4, 3})
    step(f, "scale down to " + std::to_string(n), [&] {
      // leader drains: see the leader-drain fix
      return f.drain(a_follower(f));
    });
  step(f, "kill -9 of the leader and a replacement", [&] {
    auto leader = f.leader();
    if (!leader) return status{failure{"no single leader"}};
    auto killed = f.kill(*leader);
    f.start_member();
    return killed;
  });
  for (int member : f.alive())
    step(f, "restart with restart intent of " + f.worker_of(member),
         [&] { return f.restart(member); });
  step(f, "drain and a replacement", [&] {
    // leader drains: see the leader-drain fix
    auto drained = f.drain(a_follower(f));
    f.start_member();
    return drained;
  });
  step(f, "a follower cut off from NATS until its partitions moved, then healed",
       [&] { return f.cut(a_follower(f)); });
  step(f, "the leader cut off from NATS until its partitions moved, then healed", [&] {
    auto leader = f.leader();
    if (!leader) return status{failure{"no single leader"}};
    return f.cut(*leader);
  });
  step(f, "kill -9 of a follower and a replacement", [&] {
    auto killed = f.kill(a_follower(f));
    f.start_member();
    return killed;
  });
  step(f, "nats-server restart", [&] {
    f.restart_server();
    return status{done{}};
  });

  auto outcome = f.finish();
  const auto text = render(outcome);
  BOOST_TEST_MESSAGE(text);
  BOOST_TEST_MESSAGE("run time " << millis(std::chrono::steady_clock::now() - run_started)
                                 << " ms");
  BOOST_TEST(outcome.error.empty(), text);
  BOOST_TEST(outcome.all_handled, text);
  BOOST_TEST(outcome.report.missing.empty(), text);
  BOOST_TEST(outcome.report.unexpected.empty(), text);
  BOOST_TEST(outcome.report.overlap_count == 0u, text);
  BOOST_TEST(outcome.report.order_violation_count == 0u, text);
  BOOST_TEST(outcome.duplicates.explained(), text);
  BOOST_TEST(outcome.recreated_consumers.empty(), text);
  BOOST_TEST(outcome.report.published >= outcome.produced.published, text);
  BOOST_TEST(outcome.produced.published > 1000u, text);
  BOOST_TEST(outcome.faults == 5u);  // two kills, two cuts, the server restart
  BOOST_TEST(outcome.passed(), text);
}

BOOST_AUTO_TEST_SUITE_END()
