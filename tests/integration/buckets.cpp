// The group's buckets as production meets them, against real nats-servers: a bucket that exists
// with other settings is refused with one message (which bucket, each difference as actual and
// expected, how to fix it); with on_mismatch::reconcile its max age and its replicas (1 -> 3 on a
// three-server cluster) are updated in place, its entries kept, while a history difference is
// still refused and nothing changed. parti-node exits 2 with that message (restarting cannot fix
// it), and starts with --reconcile-buckets. config/production.ini, as shipped, runs a group on a
// three-server cluster (only its addresses and files overridden by flags): every partition owned
// once, every bucket at 3 replicas.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <regex>

#include "apps/lib/fleet.hpp"
#include "apps/lib/http_client.hpp"
#include "parti/messages/wire.hpp"
#include "parti/runtime/nats/connection.hpp"
#include "parti/runtime/nats/kv_store.hpp"
#include "parti/runtime/nats/local_server.hpp"
#include "tests/support/chrono_print.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/kept_dir.hpp"
#include "tests/support/local_nats_cluster.hpp"
#include "tests/support/run_program.hpp"

using namespace parti;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using test::contains;

std::shared_ptr<connection> connect(const std::vector<std::string>& urls) {
  connection_options o;
  o.urls = urls;
  o.reconnect_wait = 50ms;
  o.request_timeout = 2s;
  auto c = connection::open(o);
  if (!c) throw std::runtime_error(c.error());
  return *c;
}

bucket_settings settings(const std::string& name, duration ttl, int history = 1, int replicas = 1) {
  bucket_settings s;
  s.name = name;
  s.ttl = ttl;
  s.history = history;
  s.replicas = replicas;
  return s;
}

std::shared_ptr<kv_store> ensure(const std::shared_ptr<connection>& conn, const bucket_settings& s,
                                 const bucket_policy& policy = {}) {
  auto store = kv_store::ensure(conn, s, policy);
  if (!store) throw std::runtime_error(store.error());
  return *store;
}

bucket_settings existing(const std::shared_ptr<connection>& conn, const std::string& bucket) {
  auto s = kv_store::existing(conn, bucket);
  if (!s) throw std::runtime_error(s.error());
  return *s;
}

/// Reconciles, collecting what it reports as changed.
struct reconciling {
  std::vector<std::string> changes;
  bucket_policy policy() {
    bucket_policy p;
    p.mismatch = on_mismatch::reconcile;
    p.on_change = [this](const std::string& change) { changes.push_back(change); };
    return p;
  }
};

/// One cluster for every case that needs replicas: it takes seconds to start.
test::local_nats_cluster& shared_cluster() {
  static std::unique_ptr<test::local_nats_cluster> cluster;
  if (!cluster) cluster = std::make_unique<test::local_nats_cluster>();
  return *cluster;
}

std::vector<std::string> node_args(std::vector<std::string> args) {
  args.insert(args.begin(), test::app_binary("parti-node"));
  return args;
}

/// Timings scaled down for a short run on one server.
std::vector<std::string> fast(std::vector<std::string> args) {
  for (auto& a : fleet::fast_timing_args()) args.push_back(std::move(a));
  args.push_back("--shutdown=restart");
  return node_args(std::move(args));
}

struct temp_dir : test::kept_dir {
  temp_dir() : kept_dir("parti-buckets-test") {}
};

}  // namespace

BOOST_AUTO_TEST_SUITE(one_server)

