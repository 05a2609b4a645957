// Supervised KV watches against a real nats-server: order, deletes, server restarts, failed
// watches restarted with backoff, and no revision delivered twice.
#include <boost/test/unit_test.hpp>

#include <map>
#include <mutex>

#include "parti/runtime/nats/watch.hpp"
#include "tests/support/actors.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

/// Collects what a watch delivers to a scoped actor.
struct collector {
  std::vector<watch_update> updates;
  std::vector<watch_ready> readies;

  /// Receives until `done()` holds or the deadline passes; returns done().
  template <class Done>
  bool receive_until(caf::scoped_actor& self, Done done, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= 0ms) return false;
      bool timed_out = false;
      self->receive([&](watch_update& u) { updates.push_back(std::move(u)); },
                    [&](watch_ready& r) { readies.push_back(std::move(r)); },
                    caf::after(std::chrono::duration_cast<std::chrono::milliseconds>(left)) >>
                        [&] { timed_out = true; });
      if (timed_out) return done();
    }
    return true;
  }

  bool has_value(const std::string& key, const std::string& value) const {
    for (const auto& u : updates)
      if (u.entry.key == key && u.entry.op == kv_op::put && u.entry.value == value) return true;
    return false;
  }

  /// Every (key, revision) at most once, and revisions growing per key.
  void check_no_redelivery() const {
    std::map<std::string, std::uint64_t> last;
    for (const auto& u : updates) {
      auto& l = last[u.entry.key];
      BOOST_TEST(u.entry.revision > l, "key " << u.entry.key << " revision " << u.entry.revision
                                              << " delivered after " << l);
      l = u.entry.revision;
    }
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(watches, test::nats_fixture)

BOOST_AUTO_TEST_CASE(delivers_current_values_then_puts_and_deletes_in_order) {
  auto kv = bucket("w1");
  kv->put("a", "1");
  kv->put("b", "1");
  caf::scoped_actor self{sys};
  auto watch = spawn_watch(sys, kv, caf::actor_cast<watch_consumer>(self));
  collector c;
  BOOST_REQUIRE(c.receive_until(
      self, [&] { return !c.readies.empty(); }, 5s));
  BOOST_TEST(c.updates.size() == 2u);
  BOOST_TEST(c.updates[0].initial);
  BOOST_TEST(!c.readies[0].resumed);
  kv->put("a", "2");
  kv->erase("b");
  kv->put("c", "1");
  kv->purge("a");
  BOOST_REQUIRE(c.receive_until(
      self, [&] { return c.updates.size() >= 6; }, 5s));
  std::vector<std::pair<std::string, kv_op>> seen;
  for (std::size_t i = 2; i < c.updates.size(); ++i) {
    seen.emplace_back(c.updates[i].entry.key, c.updates[i].entry.op);
    BOOST_TEST(!c.updates[i].initial);
    BOOST_TEST(c.updates[i].entry.revision > c.updates[i - 1].entry.revision);
  }
  std::vector<std::pair<std::string, kv_op>> expected{
      {"a", kv_op::put}, {"b", kv_op::del}, {"c", kv_op::put}, {"a", kv_op::purge}};
  BOOST_TEST((seen == expected));
  BOOST_TEST(c.updates[2].entry.value == "2");
  self->send_exit(watch, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(key_filter_limits_the_watch) {
  auto kv = bucket("w2");
  caf::scoped_actor self{sys};
  watch_options opts;
  opts.key_filter = "worker-1";
  auto watch = spawn_watch(sys, kv, caf::actor_cast<watch_consumer>(self), opts);
  collector c;
  BOOST_REQUIRE(c.receive_until(
      self, [&] { return !c.readies.empty(); }, 5s));
  kv->put("worker-2", "x");
  kv->put("worker-1", "y");
  BOOST_REQUIRE(c.receive_until(
      self, [&] { return c.has_value("worker-1", "y"); }, 5s));
  BOOST_TEST(c.updates.size() == 1u);
  self->send_exit(watch, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(survives_a_server_restart_and_delivers_later_puts_once) {
  auto kv = bucket("w3");
  kv->put("a", "before");
  caf::scoped_actor self{sys};
  auto watch = spawn_watch(sys, kv, caf::actor_cast<watch_consumer>(self));
  collector c;
  BOOST_REQUIRE(c.receive_until(
      self, [&] { return !c.readies.empty(); }, 5s));
  server.kill();
  server.start();
  // Our connection reconnects on its own; write until a put goes through.
  BOOST_REQUIRE(test::eventually([&] { return kv->put("a", "after").ok(); }, 20s));
  kv->put("b", "after");
  BOOST_REQUIRE(c.receive_until(
      self, [&] { return c.has_value("a", "after") && c.has_value("b", "after"); }, 20s));
  c.check_no_redelivery();
  self->send_exit(watch, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(a_failed_watch_is_restarted_with_backoff_and_resumes) {
  auto kv = bucket("w4");
  kv->put("a", "1");
  server.kill();  // the watch cannot even be created now
  caf::scoped_actor self{sys};
  std::atomic<int> failures{0};
  watch_options opts;
  opts.restart_backoff = {50ms, 500ms, 2.0, 0.1};
  auto watch = spawn_watch(sys, kv, caf::actor_cast<watch_consumer>(self), opts,
                           [&](const std::string&) { ++failures; });
  BOOST_REQUIRE(test::eventually([&] { return failures.load() >= 2; }, 20s));
  server.start();
  collector c;
  BOOST_REQUIRE(c.receive_until(
      self, [&] { return !c.readies.empty(); }, 20s));
  BOOST_TEST(c.readies[0].resumed);
  BOOST_TEST(c.readies[0].restarts >= 2u);
  BOOST_TEST(c.readies[0].present == std::vector<std::string>{"a"});
  BOOST_TEST(c.has_value("a", "1"));
  BOOST_REQUIRE(test::eventually([&] { return kv->put("b", "2").ok(); }, 10s));
  BOOST_REQUIRE(c.receive_until(
      self, [&] { return c.has_value("b", "2"); }, 10s));
  c.check_no_redelivery();
  std::uint32_t restarts = 0;
  self->request(watch, 5s, stats_atom::value)
      .receive([&](const watch_stats& s) { restarts = s.restarts; },
               [&](const caf::error& e) { BOOST_FAIL(caf::to_string(e)); });
  BOOST_TEST(restarts >= 2u);
  self->send_exit(watch, caf::exit_reason::user_shutdown);
}

/// Deletes every consumer of the bucket's stream (a watch's consumer, as if its server died).
std::size_t delete_consumers(kv_store& kv) {
  auto stream = "KV_" + kv.bucket();
  jsConsumerNamesList* names = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (js_ConsumerNames(&names, kv.conn()->jetstream(), stream.c_str(), nullptr, &jerr) != NATS_OK)
    return 0;
  std::size_t deleted = 0;
  for (int i = 0; i < names->Count; ++i)
    if (js_DeleteConsumer(kv.conn()->jetstream(), stream.c_str(), names->List[i], nullptr, &jerr) ==
        NATS_OK)
      ++deleted;
  jsConsumerNamesList_Destroy(names);
  return deleted;
}

BOOST_AUTO_TEST_CASE(a_watch_that_stops_delivering_is_detected_and_replaced) {
  auto kv = bucket("w6");
  kv->put("a", "1");
  caf::scoped_actor self{sys};
  auto reasons = std::make_shared<std::vector<std::string>>();
  auto mutex = std::make_shared<std::mutex>();
  watch_options opts;
  opts.stall = {500ms, 300ms};
  opts.restart_backoff = {50ms, 500ms, 2.0, 0.1};
  auto watch = spawn_watch(sys, kv, caf::actor_cast<watch_consumer>(self), opts,
                           [reasons, mutex](const std::string& reason) {
                             std::lock_guard<std::mutex> guard(*mutex);
                             reasons->push_back(reason);
                           });
  collector c;
  BOOST_REQUIRE(c.receive_until(
      self, [&] { return !c.readies.empty(); }, 5s));
  // A quiet bucket is probed (several silences pass here) but not restarted.
  BOOST_TEST(!c.receive_until(
      self, [&] { return c.readies.size() > 1; }, 2s));
  BOOST_TEST(reasons->empty());
  // The watch's consumer vanishes: the watch returns nothing but timeouts from now on.
  BOOST_REQUIRE_EQUAL(delete_consumers(*kv), 1u);
  auto t0 = std::chrono::steady_clock::now();
  kv->put("b", "2");
  BOOST_REQUIRE(c.receive_until(
      self, [&] { return c.has_value("b", "2"); }, 10s));
  auto took = std::chrono::steady_clock::now() - t0;
  BOOST_TEST_MESSAGE("a watch without a consumer resumed after "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                     << " ms");
  {
    std::lock_guard<std::mutex> guard(*mutex);
    BOOST_REQUIRE_EQUAL(reasons->size(), 1u);
    BOOST_TEST(reasons->front().find("stalled") != std::string::npos, reasons->front());
  }
  BOOST_TEST(took < 5s);  // silence + confirm + a restart, far below nats.c's own recovery
  BOOST_REQUIRE(c.receive_until(
      self, [&] { return c.readies.size() == 2; }, 5s));
  BOOST_TEST(c.readies.back().resumed);
  c.check_no_redelivery();
  self->send_exit(watch, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(a_linked_consumer_survives_the_replacement_of_a_stalled_watch) {
  // Consumers keep no handle of their watch, only a link (the worker monitor, the leader): the
  // watch must stay reachable while it replaces a stalled watcher.
  auto kv = bucket("w7");
  kv->put("a", "1");
  caf::scoped_actor self{sys};
  auto received = std::make_shared<std::atomic<int>>(0);
  auto consumer = sys.spawn([kv, received](caf::event_based_actor* c) -> caf::behavior {
    watch_options opts;
    opts.stall = {500ms, 300ms};
    opts.restart_backoff = {50ms, 500ms, 2.0, 0.1};
    c->link_to(spawn_watch(c->system(), kv, caf::actor_cast<watch_consumer>(c), opts));
    return {
        [received](const watch_update&) { ++*received; },
        [](const watch_ready&) {},
    };
  });
  self->monitor(consumer);
  BOOST_REQUIRE(test::eventually([&] { return received->load() == 1; }, 5s));
  BOOST_REQUIRE_EQUAL(delete_consumers(*kv), 1u);
  kv->put("b", "2");
  BOOST_TEST(test::eventually([&] { return received->load() == 2; }, 10s));
  bool down = false;
  self->receive(
      [&](const caf::down_msg& dm) {
        down = true;
        BOOST_TEST_MESSAGE(caf::to_string(dm.reason));
      },
      caf::after(std::chrono::seconds(2)) >> [] {});
  BOOST_TEST(!down);
  self->send_exit(consumer, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(a_resync_replays_without_redelivering) {
  auto kv = bucket("w5");
  kv->put("a", "1");
  kv->put("b", "1");
  caf::scoped_actor self{sys};
  auto watch = spawn_watch(sys, kv, caf::actor_cast<watch_consumer>(self));
  collector c;
  BOOST_REQUIRE(c.receive_until(
      self, [&] { return c.readies.size() == 1; }, 5s));
  BOOST_TEST(c.updates.size() == 2u);
  kv->put("b", "2");  // seen by the old watch or by the replay, but once
  self->send(watch, resync_atom::value);
  BOOST_REQUIRE(c.receive_until(
      self, [&] { return c.readies.size() == 2; }, 5s));
  BOOST_TEST(c.readies[1].resumed);
  BOOST_TEST(c.readies[1].present == (std::vector<std::string>{"a", "b"}));
  kv->put("c", "1");
  BOOST_REQUIRE(c.receive_until(
      self, [&] { return c.has_value("c", "1"); }, 5s));
  BOOST_TEST(c.has_value("b", "2"));
  BOOST_TEST(c.updates.size() == 4u);  // a, b, b=2, c: the replay added nothing
  c.check_no_redelivery();
  std::uint64_t dropped = 0;
  self->request(watch, 5s, stats_atom::value)
      .receive([&](const watch_stats& s) { dropped = s.duplicates_dropped; },
               [&](const caf::error& e) { BOOST_FAIL(caf::to_string(e)); });
  BOOST_TEST(dropped >= 1u);  // the replay of a=1 at least
  self->send_exit(watch, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
