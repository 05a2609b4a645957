// The synchronous embedding facade (api/embedded_node.hpp) on a real nats-server: start() and
// its failures (no store, a black hole, a short deadline, a rejected configuration), the views,
// wait_for, a draining stop, and the callback contract: callbacks on the executor thread, in
// order under a burst of changes; a blocking callback does not delay heartbeats; a slow
// revocation callback delays the hand-off and never makes a second owner.
#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "parti/api/embedded_node.hpp"
#include "parti/runtime/partition_source.hpp"
#include "tests/support/group.hpp"

using namespace parti;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

/// The test timings (tests/support/group.cpp) with shorter windows, so that a group settles in
/// about a second.
node_config facade_config() {
  auto c = test::fast_config("e");
  c.cold_start_window = 600ms;
  c.planned_scale_window = 400ms;
  c.cooldown = 400ms;
  return c;
}

/// A partition count the test may change while leaders read it (p-0 .. p-<n-1>).
std::shared_ptr<partition_source> counted(const std::shared_ptr<std::atomic<std::uint32_t>>& n) {
  return callback_source(
      [n]() -> result<std::vector<partition>> { return count_source(n->load())->load(); });
}

/// What the callbacks of one facade saw, and on which threads.
struct recorder {
  std::mutex mutex;
  std::vector<assignment_update> assignments;
  std::vector<node_state_update> states;
  std::vector<leadership_update> leaderships;
  std::vector<embedded_error> errors;
  std::set<std::thread::id> threads;

  embedded_callbacks callbacks() {
    embedded_callbacks cb;
    cb.on_assignment = [this](const assignment_update& u) { add(assignments, u); };
    cb.on_state = [this](const node_state_update& u) { add(states, u); };
    cb.on_leadership = [this](const leadership_update& u) { add(leaderships, u); };
    cb.on_error = [this](const embedded_error& e) { add(errors, e); };
    return cb;
  }

  template <class T>
  void add(std::vector<T>& to, const T& x) {
    std::lock_guard<std::mutex> guard(mutex);
    to.push_back(x);
    threads.insert(std::this_thread::get_id());
  }

  template <class T>
  std::vector<T> copy(const std::vector<T>& of) {
    std::lock_guard<std::mutex> guard(mutex);
    return of;
  }

  bool has_error(embedded_error_kind kind) {
    std::lock_guard<std::mutex> guard(mutex);
    for (const auto& e : errors)
      if (e.kind == kind) return true;
    return false;
  }
};

embedded_options options_for(const std::string& url, std::shared_ptr<partition_source> source) {
  embedded_options o;
  o.config = facade_config();
  o.nats_url = url;
  o.leader.partitions = std::move(source);
  return o;
}

std::set<std::string> keys_of(const std::vector<partition>& ps) {
  std::set<std::string> out;
  for (const auto& p : ps) out.insert(p.keys.front());
  return out;
}

std::set<std::string> owned_by(const embedded_node& n) {
  return keys_of(n.current_assignment().owned);
}

