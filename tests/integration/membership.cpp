// Worker membership with real nodes on a real nats-server: stable ids, loss of an id, one
// leader, failover after a crash and after a graceful stop, fencing, ordered assignment changes.
#include <boost/test/unit_test.hpp>

#include <optional>
#include <set>

#include "parti/actors/id_claimer/id_pool.hpp"
#include "parti/messages/codec.hpp"
#include "tests/support/group.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

std::set<std::string> ids_of(const std::vector<node_status>& statuses) {
  std::set<std::string> ids;
  for (const auto& s : statuses)
    if (!s.worker.empty()) ids.insert(s.worker);
  return ids;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(membership, test::node_group)

BOOST_AUTO_TEST_CASE(twenty_nodes_claim_twenty_distinct_ids) {
  for (int i = 0; i < 20; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return ids_of(statuses()).size() == 20; }, 15s));
  auto ids = ids_of(statuses());
  BOOST_TEST(ids.count("worker-0") == 1u);  // everyone raced for it: one won
  // Claimers that lost a race draw from the lowest free ids (id_pool): gaps, but in range.
  for (const auto& id : ids) BOOST_TEST(parse_worker_id("worker", id).value_or(1000) <= 999u, id);
}

BOOST_AUTO_TEST_CASE(nodes_started_one_after_another_take_the_lowest_free_ids) {
  for (std::uint32_t i = 0; i < 3; ++i) {
    auto n = add_node();
    auto expected = "worker-" + std::to_string(i);
    BOOST_REQUIRE(test::eventually([&] { return status(n).worker == expected; }, 5s));
  }
}

BOOST_AUTO_TEST_CASE(preferred_id_is_claimed_first) {
  auto n = add_node(7u);
  BOOST_REQUIRE(test::eventually([&] { return status(n).worker == "worker-7"; }, 5s));
}

BOOST_AUTO_TEST_CASE(an_overwritten_claim_is_lost_and_claimed_again) {
  auto n = add_node();
  BOOST_REQUIRE(test::eventually([&] { return status(n).worker == "worker-0"; }, 5s));
  // Someone else writes the key: the next renewal fails with a wrong revision.
  auto t0 = std::chrono::steady_clock::now();
  group->ids->put("worker-0", encode(id_claim{"intruder", "elsewhere", 1, 0}));
  BOOST_REQUIRE(test::eventually([&] { return status(n).ids_lost == 1; }, 5s));
  auto detected = std::chrono::steady_clock::now() - t0;
  BOOST_TEST(detected <= config.id_ttl / 3 + 300ms);
  // The intruder holds worker-0 now, so the node claims the next free id.
  BOOST_REQUIRE(test::eventually([&] { return status(n).worker == "worker-1"; }, 5s));
}

BOOST_AUTO_TEST_CASE(a_deleted_claim_is_lost_and_the_node_owns_nothing_meanwhile) {
  caf::scoped_actor self{sys};
  auto n = add_node(std::nullopt, caf::actor_cast<caf::actor>(self));
  BOOST_REQUIRE(test::eventually([&] { return status(n).worker == "worker-0"; }, 5s));
  assignment_record a;
  a.worker = "worker-0";
  a.epoch = 1;
  a.version = 1;
  a.partitions = {{{"p-0"}, 1}, {{"p-1"}, 1}};
  group->assignments->put("worker-0", encode(a));
  BOOST_REQUIRE(test::eventually([&] { return status(n).owned.size() == 2; }, 5s));
  group->ids->erase("worker-0");
  // Dropped at once on loss: the subscriber is told before anything else happens. (The status
  // cannot show it reliably: the id is free again, so the node may already have re-claimed
  // worker-0 and re-applied the kept assignment by the time it is asked.)
  std::optional<assignment_update> dropped;
  self->receive_while([&] { return !dropped; })(
      [&](const assignment_update& u) {
        if (u.reason == "id_lost") dropped = u;
      },
      [](const caf::message&) {},
      caf::after(std::chrono::seconds(3)) >> [&] { dropped = assignment_update{}; });
  BOOST_TEST(dropped->reason == "id_lost");
  BOOST_TEST(dropped->owned.empty());
  BOOST_TEST(dropped->removed.size() == 2u);
  BOOST_TEST(status(n).ids_lost == 1u);
}