BOOST_AUTO_TEST_CASE(a_mismatch_names_the_bucket_each_difference_and_the_fixes) {
  local_nats_server server;
  auto conn = connect({server.url()});
  ensure(conn, settings("m", 10s, 5));
  auto wanted = settings("m", 30s, 1);
  wanted.storage = storage_type::memory;
  auto r = kv_store::ensure(conn, wanted);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.failure_value().code == kv_errc::bucket_mismatch);
  const auto& text = r.error();
  BOOST_TEST(contains(text,
                      "bucket m exists with other settings: max age (TTL) 10s (expected "
                      "30s), history 5 (expected 1), storage file (expected memory)"),
             text);
  BOOST_TEST(contains(text, "history and storage cannot change on a live bucket"), text);
  BOOST_TEST(contains(text,
                      "start with the settings the bucket has (max age (TTL) 10s, history "
                      "5, storage file)"),
             text);
  BOOST_TEST(contains(text, "nats kv rm m"), text);

  // Only what can change differs, with the caller's names: reconcile is the first advice.
  bucket_policy named;
  named.names = [](std::string_view thing) -> std::string {
    if (thing == "max_age") return "--id-ttl";
    if (thing == "reconcile") return "--reconcile-buckets";
    return "";
  };
  auto only_ttl = kv_store::ensure(conn, settings("m", 30s, 5), named);
  BOOST_REQUIRE(!only_ttl.ok());
  BOOST_TEST(contains(only_ttl.error(),
                      "To fix it: start with --reconcile-buckets, which updates "
                      "max age and replicas of the live bucket; or start with "
                      "the settings the bucket has (--id-ttl=10s); or delete"),
             only_ttl.error());
  // Nothing was changed.
  BOOST_TEST(existing(conn, "m").ttl == duration(10s));
  BOOST_TEST(kv_store::existing(conn, "none").failure_value().code == kv_errc::not_found);
}

BOOST_AUTO_TEST_CASE(reconcile_updates_the_max_age_and_keeps_the_entries) {
  local_nats_server server;
  auto conn = connect({server.url()});
  auto old = ensure(conn, settings("age", 10s));
  BOOST_REQUIRE(old->put("k", "v").ok());
  reconciling r;
  auto store = ensure(conn, settings("age", 1h), r.policy());
  BOOST_TEST(r.changes == std::vector<std::string>{"bucket age: max age (TTL) 10s -> 1h"});
  BOOST_TEST(existing(conn, "age").ttl == duration(1h));
  auto entry = store->get("k");
  BOOST_REQUIRE_MESSAGE(entry.ok(), entry.error());
  BOOST_TEST(entry->value == "v");
  BOOST_REQUIRE(store->put("k2", "w").ok());
  // Down to a max age shorter than the duplicate window (2 minutes) works too, and then forever.
  ensure(conn, settings("age", 5s), r.policy());
  BOOST_TEST(existing(conn, "age").ttl == duration(5s));
  ensure(conn, settings("age", duration::zero()), r.policy());
  BOOST_TEST(existing(conn, "age").ttl == duration::zero());
  BOOST_TEST(r.changes.size() == 3u);
  // The same settings again: nothing to change.
  ensure(conn, settings("age", duration::zero()), r.policy());
  BOOST_TEST(r.changes.size() == 3u);
}

BOOST_AUTO_TEST_CASE(reconcile_refuses_a_history_change_and_changes_nothing) {
  local_nats_server server;
  auto conn = connect({server.url()});
  ensure(conn, settings("hist", 10s, 5));
  reconciling r;
  auto refused = kv_store::ensure(conn, settings("hist", 30s, 1), r.policy());
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.failure_value().code == kv_errc::bucket_mismatch);
  BOOST_TEST(contains(refused.error(), "history 5 (expected 1)"), refused.error());
  BOOST_TEST(contains(refused.error(), "history cannot change on a live bucket"), refused.error());
  BOOST_TEST(r.changes.empty());
  auto now = existing(conn, "hist");
  BOOST_TEST(now.ttl == duration(10s));  // not half reconciled
  BOOST_TEST(now.history == 5);
}

