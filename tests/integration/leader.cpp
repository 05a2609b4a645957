// The leader pipeline with real nodes on a real nats-server: cold start, planned scale, crash
// (emergency), leader failover, rolling restart, cooperative hand-off exclusivity, and a changed
// partition source (picked up by the periodic refresh, or only on request without one).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

#include "parti/actors/leader/leader_actor.hpp"
#include "parti/messages/codec.hpp"
#include "parti/messages/wire.hpp"
#include "parti/runtime/nats/group_inspect.hpp"
#include "tests/support/leader_group.hpp"

using namespace parti;
using namespace std::chrono_literals;

using test::leader_group;
using test::moved;
using test::partition_count;

namespace {

/// A partition source whose list the test changes while the leader reads it (on its own
/// thread): the source of truth of a library user, e.g. a table of topics.
class mutable_partitions {
 public:
  explicit mutable_partitions(std::set<std::string> keys) : keys_(std::move(keys)) {}

  void set(std::set<std::string> keys) {
    std::lock_guard<std::mutex> guard(mutex_);
    keys_ = std::move(keys);
  }

  std::set<std::string> keys() const {
    std::lock_guard<std::mutex> guard(mutex_);
    return keys_;
  }

  /// A source that reads this list on every load (it must outlive the leaders: shared).
  static std::shared_ptr<partition_source> source(std::shared_ptr<mutable_partitions> self) {
    return callback_source([self]() -> result<std::vector<partition>> {
      std::vector<partition> out;
      for (const auto& k : self->keys()) out.push_back(partition{{k}, 1});
      return out;
    });
  }

 private:
  mutable std::mutex mutex_;
  std::set<std::string> keys_;
};

/// "<prefix>0" .. "<prefix><n-1>".
std::set<std::string> named(const std::string& prefix, int from, int to) {
  std::set<std::string> out;
  for (int i = from; i < to; ++i) out.insert(prefix + std::to_string(i));
  return out;
}

std::set<std::string> joined(std::set<std::string> a, const std::set<std::string>& b) {
  a.insert(b.begin(), b.end());
  return a;
}

/// Exactly `keys` are owned, each by one node: no partition of `keys` is missing or doubly
/// owned, and nobody owns one that is not in `keys` (a removed one).
bool owned_exactly_once(const test::ownership& o, const std::set<std::string>& keys) {
  if (o.size() != keys.size()) return false;
  for (const auto& [key, set] : o)
    if (set.size() != 1 || keys.count(key) == 0) return false;
  return true;
}

/// How often anyone asked for a refresh through `_control` (0 when nobody ever wrote it).
std::uint64_t refresh_requests(kv_store& assignments) {
  auto entry = assignments.get(control_key);
  if (!entry) {
    BOOST_REQUIRE_EQUAL(entry.failure_value().code, kv_errc::not_found);
    return 0;
  }
  auto c = decode<control_record>(entry->value);
  BOOST_REQUIRE_MESSAGE(c, "_control does not decode");
  return c->refresh_seq;
}

/// An application that acknowledges a revocation only when told to: it keeps the response
/// promise of each assignment_update that removes partitions and records what was removed, for
/// the test thread. A `caf::ok_atom` message delivers every promise held (an empty reply).
struct slow_application {
  std::mutex mutex;
  std::set<std::string> revoked;  // revoked since the last forget()
  std::size_t held = 0;           // revocations not acknowledged yet
  std::optional<std::chrono::steady_clock::time_point> first_held;  // since the last forget()

  std::set<std::string> revoked_now() {
    std::lock_guard<std::mutex> guard(mutex);
    return revoked;
  }

  std::size_t held_now() {
    std::lock_guard<std::mutex> guard(mutex);
    return held;
  }

  std::optional<std::chrono::steady_clock::time_point> first_held_now() {
    std::lock_guard<std::mutex> guard(mutex);
    return first_held;
  }

