// parti-ctl and the group_inspect library behind it, against a real nats-server with records
// written directly (no nodes): reading a group, health and its exit codes, explain, and the
// compare-and-swap updates of `_control`, also under concurrent writers.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <memory>

#include "parti/messages/codec.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/nats/group_buckets.hpp"
#include "parti/runtime/nats/group_inspect.hpp"
#include "tests/support/actors.hpp"
#include "tests/support/run_program.hpp"

using namespace parti;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using test::contains;

/// A group's buckets, created the way nodes create them (with TTLs long enough that nothing
/// expires during a test), and helpers to write its records.
struct ctl_fixture : test::nats_fixture {
  std::string group = "shop";
  std::shared_ptr<kv_store> ids, election, heartbeats, assignments;

  ctl_fixture() {
    node_config cfg;
    cfg.group = group;
    cfg.heartbeat_ttl = 60s;
    cfg.election_ttl = 60s;
    cfg.id_ttl = 120s;
    auto open = [&](std::string_view role) {
      auto s = kv_store::ensure(conn, bucket_for(cfg, role));
      if (!s) throw std::runtime_error(s.error());
      return *s;
    };
    ids = open(bucket_role::ids);
    election = open(bucket_role::election);
    heartbeats = open(bucket_role::heartbeats);
    assignments = open(bucket_role::assignments);
  }

  void lease(const std::string& worker, std::uint64_t epoch) {
    election->put(leader_key, encode(leader_lease{worker, "inst-" + worker, epoch, unix_millis()}));
  }

  void heartbeat(const std::string& worker, std::uint64_t applied_version = 1) {
    heartbeat_record hb;
    hb.worker = worker;
    hb.instance = "inst-" + worker;
    hb.seq = 1;
    hb.sent_at = unix_millis();
    hb.state = "Stable";
    hb.applied_epoch = 7;
    hb.applied_version = applied_version;
    heartbeats->put(worker, encode(hb));
  }

  void assign(const std::string& worker, const std::vector<std::vector<std::string>>& parts) {
    assignment_record a;
    a.worker = worker;
    a.epoch = 7;
    a.version = 1;
    a.reason = "cold_start";
    a.issued_at = unix_millis();
    for (const auto& keys : parts) a.partitions.push_back({keys, 1});
    assignments->put(worker, encode(a));
  }

  void manifest(std::vector<std::string> workers, std::uint64_t partition_count) {
    manifest_record m;
    m.epoch = 7;
    m.version = 1;
    m.reason = "cold_start";
    m.workers = std::move(workers);
    m.partition_count = partition_count;
    m.issued_at = unix_millis();
    assignments->put(manifest_key, encode(m));
  }

  /// Two workers, four partitions, a leader: all is well.
  void healthy_group() {
    lease("worker-0", 7);
    heartbeat("worker-0");
    heartbeat("worker-1");
    assign("worker-0", {{"p-0"}, {"p-1"}});
    assign("worker-1", {{"p-2"}, {"p-3", "p-3b"}});
    manifest({"worker-0", "worker-1"}, 4);
  }

  group_state read() {
    auto stores = group_stores::open(conn, group);
    BOOST_REQUIRE_MESSAGE(stores.ok(), stores.error());
    auto state = read_group(*stores);
    BOOST_REQUIRE_MESSAGE(state.ok(), state.error());
    return *state;
  }

  control_record control() {
    auto e = assignments->get(control_key);
    BOOST_REQUIRE_MESSAGE(e.ok(), e.error());
    auto c = decode<control_record>(e->value);
    BOOST_REQUIRE_MESSAGE(c.ok(), c.error());
    return *c;
  }

