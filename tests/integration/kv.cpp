// The KV layer against a real nats-server: records round trip, conflicts have their own error
// kinds, bucket settings are checked, pipelined writes land, and the actor front end replies.
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "parti/messages/codec.hpp"
#include "tests/support/actors.hpp"

using namespace parti;
using namespace std::chrono_literals;

BOOST_FIXTURE_TEST_SUITE(kv_layer, test::nats_fixture)

BOOST_AUTO_TEST_CASE(every_record_type_round_trips_through_kv) {
  auto kv = bucket("rt");
  auto check = [&](const std::string& key, const auto& record) {
    using record_t = std::decay_t<decltype(record)>;
    auto rev = kv->put(key, encode(record));
    BOOST_REQUIRE_MESSAGE(rev.ok(), rev.error());
    auto entry = kv->get(key);
    BOOST_REQUIRE_MESSAGE(entry.ok(), entry.error());
    BOOST_TEST(entry->revision == *rev);
    auto back = decode<record_t>(entry->value);
    BOOST_REQUIRE_MESSAGE(back.ok(), back.error());
    BOOST_TEST((*back == record));
  };
  check("worker-0", id_claim{"inst-1", "host", 77, 123});
  check("leader", leader_lease{"worker-0", "inst-1", 5, 456});
  heartbeat_record hb;
  hb.worker = "worker-0";
  hb.seq = 3;
  hb.state = "Stable";
  hb.leaving = true;
  check("hb", hb);
  assignment_record a;
  a.worker = "worker-0";
  a.epoch = 5;
  a.version = 2;
  a.partitions = {{{"p-1"}, 1}, {{"p-2", "x"}, 10}};
  check("worker-0-assignment", a);
  check("_manifest", manifest_record{5, 2, "cold_start", {"worker-0"}, 2, 999});
}

BOOST_AUTO_TEST_CASE(latest_revision_is_the_newest_matching_entry) {
  auto kv = bucket("latest", 1s);
  auto latest = [&](const std::string& filter) {
    auto r = kv->latest_revision(filter);
    BOOST_REQUIRE_MESSAGE(r.ok(), r.error());
    return *r;
  };
  BOOST_TEST(latest(">") == 0u);  // empty bucket
  auto a = *kv->put("a.x", "1");
  auto b = *kv->put("b", "2");
  BOOST_TEST(latest(">") == b);
  BOOST_TEST(latest("a.x") == a);  // one key
  BOOST_TEST(latest("a.*") == a);  // a pattern
  BOOST_TEST(latest("c") == 0u);   // no such key
  BOOST_REQUIRE(kv->erase("a.x").ok());
  auto marker = latest("a.x");  // a delete is an entry too: a watch delivers it
  BOOST_TEST(marker > b);
  BOOST_TEST(latest(">") == marker);
  // Expired entries are gone: nothing is reported that a new watch could not deliver.
  BOOST_TEST(test::eventually([&] { return latest(">") == 0u; }, 10s));
}

BOOST_AUTO_TEST_CASE(create_conflict_is_key_exists) {
  auto kv = bucket("create");
  auto first = kv->create("k", "a");
  BOOST_REQUIRE_MESSAGE(first.ok(), first.error());
  auto second = kv->create("k", "b");
  BOOST_REQUIRE(!second.ok());
  BOOST_TEST(second.failure_value().code == kv_errc::key_exists, second.error());
  BOOST_TEST(kv->get("k")->value == "a");
  // After a delete, create works again (the client retries over the delete marker).
  BOOST_REQUIRE(kv->erase("k").ok());
  BOOST_TEST(kv->create("k", "c").ok());
}

BOOST_AUTO_TEST_CASE(cas_conflict_is_wrong_revision) {
  auto kv = bucket("cas");
  auto r1 = *kv->put("k", "1");
  auto r2 = kv->update("k", "2", r1);
  BOOST_REQUIRE_MESSAGE(r2.ok(), r2.error());
  auto stale = kv->update("k", "3", r1);
  BOOST_REQUIRE(!stale.ok());
  BOOST_TEST(stale.failure_value().code == kv_errc::wrong_revision, stale.error());
  BOOST_TEST(kv->get("k")->value == "2");
}