  void forget() {
    std::lock_guard<std::mutex> guard(mutex);
    revoked.clear();
    first_held.reset();
  }
};

/// The application's actor. It handles every notification of the node: CAF's default handlers
/// (print_and_drop, drop) answer an unhandled message with an error, also a plain send.
caf::actor spawn_slow_subscriber(caf::actor_system& sys, std::shared_ptr<slow_application> app) {
  return sys.spawn([app](caf::event_based_actor* self) -> caf::behavior {
    auto promises = std::make_shared<std::vector<caf::response_promise>>();
    return {
        [=](const assignment_update& u) -> caf::result<void> {
          if (u.removed.empty()) return caf::unit;  // a plain send: nobody waits
          {
            std::lock_guard<std::mutex> guard(app->mutex);
            for (const auto& p : u.removed) app->revoked.insert(p.keys.front());
            ++app->held;
            if (!app->first_held) app->first_held = std::chrono::steady_clock::now();
          }
          promises->push_back(self->make_response_promise());
          return promises->back();  // answered later, by ok_atom
        },
        [=](caf::ok_atom) {
          for (auto& rp : *promises) rp.deliver(caf::unit);
          promises->clear();
          std::lock_guard<std::mutex> guard(app->mutex);
          app->held = 0;
        },
        [](const node_state_update&) {},
        [](const leadership_update&) {},
        [](const ownership_suspended&) {},
        [](const ownership_resumed&) {},
    };
  });
}

/// Ends an actor when the test body ends, also by a failed requirement: a subscriber that holds
/// response promises holds a reference to itself, and the actor system would wait for it.
struct exit_at_end {
  caf::actor actor;
  ~exit_at_end() { caf::anon_send_exit(actor, caf::exit_reason::user_shutdown); }
};

/// Each running node owns `share` partitions, and every partition has exactly one owner.
bool settled_at(leader_group& g, std::size_t share) {
  if (!g.fully_covered()) return false;
  for (const auto& s : g.statuses())
    if (s.owned.size() != share) return false;
  return true;
}

/// Milliseconds, for messages.
long long ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

/// partition key -> the worker keys of `<group>-assignments` that hold it, as published now.
std::map<std::string, std::set<std::string>> published_holders(kv_store& assignments) {
  auto entries = assignments.get_all();
  BOOST_REQUIRE_MESSAGE(entries, "reading the assignments: " << entries.error());
  std::map<std::string, std::set<std::string>> out;
  for (const auto& [worker, r] : decode_assignments(*entries).workers)
    for (const auto& p : r.partitions) out[p.keys.front()].insert(worker);
  return out;
}

/// The partition count the last `_manifest` says the group has (what `parti-ctl status` counts
/// unassigned partitions against).
std::uint64_t manifest_partition_count(kv_store& assignments) {
  auto entry = assignments.get(manifest_key);
  BOOST_REQUIRE_MESSAGE(entry, "reading the manifest: " << entry.error());
  auto m = decode<manifest_record>(entry->value);
  BOOST_REQUIRE_MESSAGE(m, "the manifest does not decode");
  return m->partition_count;
}

/// Samples who owns what until every partition has exactly one owner among the nodes other
/// than `gone`, or `timeout` passes; fails at once on a partition with two owners (the nodes
/// that serve it, or the keys that hold it), and on a manifest that does not count every
/// partition (a re-stamp that said 0 hid the unassigned ones from `parti-ctl status`). Returns
/// whether that coverage was reached.
bool covered_without(leader_group& g, const std::string& gone, duration timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t samples = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto o = g.owners();
    for (const auto& [key, set] : o)
      BOOST_REQUIRE_MESSAGE(set.size() <= 1, key << " has two owners");
    for (const auto& [key, holders] : published_holders(*g.group->assignments))
      BOOST_REQUIRE_MESSAGE(holders.size() <= 1, key << " is in two keys");
    BOOST_REQUIRE_EQUAL(manifest_partition_count(*g.group->assignments), partition_count);
    ++samples;
    bool without_gone = std::none_of(o.begin(), o.end(),
                                     [&](const auto& kv) { return kv.second.count(gone) != 0; });
    if (without_gone && test::covers_exactly_once(o, partition_count)) {
      BOOST_TEST_MESSAGE(samples << " samples");
      return true;
    }
  }
  BOOST_TEST_MESSAGE("owned: " << g.owners().size() << " of " << partition_count << " partitions");
  return false;
}
}  // namespace