  /// Runs parti-ctl against this server and group with the given arguments.
  test::program_result ctl(std::vector<std::string> args) {
    std::vector<std::string> argv{test::app_binary("parti-ctl"), "--nats-url=" + server.url(),
                                  "--group=" + group};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run_program(argv, 30s);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(ctl, ctl_fixture)

// -- the library --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_healthy_group_reads_back_as_written) {
  healthy_group();
  auto state = read();
  BOOST_REQUIRE(state.leader.has_value());
  BOOST_TEST(state.leader->worker == "worker-0");
  BOOST_REQUIRE(state.manifest.has_value());
  BOOST_TEST(state.manifest->partition_count == 4u);
  BOOST_TEST(state.workers.size() == 2u);
  BOOST_TEST(partitions_of(state.workers.at("worker-1")) == 2u);
  BOOST_TEST(state.workers.at("worker-1").in_manifest);
  auto health = assess(state);
  BOOST_TEST(health.healthy);
  BOOST_TEST(health.partitions.assigned == 4u);
  BOOST_TEST(health.partitions.unassigned == 0u);
  BOOST_TEST(health.partitions.doubly_assigned == 0u);
}

BOOST_AUTO_TEST_CASE(unassigned_doubly_assigned_and_orphaned_partitions_are_counted) {
  lease("worker-0", 7);
  heartbeat("worker-0");
  heartbeat("worker-1");
  assign("worker-0", {{"p-0"}, {"p-1"}});
  assign("worker-1", {{"p-2"}, {"p-1"}});  // p-1 twice
  assign("worker-9", {{"p-3"}});           // no heartbeat: orphaned
  manifest({"worker-0", "worker-1", "worker-9"}, 6);
  auto health = assess(read());
  BOOST_TEST(!health.healthy);
  BOOST_TEST(health.partitions.expected == 6u);
  BOOST_TEST(health.partitions.assigned == 4u);  // p-0..p-3
  BOOST_TEST(health.partitions.unassigned == 2u);
  BOOST_TEST(health.partitions.doubly_assigned == 1u);
  BOOST_TEST(health.partitions.orphaned == 1u);
  BOOST_TEST(health.problems.size() == 2u);
}

BOOST_AUTO_TEST_CASE(an_undecodable_value_is_skipped_and_reported) {
  healthy_group();
  heartbeats->put("worker-2", "not msgpack at all");
  auto state = read();
  BOOST_TEST(!state.workers.count("worker-2"));
  BOOST_REQUIRE(state.skipped.size() == 1u);
  BOOST_TEST(contains(state.skipped.front(), "shop-heartbeats/worker-2"));
  BOOST_TEST(assess(state).healthy);  // a warning, not a problem
}

BOOST_AUTO_TEST_CASE(an_unknown_reserved_key_is_neither_a_worker_nor_skipped) {
  healthy_group();
  assignments->put("_future", "a record of a newer writer");
  auto state = read();
  BOOST_TEST(!state.workers.count("_future"));
  BOOST_TEST(state.skipped.empty());
  BOOST_TEST(assess(state).healthy);
}

BOOST_AUTO_TEST_CASE(a_group_that_does_not_exist_is_not_created) {
  auto stores = group_stores::open(conn, "nosuchgroup");
  BOOST_REQUIRE(!stores.ok());
  BOOST_TEST(stores.failure_value().code == kv_errc::not_found);
  BOOST_TEST(contains(stores.error(), "nosuchgroup-ids"), stores.error());
  BOOST_TEST(!group_stores::open(conn, "nosuchgroup").ok());  // still not there
}

BOOST_AUTO_TEST_CASE(a_control_update_creates_the_record_then_updates_it_by_revision) {
  auto first = update_control(*assignments, [](control_record& c) { ++c.rebalance_seq; });
  BOOST_REQUIRE_MESSAGE(first.ok(), first.error());
  BOOST_TEST(first->attempts == 1);
  auto second = update_control(*assignments, [](control_record& c) { c.frozen = true; });
  BOOST_REQUIRE_MESSAGE(second.ok(), second.error());
  BOOST_TEST(second->revision > first->revision);
  auto c = control();
  BOOST_TEST(c.rebalance_seq == 1u);
  BOOST_TEST(c.frozen);
  BOOST_TEST(c.updated_at > 0u);
}

BOOST_AUTO_TEST_CASE(a_concurrent_control_update_conflicts_and_is_retried_keeping_both) {
  update_control(*assignments, [](control_record& c) { c.drain = {"worker-1"}; });
  int calls = 0;
  auto result = update_control(*assignments, [&](control_record& c) {
    if (++calls == 1) {
      // Another operator writes between our read and our write.
      auto other = update_control(*assignments, [](control_record& o) { ++o.refresh_seq; });
      BOOST_REQUIRE(other.ok());
    }
    ++c.rebalance_seq;
  });
  BOOST_REQUIRE_MESSAGE(result.ok(), result.error());
  BOOST_TEST(result->attempts == 2);
  BOOST_TEST(calls == 2);
  auto c = control();
  BOOST_TEST(c.rebalance_seq == 1u);  // ours
  BOOST_TEST(c.refresh_seq == 1u);    // theirs, not lost
  BOOST_TEST(c.drain == std::vector<std::string>{"worker-1"});
}

BOOST_AUTO_TEST_CASE(a_control_update_gives_up_after_its_attempts) {
  auto result = update_control(
      *assignments,
      [&](control_record& c) {
        ++c.rebalance_seq;
        update_control(*assignments, [](control_record& o) { ++o.refresh_seq; });
      },
      3);
  BOOST_REQUIRE(!result.ok());
  BOOST_TEST(contains(result.error(), "3 attempts"), result.error());
}

BOOST_AUTO_TEST_CASE(an_undecodable_control_record_is_not_overwritten) {
  assignments->put(control_key, "garbage");
  auto result = update_control(*assignments, [](control_record& c) { ++c.rebalance_seq; });
  BOOST_REQUIRE(!result.ok());
  BOOST_TEST(contains(result.error(), "does not decode"), result.error());
  BOOST_TEST(assignments->get(control_key)->value == "garbage");
}

// -- the program ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(status_of_a_healthy_group_exits_0_with_a_table) {
  healthy_group();
  auto r = ctl({"status"});
  BOOST_TEST(r.code == 0, r.output());
  BOOST_TEST(contains(r.out, "leader: worker-0 (epoch 7"), r.output());
  BOOST_TEST(contains(r.out, "worker-1"), r.output());
  BOOST_TEST(contains(r.out, "4 expected, 4 assigned, 0 unassigned, 0 doubly assigned"),
             r.output());
  BOOST_TEST(contains(r.out, "health: ok"), r.output());
}

