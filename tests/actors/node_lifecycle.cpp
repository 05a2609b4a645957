// The node and its members (id claimer, heartbeat, election, assignment watch) under CAF's
// deterministic test scheduler, with the production timings: virtual time, no threads, no
// network. The four buckets are scheduled fakes (tests/support/fake_kv.hpp), the two watch hubs
// are fakes that replay and forward single keys, the connection's events are sent by the test,
// and the ownership lease reads the scheduler's clock.
//
// The story: claim, lead, heartbeat, get an assignment; the store goes away -> the lease lapses
// at the last acknowledged heartbeat + TTL - margin (suspended, nothing served), the node goes
// Degraded at the threshold and keeps its assignment; the store comes back -> re-validated to
// Stable, and the partitions resume only after a heartbeat is acknowledged and the assignment
// key read back unchanged. Nothing moves.
#include <boost/test/unit_test.hpp>

#include <caf/all.hpp>

#include <boost/algorithm/string/join.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "parti/actors/node/node_actor.hpp"
#include "parti/messages/codec.hpp"
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/nats/group_buckets.hpp"
#include "tests/support/fake_kv.hpp"
#include "tests/support/test_scheduler.hpp"

using namespace parti;
using namespace std::chrono_literals;
using test::fake_kv;
using test::kv_log;

namespace {

/// A watch hub over one bucket that the test feeds: it replays a key's current value to a new
/// or resyncing consumer, then watch_ready, and forwards every change of the key.
struct fake_hub_state {
  std::string bucket;
  std::map<std::string, kv_entry> current;
  std::multimap<std::string, key_consumer> consumers;
  static inline const char* name = "test.fake_hub";
};

using fake_hub_ptr = watch_hub_actor::stateful_pointer<fake_hub_state>;

void replay(fake_hub_ptr self, const std::string& key, const key_consumer& consumer) {
  auto& st = self->state;
  if (auto it = st.current.find(key); it != st.current.end())
    self->send(consumer, watch_update{st.bucket, it->second, true});
  self->send(consumer, watch_ready{st.bucket, false, {}, 0});
}

watch_hub_actor::behavior_type fake_hub(fake_hub_ptr self, std::string bucket) {
  self->state.bucket = std::move(bucket);
  return {
      [=](caf::subscribe_atom, const std::string& key, const key_consumer& consumer) {
        self->state.consumers.emplace(key, consumer);
        replay(self, key, consumer);
      },
      [=](resync_atom, const std::string& key, const key_consumer& consumer) {
        replay(self, key, consumer);
      },
      [=](const watch_update& u) {
        auto& st = self->state;
        st.current[u.entry.key] = u.entry;
        auto range = st.consumers.equal_range(u.entry.key);
        for (auto it = range.first; it != range.second; ++it)
          self->send(it->second, watch_update{st.bucket, u.entry, false});
      },
      [=](const watch_ready&) {},
  };
}

struct node_fixture : test::scheduled_system {
  std::map<std::string, std::shared_ptr<kv_log>> logs;  // bucket role -> its fake's log
  std::shared_ptr<group_buckets> group = std::make_shared<group_buckets>();
  std::vector<caf::actor> actors;  // every actor of the test, to end them
  caf::actor node;
  node_config config;                    // the production defaults
  std::vector<std::string> timeline;     // "<ms> <what>", from the node's callbacks
  std::vector<std::string> owned_now;    // the keys of the last assignment_update
  std::uint64_t assignment_version = 0;  // of the record published last

  node_fixture() {
    config.group = "g";
    open_buckets();
    spawn_the_node();
  }

  ~node_fixture() {
    // The actors never stop on their own, and the system waits for every actor.
    for (auto& a : actors) caf::anon_send_exit(a, caf::exit_reason::kill);
    sched->run();
  }

  kv_actor bucket(const std::string& role) {
    logs[role] = std::make_shared<kv_log>();
    auto kv = sys->spawn(fake_kv, logs[role], origin);
    actors.push_back(caf::actor_cast<caf::actor>(kv));
    return kv;
  }

  watch_hub_actor hub(const std::string& bucket_name) {
    auto h = sys->spawn(fake_hub, bucket_name);
    actors.push_back(caf::actor_cast<caf::actor>(h));
    return h;
  }

  void open_buckets() {
    group->metrics = std::make_shared<metrics>();
    group->ids_kv = bucket("ids");
    group->election_kv = bucket("election");
    group->heartbeats_kv = bucket("heartbeats");
    group->assignments_kv = bucket("assignments");
    group->election_hub = hub("g-election");
    group->assignments_hub = hub("g-assignments");
  }

  std::string at(const std::string& what) const { return std::to_string(now_ms()) + " " + what; }

