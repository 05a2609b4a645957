// Faults with a real nats-server: restarts in steady state and during a rebalance, and an outage
// longer than the degraded threshold. Nothing crashes, every partition ends up owned exactly
// once, and no worker that stayed alive is treated as dead.
#include <boost/test/unit_test.hpp>

#include "tests/support/leader_group.hpp"

using namespace parti;
using namespace std::chrono_literals;
using test::leader_group;
using test::moved;
using test::partition_count;

BOOST_FIXTURE_TEST_SUITE(faults, leader_group)

BOOST_AUTO_TEST_CASE(a_server_restart_in_steady_state_moves_nothing) {
  for (int i = 0; i < 4; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  auto before = owner_map();
  server.kill();
  server.start();
  // Everyone reconnects; heartbeats resume; the (maybe new) leader finds everyone alive.
  BOOST_REQUIRE(test::eventually([&] { return conn->connected(); }, 10s));
  // Longer than heartbeat TTL + grace + recovery grace: an emergency would have moved things.
  auto settle = config.heartbeat_ttl + config.emergency_grace + config.degraded.recovery_grace + 2s;
  BOOST_TEST(!test::eventually([&] { return moved(before, owner_map()) > 0; }, settle));
  BOOST_TEST(fully_covered());
  BOOST_TEST(sole_leader().has_value());
}

BOOST_AUTO_TEST_CASE(an_outage_longer_than_the_threshold_degrades_and_recovers) {
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  auto before = owner_map();
  server.kill();
  BOOST_REQUIRE(test::eventually(
      [&] {
        for (const auto& s : statuses())
          if (s.state != "Degraded") return false;
        return true;
      },
      config.degraded.threshold + 5s));
  // Degraded nodes keep serving their last assignment.
  BOOST_TEST(moved(before, owner_map()) == 0u);
  BOOST_TEST(owner_map().size() == partition_count);
  server.start();
  BOOST_REQUIRE(test::eventually(
      [&] {
        for (const auto& s : statuses())
          if (s.state == "Degraded") return false;
        return true;
      },
      15s));
  auto settle = config.heartbeat_ttl + config.emergency_grace + config.degraded.recovery_grace + 2s;
  BOOST_TEST(!test::eventually([&] { return moved(before, owner_map()) > 0; }, settle));
  BOOST_TEST(fully_covered());
  for (const auto& s : statuses()) BOOST_TEST(s.state == "Stable");
}

BOOST_AUTO_TEST_CASE(a_server_restart_during_a_rebalance_converges) {
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  auto late = add_node();
  // Restart the server as soon as the hand-off toward the new node has begun.
  BOOST_REQUIRE(test::eventually([&] { return !status(late).owned.empty() || owner_map().size() < partition_count; }, 10s));
  server.kill();
  server.start();
  BOOST_REQUIRE(test::eventually(
      [&] { return fully_covered() && status(late).owned.size() == partition_count / 4; }, 30s));
}

BOOST_AUTO_TEST_SUITE_END()