BOOST_AUTO_TEST_CASE(status_json_counts_partitions_and_exits_3_when_some_are_unassigned) {
  healthy_group();
  manifest({"worker-0", "worker-1"}, 6);   // two partitions nobody owns
  assign("worker-1", {{"p-2"}, {"p-0"}});  // and p-0 twice
  auto r = ctl({"--json", "status"});
  BOOST_TEST(r.code == 3, r.output());
  auto j = json::parse(r.out);
  BOOST_TEST(j["healthy"].get<bool>() == false);
  BOOST_TEST(j["partitions"]["expected"].get<int>() == 6);
  BOOST_TEST(j["partitions"]["assigned"].get<int>() == 3);
  BOOST_TEST(j["partitions"]["unassigned"].get<int>() == 3);
  BOOST_TEST(j["partitions"]["doubly_assigned"].get<int>() == 1);
  BOOST_TEST(j["leader"]["worker"].get<std::string>() == "worker-0");
  BOOST_TEST(j["workers"].size() == 2u);
  BOOST_TEST(j["workers"][0]["heartbeat"]["state"].get<std::string>() == "Stable");
}

BOOST_AUTO_TEST_CASE(status_without_a_leader_exits_3_and_says_why) {
  healthy_group();
  election->erase(leader_key);
  auto r = ctl({"status"});
  BOOST_TEST(r.code == 3, r.output());
  BOOST_TEST(contains(r.out, "UNHEALTHY: no leader"), r.output());
}

BOOST_AUTO_TEST_CASE(assignments_lists_the_keys_of_every_worker) {
  healthy_group();
  auto r = ctl({"assignments"});
  BOOST_TEST(r.code == 0, r.output());
  BOOST_TEST(contains(r.out, "p-3,p-3b"), r.output());
  auto j = json::parse(ctl({"assignments", "--json"}).out);
  BOOST_TEST(j["workers"]["worker-0"]["partitions"].size() == 2u);
}