BOOST_AUTO_TEST_CASE(missing_keys_are_not_found_and_delete_purge_keys_work) {
  auto kv = bucket("misc");
  auto missing = kv->get("nope");
  BOOST_TEST(missing.failure_value().code == kv_errc::not_found);
  BOOST_TEST(kv->keys()->empty());
  kv->put("a", "1");
  kv->put("b", "2");
  kv->put("c", "3");
  BOOST_REQUIRE(kv->erase("a").ok());
  BOOST_REQUIRE(kv->purge("b").ok());
  auto keys = *kv->keys();
  BOOST_TEST(keys == std::vector<std::string>{"c"});
  BOOST_TEST(kv->get("a").failure_value().code == kv_errc::not_found);
  auto bad = kv->put("bad key*", "x");
  BOOST_TEST(bad.failure_value().code == kv_errc::invalid_argument);
}

BOOST_AUTO_TEST_CASE(existing_bucket_with_other_settings_is_reported) {
  bucket("settings", 3s, 1);
  bucket("settings", 3s, 1);  // same settings: fine, idempotent
  bucket_settings other;
  other.name = "settings";
  other.ttl = 5s;
  other.history = 2;
  auto r = kv_store::ensure(conn, other);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.failure_value().code == kv_errc::bucket_mismatch);
  BOOST_TEST(r.error().find("max age (TTL) 3s (expected 5s)") != std::string::npos, r.error());
  BOOST_TEST(r.error().find("history 1 (expected 2)") != std::string::npos, r.error());
  bucket_settings invalid;
  invalid.name = "has.dot";
  BOOST_TEST(kv_store::ensure(conn, invalid).failure_value().code == kv_errc::invalid_argument);
}

BOOST_AUTO_TEST_CASE(pipelined_writes_land_with_revisions_and_deletes) {
  auto kv = bucket("many");
  kv->put("old", "x");
  std::vector<kv_write> writes;
  for (int i = 0; i < 500; ++i)
    writes.push_back({"k" + std::to_string(i), std::to_string(i), false});
  writes.push_back({"old", "", true});
  auto revs = kv->write_many(writes);
  BOOST_REQUIRE_MESSAGE(revs.ok(), revs.error());
  BOOST_TEST(revs->size() == writes.size());
  BOOST_TEST(std::all_of(revs->begin(), revs->end(), [](auto r) { return r > 0; }));
  BOOST_TEST(kv->get("k499")->value == "499");
  BOOST_TEST(kv->get("k7")->revision == (*revs)[7]);
  BOOST_TEST(kv->get("old").failure_value().code == kv_errc::not_found);
  BOOST_TEST(kv->keys()->size() == 500u);
  auto dup = kv->write_many({{"a", "1", false}, {"a", "2", false}});
  BOOST_TEST(dup.failure_value().code == kv_errc::invalid_argument);
}

