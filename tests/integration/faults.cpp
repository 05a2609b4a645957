// Faults with a real nats-server: restarts in steady state and during a rebalance, and an outage
// longer than the degraded threshold. Nothing crashes, every partition ends up owned exactly
// once, and no worker that stayed alive is treated as dead.
#include <boost/test/unit_test.hpp>

#include <map>
#include <string>

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

/// node -> the worker id it holds (empty while it holds none).
std::map<caf::actor, std::string> ids_of(leader_group& g) {
  std::map<caf::actor, std::string> out;
  for (const auto& n : g.nodes) out[n] = g.status(n).worker;
  return out;
}

// Past the id TTL too: every claim lapses while the store is out. The nodes keep reporting
// Degraded (the cause) rather than ClaimingID, and when the store is back each takes its own id
// back, so nothing moves. Found by CI: a node that lost its id mid-outage left Degraded.
BOOST_AUTO_TEST_CASE(an_outage_longer_than_the_threshold_and_the_id_ttl_degrades_and_recovers) {
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  auto before = owner_map();
  auto ids_before = ids_of(*this);
  server.kill();
  BOOST_REQUIRE(test::eventually(
      [&] {
        for (const auto& s : statuses())
          if (s.state != "Degraded") return false;
        return true;
      },
      config.degraded.threshold + 5s));
  // Their heartbeats go unacknowledged: every lease lapses, so nobody serves anything, and the
  // partitions stay assigned where they were (suspended, not moved).
  BOOST_REQUIRE(test::eventually([&] { return suspended_map() == before; }, config.heartbeat_ttl));
  BOOST_TEST(owner_map().empty());
  BOOST_REQUIRE(test::eventually(
      [&] {
        for (const auto& s : statuses())
          if (!s.worker.empty()) return false;
        return true;
      },
      config.id_ttl + 2s));
  for (const auto& s : statuses()) BOOST_TEST(s.state == "Degraded");
  server.start();
  BOOST_REQUIRE(test::eventually(
      [&] {
        for (const auto& s : statuses())
          if (s.state == "Degraded") return false;
        return true;
      },
      15s));
  BOOST_REQUIRE(test::eventually([&] { return ids_of(*this) == ids_before; }, 15s));
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 15s));
  auto settle = config.heartbeat_ttl + config.emergency_grace + config.degraded.recovery_grace + 2s;
  BOOST_TEST(!test::eventually([&] { return moved(before, owner_map()) > 0; }, settle));
  BOOST_TEST(fully_covered());
  for (const auto& s : statuses()) BOOST_TEST(s.state == "Stable");
}

/// Makes the heartbeats stream refuse every write (a maximum message size of 1 byte) or take
/// them again. The connection stays up: only the store's answers change, as when a
/// JetStream cluster has no leader for the stream.
void refuse_heartbeat_writes(group_buckets& group, bool refuse) {
  auto stream = "KV_" + group.heartbeats->bucket();
  jsCtx* js = group.heartbeats->conn()->jetstream();
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  BOOST_REQUIRE(js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &jerr) == NATS_OK);
  si->Config->MaxMsgSize = refuse ? 1 : -1;
  jsStreamInfo* updated = nullptr;
  auto s = js_UpdateStream(&updated, js, si->Config, nullptr, &jerr);
  jsStreamInfo_Destroy(si);
  BOOST_REQUIRE_MESSAGE(s == NATS_OK,
                        "update " << stream << ": " << natsStatus_GetText(s) << " " << jerr);
  jsStreamInfo_Destroy(updated);
}

BOOST_AUTO_TEST_CASE(a_store_that_refuses_heartbeats_degrades_nodes_and_moves_nothing) {
  auto every_node_is = [&](const std::string& state) {
    for (const auto& s : statuses())
      if (s.state != state) return false;
    return true;
  };
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  BOOST_REQUIRE(test::eventually([&] { return sole_leader().has_value(); }, 5s));
  auto before = owner_map();
  auto leader = sole_leader()->worker;
  refuse_heartbeat_writes(*group, true);
  // Every heartbeat fails while the connection is up: the nodes say Degraded and suspend (their
  // leases lapse), and the leader declares nobody dead (nothing at all is heard: the store is
  // suspect), so every partition stays assigned where it was.
  BOOST_REQUIRE(
      test::eventually([&] { return every_node_is("Degraded"); }, config.degraded.threshold + 5s));
  BOOST_TEST(
      !test::eventually([&] { return suspended_map() != before; }, config.heartbeat_ttl * 3));
  BOOST_TEST(owner_map().empty());
  refuse_heartbeat_writes(*group, false);
  BOOST_REQUIRE(test::eventually([&] { return every_node_is("Stable"); }, 10s));
  auto settle = config.heartbeat_ttl + config.emergency_grace + config.degraded.recovery_grace + 2s;
  BOOST_TEST(!test::eventually([&] { return moved(before, owner_map()) > 0; }, settle));
  BOOST_TEST(fully_covered());
  BOOST_REQUIRE(sole_leader().has_value());
  BOOST_TEST(sole_leader()->worker == leader);
}

BOOST_AUTO_TEST_CASE(a_server_restart_during_a_rebalance_converges) {
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  auto late = add_node();
  // Restart the server as soon as the hand-off toward the new node has begun.
  BOOST_REQUIRE(test::eventually(
      [&] { return !status(late).owned.empty() || owner_map().size() < partition_count; }, 10s));
  server.kill();
  server.start();
  BOOST_REQUIRE(test::eventually(
      [&] { return fully_covered() && status(late).owned.size() == partition_count / 4; }, 30s));
}

BOOST_AUTO_TEST_SUITE_END()