BOOST_AUTO_TEST_CASE(ten_nodes_elect_exactly_one_leader) {
  for (int i = 0; i < 10; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return sole_leader().has_value(); }, 10s));
  auto leader = *sole_leader();
  BOOST_TEST(leader.epoch > 0u);
  // Followers learn the leader from their watch of the lease, a moment after it won.
  BOOST_TEST(test::eventually(
      [&] {
        for (const auto& s : statuses())
          if (s.leader_id != leader.worker) return false;
        return true;
      },
      3s));
}

BOOST_AUTO_TEST_CASE(a_crashed_leader_is_replaced_with_a_greater_epoch) {
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return sole_leader().has_value(); }, 10s));
  auto old = *sole_leader();
  caf::actor old_node;
  for (auto& n : nodes)
    if (status(n).worker == old.worker) old_node = n;
  auto t0 = std::chrono::steady_clock::now();
  crash(old_node);
  nodes.erase(std::find(nodes.begin(), nodes.end(), old_node));
  auto limit = config.election_ttl + config.election_ttl / 3 + 1s;
  BOOST_REQUIRE(test::eventually([&] { return sole_leader().has_value(); }, 10s));
  auto took = std::chrono::steady_clock::now() - t0;
  auto fresh = *sole_leader();
  BOOST_TEST(fresh.worker != old.worker);
  BOOST_TEST(fresh.epoch > old.epoch);
  BOOST_TEST(took <= limit);
}

BOOST_AUTO_TEST_CASE(a_gracefully_stopped_leader_is_replaced_within_a_second) {
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return sole_leader().has_value(); }, 10s));
  auto old = *sole_leader();
  caf::actor old_node;
  for (auto& n : nodes)
    if (status(n).worker == old.worker) old_node = n;
  auto t0 = std::chrono::steady_clock::now();
  stop(old_node, shutdown_intent::drain);
  nodes.erase(std::find(nodes.begin(), nodes.end(), old_node));
  BOOST_REQUIRE(test::eventually([&] { return sole_leader().has_value(); }, 5s));
  auto took = std::chrono::steady_clock::now() - t0;
  BOOST_TEST(took <= 1s);
  BOOST_TEST(sole_leader()->epoch > old.epoch);
  // A graceful stop releases the claim and deletes the heartbeat.
  BOOST_TEST(test::eventually([&] { return !group->ids->get(old.worker).ok(); }, 2s));
  BOOST_TEST(!group->heartbeats->get(old.worker).ok());
}