BOOST_AUTO_TEST_CASE(parti_node_options_for_buckets_are_checked_and_in_the_help) {
  auto bad_replicas = test::run_program(node_args({"--partitions=4", "--bucket-replicas=7"}), 20s);
  BOOST_TEST(bad_replicas.code == 2, bad_replicas.output());
  BOOST_TEST(contains(bad_replicas.err, "--bucket-replicas: must be within 1..5, is 7"),
             bad_replicas.output());
  auto bad_storage = test::run_program(node_args({"--partitions=4", "--bucket-storage=disk"}), 20s);
  BOOST_TEST(bad_storage.code == 2, bad_storage.output());
  BOOST_TEST(contains(bad_storage.err, "--bucket-storage: expected file|memory, got \"disk\""),
             bad_storage.output());
  auto help = test::run_program(node_args({"--help"}), 20s);
  BOOST_TEST(help.code == 0, help.output());
  for (const char* option : {"--bucket-replicas", "--bucket-storage", "--reconcile-buckets"})
    BOOST_TEST(contains(help.out, option), option);
  BOOST_TEST(
      contains(help.out, "file|memory: where the buckets keep their entries (default: file)"),
      help.out);
}

BOOST_AUTO_TEST_CASE(parti_node_exits_2_on_a_bucket_with_other_settings_and_reconciles_on_request) {
  local_nats_server server;
  auto conn = connect({server.url()});
  ensure(conn, settings(bucket_name("shop", bucket_role::ids), 10s));
  const std::vector<std::string> common{"--nats-url=" + server.url(), "--group=shop",
                                        "--partitions=4", "--id-ttl=2s", "--run-for=1s"};

  auto refused = test::run_program(fast(common), 20s);
  BOOST_TEST(refused.code == 2, refused.output());
  BOOST_TEST(contains(refused.err,
                      "bucket shop-ids exists with other settings: max age (TTL) 10s "
                      "(expected 2s). To fix it: start with --reconcile-buckets, "
                      "which updates max age and replicas of the live bucket; or "
                      "start with the settings the bucket has (--id-ttl=10s); or "
                      "delete the bucket"),
             refused.output());
  BOOST_TEST(existing(conn, "shop-ids").ttl == duration(10s));

  auto with_reconcile = common;
  with_reconcile.push_back("--reconcile-buckets");
  auto started = test::run_program(fast(with_reconcile), 20s);
  BOOST_TEST(started.code == 0, started.output());
  BOOST_TEST(contains(started.err, "reconciled bucket shop-ids: max age (TTL) 10s -> 2s"),
             started.output());
  BOOST_TEST(contains(started.err, "group shop, 1 node(s)"), started.output());
  BOOST_TEST(existing(conn, "shop-ids").ttl == duration(2s));

  // A history that differs cannot be reconciled: exit 2 naming it.
  ensure(conn, settings(bucket_name("shop2", bucket_role::assignments), duration::zero(), 3));
  auto history = with_reconcile;
  history[1] = "--group=shop2";
  auto refused_history = test::run_program(fast(history), 20s);
  BOOST_TEST(refused_history.code == 2, refused_history.output());
  BOOST_TEST(
      contains(refused_history.err,
               "bucket shop2-assignments exists with other settings: history 3 (expected "
               "1). To fix it: history cannot change on a live bucket (--reconcile-buckets updates "
               "only max age and replicas, and changes nothing here)"),
      refused_history.output());
}