BOOST_FIXTURE_TEST_SUITE(leader_pipeline, leader_group)

BOOST_AUTO_TEST_CASE(cold_start_in_wait_mode_assigns_every_partition_once_after_the_window) {
  // The immediate mode (the default) is integration.cold_start's.
  config.cold_start = cold_start_mode::wait;
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
  BOOST_TEST(
      text.find(
          "parti_calculator_rebalance_total{reason=\"cold_start\",result=\"success\",worker=\"" +
          leader_id + "\"} 1") != std::string::npos,
      text);
  BOOST_TEST(text.find("parti_node_leader{worker=\"" + leader_id + "\"} 1") != std::string::npos);
  BOOST_TEST(text.find("parti_unassigned_partitions{worker=\"" + leader_id + "\"} 0") !=
             std::string::npos);
}

/// Whether some sample of `family` in `text` is labelled worker="`worker`" (not merely
/// observed_worker="`worker`").
bool reports(const std::string& text, const std::string& family, const std::string& worker) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(family + "{", 0) != 0) continue;
    for (const char* before : {"{", ","})
      if (line.find(before + std::string("worker=\"") + worker + "\"") != std::string::npos)
        return true;
  }
  return false;
}

BOOST_AUTO_TEST_CASE(a_former_leader_reports_no_leader_only_series) {
  for (int i = 0; i < 2; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return settled_at(*this, partition_count / 2); }, 20s));
  auto old = sole_leader()->worker;
  const std::vector<std::string> leader_only{
      "parti_unassigned_partitions",     "parti_handoff_partitions",
      "parti_calculator_active_workers", "parti_calculator_rebalance_total",
      "parti_heartbeat_age_seconds",     "parti_partition_source_last_success_timestamp_seconds"};
  auto text = group->metrics->text();
  for (const auto& family : leader_only) BOOST_TEST(reports(text, family, old), family);
  // The error counters of the group's KV actors exist before any such error.
  BOOST_TEST(
      text.find(
          R"(parti_kv_operation_errors_total{kind="bucket_mismatch",operation="purge",worker=""} 0)") !=
      std::string::npos);

  auto victim = node_of(old);
  stop(victim, shutdown_intent::drain);
  forget(victim);
  std::string successor;
  BOOST_REQUIRE(test::eventually(
      [&] {
        auto s = sole_leader();
        if (!s || s->worker == old) return false;
        successor = s->worker;
        return reports(group->metrics->text(), "parti_unassigned_partitions", successor);
      },
      20s));
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  text = group->metrics->text();
  for (const auto& family : leader_only) BOOST_TEST(!reports(text, family, old), family);
  BOOST_TEST(
      text.find("parti_unassigned_partitions{worker=\"" + successor + "\"} 0") != std::string::npos,
      text);
  // Every breaker of the group's KV actors has a series of its own, labelled by bucket.
  for (auto role :
       {bucket_role::ids, bucket_role::election, bucket_role::heartbeats, bucket_role::assignments})
    BOOST_TEST(text.find("parti_circuit_breaker_state{bucket=\"" + bucket_name(config.group, role) +
                         "\",shard=\"0\"") != std::string::npos,
               role);
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
    for (const auto& [key, set] : owners())
      BOOST_REQUIRE_MESSAGE(set.size() <= 1, key << " has two owners");
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
  BOOST_TEST(
      test::eventually([&] { return status(late).owned.size() == partition_count / 3; }, 10s));
}

