// The publisher against a real nats-server: a leader restarted under the same epoch (a failed
// child, a reclaimed lease) continues the versions, so workers, which ignore an (epoch, version)
// not greater than theirs, apply what it publishes.
#include <boost/test/unit_test.hpp>

#include <atomic>

#include "parti/actors/publisher/publisher_actor.hpp"
#include "parti/messages/codec.hpp"
#include "parti/messages/inspect.hpp"
#include "parti/messages/leader_events.hpp"
#include "parti/messages/wire.hpp"
#include "parti/runtime/nats/kv_actor.hpp"
#include "tests/support/actors.hpp"
#include "tests/support/eventually.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

std::vector<partition> parts(std::initializer_list<const char*> keys) {
  std::vector<partition> out;
  for (const auto* k : keys) out.push_back(partition{{k}, 1});
  return out;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(publisher_actor, test::nats_fixture)

BOOST_AUTO_TEST_CASE(a_restarted_leader_continues_the_versions_of_its_epoch) {
  auto kv = bucket("pub");
  // What the leader's previous incarnation (epoch 5) left: w1 written at v3, the manifest at
  // v7 (later versions deleted keys of workers that left).
  publisher_settings ps;
  ps.leader = "w1";
  ps.epoch = 5;
  ps.handoff = {handoff_mode::eager, 2s};
  ps.published["w1"] = {parts({"a", "b"}), {5, 3}};
  ps.last_version = 7;
  caf::scoped_actor self{sys};
  auto me = caf::actor_cast<caf::actor>(self);
  auto pub = sys.spawn(
      publisher, ps, spawn_kv_actor(sys, kv), spawn_kv_actor(sys, bucket("pub-heartbeats")),
      caf::actor_cast<state_machine_actor>(me), caf::actor_cast<emergency_detector_actor>(me));
  self->send(
      pub,
      target_ready{
          1, rebalance_reason::planned_scale, {{"w1", parts({"a"})}, {"w2", parts({"b"})}}, 2});
  bool done = false;
  self->receive_while([&] { return !done; })(
      [&](const round_done& r) {
        BOOST_TEST(r.ok, r.error);
        done = true;
      },
      [&](const caf::message&) {},  // owners notices for the detector
      caf::after(std::chrono::seconds(10)) >>
          [&] {
            BOOST_FAIL("no round_done");
            done = true;
          });
  for (const auto* key : {"w1", "w2"}) {
    auto e = kv->get(key);
    BOOST_REQUIRE_MESSAGE(e.ok(), e.error());
    auto r = decode<assignment_record>(e->value);
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r->epoch == 5u);
    // v8 re-stamps w1 under the (same) epoch, v9 is the round: both after v7.
    BOOST_TEST(r->version == 9u, key << " written at v" << r->version);
  }
  auto m = decode<manifest_record>(kv->get(manifest_key)->value);
  BOOST_REQUIRE(m.ok());
  BOOST_TEST(m->version == 9u);
  self->send_exit(pub, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(a_leader_past_its_lease_publishes_nothing) {
  auto kv = bucket("pub-expired");
  publisher_settings ps;
  ps.leader = "w1";
  ps.epoch = 3;
  ps.handoff = {handoff_mode::cooperative, 2s};
  // The term's renew deadline passed (a leader paused past its lease, resumed): the election
  // has not noticed yet, the publisher must not write.
  auto until = std::make_shared<std::atomic<std::int64_t>>(
      (std::chrono::steady_clock::now() - 1ms).time_since_epoch().count());
  ps.leading_until = until;
  caf::scoped_actor self{sys};
  auto me = caf::actor_cast<caf::actor>(self);
  auto pub = sys.spawn(
      publisher, ps, spawn_kv_actor(sys, kv), spawn_kv_actor(sys, bucket("pub-expired-heartbeats")),
      caf::actor_cast<state_machine_actor>(me), caf::actor_cast<emergency_detector_actor>(me));
  self->send(pub, target_ready{1, rebalance_reason::cold_start, {{"w1", parts({"a", "b"})}}, 2});
  self->send(pub, applied_snapshot{{{"w1", version_stamp{}}}, 0, {}});
  BOOST_TEST(!test::eventually([&] { return kv->get("w1").ok(); }, 1s));
  BOOST_TEST(!kv->get(manifest_key).ok());
  // Renewed: it publishes.
  until->store((std::chrono::steady_clock::now() + 1h).time_since_epoch().count());
  self->send(pub, applied_snapshot{{{"w1", version_stamp{}}}, 0, {}});
  BOOST_TEST(test::eventually([&] { return kv->get("w1").ok(); }, 5s));
  self->send_exit(pub, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