BOOST_AUTO_TEST_CASE(parti_node_exits_2_when_a_single_server_is_asked_for_replicas) {
  local_nats_server server;
  auto r = test::run_program(fast({"--nats-url=" + server.url(), "--group=solo", "--partitions=4",
                                   "--bucket-replicas=3", "--run-for=1s"}),
                             20s);
  BOOST_TEST(r.code == 2, r.output());
  BOOST_TEST(contains(r.err, "create bucket solo-ids"), r.output());
  BOOST_TEST(contains(r.err,
                      "replicas > 1 not supported in non-clustered mode); a server that is "
                      "not part of a JetStream cluster keeps one replica only"),
             r.output());
  BOOST_TEST(!contains(r.err, "retrying"), r.output());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(three_servers)

BOOST_AUTO_TEST_CASE(reconcile_raises_the_replicas_from_one_to_three) {
  auto& cluster = shared_cluster();
  auto conn = connect(cluster.url_list());
  // A max age far beyond the test: the entry must not age out while the replicas catch up.
  auto single = ensure(conn, settings("grow", 1h));
  BOOST_REQUIRE(single->put("k", "v").ok());
  auto refused = kv_store::ensure(conn, settings("grow", 1h, 1, 3));
  BOOST_TEST(contains(refused.error(), "replicas 1 (expected 3)"), refused.error());

  reconciling r;
  auto grown = ensure(conn, settings("grow", 1h, 1, 3), r.policy());
  BOOST_TEST(r.changes == std::vector<std::string>{"bucket grow: replicas 1 -> 3"});
  BOOST_TEST(existing(conn, "grow").replicas == 3);
  // Each member holds a replica of the stream once they caught up.
  bool everywhere = test::eventually(
      [&] {
        for (std::size_t i = 0; i < cluster.size(); ++i) {
          auto j =
              json::parse(cluster.monitoring(i, "/jsz?streams=true&accounts=true"), nullptr, false);
          bool found = false;
          for (const auto& account : j.value("account_details", json::array()))
            for (const auto& stream : account.value("stream_detail", json::array()))
              found = found || (stream.value("name", "") == "KV_grow" &&
                                stream.value("state", json::object()).value("messages", 0) == 1);
          if (!found) return false;
        }
        return true;
      },
      15s);
  BOOST_TEST(everywhere);
  auto entry = grown->get("k");
  BOOST_REQUIRE_MESSAGE(entry.ok(), entry.error());
  BOOST_TEST(entry->value == "v");
  BOOST_TEST(grown->put("k", "w").ok());
}

BOOST_AUTO_TEST_CASE(production_ini_runs_a_group_on_a_three_server_cluster_at_three_replicas) {
  auto& cluster = shared_cluster();
  temp_dir dir;
  const int partitions = 6;
  std::string lines;
  for (int i = 0; i < partitions; ++i) lines += "p-" + std::to_string(i) + "\n";
  const auto partitions_file = dir.write("partitions.txt", lines);
  // The shipped file as it is; flags beat its keys: the cluster's URLs, no credentials nor TLS,
  // the partitions file and a free port on loopback.
  test::child_program node(
      node_args({"--config-file=" + std::string(PARTI_SOURCE_DIR) + "/config/production.ini",
                 "--nats-url=" + cluster.urls(), "--nats-creds=\"\"", "--nats-tls-ca=\"\"",
                 "--partitions-file=" + partitions_file, "--metrics-address=127.0.0.1:0",
                 "--workers=3", "--shutdown=restart"}));
  BOOST_REQUIRE_MESSAGE(test::eventually([&] { return test::status_port(node) != 0; }, 15s),
                        node.output());
  const int port = test::status_port(node);
  json status;
  auto owned_once = [&] {
    auto reply = http_get(port, "/status");
    if (!reply.ok()) return false;
    status = json::parse(reply.body, nullptr, false);
    if (status.is_discarded() || status["nodes"].size() != 3) return false;
    std::map<std::string, int> owners;
    // The leader stays Scaling until the cold-start window (30 s) closes; the assignment is
    // complete long before.
    for (const auto& n : status["nodes"]) {
      if (n["partitions"].empty()) return false;
      for (const auto& p : n["partitions"]) ++owners[p["keys"][0].get<std::string>()];
    }
    if (owners.size() != static_cast<std::size_t>(partitions)) return false;
    for (const auto& [key, count] : owners)
      if (count != 1) return false;
    return true;
  };
  BOOST_REQUIRE_MESSAGE(test::eventually(owned_once, 25s), status.dump() + "\n" + node.output());

  auto conn = connect(cluster.url_list());
  for (auto role : {bucket_role::ids, bucket_role::election, bucket_role::heartbeats,
                    bucket_role::assignments}) {
    auto name = bucket_name("orders", role);
    auto s = existing(conn, name);
    BOOST_TEST(s.replicas == 3, name);
    BOOST_TEST((s.storage == storage_type::file), name);
  }
  node.signal(SIGTERM);
  auto code = node.wait(20s);
  BOOST_REQUIRE_MESSAGE(code.has_value(), node.output());
  BOOST_TEST(*code == 0, node.output());
}

BOOST_AUTO_TEST_SUITE_END()