BOOST_AUTO_TEST_CASE(a_refresh_period_picks_up_a_changed_source_without_a_request) {
  auto truth = std::make_shared<mutable_partitions>(named("p-", 0, 60));
  leader_settings s;
  s.partitions = mutable_partitions::source(truth);
  s.refresh_period = 300ms;
  leaders = make_leader_factory(s);
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return owned_exactly_once(owners(), truth->keys()); }, 20s));
  // p-40..p-59 go, q-0..q-14 come; nobody tells the leader.
  auto changed = joined(named("p-", 0, 40), named("q-", 0, 15));
  truth->set(changed);
  // Due within a period plus the cooldown after the last round, plus the hand-off.
  BOOST_REQUIRE_MESSAGE(
      test::eventually([&] { return owned_exactly_once(owners(), changed); }, 10s),
      "not converged to the changed source: " << owners().size() << " partitions owned");
  BOOST_TEST(refresh_requests(*group->assignments) == 0u);  // the period did it, not a request
  auto leader = sole_leader();
  BOOST_REQUIRE(leader);
  auto leader_id = leader->worker;
  auto text = group->metrics->text();
  BOOST_TEST(text.find("parti_calculator_rebalance_total{reason=\"refresh\",result=\"success\","
                       "worker=\"" +
                       leader_id + "\"}") != std::string::npos,
             text);
}

BOOST_AUTO_TEST_CASE(without_a_refresh_period_a_changed_source_waits_for_a_refresh_request) {
  auto truth = std::make_shared<mutable_partitions>(named("p-", 0, 60));
  leader_settings s;
  s.partitions = mutable_partitions::source(truth);
  BOOST_REQUIRE(s.refresh_period == duration::zero());  // the default: off
  leaders = make_leader_factory(s);
  for (int i = 0; i < 3; ++i) add_node();
  auto before = truth->keys();
  BOOST_REQUIRE(test::eventually([&] { return owned_exactly_once(owners(), before); }, 20s));
  auto changed = joined(named("p-", 0, 40), named("q-", 0, 15));
  truth->set(changed);
  // Five periods of the test above plus a cooldown: a periodic refresh would have been seen.
  BOOST_TEST(!test::eventually([&] { return !owned_exactly_once(owners(), before); },
                               5 * 300ms + config.cooldown + 1s));
  BOOST_TEST(owned_exactly_once(owners(), before));
  // Asked explicitly (of any node; it reaches the leader through _control), it is read.
  caf::scoped_actor self{sys};
  bool ok = false;
  self->request(nodes.front(), 5s, refresh_atom::value)
      .receive([&](caf::ok_atom) { ok = true; },
               [&](const caf::error& e) { BOOST_FAIL(caf::to_string(e)); });
  BOOST_REQUIRE(ok);
  BOOST_TEST(refresh_requests(*group->assignments) == 1u);
  BOOST_CHECK_MESSAGE(
      test::eventually([&] { return owned_exactly_once(owners(), changed); }, 10s),
      "not converged after the refresh request: " << owners().size() << " partitions owned");
}

BOOST_AUTO_TEST_CASE(a_refresh_period_with_an_unchanged_source_starts_no_round) {
  auto truth = std::make_shared<mutable_partitions>(named("p-", 0, 60));
  leader_settings s;
  s.partitions = mutable_partitions::source(truth);
  s.refresh_period = 300ms;
  leaders = make_leader_factory(s);
  for (int i = 0; i < 3; ++i) add_node();
  // The manifest of the last published version, if any.
  auto manifest = [&]() -> std::optional<std::pair<kv_entry, manifest_record>> {
    auto entry = group->assignments->get(manifest_key);
    if (!entry) return std::nullopt;
    auto m = decode<manifest_record>(entry->value);
    if (!m) return std::nullopt;
    return std::make_pair(*entry, *m);
  };
  // Settled: all three nodes own their share, and each applied the last published version.
  BOOST_REQUIRE(test::eventually(
      [&] {
        auto m = manifest();
        if (!m || m->second.workers.size() != 3 || !owned_exactly_once(owners(), truth->keys()))
          return false;
        for (const auto& st : statuses())
          if (st.owned.size() != 20 || st.applied_version != m->second.version) return false;
        return true;
      },
      20s));
  auto before = manifest();
  BOOST_REQUIRE(before);
  // The refresh counters exist at 0 from the leader's start; a round makes one of them count.
  auto refresh_rounds = [&] {
    std::istringstream lines(group->metrics->text());
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("parti_calculator_rebalance_total{reason=\"refresh\"", 0) == 0 &&
          line.substr(line.rfind(' ') + 1) != "0")
        return true;
    return false;
  };
  BOOST_TEST(!refresh_rounds());
  // Ten periods, and twice the cooldown: a round per period would have published a version.
  BOOST_TEST(!test::eventually(
      [&] {
        auto m = manifest();
        return !m || m->first.revision != before->first.revision || refresh_rounds();
      },
      3s));
  auto after = manifest();
  BOOST_REQUIRE(after);
  BOOST_TEST(after->second.version == before->second.version);
  BOOST_TEST(!refresh_rounds(), group->metrics->text());
  BOOST_TEST(owned_exactly_once(owners(), truth->keys()));
}

