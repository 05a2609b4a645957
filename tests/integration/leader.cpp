// The leader pipeline with real nodes on a real nats-server: cold start, planned scale, crash
// (emergency), leader failover, rolling restart, and cooperative hand-off exclusivity.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <map>
#include <set>

#include "actors/leader/leader_actor.hpp"
#include "runtime/nats/group_inspect.hpp"
#include "tests/support/leader_group.hpp"

using namespace parti;
using namespace std::chrono_literals;

using test::leader_group;
using test::moved;
using test::partition_count;

BOOST_FIXTURE_TEST_SUITE(leader_pipeline, leader_group)

BOOST_AUTO_TEST_CASE(cold_start_assigns_every_partition_once_after_the_window) {
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  auto took = std::chrono::steady_clock::now() - t0;
  BOOST_TEST(took >= config.cold_start_window);  // it waited for the window
  for (const auto& s : statuses()) BOOST_TEST(s.owned.size() == partition_count / 5);
  // One rebalance: every worker's key was written once (version 1).
  for (const auto& s : statuses()) BOOST_TEST(s.applied_version == 1u);
  // And the metrics say so.
  auto text = group->metrics->text();
  auto leader_id = sole_leader()->worker;
  BOOST_TEST(text.find("parti_calculator_rebalance_total{reason=\"cold_start\",result=\"success\",worker=\"" +
                       leader_id + "\"} 1") != std::string::npos,
             text);
  BOOST_TEST(text.find("parti_node_leader{worker=\"" + leader_id + "\"} 1") != std::string::npos);
  BOOST_TEST(text.find("parti_unassigned_partitions{worker=\"" + leader_id + "\"} 0") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(scale_up_and_down_moves_near_the_optimum) {
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  auto before = owner_map();
  add_node();
  add_node();
  BOOST_REQUIRE(test::eventually(
      [&] {
        if (!fully_covered()) return false;
        for (const auto& s : statuses())
          if (s.owned.size() != partition_count / 5) return false;
        return true;
      },
      20s));
  auto after = owner_map();
  auto optimum = partition_count * 2 / 5;  // the new workers' share
  BOOST_TEST(moved(before, after) <= optimum + 1);
  // 5 -> 3, gracefully (drain): the leavers' partitions move at once.
  std::vector<caf::actor> leavers;
  for (auto& n : nodes)
    if (!status(n).leader && leavers.size() < 2) leavers.push_back(n);
  for (auto& n : leavers) {
    stop(n, shutdown_intent::drain);
    forget(n);
  }
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  auto shrunk = owner_map();
  BOOST_TEST(moved(after, shrunk) <= optimum + 1);
}

BOOST_AUTO_TEST_CASE(a_crashed_worker_is_replaced_within_ttl_plus_grace) {
  for (int i = 0; i < 4; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  caf::actor victim;
  for (auto& n : nodes)
    if (!status(n).leader) victim = n;
  auto t0 = std::chrono::steady_clock::now();
  crash(victim);
  forget(victim);
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  auto took = std::chrono::steady_clock::now() - t0;
  BOOST_TEST(took <= config.heartbeat_ttl + config.emergency_grace + 1s);
}

BOOST_AUTO_TEST_CASE(a_crashed_leader_is_replaced_and_coverage_restored) {
  for (int i = 0; i < 4; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  auto old = *sole_leader();
  auto before = owner_map();
  auto victim = node_of(old.worker);
  auto t0 = std::chrono::steady_clock::now();
  crash(victim);
  forget(victim);
  BOOST_REQUIRE(test::eventually(
      [&] {
        auto l = sole_leader();
        return l && l->worker != old.worker && fully_covered();
      },
      20s));
  auto took = std::chrono::steady_clock::now() - t0;
  BOOST_TEST(took <= config.election_ttl + config.heartbeat_ttl + config.emergency_grace + 1s);
  // The new leader read the published assignment back: only the dead leader's partitions moved.
  std::size_t dead_leaders = 0;
  for (const auto& [key, owner] : before) dead_leaders += owner == old.worker ? 1 : 0;
  BOOST_TEST(moved(before, owner_map()) == dead_leaders);
}

BOOST_AUTO_TEST_CASE(a_rolling_restart_moves_nothing) {
  for (int i = 0; i < 4; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  auto before = owner_map();
  auto leader_id = sole_leader()->worker;
  std::vector<std::string> followers;
  for (const auto& s : statuses())
    if (!s.leader) followers.push_back(s.worker);
  for (const auto& worker : followers) {
    auto n = node_of(worker);
    auto number = static_cast<std::uint32_t>(std::stoul(worker.substr(worker.rfind('-') + 1)));
    stop(n, shutdown_intent::restart);
    forget(n);
    auto back = add_node(number);
    BOOST_REQUIRE(test::eventually(
        [&] {
          auto s = status(back);
          return s.worker == worker && !s.owned.empty();
        },
        10s));
  }
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 10s));
  BOOST_TEST(moved(before, owner_map()) == 0u);
  BOOST_TEST(sole_leader()->worker == leader_id);
}

BOOST_AUTO_TEST_CASE(cooperative_handoff_never_shows_two_owners) {
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  add_node();
  add_node();
  std::size_t samples = 0;
  bool settled = false;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!settled && std::chrono::steady_clock::now() < deadline) {
    for (const auto& [key, set] : owners()) BOOST_REQUIRE_MESSAGE(set.size() <= 1, key << " has two owners");
    ++samples;
    settled = fully_covered() && status(nodes.back()).owned.size() == partition_count / 5;
  }
  BOOST_TEST(settled);
  BOOST_TEST(samples > 10u);
}

BOOST_AUTO_TEST_CASE(a_refresh_asked_of_a_follower_reaches_the_leader) {
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  caf::actor follower;
  for (auto& n : nodes)
    if (!status(n).leader) follower = n;
  count->store(90);  // the source of truth grew; nobody knows yet
  caf::scoped_actor self{sys};
  bool ok = false;
  self->request(follower, 5s, refresh_atom::value)
      .receive([&](caf::ok_atom) { ok = true; },
               [&](const caf::error& e) { BOOST_FAIL(caf::to_string(e)); });
  BOOST_TEST(ok);
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 10s));
  BOOST_TEST(owners().size() == 90u);
}

BOOST_AUTO_TEST_CASE(a_frozen_group_publishes_nothing_until_unfrozen) {
  for (int i = 0; i < 2; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  BOOST_REQUIRE(update_control(*group->assignments, [](control_record& c) { c.frozen = true; }));
  auto late = add_node();
  // Longer than the planned-scale window and cooldown: a rebalance would have happened.
  BOOST_TEST(!test::eventually([&] { return !status(late).owned.empty(); },
                               config.planned_scale_window + config.cooldown + 1s));
  BOOST_REQUIRE(update_control(*group->assignments, [](control_record& c) { c.frozen = false; }));
  BOOST_TEST(test::eventually([&] { return status(late).owned.size() == partition_count / 3; },
                              10s));
}

BOOST_AUTO_TEST_SUITE_END()