BOOST_AUTO_TEST_CASE(kv_actor_replies_values_and_typed_errors) {
  auto kv = spawn_kv_actor(sys, bucket("actor"));
  caf::scoped_actor self{sys};
  std::uint64_t rev = 0;
  self->request(kv, 5s, create_atom::value, std::string("k"), std::string("v"))
      .receive([&](std::uint64_t r) { rev = r; },
               [&](const caf::error& e) { BOOST_FAIL(describe(e)); });
  BOOST_TEST(rev > 0u);
  bool conflict = false;
  self->request(kv, 5s, create_atom::value, std::string("k"), std::string("w"))
      .receive([&](std::uint64_t) { BOOST_FAIL("second create succeeded"); },
               [&](const caf::error& e) {
                 conflict = is_kv_error(e, kv_errc::key_exists);
                 BOOST_TEST(describe(e).find("key_exists: create actor/k") == 0u, describe(e));
               });
  BOOST_TEST(conflict);
  self->request(kv, 5s, caf::get_atom::value, std::string("k"))
      .receive([&](const kv_entry& e) { BOOST_TEST(e.value == "v"); },
               [&](const caf::error& e) { BOOST_FAIL(describe(e)); });
  self->send_exit(kv, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(an_unreachable_store_opens_the_breaker_and_recovers) {
  auto store = bucket("breaker");
  store->put("k", "v");
  auto stats = std::make_shared<metrics>();
  kv_actor_options o;
  o.metrics = stats;
  o.metrics_worker = "w";
  o.breaker = {2, 1, 300ms, 1};
  o.read_retry.max_attempts = 1;  // no retries: count the breaker's own decisions
  auto kv = spawn_kv_actor(sys, store, o);
  caf::scoped_actor self{sys};
  auto get = [&]() -> std::string {
    std::string outcome;
    self->request(kv, 10s, caf::get_atom::value, std::string("k"))
        .receive([&](const kv_entry& e) { outcome = "value " + e.value; },
                 [&](const caf::error& e) { outcome = describe(e); });
    return outcome;
  };
  BOOST_TEST(get() == "value v");
  server.kill();
  BOOST_REQUIRE(test::eventually(
      [&] { return get().find("circuit breaker open") != std::string::npos; }, 20s));
  // "k" goes to one shard; only that shard's breaker opened.
  const std::string breaker = "{bucket=\"" + store->bucket() + "\",shard=\"" +
                              std::to_string(std::hash<std::string>{}("k") % o.shards) +
                              "\",worker=\"w\"}";
  auto text = stats->text();
  BOOST_TEST(text.find("parti_circuit_breaker_calls_total{bucket=\"" + store->bucket() +
                       "\",result=\"rejected\"") != std::string::npos,
             text);
  BOOST_TEST(text.find("parti_circuit_breaker_state" + breaker + " 1") != std::string::npos, text);
  server.start();
  BOOST_TEST(test::eventually([&] { return get() == "value v"; }, 20s));
  BOOST_TEST(stats->text().find("parti_circuit_breaker_state" + breaker + " 0") !=
             std::string::npos);
  self->send_exit(kv, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(a_fresh_kv_actor_exposes_its_error_and_breaker_series_at_zero) {
  auto store = bucket("fresh");
  auto stats = std::make_shared<metrics>();
  kv_actor_options o;
  o.metrics = stats;
  o.metrics_worker = "w";
  auto kv = spawn_kv_actor(sys, store, o);
  // The shards create their series as they start, before any call.
  const std::string first_error =
      R"(parti_kv_operation_errors_total{kind="outcome_unknown",operation="update",worker="w"} 0)";
  BOOST_REQUIRE(test::eventually(
      [&] {
        auto text = stats->text();
        for (int shard = 0; shard < o.shards; ++shard)
          if (text.find("parti_circuit_breaker_state{bucket=\"" + store->bucket() + "\",shard=\"" +
                        std::to_string(shard) + "\",worker=\"w\"} 0") == std::string::npos)
            return false;
        return text.find(first_error) != std::string::npos;
      },
      5s));
  auto text = stats->text();
  BOOST_TEST(
      text.find(
          R"(parti_kv_operation_errors_total{kind="not_connected",operation="get",worker="w"} 0)") !=
          std::string::npos,
      text);
  BOOST_TEST(text.find(R"(parti_retry_exhausted_total{operation="get",worker="w"} 0)") !=
             std::string::npos);
  BOOST_TEST(text.find("parti_circuit_breaker_calls_total{bucket=\"" + store->bucket() +
                       "\",result=\"failure\",shard=\"0\",worker=\"w\"} 0") != std::string::npos);
  caf::anon_send_exit(kv, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(listings_asked_at_once_share_one) {
  auto store = bucket("listing");
  for (int i = 0; i < 3; ++i) BOOST_REQUIRE(store->put("worker-" + std::to_string(i), "x").ok());
  auto stats = std::make_shared<metrics>();
  kv_actor_options o;
  o.metrics = stats;
  o.metrics_worker = "w";
  auto kv = spawn_kv_actor(sys, store, o);
  caf::scoped_actor self{sys};
  constexpr int askers = 50;
  for (int i = 0; i < askers; ++i) self->send(kv, keys_atom::value);  // all before any answer
  int answered = 0;
  self->receive_for(answered, askers)(
      [&](const std::vector<std::string>& keys) { BOOST_TEST(keys.size() == 3u); });
  BOOST_TEST(answered == askers);
  // Far fewer listings than askers: those asking while one runs share it (one when nothing
  // delays the sends; without sharing, one per asker).
  auto listings = [&] {
    auto text = stats->text();
    auto at =
        text.find(R"(parti_kv_operation_duration_seconds_count{operation="keys",worker="w"} )");
    BOOST_REQUIRE(at != std::string::npos);
    return std::stoi(text.substr(text.find('}', at) + 2));
  };
  BOOST_TEST_MESSAGE("listings for " << askers << " askers: " << listings());
  BOOST_TEST(listings() >= 1);
  BOOST_TEST(listings() < askers / 5);
  // A key written after the answers is in the next listing: nothing is cached.
  BOOST_REQUIRE(store->put("worker-3", "x").ok());
  self->request(kv, 5s, keys_atom::value)
      .receive([&](const std::vector<std::string>& keys) { BOOST_TEST(keys.size() == 4u); },
               [&](const caf::error& e) { BOOST_FAIL(describe(e)); });
  caf::anon_send_exit(kv, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