BOOST_AUTO_TEST_CASE(a_revocation_reaches_the_application_before_anyone_else_gets_it) {
  auto app = std::make_shared<slow_application>();
  auto subscriber = spawn_slow_subscriber(sys, app);
  exit_at_end ends_subscriber{subscriber};
  auto slow = add_node(std::nullopt, subscriber);
  add_node();
  BOOST_REQUIRE(test::eventually(
      [&] {
        if (app->held_now() > 0) caf::anon_send(subscriber, caf::ok_atom::value);
        return settled_at(*this, partition_count / 2);
      },
      20s));
  app->forget();
  auto slow_id = status(slow).worker;
  // A planned scale 2 -> 3 revokes a third of the partitions of each node.
  auto newcomer = add_node();
  BOOST_REQUIRE_MESSAGE(test::eventually([&] { return app->held_now() > 0; },
                                         config.planned_scale_window + config.cooldown + 10s),
                        "no revocation reached the application");
  auto revoked_at = *app->first_held_now();
  auto revoked = app->revoked_now();
  BOOST_TEST(revoked.size() == partition_count / 2 - partition_count / 3);
  // Unacknowledged: nobody serves them, the slow node included (it stopped at once). The
  // promises are kept for three quarters of the hand-off timeout, well before the node (and the
  // leader) give up on the application.
  auto release_at = revoked_at + config.hand_off_timeout * 3 / 4;
  std::size_t samples = 0;
  while (std::chrono::steady_clock::now() < release_at) {
    auto o = owners();
    for (const auto& [key, set] : o)
      BOOST_REQUIRE_MESSAGE(set.size() <= 1, key << " has two owners");
    for (const auto& key : revoked) {
      auto it = o.find(key);
      auto owner = it == o.end() ? std::string() : *it->second.begin();
      BOOST_REQUIRE_MESSAGE(it == o.end(), key << " is owned by " << owner << " "
                                               << ms(std::chrono::steady_clock::now() - revoked_at)
                                               << " ms after its revocation, unacknowledged");
    }
    ++samples;
  }
  BOOST_TEST(samples > 10u);
  BOOST_REQUIRE(app->revoked_now() == revoked);  // one revocation, still held
  auto released = std::chrono::steady_clock::now();
  caf::anon_send(subscriber, caf::ok_atom::value);
  // Acknowledged: the leader grants them to the newcomer (no fence: the slow node reported).
  auto granted = [&] {
    auto o = owners();
    for (const auto& key : revoked)
      if (o.count(key) == 0 || o[key].count(slow_id) != 0) return false;
    return true;
  };
  BOOST_REQUIRE(test::eventually(granted, 10s));
  auto took = std::chrono::steady_clock::now() - released;
  BOOST_TEST_MESSAGE("granted " << ms(took) << " ms after the acknowledgement ("
                                << ms(std::chrono::steady_clock::now() - revoked_at)
                                << " ms after the revocation)");
  BOOST_TEST(took < config.hand_off_timeout);  // not by a fence after the timeout
  BOOST_REQUIRE(test::eventually([&] { return settled_at(*this, partition_count / 3); }, 10s));
  auto slow_status = status(slow);
  BOOST_TEST(slow_status.lease == "valid");  // it never stopped heartbeating
  BOOST_TEST(slow_status.suspended.empty());
  BOOST_TEST(status(newcomer).owned.size() == partition_count / 3);
}