BOOST_AUTO_TEST_CASE(explain_names_the_owner_and_the_record_or_exits_3) {
  healthy_group();
  auto r = ctl({"explain", "p-3b"});
  BOOST_TEST(r.code == 0, r.output());
  BOOST_TEST(contains(r.out, "owned by worker-1"), r.output());
  BOOST_TEST(contains(r.out, "e7 v1 (reason: cold_start"), r.output());
  auto j = json::parse(ctl({"--json", "explain", "p-0"}).out);
  BOOST_TEST(j["owners"][0]["worker"].get<std::string>() == "worker-0");
  auto none = ctl({"explain", "p-99"});
  BOOST_TEST(none.code == 3, none.output());
  BOOST_TEST(contains(none.out, "no worker owns"), none.output());
}

BOOST_AUTO_TEST_CASE(control_commands_update_the_control_record) {
  BOOST_TEST(ctl({"rebalance"}).code == 0);
  BOOST_TEST(ctl({"rebalance"}).code == 0);
  BOOST_TEST(ctl({"refresh"}).code == 0);
  BOOST_TEST(ctl({"freeze"}).code == 0);
  auto drain = ctl({"drain", "worker-3"});
  BOOST_TEST(drain.code == 0, drain.output());
  BOOST_TEST(contains(drain.err, "not known"), drain.output());  // nobody has that id
  BOOST_TEST(ctl({"drain", "worker-3"}).code == 0);              // idempotent
  auto c = control();
  BOOST_TEST(c.rebalance_seq == 2u);
  BOOST_TEST(c.refresh_seq == 1u);
  BOOST_TEST(c.frozen);
  BOOST_TEST(c.drain == std::vector<std::string>{"worker-3"});
  BOOST_TEST(ctl({"unfreeze"}).code == 0);
  BOOST_TEST(ctl({"undrain", "worker-3"}).code == 0);
  c = control();
  BOOST_TEST(!c.frozen);
  BOOST_TEST(c.drain.empty());
}

BOOST_AUTO_TEST_CASE(concurrent_ctl_processes_lose_no_request) {
  std::vector<std::unique_ptr<test::child_program>> runs;
  for (int i = 0; i < 6; ++i)
    runs.push_back(std::make_unique<test::child_program>(
        std::vector<std::string>{test::app_binary("parti-ctl"), "--nats-url=" + server.url(),
                                 "--group=" + group, "rebalance"}));
  for (auto& r : runs) {
    auto code = r->wait(30s);
    BOOST_TEST(code.value_or(-1) == 0, r->output());
  }
  BOOST_TEST(control().rebalance_seq == 6u);
}

BOOST_AUTO_TEST_CASE(bad_arguments_exit_2_with_one_clear_message) {
  struct bad {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<bad> cases{
      {{}, "missing command"},
      {{"frobnicate"}, "unknown command \"frobnicate\""},
      {{"explain"}, "explain: missing KEY"},
      {{"drain"}, "drain: missing WORKER"},
      {{"status", "extra"}, "unexpected argument \"extra\""},
      {{"--group=a.b", "status"}, "--group"},
      {{"--timeout=soon", "status"}, "--timeout"},
      {{"--frob", "status"}, "unknown option --frob"},
      {{"drain", "bad key!"}, "is not a worker id"},
  };
  for (const auto& c : cases) {
    auto r = ctl(c.args);
    BOOST_TEST_CONTEXT("args: " << (c.args.empty() ? "" : c.args.front())) {
      BOOST_TEST(r.code == 2, r.output());
      BOOST_TEST(contains(r.err, c.message), r.output());
    }
  }
}

BOOST_AUTO_TEST_CASE(unreachable_nats_or_a_missing_group_exit_1) {
  auto port = free_loopback_port();
  auto r = test::run_program({test::app_binary("parti-ctl"),
                              "--nats-url=nats://127.0.0.1:" + std::to_string(port), "status"});
  BOOST_TEST(r.code == 1, r.output());
  BOOST_TEST(contains(r.err, "cannot reach NATS"), r.output());
  auto missing = test::run_program(
      {test::app_binary("parti-ctl"), "--nats-url=" + server.url(), "--group=other", "status"});
  BOOST_TEST(missing.code == 1, missing.output());
  BOOST_TEST(contains(missing.err, "other-ids does not exist"), missing.output());
}

BOOST_AUTO_TEST_SUITE_END()