  void spawn_the_node() {
    node_options o;
    o.config = config;
    o.group = group;
    o.lease_clock = std::make_shared<test::scheduler_clock>(sched->clock());
    o.callbacks.on_state = [this](const node_state_update& u) {
      timeline.push_back(at(u.from + " -> " + u.to + " (" + u.reason + ")"));
    };
    o.callbacks.on_suspended = [this](const ownership_suspended& s) {
      timeline.push_back(at("suspended " + std::to_string(s.partitions.size()) + ": " + s.reason));
    };
    o.callbacks.on_resumed = [this](const ownership_resumed& r) {
      timeline.push_back(at("resumed " + std::to_string(r.partitions.size())));
    };
    o.callbacks.on_assignment = [this](const assignment_update& u) {
      owned_now.clear();
      for (const auto& p : u.owned) owned_now.push_back(p.keys.front());
      timeline.push_back(at("assignment v" + std::to_string(u.version) + " owns " +
                            std::to_string(u.owned.size())));
    };
    auto spawned = spawn_node(*sys, o);
    BOOST_REQUIRE(spawned);
    node = *spawned;
    actors.push_back(node);
    sched->run();
  }

  /// Lets virtual time pass in steps of 10 ms.
  void advance(caf::timespan d) { scheduled_system::advance(d, 10ms); }

  node_status status() {
    node_status out;
    bool answered = false;
    auto self = caf::scoped_actor{*sys};
    self->send(caf::actor_cast<node_actor>(node), caf::get_atom::value);
    sched->run();
    self->receive([&](const node_status& s) {
      out = s;
      answered = true;
    });
    BOOST_REQUIRE(answered);
    return out;
  }

  /// The leader's write of this worker's key: into the bucket, and through the hub.
  void publish(const std::string& worker, std::vector<std::string> keys) {
    assignment_record r;
    r.worker = worker;
    r.epoch = 1;
    r.version = ++assignment_version;
    r.reason = "cold_start";
    for (auto& k : keys) r.partitions.push_back(partition{{k}, 1});
    auto value = encode(r);
    caf::anon_send(group->assignments_kv, caf::put_atom::value, worker, value);
    sched->run();
    kv_entry e;
    e.key = worker;
    e.value = value;
    e.revision = assignment_version;
    caf::anon_send(group->assignments_hub, watch_update{"g-assignments", e, false});
    sched->run();
  }

  /// The store unreachable (every bucket refuses at once, as without a connection) or back.
  void cut(bool unreachable) {
    for (auto& [role, log] : logs) log->unreachable = unreachable;
    auto state = unreachable ? connection_state::disconnected : connection_state::reconnected;
    caf::anon_send(caf::actor_cast<node_actor>(node), connection_event{state, "", ""});
    sched->run();
  }

  /// When the newest heartbeat the store took was written (virtual ms).
  long long last_heartbeat_ms() const {
    const auto& writes = logs.at("heartbeats")->writes;
    BOOST_REQUIRE(!writes.empty());
    return writes.back().at_ms;
  }