BOOST_AUTO_TEST_CASE(an_unacknowledged_revocation_lapses_the_lease_and_the_leader_moves_on) {
  auto app = std::make_shared<slow_application>();
  auto subscriber = spawn_slow_subscriber(sys, app);
  exit_at_end ends_subscriber{subscriber};
  auto slow = add_node(std::nullopt, subscriber);
  add_node();
  BOOST_REQUIRE(test::eventually(
      [&] {
        if (app->held_now() > 0) caf::anon_send(subscriber, caf::ok_atom::value);
        return settled_at(*this, partition_count / 2);
      },
      20s));
  app->forget();
  auto slow_id = status(slow).worker;
  add_node();
  BOOST_REQUIRE_MESSAGE(test::eventually([&] { return app->held_now() > 0; },
                                         config.planned_scale_window + config.cooldown + 10s),
                        "no revocation reached the application");
  auto revoked_at = *app->first_held_now();
  auto revoked = app->revoked_now();
  BOOST_TEST(revoked.size() == partition_count / 2 - partition_count / 3);
  // Never acknowledged. The slow node stops heartbeating and suspends; the leader fences it and
  // grants once its lease must have lapsed. No partition ever has two owners on the way.
  std::optional<std::chrono::steady_clock::duration> suspended_after, granted_after;
  std::size_t samples = 0;
  auto deadline = revoked_at + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto statuses_now = statuses();
    auto since = std::chrono::steady_clock::now() - revoked_at;
    auto o = test::owners_of(statuses_now);
    for (const auto& [key, set] : o)
      BOOST_REQUIRE_MESSAGE(set.size() <= 1,
                            key << " has two owners " << ms(since) << " ms after the revocation");
    ++samples;
    for (const auto& s : statuses_now)
      if (s.worker == slow_id && s.owned.empty() && !s.suspended.empty() && s.lease != "valid" &&
          !suspended_after)
        suspended_after = since;
    bool granted = true;
    for (const auto& key : revoked)
      granted = granted && o.count(key) != 0 && o[key].count(slow_id) == 0;
    if (granted && !granted_after) {
      granted_after = since;
      // Not before the node gave up on its application (nor before its lease could lapse).
      BOOST_TEST(since >= config.hand_off_timeout);
    }
    if (granted_after && suspended_after && test::covers_exactly_once(o, partition_count)) break;
  }
  BOOST_TEST(samples > 10u);
  BOOST_REQUIRE_MESSAGE(suspended_after, "the slow node never showed itself suspended");
  BOOST_REQUIRE_MESSAGE(granted_after, "the revoked partitions were never granted elsewhere");
  BOOST_TEST_MESSAGE("suspended " << ms(*suspended_after) << " ms, granted elsewhere "
                                  << ms(*granted_after) << " ms after the revocation");
  BOOST_TEST(*suspended_after >= config.hand_off_timeout - 100ms);
  BOOST_TEST(test::eventually([&] { return fully_covered(); }, 10s));
  for (const auto& key : revoked) BOOST_TEST(owner_map()[key] != slow_id);
  BOOST_TEST(app->held_now() >= 1u);  // it never answered
}

BOOST_AUTO_TEST_CASE(a_subscriber_that_does_not_handle_a_notification_does_not_end_its_node) {
  // caf::drop answers every message it drops with an error, also a plain send: the node gets
  // an error message for each node_state_update and leadership_update, and must live on.
  auto subscriber = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    self->set_default_handler(caf::drop);
    return {[](const assignment_update&) {}};
  });
  auto deaf = add_node(std::nullopt, subscriber);
  add_node();
  BOOST_REQUIRE(test::eventually([&] { return settled_at(*this, partition_count / 2); }, 20s));
  BOOST_TEST(status(deaf).state != "Gone");
}

