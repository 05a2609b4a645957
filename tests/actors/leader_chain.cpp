// The leader subtree's actor shells under CAF's deterministic test scheduler: virtual time, no
// threads, no network. The KV buckets are scheduled fakes (a map behind the kv_actor
// interface), the node is a fake that records the group phases it is told, and the heartbeat
// watch is played by the test, which sends the worker monitor what the watch would.
//
// The chain: heartbeats seen -> monitor_ready -> cold-start window -> round 1 published; then one
// worker stops heartbeating -> expiry after the TTL -> emergency after the grace -> round 2 ->
// its holder fenced -> its partitions granted once its lease must have lapsed.
#include <boost/test/unit_test.hpp>

#include <caf/all.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "parti/actors/calculator/calculator_actor.hpp"
#include "parti/actors/emergency_detector/emergency_detector_actor.hpp"
#include "parti/actors/partition_loader/partition_loader_actor.hpp"
#include "parti/actors/publisher/publisher_actor.hpp"
#include "parti/actors/state_machine/state_machine_actor.hpp"
#include "parti/actors/worker_monitor/worker_monitor_actor.hpp"
#include "parti/messages/codec.hpp"
#include "parti/runtime/nats/kv_actor.hpp"
#include "parti/runtime/partition_source.hpp"
#include "parti/runtime/strategy/strategy.hpp"
#include "tests/support/fake_kv.hpp"
#include "tests/support/test_scheduler.hpp"

using namespace parti;
using namespace std::chrono_literals;
using test::fake_kv;
using test::kv_log;

namespace {

/// The node as the state machine sees it: it records the phases.
caf::behavior fake_node(caf::event_based_actor*, std::shared_ptr<std::vector<std::string>> phases) {
  return {[=](const group_state_update& u) { phases->push_back(to_string(u.state)); }};
}

struct leader_chain_fixture : test::scheduled_system {
  std::shared_ptr<kv_log> assignments_log = std::make_shared<kv_log>();
  std::shared_ptr<kv_log> heartbeats_log = std::make_shared<kv_log>();
  std::shared_ptr<std::vector<std::string>> phases = std::make_shared<std::vector<std::string>>();
  worker_monitor_actor monitor;
  std::vector<caf::actor> actors;  // every actor of the test, to end them
  std::map<std::string, std::uint64_t> seq;

  static constexpr caf::timespan ttl = 3s;
  static constexpr caf::timespan grace = 1s;
  static constexpr caf::timespan cold_start = 2s;

  leader_chain_fixture() { spawn_subtree(); }

  ~leader_chain_fixture() {
    // The actors never stop on their own, and the system waits for every actor.
    for (auto& a : actors) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    run_all();
  }

  void spawn_subtree() {
    auto node = sys->spawn(fake_node, phases);
    auto assignments = sys->spawn(fake_kv, assignments_log, origin);
    auto heartbeats = sys->spawn(fake_kv, heartbeats_log, origin);
    rebalance_options rules;
    rules.cold_start_window = cold_start;
    // One round at the window's end: the immediate mode's first round is rebalance_rules' test.
    rules.cold_start = cold_start_mode::wait;
    rules.cooldown = 0s;
    auto sm = sys->spawn(state_machine, state_machine_settings{rules, {}, 60s, nullptr, "worker-a"},
                         caf::actor_cast<group_phase_listener>(node));
    auto detector =
        sys->spawn(emergency_detector, emergency_options{grace}, std::vector<std::string>{}, sm);
    publisher_settings ps;
    ps.leader = "worker-a";
    ps.epoch = 1;
    ps.handoff = {handoff_mode::cooperative, 10s};
    ps.request_timeout = 1s;
    ps.heartbeat_ttl = ttl;
    auto pub = sys->spawn(publisher, ps, assignments, heartbeats, sm, detector);
    auto algorithm = strategy_registry().find("sticky");
    BOOST_REQUIRE(algorithm);
    // The loader runs each load in place: a count source cannot block, and the test scheduler
    // runs every actor on this thread.
    partition_loader_settings ls;
    ls.source = count_source(6);
    ls.run = [](std::function<void()> job) { job(); };
    ls.worker = "worker-a";
    auto loader = sys->spawn(partition_loader, ls);
    auto calc = sys->spawn(
        calculator, calculator_settings{loader, *algorithm, {}, {}, nullptr, "worker-a"}, pub, sm);
    caf::anon_send(sm, peers_atom::value, calc);
    liveness_options lo;
    lo.heartbeat_ttl = ttl;
    lo.rebuild_grace = 1s;
    lo.silence_threshold = ttl / 2;
    lo.mass_expiry_share = 1.0;  // two workers: one expiring is no mass disappearance
    monitor = sys->spawn(worker_monitor, lo, nullptr, std::vector<std::string>{},
                         worker_monitor_peers{sm, detector, pub, nullptr, "worker-a"});
    for (auto a : {caf::actor_cast<caf::actor>(node), caf::actor_cast<caf::actor>(assignments),
                   caf::actor_cast<caf::actor>(heartbeats), caf::actor_cast<caf::actor>(sm),
                   caf::actor_cast<caf::actor>(detector), caf::actor_cast<caf::actor>(pub),
                   caf::actor_cast<caf::actor>(calc), caf::actor_cast<caf::actor>(monitor),
                   caf::actor_cast<caf::actor>(loader)})
      actors.push_back(a);
    run_all();
  }