  bool timeline_has(const std::string& entry) const {
    return std::find(timeline.begin(), timeline.end(), entry) != timeline.end();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(node_lifecycle, node_fixture)

BOOST_AUTO_TEST_CASE(an_outage_suspends_at_the_lease_degrades_at_the_threshold_and_resumes) {
  // Claimed, heartbeating, elected; then the assignment arrives and is served at once.
  auto s = status();
  BOOST_TEST(s.worker == "worker-0");
  BOOST_TEST(s.leader);
  BOOST_TEST(s.state == "WaitingAssignment");
  BOOST_TEST(s.lease == "valid");
  publish("worker-0", {"p-1", "p-2"});
  BOOST_TEST(status().state == "Stable");
  BOOST_TEST(owned_now == (std::vector<std::string>{"p-1", "p-2"}),
             boost::test_tools::per_element());

  advance(2500ms);  // a few heartbeats, then the store goes away mid-interval
  timeline.clear();
  const auto cut_at = now_ms();
  const auto acked_at = last_heartbeat_ms();
  cut(true);
  advance(config.degraded.threshold + 1s);

  // The lease lapses at the last acknowledged heartbeat's send + TTL - margin, not a tick
  // later; the node goes Degraded at the threshold and keeps its assignment.
  const auto lapse_ms = acked_at + std::chrono::duration_cast<std::chrono::milliseconds>(
                                       config.heartbeat_ttl - config.lease_margin)
                                       .count();
  const auto degraded_ms =
      cut_at +
      std::chrono::duration_cast<std::chrono::milliseconds>(config.degraded.threshold).count();
  BOOST_TEST(
      timeline_has(std::to_string(lapse_ms) + " suspended 2: no heartbeat acknowledged for " +
                   (config.heartbeat_ttl - config.lease_margin == 2700ms ? "2.7s" : "?")),
      "timeline: " << boost::algorithm::join(timeline, " | "));
  BOOST_TEST(
      timeline_has(std::to_string(degraded_ms) + " Stable -> Degraded (the store is unreachable)"),
      "timeline: " << boost::algorithm::join(timeline, " | "));
  s = status();
  BOOST_TEST(s.state == "Degraded");
  BOOST_TEST(s.owned.empty());  // nothing served
  BOOST_TEST(s.suspended.size() == 2u);
  BOOST_TEST(s.applied_version == 1u);

  // Back: re-validated at once; the partitions resume once a heartbeat is acknowledged and the
  // key is read back unchanged. Nothing was applied meanwhile: the same two partitions.
  timeline.clear();
  cut(false);
  advance(config.heartbeat_interval + 100ms);
  BOOST_TEST(timeline.size() >= 2u, "timeline: " << boost::algorithm::join(timeline, " | "));
  if (timeline.size() >= 2u) {
    BOOST_TEST(timeline[0].find("Degraded -> Stable (the store is reachable again)") !=
               std::string::npos);
    BOOST_TEST(timeline.back().find("resumed 2") != std::string::npos);
  }
  for (const auto& entry : timeline) BOOST_TEST(entry.find("assignment") == std::string::npos);
  s = status();
  BOOST_TEST(s.state == "Stable");
  BOOST_TEST(s.lease == "valid");
  BOOST_TEST(s.owned.size() == 2u);
  BOOST_TEST(s.suspended.empty());
}

// A revocation published while the node is cut off reaches it only after the store is back:
// the read-back finds it before the resume, so the revoked partition is never served again.
BOOST_AUTO_TEST_CASE(a_revocation_written_during_the_outage_is_applied_before_the_resume) {
  publish("worker-0", {"p-1", "p-2"});
  BOOST_REQUIRE(status().owned.size() == 2u);
  cut(true);
  advance(config.heartbeat_ttl);
  BOOST_REQUIRE(status().owned.empty());
  // The leader's write lands in the bucket; the watch does not deliver it (cut off).
  logs["assignments"]->unreachable = false;
  assignment_record r;
  r.worker = "worker-0";
  r.epoch = 1;
  r.version = ++assignment_version;
  r.reason = "scale_up";
  r.partitions.push_back(partition{{"p-2"}, 1});
  caf::anon_send(group->assignments_kv, caf::put_atom::value, std::string("worker-0"), encode(r));
  sched->run();
  timeline.clear();
  cut(false);
  advance(config.heartbeat_interval + 100ms);
  BOOST_TEST(timeline.size() >= 2u, "timeline: " << boost::algorithm::join(timeline, " | "));
  // The change first, then the resume of what is left.
  auto change = std::find_if(timeline.begin(), timeline.end(), [](const std::string& e) {
    return e.find("assignment v2 owns 1") != std::string::npos;
  });
  auto resume = std::find_if(timeline.begin(), timeline.end(), [](const std::string& e) {
    return e.find("resumed 1") != std::string::npos;
  });
  BOOST_TEST((change != timeline.end() && resume != timeline.end() && change < resume),
             "timeline: " << boost::algorithm::join(timeline, " | "));
  BOOST_TEST(owned_now == std::vector<std::string>{"p-2"}, boost::test_tools::per_element());
  BOOST_TEST(status().owned.size() == 1u);
}

// A drain hands the partitions on: the node leaves (deletes its heartbeat, so the leader gives
// them to others at once) only after the application acknowledged their revocation, however
// long that takes within the hand-off timeout. Until then it may still be serving them.
BOOST_AUTO_TEST_CASE(a_drain_ends_only_once_the_application_let_the_revoked_partitions_go) {
  struct held {
    std::vector<caf::response_promise> promises;
    std::size_t revocations = 0;
  };
  auto app = std::make_shared<held>();
  // `app` goes as a spawn argument, not a capture: an argument-less function spawn makes CAF
  // 0.17 bind a reference to an empty tuple's null pointer, which UBSan reports.
  auto subscriber = sys->spawn(
      [](caf::event_based_actor* self, std::shared_ptr<held> held_by_app) -> caf::behavior {
        return {
            [=](const assignment_update& u) -> caf::result<void> {
              if (u.removed.empty()) return caf::unit;
              ++held_by_app->revocations;
              held_by_app->promises.push_back(self->make_response_promise());
              return held_by_app->promises.back();
            },
            [=](caf::ok_atom) {
              for (auto& rp : held_by_app->promises) rp.deliver(caf::unit);
              held_by_app->promises.clear();
            },
            [](const node_state_update&) {},
            [](const leadership_update&) {},
            [](const ownership_suspended&) {},
            [](const ownership_resumed&) {},
        };
      },
      app);
  actors.push_back(subscriber);
  publish("worker-0", {"p-1", "p-2"});
  caf::anon_send(node, caf::subscribe_atom::value, subscriber);
  sched->run();
  caf::anon_send(caf::actor_cast<node_actor>(node), caf::leave_atom::value, shutdown_intent::drain);
  sched->run();
  publish("worker-0", {});  // the leader hands both on: a revocation
  advance(config.hand_off_timeout / 2);
  BOOST_TEST(app->revocations == 1u);
  auto shut_down = [&] {
    return std::any_of(timeline.begin(), timeline.end(), [](const std::string& e) {
      return e.find("-> Shutdown") != std::string::npos;
    });
  };
  BOOST_TEST(!shut_down(), "timeline: " << boost::algorithm::join(timeline, " | "));
  caf::anon_send(subscriber, caf::ok_atom::value);
  sched->run();
  advance(100ms);
  BOOST_TEST(shut_down(), "timeline: " << boost::algorithm::join(timeline, " | "));
}

BOOST_AUTO_TEST_SUITE_END()