BOOST_AUTO_TEST_CASE(a_leader_that_drains_itself_hands_every_partition_on_before_it_leaves) {
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return settled_at(*this, partition_count / 3); }, 20s));
  auto old = *sole_leader();
  auto victim = node_of(old.worker);
  std::set<std::string> its_own;
  for (const auto& p : old.owned) its_own.insert(p.keys.front());
  BOOST_REQUIRE(its_own.size() == partition_count / 3);
  // The stop returns once the node is gone; sampled meanwhile from this thread.
  auto stopped = std::async(std::launch::async, [&] { stop(victim, shutdown_intent::drain); });
  std::size_t samples = 0;
  while (stopped.wait_for(0s) != std::future_status::ready) {
    for (const auto& [key, set] : owners())
      BOOST_REQUIRE_MESSAGE(set.size() <= 1, key << " has two owners");
    ++samples;
    BOOST_REQUIRE_MESSAGE(samples < 100000, "the leader's drain does not end");
  }
  // It finished its own hand-off before it left: at once, every partition is in exactly one
  // key, the ones it held granted under its epoch (no successor had to rescue them).
  auto entries = group->assignments->get_all();
  BOOST_REQUIRE(entries);
  std::map<std::string, std::set<std::uint64_t>> granted_in;  // partition -> grant epochs
  std::map<std::string, int> keys_holding;
  for (const auto& [worker, r] : decode_assignments(*entries).workers) {
    if (worker == old.worker) {
      BOOST_TEST(r.partitions.empty(), "the drained leader's key holds partitions");
      continue;
    }
    for (const auto& p : r.partitions) ++keys_holding[p.keys.front()];
    for (const auto& g : r.grants) granted_in[g.keys.front()].insert(g.epoch);
  }
  BOOST_TEST(keys_holding.size() == partition_count);
  for (const auto& [key, n] : keys_holding) BOOST_TEST(n == 1, key << " is in " << n << " keys");
  for (const auto& key : its_own)
    BOOST_TEST((granted_in[key] == std::set<std::uint64_t>{old.epoch}),
               key << " not granted under the drained leader's epoch " << old.epoch);
  forget(victim);
  BOOST_TEST(covered_without(*this, old.worker, 10s));
}

BOOST_AUTO_TEST_CASE(a_leader_gone_between_revocation_and_grant_leaves_nothing_unassigned) {
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return settled_at(*this, partition_count / 3); }, 20s));
  auto old = *sole_leader();
  auto victim = node_of(old.worker);
  // The leader's application holds the revocation of its own partitions: the hand-off's first
  // phase is published, and its second cannot be before the acknowledgement (nor the hand-off
  // timeout): the moment to kill the leader in.
  auto app = std::make_shared<slow_application>();
  auto subscriber = spawn_slow_subscriber(sys, app);
  exit_at_end ends_subscriber{subscriber};
  caf::anon_send(victim, caf::subscribe_atom::value, subscriber);
  // Not stop(): its answer never comes from a node killed while it drains.
  caf::anon_send(victim, caf::leave_atom::value, shutdown_intent::drain);
  BOOST_REQUIRE_MESSAGE(test::eventually([&] { return app->held_now() > 0; }, 10s),
                        "the leader's revocation never reached its application");
  crash(victim);
  forget(victim);
  auto revoked = app->revoked_now();
  BOOST_TEST(revoked.size() == partition_count / 3);
  // Killed between the phases: the revoked partitions are in nobody's key.
  auto holders = published_holders(*group->assignments);
  for (const auto& key : revoked) BOOST_TEST(holders.count(key) == 0u, key << " was granted");
  BOOST_TEST(covered_without(*this, old.worker, 15s));
  auto leader = sole_leader();
  BOOST_REQUIRE(leader);
  BOOST_TEST(leader->worker != old.worker);
}

BOOST_AUTO_TEST_SUITE_END()
