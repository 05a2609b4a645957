// parti-node's probes: /healthz (the node actors answer) and /readyz (every node holds its id,
// has applied an assignment, is not Degraded and its lease lets it serve), /readyz/<i> per node
// of --workers. The readiness rules on the status cache, step by step; then the program run as
// Kubernetes would probe it, against a nats-server that is not there at first, then stopped and
// started again.
#include <boost/test/unit_test.hpp>

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include <csignal>
#include <limits>
#include <regex>
#include <set>

#include "apps/lib/fleet.hpp"
#include "apps/lib/http_client.hpp"
#include "apps/lib/node_probes.hpp"
#include "apps/lib/status_cache.hpp"
#include "parti/messages/inspect.hpp"
#include "parti/runtime/nats/local_server.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/run_program.hpp"

using namespace parti;
using namespace std::chrono_literals;
using nlohmann::json;
using node_app::status_cache;

namespace {

constexpr auto forever = std::numeric_limits<std::int64_t>::max();

/// Every node of `cache` claimed its id ("w-<i>").
void claim_ids(status_cache& cache) {
  for (int i = 0; i < cache.nodes(); ++i) {
    auto id = "w-" + std::to_string(i);
    cache.on_state(i, {id, "Init", "ClaimingID", "", 1});
    cache.on_state(i, {id, "ClaimingID", "Election", "", 2});
  }
}

/// Node `i` applied an assignment (empty: it owns nothing) and its lease is valid.
void make_ready(status_cache& cache, int i) {
  auto id = "w-" + std::to_string(i);
  cache.on_assignment(i, assignment_update{id, {}, {}, {}, 1, 1, "assigned", {}});
  cache.on_lease(i, lease_update{id, "valid", forever});
  cache.on_state(i, {id, "WaitingAssignment", "Stable", "", 3});
}

std::string reason_of(const status_cache& cache, int node) {
  return cache.ready(node).reason;
}

std::vector<std::string> node_args(std::vector<std::string> args) {
  args.insert(args.begin(), test::app_binary("parti-node"));
  for (auto& a : fleet::fast_timing_args()) args.push_back(std::move(a));
  for (const char* a : {"--metrics-address=127.0.0.1:0", "--shutdown=restart"}) args.push_back(a);
  return args;
}

struct probe {
  int code = 0;
  json body;
};

probe get(int port, const std::string& path) {
  auto r = http_get(port, path, 3s);
  probe p{r.code, json()};
  if (r.code != 0 && !r.body.empty()) p.body = json::parse(r.body, nullptr, false);
  return p;
}

bool is_one_of(const json& value, std::initializer_list<const char*> texts) {
  if (!value.is_string()) return false;
  for (const char* t : texts)
    if (value == t) return true;
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(health)

BOOST_AUTO_TEST_CASE(a_node_is_ready_once_it_holds_an_id_and_applied_an_empty_assignment) {
  status_cache cache({"g", "nats://x", false, "4"}, 1);
  BOOST_TEST(reason_of(cache, 0) == "no_worker_id");
  cache.on_state(0, {"w-0", "Init", "ClaimingID", "", 1});
  BOOST_TEST(reason_of(cache, 0) == "no_worker_id");  // claiming: no id held yet
  cache.on_state(0, {"w-0", "ClaimingID", "Election", "", 2});
  cache.on_lease(0, lease_update{"w-0", "valid", forever});
  BOOST_TEST(reason_of(cache, 0) == "no_assignment");
  // A leader mirrors the group's state before any assignment: not ready for that.
  cache.on_state(0, {"w-0", "WaitingAssignment", "Scaling", "", 3});
  BOOST_TEST(reason_of(cache, 0) == "no_assignment");
  cache.on_assignment(0, assignment_update{"w-0", {}, {}, {}, 1, 1, "assigned", {}});
  auto r = cache.ready(0);
  BOOST_TEST(r.ready);
  BOOST_TEST(r.reason.empty());
  BOOST_TEST(r.worker == "w-0");
  BOOST_TEST(r.state == "Scaling");
}

BOOST_AUTO_TEST_CASE(a_suspended_lease_a_degraded_or_failed_node_and_an_id_loss_are_not_ready) {
  status_cache cache({"g", "nats://x", false, "4"}, 1);
  claim_ids(cache);
  make_ready(cache, 0);
  BOOST_TEST(cache.ready(0).ready);
  cache.on_lease(0, lease_update{"w-0", "suspended", 0});
  BOOST_TEST(reason_of(cache, 0) == "suspended");
  cache.on_state(0, {"w-0", "Stable", "Degraded", "store unreachable", 4});
  BOOST_TEST(reason_of(cache, 0) == "degraded");
  cache.on_lease(0, lease_update{"w-0", "valid", forever});
  cache.on_state(0, {"w-0", "Degraded", "Stable", "revalidated", 5});
  BOOST_TEST(cache.ready(0).ready);
  // A lease whose horizon has passed is not valid, whatever the node last said.
  cache.on_lease(0, lease_update{"w-0", "valid", 1});
  BOOST_TEST(reason_of(cache, 0) == "suspended");
  cache.on_lease(0, lease_update{"w-0", "valid", forever});
  // The id lost: the node drops its assignment itself, which is no assignment received.
  cache.on_state(0, {"w-0", "Stable", "ClaimingID", "id lost", 6});
  cache.on_assignment(0, assignment_update{"w-0", {}, {}, {}, 0, 0, "id_lost", {}});
  BOOST_TEST(reason_of(cache, 0) == "no_worker_id");
  cache.on_state(0, {"w-0", "ClaimingID", "Failed", "restarts exhausted", 7});
  BOOST_TEST(reason_of(cache, 0) == "failed");
}

BOOST_AUTO_TEST_CASE(readyz_needs_every_node_and_names_the_first_that_is_not) {
  status_cache cache({"g", "nats://x", false, "4"}, 2);
  claim_ids(cache);
  make_ready(cache, 0);
  auto all = cache.readiness_report();
  BOOST_TEST(!all.ready);
  auto body = json::parse(all.json);
  BOOST_TEST(body["ready"] == false);
  BOOST_TEST(body["reason"] == "node 1: no_assignment");
  BOOST_TEST(body["nodes"].size() == 2u);
  BOOST_TEST(body["nodes"][0]["ready"] == true);
  BOOST_TEST(!body["nodes"][0].contains("reason"));
  auto one = json::parse(cache.readiness_report(1).json);
  BOOST_TEST(one["ready"] == false);
  BOOST_TEST(one["reason"] == "no_assignment");
  BOOST_TEST(one["worker"] == "w-1");
  BOOST_TEST(one["index"] == 1);
  BOOST_TEST(cache.readiness_report(0).ready);

  make_ready(cache, 1);
  all = cache.readiness_report();
  BOOST_TEST(all.ready);
  BOOST_TEST(json::parse(all.json)["ready"] == true);
  BOOST_TEST(!json::parse(all.json).contains("reason"));
  cache.on_state(0, {"w-0", "Stable", "Degraded", "", 4});
  BOOST_TEST(json::parse(cache.readiness_report().json)["reason"] == "node 0: degraded");
  BOOST_TEST(cache.readiness_report(1).ready);
}

/// A stand-in for a node actor: answers (caf::get_atom) with a node_status in `state`.
caf::behavior answering_node(caf::event_based_actor*, std::string state) {
  return {[=](caf::get_atom) {
    node_status s;
    s.worker = "w";
    s.state = state;
    return s;
  }};
}

/// A stand-in for a stuck node actor: takes the request and never answers it.
struct silent_state {
  std::vector<caf::response_promise> held;
};
caf::behavior silent_node(caf::stateful_actor<silent_state>* self) {
  return {[=](caf::get_atom) -> caf::result<node_status> {
    self->state.held.push_back(self->make_response_promise());
    return caf::delegated<node_status>();
  }};
}

BOOST_AUTO_TEST_CASE(healthz_fails_for_a_node_that_does_not_answer_has_ended_or_failed) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto stable = sys.spawn(answering_node, "Stable");
  auto failed = sys.spawn(answering_node, "Failed");
  auto silent = sys.spawn(silent_node);
  auto ended = sys.spawn(answering_node, "Stable");
  {
    caf::scoped_actor self{sys};
    self->monitor(ended);
    self->send_exit(ended, caf::exit_reason::kill);
    self->receive([](const caf::down_msg&) {});
  }
  node_app::node_handles nodes;
  BOOST_TEST(json::parse(node_app::liveness(sys, nodes).body)["starting"] == true);
  BOOST_TEST(node_app::liveness(sys, nodes).code == 200);  // no node yet: waiting, live

  nodes.set({stable, stable});
  auto live = node_app::liveness(sys, nodes, 300ms);
  BOOST_TEST(live.code == 200, live.body);
  auto body = json::parse(live.body);
  BOOST_TEST(body["alive"] == true);
  BOOST_TEST(body["nodes"].size() == 2u);
  BOOST_TEST(body["nodes"][1]["state"] == "Stable");

  auto started = std::chrono::steady_clock::now();
  nodes.set({stable, silent, silent});
  live = node_app::liveness(sys, nodes, 300ms);
  auto took = std::chrono::steady_clock::now() - started;
  BOOST_TEST(live.code == 503, live.body);
  body = json::parse(live.body);
  BOOST_TEST(body["alive"] == false);
  BOOST_TEST(body["reason"] == "node 1: no answer within 300ms", live.body);
  BOOST_TEST(body["nodes"][0]["alive"] == true);
  BOOST_TEST(body["nodes"][2]["alive"] == false);
  BOOST_TEST((took < 900ms), "one deadline for all requests, not one after the other");

  nodes.set({stable, ended});
  live = node_app::liveness(sys, nodes, 300ms);
  BOOST_TEST(live.code == 503, live.body);
  BOOST_TEST(
      json::parse(live.body)["reason"].get<std::string>().rfind("node 1: not answering", 0) == 0u,
      live.body);

  nodes.set({failed});
  live = node_app::liveness(sys, nodes, 300ms);
  BOOST_TEST(live.code == 503, live.body);
  BOOST_TEST(json::parse(live.body)["reason"] == "node 0: failed", live.body);

  for (const auto& a : {stable, failed, silent})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

// The program: its endpoint answers before the store is reachable (not ready, yet live), it
// gets ready once the store is there, not ready while the store is stopped, ready again after.
BOOST_AUTO_TEST_CASE(probes_follow_the_store_from_absent_to_stopped_and_back) {
  local_nats_server server;
  server.stop();  // its port is known, nothing listens there yet
  test::child_program node(
      node_args({"--nats-url=" + server.url(), "--group=probes", "--partitions=2"}));
  BOOST_REQUIRE_MESSAGE(test::eventually([&] { return test::status_port(node) != 0; }, 15s),
                        node.output());
  const int port = test::status_port(node);

  auto ready = get(port, "/readyz");
  BOOST_TEST(ready.code == 503, node.output());
  BOOST_TEST(ready.body["ready"] == false);
  BOOST_TEST(ready.body["reason"] == "node 0: no_worker_id", ready.body.dump());
  auto one = get(port, "/readyz/0");
  BOOST_TEST(one.code == 503);
  BOOST_TEST(one.body["reason"] == "no_worker_id", one.body.dump());
  BOOST_TEST(one.body["worker"] == "");
  auto live = get(port, "/healthz");  // waiting for the store is no reason to restart
  BOOST_TEST(live.code == 200, live.body.dump());
  BOOST_TEST(live.body["alive"] == true);

  server.start();
  BOOST_TEST_REQUIRE(test::eventually([&] { return get(port, "/readyz").code == 200; }, 20s),
                     get(port, "/readyz").body.dump() + node.output());
  one = get(port, "/readyz/0");
  BOOST_TEST(one.code == 200);
  BOOST_TEST(one.body["ready"] == true);
  BOOST_TEST(one.body["worker"] != "");
  live = get(port, "/healthz");
  BOOST_TEST(live.code == 200, live.body.dump());
  BOOST_TEST(live.body["nodes"].size() == 1u);
  BOOST_TEST(live.body["nodes"][0]["alive"] == true);

  server.stop();
  probe cut;
  BOOST_TEST_REQUIRE(test::eventually(
                         [&] {
                           cut = get(port, "/readyz/0");
                           return cut.code == 503;
                         },
                         10s),
                     node.output());
  BOOST_TEST(is_one_of(cut.body["reason"], {"suspended", "degraded"}), cut.body.dump());
  BOOST_TEST(cut.body["ready"] == false);
  // Not ready, still live: the node actors answer while the store is away.
  live = get(port, "/healthz");
  BOOST_TEST(live.code == 200, live.body.dump());

  server.start();
  BOOST_TEST(test::eventually([&] { return get(port, "/readyz").code == 200; }, 20s),
             get(port, "/readyz").body.dump() + node.output());
  BOOST_TEST(get(port, "/healthz").code == 200);

  node.signal(SIGTERM);
  auto code = node.wait(20s);
  BOOST_TEST((code && *code == 0), node.output());
}

// With --cold-start=wait the leader publishes nothing until the window closes: the node holds
// its id meanwhile, with no assignment applied, and is not ready for that reason.
BOOST_AUTO_TEST_CASE(a_node_without_its_first_assignment_is_not_ready) {
  local_nats_server server;
  auto args = node_args(
      {"--nats-url=" + server.url(), "--group=waiting", "--partitions=2", "--cold-start=wait"});
  args.push_back("--cold-start-window=3s");  // the later value wins over node_args' 1 s
  test::child_program node(args);
  BOOST_REQUIRE_MESSAGE(test::eventually([&] { return test::status_port(node) != 0; }, 15s),
                        node.output());
  const int port = test::status_port(node);
  probe waiting;
  BOOST_TEST_REQUIRE(test::eventually(
                         [&] {
                           waiting = get(port, "/readyz/0");
                           return waiting.body.is_object() && waiting.body["worker"] != "";
                         },
                         10s),
                     node.output());
  BOOST_TEST(waiting.code == 503, waiting.body.dump() + node.output());
  BOOST_TEST(waiting.body["reason"] == "no_assignment", waiting.body.dump());
  BOOST_TEST(get(port, "/healthz").code == 200);
  BOOST_TEST(test::eventually([&] { return get(port, "/readyz").code == 200; }, 15s),
             get(port, "/readyz").body.dump() + node.output());

  node.signal(SIGTERM);
  auto code = node.wait(20s);
  BOOST_TEST((code && *code == 0), node.output());
}

// --workers=2 with one partition: one node owns nothing, and an empty assignment counts.
BOOST_AUTO_TEST_CASE(with_two_workers_readyz_waits_for_both_and_each_has_its_own) {
  local_nats_server server;
  test::child_program node(
      node_args({"--nats-url=" + server.url(), "--group=pair", "--partitions=1", "--workers=2"}));
  BOOST_REQUIRE_MESSAGE(test::eventually([&] { return test::status_port(node) != 0; }, 15s),
                        node.output());
  const int port = test::status_port(node);
  BOOST_TEST_REQUIRE(test::eventually([&] { return get(port, "/readyz").code == 200; }, 20s),
                     get(port, "/readyz").body.dump() + node.output());
  auto all = get(port, "/readyz");
  BOOST_TEST(all.body["nodes"].size() == 2u);
  std::set<std::string> workers;
  for (int i = 0; i < 2; ++i) {
    auto one = get(port, "/readyz/" + std::to_string(i));
    BOOST_TEST(one.code == 200, one.body.dump());
    BOOST_TEST(one.body["index"] == i);
    workers.insert(one.body["worker"].get<std::string>());
  }
  BOOST_TEST(workers.size() == 2u);  // two nodes, two ids
  BOOST_TEST(get(port, "/readyz/2").code == 404);
  auto live = get(port, "/healthz");
  BOOST_TEST(live.code == 200, live.body.dump());
  BOOST_TEST(live.body["nodes"].size() == 2u);

  node.signal(SIGTERM);
  auto code = node.wait(20s);
  BOOST_TEST((code && *code == 0), node.output());
}

BOOST_AUTO_TEST_SUITE_END()