BOOST_AUTO_TEST_CASE(assignments_are_fenced_and_delivered_in_order_with_diffs) {
  caf::scoped_actor self{sys};
  auto n = add_node(std::nullopt, caf::actor_cast<caf::actor>(self));
  BOOST_REQUIRE(test::eventually([&] { return status(n).worker == "worker-0"; }, 5s));
  auto publish = [&](std::uint64_t epoch, std::uint64_t version, std::vector<std::string> keys) {
    assignment_record a;
    a.worker = "worker-0";
    a.epoch = epoch;
    a.version = version;
    a.reason = "test";
    for (auto& k : keys) a.partitions.push_back({{k}, 1});
    group->assignments->put("worker-0", encode(a));
  };
  publish(5, 1, {"a", "b"});
  BOOST_REQUIRE(test::eventually([&] { return status(n).applied_version == 1; }, 5s));
  publish(4, 9, {"x"});  // a deposed leader's record: smaller epoch, ignored
  publish(5, 2, {"b", "c"});
  BOOST_REQUIRE(test::eventually([&] { return status(n).applied_version == 2; }, 5s));
  BOOST_TEST(status(n).applied_epoch == 5u);
  group->assignments->erase("worker-0");
  BOOST_REQUIRE(test::eventually([&] { return status(n).owned.empty(); }, 5s));
  // What the subscriber saw, in order.
  std::vector<assignment_update> seen;
  bool more = true;
  while (more)
    self->receive([&](const assignment_update& u) { seen.push_back(u); },
                  [](const node_state_update&) {}, [](const leadership_update&) {},
                  caf::after(std::chrono::milliseconds(200)) >> [&] { more = false; });
  BOOST_REQUIRE(seen.size() == 3u);
  auto keys = [](const std::vector<partition>& ps) {
    std::vector<std::string> out;
    for (auto& p : ps) out.push_back(p.keys.at(0));
    return out;
  };
  BOOST_TEST(keys(seen[0].added) == (std::vector<std::string>{"a", "b"}));
  BOOST_TEST(keys(seen[1].owned) == (std::vector<std::string>{"b", "c"}));
  BOOST_TEST(keys(seen[1].added) == (std::vector<std::string>{"c"}));
  BOOST_TEST(keys(seen[1].removed) == (std::vector<std::string>{"a"}));
  BOOST_TEST(seen[2].owned.empty());
  BOOST_TEST(keys(seen[2].removed) == (std::vector<std::string>{"b", "c"}));
  // The heartbeat reports what was applied.
  auto hb = decode<heartbeat_record>(group->heartbeats->get("worker-0")->value);
  BOOST_TEST(hb->applied_epoch == 5u);
}

BOOST_AUTO_TEST_CASE(a_child_that_keeps_failing_takes_the_node_to_failed) {
  // The leader work dies as soon as it starts, every time it is restarted.
  leaders = [](caf::actor_system& s, const leader_context&) {
    return s.spawn([](caf::event_based_actor* self) {
      self->quit(caf::make_error(caf::sec::runtime_error, "broken leader"));
    });
  };
  caf::scoped_actor self{sys};
  auto n = add_node(std::nullopt, caf::actor_cast<caf::actor>(self));
  // Restarted with backoff (100 ms, 200 ms, ...): more than 5 failures within a minute -> Failed.
  BOOST_REQUIRE(test::eventually([&] { return status(n).state == "Failed"; }, 20s));
  bool told = false;
  bool more = true;
  while (more && !told)
    self->receive([&](const node_state_update& u) { told = u.to == "Failed"; },
                  [](const assignment_update&) {}, [](const leadership_update&) {},
                  caf::after(std::chrono::milliseconds(500)) >> [&] { more = false; });
  BOOST_TEST(told);  // subscribers hear it: never a silent hang
  // A failed node still answers and can be stopped.
  stop(n, shutdown_intent::restart);
  nodes.clear();
}

BOOST_AUTO_TEST_CASE(a_restarted_worker_with_a_kept_assignment_becomes_stable) {
  // What a restart with restart intent leaves behind: the worker's key with its partitions.
  add_node(5u);  // opens the group's buckets; this node takes worker-5
  assignment_record a;
  a.worker = "worker-0";
  a.epoch = 1;
  a.version = 3;
  a.partitions = {{{"p-0"}, 1}, {{"p-1"}, 1}};
  group->assignments->put("worker-0", encode(a));
  auto n = add_node(0u);
  // The kept assignment may arrive before the node knows who leads; it must end up Stable.
  BOOST_TEST(test::eventually(
      [&] {
        auto s = status(n);
        return s.state == "Stable" && s.owned.size() == 2;
      },
      10s));
}

BOOST_AUTO_TEST_CASE(an_invalid_configuration_is_refused_with_the_rule) {
  node_options o;
  o.config = config;
  o.config.heartbeat_ttl = o.config.heartbeat_interval;  // must be >= 2x
  o.group = nullptr;
  auto r = spawn_node(sys, o);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().find("heartbeat_ttl") != std::string::npos, r.error());
}

BOOST_AUTO_TEST_SUITE_END()