  /// Lets virtual time pass in steps of 100 ms.
  void advance(caf::timespan d) { scheduled_system::advance(d, 100ms); }

  /// What the heartbeat watch would deliver for one heartbeat of `worker`.
  void heartbeat(const std::string& worker, bool initial = false) {
    heartbeat_record r;
    r.worker = worker;
    r.instance = "i-" + worker;
    r.seq = ++seq[worker];
    r.ttl_ms = 3000;
    r.sent_at = 1'000'000'000'000 + static_cast<std::uint64_t>(now_ms());
    kv_entry e;
    e.key = worker;
    e.value = encode(r);
    e.revision = 100 + seq[worker] * 10 + (worker == "worker-a" ? 1 : 2);
    caf::anon_send(monitor, watch_update{"heartbeats", e, initial});
    run_all();
  }

  std::vector<std::string> assignment_writes() const {
    std::vector<std::string> out;
    for (const auto& w : assignments_log->writes)
      out.push_back(std::to_string(w.at_ms) + " " + w.key + ": " + w.what);
    return out;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(leader_chain, leader_chain_fixture)

BOOST_AUTO_TEST_CASE(heartbeats_cold_start_expiry_emergency_fence_and_grant_in_virtual_time) {
  // The watch replays two workers and is ready: the cold-start window opens.
  heartbeat("worker-a", true);
  heartbeat("worker-b", true);
  caf::anon_send(monitor, watch_ready{"heartbeats", false, {}, 0});
  run_all();
  BOOST_TEST(*phases == std::vector<std::string>{"Scaling"}, boost::test_tools::per_element());
  BOOST_TEST(assignments_log->writes.empty());

  // Both heartbeat through the window; the round starts when it closes, not a tick earlier.
  for (int i = 0; i < 3; ++i) {
    advance(cold_start / 4);
    heartbeat("worker-a");
    heartbeat("worker-b");
  }
  BOOST_TEST(assignments_log->writes.empty(), "published before the window closed");
  advance(cold_start / 4);
  std::vector<std::string> round1{"2000 worker-a: e1 v1 3 partitions (cold_start)",
                                  "2000 worker-b: e1 v1 3 partitions (cold_start)",
                                  "2000 _manifest: manifest e1 v1"};
  BOOST_TEST(assignment_writes() == round1, boost::test_tools::per_element());
  BOOST_TEST(*phases == (std::vector<std::string>{"Scaling", "Rebalancing", "Stable"}),
             boost::test_tools::per_element());

  // worker-b falls silent; worker-a keeps heartbeating once a second.
  const auto silent_from = now_ms();  // worker-b's last heartbeat was at this moment
  for (int i = 0; i < 4; ++i) {
    advance(1s);
    heartbeat("worker-a");
  }
  // Expired at its last heartbeat + TTL, an emergency after the grace: 4 s after it fell silent.
  // The holder is fenced at once (its lease lapsed at the expiry already), and its partitions
  // go to worker-a in the same instant.
  advance(1s);
  const auto at = std::to_string(silent_from + 4000);
  BOOST_TEST(heartbeats_log->writes.size() == 1u);
  if (!heartbeats_log->writes.empty()) {
    BOOST_TEST(heartbeats_log->writes[0].key == "worker-b");
    BOOST_TEST(heartbeats_log->writes[0].what == "fenced by worker-a");
    BOOST_TEST(heartbeats_log->writes[0].at_ms == silent_from + 4000);
  }
  auto expected = round1;
  expected.push_back(at + " worker-b: e1 v2 0 partitions (emergency)");
  expected.push_back(at + " _manifest: manifest e1 v2");
  expected.push_back(at + " worker-a: e1 v3 6 partitions (emergency)");
  expected.push_back("-1 worker-b: deleted");
  expected.push_back(at + " _manifest: manifest e1 v3");
  BOOST_TEST(assignment_writes() == expected, boost::test_tools::per_element());
  BOOST_TEST(*phases == (std::vector<std::string>{"Scaling", "Rebalancing", "Stable", "Emergency",
                                                  "Stable"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