/// Both together own exactly p-0 .. p-<count-1>, each once.
bool split_exactly(const std::vector<const embedded_node*>& nodes, std::size_t count) {
  std::multiset<std::string> all;
  for (const auto* n : nodes)
    for (const auto& k : owned_by(*n)) all.insert(k);
  if (all.size() != count) return false;
  for (std::size_t i = 0; i < count; ++i)
    if (all.count("p-" + std::to_string(i)) != 1) return false;
  return true;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// The group's buckets on the fixture's connection, for facades attached to the fixture's
/// actor system; closed before the fixture ends.
struct shared_group {
  std::shared_ptr<group_buckets> group;
  shared_group(test::nats_fixture& f, const node_config& c) {
    auto g = open_group(f.sys, f.conn, c);
    BOOST_REQUIRE_MESSAGE(g, g.error());
    group = *g;
  }
  ~shared_group() { group->close(); }
};

/// A TCP port that accepts connections into its backlog and never says a word: NATS clients
/// wait there for the server's INFO until their connect timeout.
struct black_hole {
  int fd = -1;
  int port = 0;
  black_hole() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    BOOST_REQUIRE(::listen(fd, 16) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~black_hole() { ::close(fd); }
};

void require_started(embedded_node& n) {
  auto started = n.start(10s);
  BOOST_REQUIRE_MESSAGE(started, started.error());
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(embedded_node_tests, test::nats_fixture)

BOOST_AUTO_TEST_CASE(a_single_node_starts_owns_every_partition_and_stops) {
  recorder rec;
  auto o = options_for(server.url(), count_source(6));
  o.callbacks = rec.callbacks();
  embedded_node node(o);
  auto started = node.start(10s);
  BOOST_REQUIRE_MESSAGE(started, started.error());
  // start() returns with the first assignment applied: alone, it owns everything.
  auto a = node.current_assignment();
  BOOST_TEST(a.worker == "worker-0");
  BOOST_TEST(a.owned.size() == 6u);
  BOOST_TEST(a.grants.size() == 6u);
  BOOST_TEST(node.is_leader());
  BOOST_TEST(node.wait_for(node_state::stable, 5s));
  BOOST_TEST((node.state() == node_state::stable));
  BOOST_TEST(test::eventually([&] { return node.current_assignment().valid_at(boot_now()); }, 2s));
  BOOST_TEST(!node.wait_for(node_state::failed, 100ms));
  // Every callback ran on the executor thread, which is not this one.
  BOOST_TEST(test::eventually([&] { return !rec.copy(rec.assignments).empty(); }, 2s));
  BOOST_TEST(node.executor_thread_id() != std::this_thread::get_id());
  {
    std::lock_guard<std::mutex> guard(rec.mutex);
    BOOST_TEST(rec.threads.size() == 1u);
    BOOST_TEST((*rec.threads.begin() == node.executor_thread_id()));
  }
  auto stopped = node.stop(shutdown_intent::drain, 10s);
  BOOST_TEST(stopped.ok(), stopped.error());
  BOOST_TEST(node.current_assignment().owned.empty());
  BOOST_TEST(!node.is_leader());
  BOOST_TEST(!rec.has_error(embedded_error_kind::node_failed));
}

BOOST_AUTO_TEST_CASE(a_node_that_ends_without_stop_is_reported) {
  recorder rec;
  auto o = options_for(server.url(), count_source(4));
  o.callbacks = rec.callbacks();
  embedded_node node(sys, o);  // attached to the fixture's actor system
  require_started(node);
  caf::anon_send_exit(node.node(), caf::exit_reason::kill);
  BOOST_TEST(test::eventually([&] { return rec.has_error(embedded_error_kind::node_failed); }, 5s));
  BOOST_TEST(node.current_assignment().owned.empty());
  BOOST_TEST(!node.is_leader());
  BOOST_TEST(node.stop(shutdown_intent::drain, 1s).ok());  // ended already: nothing to stop
}

BOOST_AUTO_TEST_CASE(two_nodes_share_the_partitions_and_a_drain_hands_them_over) {
  shared_group g(*this, facade_config());
  auto o = options_for(server.url(), count_source(6));
  embedded_node a(o);  // its own actor system and connection
  o.group = g.group;
  embedded_node b(sys, o);  // in the fixture's actor system, on the shared buckets
  auto started = a.start(10s);
  BOOST_REQUIRE_MESSAGE(started, started.error());
  started = b.start(10s);
  BOOST_REQUIRE_MESSAGE(started, started.error());
  BOOST_TEST(a.is_leader() != b.is_leader());
  BOOST_REQUIRE(test::eventually(
      [&] {
        return split_exactly({&a, &b}, 6) && owned_by(a).size() == 3u;
      },
      10s));
  auto stopped = a.stop(shutdown_intent::drain, 10s);
  BOOST_TEST(stopped.ok(), stopped.error());
  BOOST_TEST(test::eventually([&] { return owned_by(b).size() == 6u; }, 10s));
  // a's drain round handed everything over; b takes the lead when a's term ends.
  BOOST_TEST(test::eventually([&] { return b.is_leader(); }, 5s));
}

BOOST_AUTO_TEST_CASE(start_fails_clearly_when_the_store_is_not_reachable) {
  recorder rec;
  auto o = options_for("nats://127.0.0.1:" + std::to_string(free_loopback_port()), count_source(4));
  o.callbacks = rec.callbacks();
  embedded_node node(o);
  auto began = steady::now();
  auto started = node.start(1s);
  BOOST_REQUIRE(!started);
  BOOST_TEST(steady::now() - began < 3s);
  BOOST_TEST(contains(started.error(), "no worker id held"), started.error());
  BOOST_TEST(contains(started.error(), "not reachable"), started.error());
  BOOST_TEST(node.stop(shutdown_intent::drain, 1s).ok());  // nothing runs: nothing to stop
}

BOOST_AUTO_TEST_CASE(start_fails_clearly_on_a_black_hole) {
  black_hole hole;
  auto o = options_for("nats://127.0.0.1:" + std::to_string(hole.port), count_source(4));
  embedded_node node(o);
  auto began = steady::now();
  auto started = node.start(1500ms);
  BOOST_REQUIRE(!started);
  BOOST_TEST(steady::now() - began < 4s);
  BOOST_TEST(contains(started.error(), "no worker id held"), started.error());
}

BOOST_AUTO_TEST_CASE(a_too_short_deadline_fails_naming_what_was_missing) {
  embedded_node node(options_for(server.url(), count_source(4)));
  auto started = node.start(50ms);
  BOOST_REQUIRE(!started);
  BOOST_TEST(contains(started.error(), "not ready within"), started.error());
  BOOST_TEST(contains(started.error(), "no assignment applied"), started.error());
  BOOST_TEST(!node.start(5s).ok());  // once per object
}

BOOST_AUTO_TEST_CASE(a_rejected_configuration_fails_at_once_and_is_reported) {
  recorder rec;
  auto o = options_for(server.url(), count_source(4));
  o.config.heartbeat_ttl = o.config.heartbeat_interval;  // breaks a rule of node_config
  o.callbacks = rec.callbacks();
  embedded_node node(o);
  auto began = steady::now();
  auto started = node.start(10s);
  BOOST_REQUIRE(!started);
  BOOST_TEST(steady::now() - began < 1s);
  BOOST_TEST(contains(started.error(), "configuration rejected: "), started.error());
  BOOST_TEST(contains(started.error(), "heartbeat_ttl"), started.error());
  BOOST_TEST(test::eventually(
      [&] { return rec.has_error(embedded_error_kind::configuration_rejected); }, 2s));

  recorder rec2;  // no partition source
  auto o2 = options_for(server.url(), nullptr);
  o2.callbacks = rec2.callbacks();
  embedded_node node2(sys, o2);
  started = node2.start(10s);
  BOOST_REQUIRE(!started);
  BOOST_TEST(contains(started.error(), "leader.partitions"), started.error());
  BOOST_TEST(test::eventually(
      [&] { return rec2.has_error(embedded_error_kind::configuration_rejected); }, 2s));
}

BOOST_AUTO_TEST_CASE(a_throwing_callback_is_reported_and_its_revocation_still_acknowledged) {
  recorder rec;
  auto o = options_for(server.url(), count_source(4));
  o.callbacks = rec.callbacks();
  o.callbacks.on_assignment = [](const assignment_update& u) {
    if (!u.removed.empty()) throw std::runtime_error("cannot stop the work");
  };
  embedded_node node(o);
  require_started(node);
  // The drain revokes everything; the throwing callback acknowledges all the same, so the
  // drain does not wait for the hand-off timeout (2 s).
  auto began = steady::now();
  auto stopped = node.stop(shutdown_intent::drain, 10s);
  BOOST_TEST(stopped.ok(), stopped.error());
  BOOST_TEST(steady::now() - began < 1500ms);
  std::lock_guard<std::mutex> guard(rec.mutex);
  bool reported = false;
  for (const auto& e : rec.errors)
    reported |= e.kind == embedded_error_kind::callback_failed &&
                contains(e.message, "cannot stop the work");
  BOOST_TEST(reported);
  // Callbacks after the throwing one still ran: the state change to Shutdown.
  BOOST_REQUIRE(!rec.states.empty());
  BOOST_TEST(rec.states.back().to == "Shutdown");
}

BOOST_AUTO_TEST_CASE(a_store_outage_and_a_lost_id_are_reported_and_the_node_recovers) {
  recorder rec;
  auto o = options_for(server.url(), count_source(4));
  o.callbacks = rec.callbacks();
  embedded_node node(o);
  require_started(node);
  server.stop();
  BOOST_TEST(node.wait_for(node_state::degraded, 5s));
  BOOST_TEST(
      test::eventually([&] { return rec.has_error(embedded_error_kind::store_unreachable); }, 2s));
  // The outage outlasts the id TTL: the node cannot have renewed its claim, so it gives the id
  // up and claims one again once the store is back.
  std::this_thread::sleep_for(o.config.id_ttl);
  server.start();
  BOOST_TEST(test::eventually([&] { return rec.has_error(embedded_error_kind::id_lost); }, 10s));
  BOOST_TEST(test::eventually(
      [&] {
        auto a = node.current_assignment();
        return node.state() == node_state::stable && a.owned.size() == 4u && a.valid_at(boot_now());
      },
      10s));
  BOOST_TEST(node.stop(shutdown_intent::drain, 10s).ok());
}

BOOST_AUTO_TEST_CASE(callbacks_run_in_order_on_the_executor_thread_under_a_burst) {
  shared_group g(*this, facade_config());
  recorder rec;
  auto o = options_for(server.url(), count_source(6));
  o.callbacks = rec.callbacks();
  embedded_node a(o);
  require_started(a);
  o.callbacks = {};
  o.group = g.group;
  {
    embedded_node b(sys, o), c(sys, o);
    require_started(b);
    require_started(c);
    BOOST_REQUIRE(test::eventually(
        [&] {
          return split_exactly({&a, &b, &c}, 6) && owned_by(a).size() == 2u &&
                 owned_by(b).size() == 2u;
        },
        10s));
    BOOST_TEST(b.stop(shutdown_intent::drain, 10s).ok());
    BOOST_TEST(c.stop(shutdown_intent::drain, 10s).ok());
  }
  BOOST_REQUIRE(test::eventually([&] { return owned_by(a).size() == 6u; }, 10s));
  BOOST_REQUIRE(test::eventually(
      [&] {
        return rec.copy(rec.assignments).size() >= 3u &&
               keys_of(rec.copy(rec.assignments).back().owned).size() == 6u;
      },
      5s));
  // 1 -> 3 -> 1 nodes: the first assignment, shrinking steps, growing steps; each newer.
  auto updates = rec.copy(rec.assignments);
  for (std::size_t i = 1; i < updates.size(); ++i) {
    auto before = std::make_pair(updates[i - 1].epoch, updates[i - 1].version);
    auto after = std::make_pair(updates[i].epoch, updates[i].version);
    BOOST_TEST((before < after), "update " << i << ": e" << after.first << " v" << after.second
                                           << " after e" << before.first << " v" << before.second);
  }
  // Every state change, numbered 1, 2, 3, ... without a gap.
  auto states = rec.copy(rec.states);
  BOOST_REQUIRE(!states.empty());
  for (std::size_t i = 0; i < states.size(); ++i) BOOST_TEST(states[i].seq == i + 1);
  std::lock_guard<std::mutex> guard(rec.mutex);
  BOOST_TEST(rec.threads.size() == 1u);
  BOOST_TEST((*rec.threads.begin() == a.executor_thread_id()));
  BOOST_TEST((a.executor_thread_id() != std::this_thread::get_id()));
}

BOOST_AUTO_TEST_CASE(a_blocking_callback_does_not_delay_the_heartbeats) {
  auto cfg = facade_config();
  shared_group g(*this, cfg);
  auto count = std::make_shared<std::atomic<std::uint32_t>>(6);
  auto o = options_for(server.url(), counted(count));
  o.leader.refresh_period = 200ms;
  o.group = g.group;
  recorder rec_b;
  o.callbacks = rec_b.callbacks();
  embedded_node b(sys, o);  // starts first: it leads
  require_started(b);
  BOOST_REQUIRE(b.is_leader());
  // a blocks in its callback for an added partition once armed: 3 heartbeat TTLs.
  std::atomic<bool> armed{false}, blocking{false}, blocked{false};
  const auto block_for = 3 * cfg.heartbeat_ttl;
  o.group = nullptr;
  o.callbacks = {};
  o.callbacks.on_assignment = [&](const assignment_update& u) {
    if (!armed || u.added.empty() || !u.removed.empty() || blocked) return;
    blocking = true;
    std::this_thread::sleep_for(block_for);  // the application is busy: on purpose
    blocked = true;
  };
  // One scheduler thread: a callback that blocked an actor thread would stall every actor of
  // a's system, the node and its heartbeat among them.
  o.scheduler_threads = 1;
  embedded_node a(o);
  require_started(a);
  BOOST_REQUIRE(test::eventually(
      [&] {
        return split_exactly({&a, &b}, 6) && owned_by(a).size() == 3u;
      },
      10s));
  auto worker = a.current_assignment().worker;
  auto revision = [&] {
    auto e = g.group->heartbeats->get(worker);
    return e ? e->revision : 0;
  };
  armed = true;
  count->store(8);  // the leader's refresh adds p-6 and p-7, one to each node
  BOOST_REQUIRE(test::eventually([&] { return blocking.load(); }, 5s));
  auto held = owned_by(a);
  auto before = revision();
  while (!blocked) {
    // Meanwhile the node stays Stable and keeps what it owns.
    BOOST_TEST((a.state() == node_state::stable));
    BOOST_TEST(owned_by(a) == held);
    std::this_thread::sleep_for(50ms);
  }
  auto after = revision();
  // One heartbeat every 200 ms during 1.8 s of blocking: they went on.
  BOOST_TEST(after >= before + 5, "heartbeat revision " << before << " -> " << after);
  BOOST_TEST(test::eventually([&] { return split_exactly({&a, &b}, 8); }, 5s));
  for (const auto& s : rec_b.copy(rec_b.states)) BOOST_TEST(s.to != "Emergency");
  BOOST_TEST(!rec_b.has_error(embedded_error_kind::id_lost));
}

BOOST_AUTO_TEST_CASE(a_slow_revocation_delays_the_hand_off_and_never_makes_two_owners) {
  auto cfg = facade_config();
  shared_group g(*this, cfg);
  // What each application serves, kept by its callbacks: a starts serving an added partition
  // when told, and stops serving a revoked one only when its (slow) callback ends.
  std::mutex mutex;
  std::set<std::string> serving_a, serving_b;
  std::optional<steady::time_point> revocation_done, b_first_added;
  const auto slow = 1s;  // below the hand-off timeout (2 s): the acknowledgement arrives
  auto o = options_for(server.url(), count_source(6));
  o.callbacks.on_assignment = [&](const assignment_update& u) {
    {
      std::lock_guard<std::mutex> guard(mutex);
      for (const auto& k : keys_of(u.added)) serving_a.insert(k);
    }
    if (u.removed.empty()) return;
    std::this_thread::sleep_for(slow);  // stopping the work takes a while
    std::lock_guard<std::mutex> guard(mutex);
    for (const auto& k : keys_of(u.removed)) serving_a.erase(k);
    if (!revocation_done) revocation_done = steady::now();
  };
  embedded_node a(o);
  require_started(a);
  o.group = g.group;
  o.callbacks.on_assignment = [&](const assignment_update& u) {
    std::lock_guard<std::mutex> guard(mutex);
    for (const auto& k : keys_of(u.removed)) serving_b.erase(k);
    for (const auto& k : keys_of(u.added)) serving_b.insert(k);
    if (!u.added.empty() && !b_first_added) b_first_added = steady::now();
  };
  embedded_node b(sys, o);
  std::atomic<bool> sampling{true};
  std::atomic<int> doubly_served{0}, doubly_owned{0};
  std::thread sampler([&] {
    while (sampling) {
      {
        std::lock_guard<std::mutex> guard(mutex);
        for (const auto& k : serving_a) doubly_served += serving_b.count(k) ? 1 : 0;
      }
      auto owned_a = owned_by(a);
      for (const auto& k : owned_by(b)) doubly_owned += owned_a.count(k) ? 1 : 0;
      std::this_thread::sleep_for(2ms);
    }
  });
  auto started = b.start(10s);
  bool settled = started && test::eventually(
                                [&] {
                                  return split_exactly({&a, &b}, 6) && owned_by(b).size() == 3u;
                                },
                                10s);
  sampling = false;
  sampler.join();
  BOOST_REQUIRE_MESSAGE(started, started.error());
  BOOST_REQUIRE(settled);
  BOOST_TEST(doubly_served.load() == 0);
  BOOST_TEST(doubly_owned.load() == 0);
  std::lock_guard<std::mutex> guard(mutex);
  BOOST_REQUIRE(revocation_done.has_value());
  BOOST_REQUIRE(b_first_added.has_value());
  // b was given the partitions only after a's revocation callback returned.
  BOOST_TEST((*b_first_added >= *revocation_done));
}

BOOST_AUTO_TEST_SUITE_END()
