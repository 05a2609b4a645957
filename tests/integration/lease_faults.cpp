// Ownership leases under faults, with real parti-node processes on a real nats-server and scaled
// timings: a worker cut off from the store (a TCP relay that stops forwarding without closing),
// a paused worker, a paused leader (SIGSTOP / SIGCONT), a whole-store outage with
// --on-lease-loss=suspend and =keep, and drains that meet a planned scale's hand-offs. A
// background thread reads every node's /status every 20 ms (all nodes at once); a sample in
// which one partition is listed in `partitions` by two workers, with answers at most 10 ms apart,
// counts as "two owners", and every scenario requires zero of them; the served spans of
// /debug/ownership are checked exactly as well.
#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

// The fleet driver is part of the parti_apps library, which the test programs do not link;
// its one source file is compiled into this program instead.
#include "apps/lib/fleet.hpp"
#include "apps/lib/http_client.hpp"
#include "apps/lib/tcp_relay.hpp"
#include "parti/runtime/nats/local_server.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/fleet_observer.hpp"
#include "tests/support/kept_dir.hpp"
#include "tests/support/run_program.hpp"

using namespace parti;
using namespace std::chrono_literals;
using test::converged;
using test::no_two_owners_at_any_moment;
using test::observer;
using test::ports_of;
using test::sample;

namespace {

using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;
using ms = std::chrono::milliseconds;

constexpr std::uint32_t partition_count = 24;
constexpr ms heartbeat_ttl{800};
constexpr ms emergency_grace{200};
constexpr ms ttl_plus_grace() {
  return heartbeat_ttl + emergency_grace;
}

/// Flags every node gets; the NATS URL is given per node (the cut-off node uses the relay).
/// `id_ttl`: the store expires an id key that was not renewed for that long, counted in wall
/// time, also across a store outage (at the restart); a whole-store outage shorter than the
/// ownership lease tests but longer than id TTL - renewal age would take the ids away too.
std::vector<std::string> common_args(const std::string& id_ttl = "4s") {
  return {"--group=lease-faults",         "--partitions=" + std::to_string(partition_count),
          "--heartbeat-interval=200ms",   "--heartbeat-ttl=800ms",
          "--emergency-grace=200ms",      "--id-ttl=" + id_ttl,
          "--election-ttl=1500ms",        "--cold-start-window=1s",
          "--planned-scale-window=500ms", "--cooldown=500ms"};
}

long long millis(clock_type::duration d) {
  return std::chrono::duration_cast<ms>(d).count();
}

/// The nodes' logs: kept (and named) when the test case failed.
struct log_dir : test::kept_dir {
  log_dir() : kept_dir("parti-lease-faults") {}
};

/// Starts node 0 and waits until it leads, then the others (so that node 0 is the leader).
void start_nodes(fleet::fleet& f, const std::vector<std::string>& urls,
                 const std::vector<std::string>& extra = {}) {
  auto args = [&](std::size_t i) {
    std::vector<std::string> a{"--nats-url=" + urls[i]};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  f.start(std::nullopt, args(0));
  BOOST_REQUIRE_MESSAGE(test::eventually(
                            [&] {
                              auto s = f.status(0, ms(200));
                              return s && !s->empty() && s->front().leader;
                            },
                            15s),
                        "node 0 did not become the leader");
  for (std::size_t i = 1; i < urls.size(); ++i) f.start(std::nullopt, args(i));
}

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ",") + x;
  return out;
}

/// None of a deposed leader's later writes was applied: a record of its epoch, applied after the
/// new leader's, would take a node's applied epoch back. Returns each member's newest epoch.
std::map<int, std::uint64_t> no_applied_epoch_goes_back(const observer& obs, time_point since,
                                                        const std::vector<int>& members) {
  std::map<int, std::uint64_t> newest;
  std::size_t regressions = 0;
  std::string regression;
  for (const auto& smp : obs.since(since)) {
    for (int i : members) {
      const auto* n = smp.node(i);
      if (!n) continue;
      if (n->applied_epoch < newest[i]) {
        ++regressions;
        if (regression.empty())
          regression = "node " + std::to_string(i) + " went from epoch " +
                       std::to_string(newest[i]) + " back to " + std::to_string(n->applied_epoch);
      }
      newest[i] = std::max(newest[i], n->applied_epoch);
    }
  }
  BOOST_TEST(regressions == 0u, "a deposed leader's write was applied: " << regression);
  return newest;
}

struct pause_result {
  time_point stopped;
  time_point resumed;
  std::optional<time_point> others_took_over;
  bool first_answer_clean = true;
  std::string first_answer;
};

/// Pauses member `index` (SIGSTOP) until at least `min_pause` passed and `done` holds for a
/// sample (bounded by `max_pause`), then resumes it (SIGCONT). Checks that the first answers
/// of the resumed process list no partition that another worker served just before.
template <class Done>
pause_result pause_member(fleet::fleet& f, observer& obs, int index, const std::string& worker,
                          clock_type::duration min_pause, clock_type::duration max_pause,
                          Done done) {
  pause_result r;
  r.stopped = clock_type::now();
  f.signal(index, SIGSTOP, false);
  if (auto s = obs.await(done, max_pause)) r.others_took_over = s->finished;
  obs.observe_until(r.stopped + min_pause);
  // What the others serve right before the resumption.
  std::set<std::string> others;
  if (auto s = obs.next(clock_type::now() + 2s))
    for (const auto& [p, ws] : s->owners())
      for (const auto& w : ws)
        if (w != worker) others.insert(p);
  r.resumed = clock_type::now();
  f.signal(index, SIGCONT, false);
  // The first answers after the resumption.
  auto first = obs.await([&](const sample& s) { return s.node(index) != nullptr; }, 5s);
  if (first) {
    const auto* n = first->node(index);
    r.first_answer = first->describe();
    for (const auto& p : n->partitions)
      if (others.count(p)) r.first_answer_clean = false;
  }
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lease_faults)

// Node 2 reaches the store through a relay that is cut for 3 x TTL: its lease lapses on its own
// side (it lists nothing from about one TTL after the cut), the others take its partitions over
// only after that, and the group converges after the heal; never two owners.
/// One worker cut off for 3 x TTL (its connection held open, nothing passing), with the given
/// timings: never two owners, its lease lapses within a TTL, the others serve its partitions
/// within TTL + grace + 1 s, and the group converges after the heal.
void cut_off_one_worker(const std::vector<std::string>& args, ms ttl, ms grace) {
  local_nats_server nats;
  fleet::tcp_relay relay(nats.port());
  log_dir logs;
  fleet::fleet f(test::app_binary("parti-node"), args, logs.path);
  start_nodes(f, {nats.url(), nats.url(), relay.url()});
  observer obs(ports_of(f));
  const int cut_node = 2;

  auto before = obs.await(
      [](const sample& s) {
        return converged(s, {0, 1, 2}, partition_count);
      },
      20s);
  BOOST_REQUIRE_MESSAGE(before, "no convergence before the cut");
  const auto* c = before->node(cut_node);
  BOOST_REQUIRE(!c->leader);
  const auto c_worker = c->worker;
  const auto c_parts = c->partitions;
  BOOST_REQUIRE(!c_parts.empty());
  BOOST_TEST_MESSAGE("cut " << c_worker << " serving " << join(c_parts));

  relay.cut();
  const auto cut = clock_type::now();
  auto taken = obs.await(
      [&](const sample& s) {
        auto o = s.owners();
        for (const auto& p : c_parts) {
          auto it = o.find(p);
          if (it == o.end() || it->second.size() != 1 || it->second.count(c_worker)) return false;
        }
        return true;
      },
      ttl + grace + 3s);
  obs.observe_until(cut + 3 * ttl);
  relay.heal();
  const auto healed = clock_type::now();
  auto after = obs.await(
      [](const sample& s) {
        return converged(s, {0, 1, 2}, partition_count);
      },
      20s);

  // The cut node's own view during the cut.
  std::optional<long long> c_empty_ms;
  std::size_t c_served_late = 0;
  std::string c_late_evidence;
  for (const auto& s : obs.since(cut)) {
    const auto& a = s.members[cut_node];
    if (!a.node || a.started >= healed) continue;
    if (!c_empty_ms && a.node->partitions.empty()) c_empty_ms = millis(a.answered - cut);
    if (a.started >= cut + ttl && !a.node->partitions.empty()) {
      ++c_served_late;
      if (c_late_evidence.empty()) c_late_evidence = s.describe();
    }
  }
  std::optional<long long> c_serving_again_ms;
  for (const auto& s : obs.since(healed)) {
    const auto* n = s.node(cut_node);
    if (n && !n->partitions.empty()) {
      c_serving_again_ms = millis(s.members[cut_node].answered - healed);
      break;
    }
  }
  BOOST_TEST_MESSAGE("worker cut off: "
                     << obs.samples() << " samples, two-owner samples " << obs.two_owner_samples()
                     << ", cut node empty after "
                     << (c_empty_ms ? std::to_string(*c_empty_ms) : "never") << " ms, others own "
                     << "its partitions after "
                     << (taken ? std::to_string(millis(taken->finished - cut)) : "never")
                     << " ms, converged "
                     << (after ? std::to_string(millis(after->finished - healed)) : "never")
                     << " ms after the heal, cut node serving again after "
                     << (c_serving_again_ms ? std::to_string(*c_serving_again_ms) : "never")
                     << " ms; relay held " << relay.held_bytes() << " bytes");

  BOOST_TEST(obs.two_owner_samples() == 0u, "two owners in "
                                                << obs.two_owner_samples()
                                                << " samples: " << obs.two_owner_evidence());
  no_two_owners_at_any_moment(f);
  BOOST_TEST(c_empty_ms.has_value(), "the cut node kept listing partitions through the cut");
  if (c_empty_ms)
    BOOST_TEST(*c_empty_ms <= millis(ttl + 200ms),
               "the cut node listed partitions until " << *c_empty_ms << " ms after the cut");
  BOOST_TEST(c_served_late == 0u,
             "the cut node served partitions more than one TTL after the "
             "cut in "
                 << c_served_late << " samples: " << c_late_evidence);
  BOOST_TEST(taken.has_value(), "the others never took the cut node's partitions over");
  if (taken)
    BOOST_TEST(millis(taken->finished - cut) <= millis(ttl + grace + 1s),
               "the others owned the cut node's partitions only " << millis(taken->finished - cut)
                                                                  << " ms after the cut");
  BOOST_TEST(after.has_value(), "no convergence within 20 s after the heal: "
                                    << (obs.samples() ? obs.since(healed).back().describe() : ""));
}

BOOST_AUTO_TEST_CASE(worker_cut_off_from_the_store) {
  cut_off_one_worker(common_args(), heartbeat_ttl, emergency_grace);
}

// The same with the default liveness timings (heartbeat 1 s, TTL 3 s, grace 1 s, election TTL
// 3 s, id TTL 30 s); only the windows are short, so that the group forms quickly.
BOOST_AUTO_TEST_CASE(worker_cut_off_with_default_timings) {
  cut_off_one_worker({"--group=lease-faults", "--partitions=" + std::to_string(partition_count),
                      "--cold-start-window=1s", "--planned-scale-window=500ms", "--cooldown=500ms"},
                     ms{3000}, ms{1000});
}

// A non-leader is stopped (SIGSTOP) for at least 2 x (TTL + grace) and until the others serve
// its partitions, then continued: its first answers list nothing it lost, the group converges,
// and never two owners.
BOOST_AUTO_TEST_CASE(worker_paused) {
  local_nats_server nats;
  log_dir logs;
  fleet::fleet f(test::app_binary("parti-node"), common_args(), logs.path);
  start_nodes(f, {nats.url(), nats.url(), nats.url()});
  observer obs(ports_of(f));
  const int paused = 1;

  auto before = obs.await(
      [](const sample& s) {
        return converged(s, {0, 1, 2}, partition_count);
      },
      20s);
  BOOST_REQUIRE_MESSAGE(before, "no convergence before the pause");
  const auto* p = before->node(paused);
  BOOST_REQUIRE(!p->leader);
  const auto worker = p->worker;
  const auto parts = p->partitions;

  auto r = pause_member(f, obs, paused, worker, 2 * (heartbeat_ttl + emergency_grace), 10s,
                        [&](const sample& s) {
                          auto o = s.owners();
                          for (const auto& q : parts) {
                            auto it = o.find(q);
                            if (it == o.end() || it->second.size() != 1 || it->second.count(worker))
                              return false;
                          }
                          return true;
                        });
  auto after = obs.await(
      [](const sample& s) {
        return converged(s, {0, 1, 2}, partition_count);
      },
      20s);
  std::optional<long long> serving_again_ms;
  for (const auto& s : obs.since(r.resumed)) {
    const auto* n = s.node(paused);
    if (n && !n->partitions.empty()) {
      serving_again_ms = millis(s.members[paused].answered - r.resumed);
      break;
    }
  }
  BOOST_TEST_MESSAGE("worker paused: "
                     << obs.samples() << " samples, two-owner samples " << obs.two_owner_samples()
                     << ", others own its partitions after "
                     << (r.others_took_over
                             ? std::to_string(millis(*r.others_took_over - r.stopped))
                             : "never")
                     << " ms, paused for " << millis(r.resumed - r.stopped) << " ms, converged "
                     << (after ? std::to_string(millis(after->finished - r.resumed)) : "never")
                     << " ms after the resumption, serving again after "
                     << (serving_again_ms ? std::to_string(*serving_again_ms) : "never") << " ms");

  BOOST_TEST(obs.two_owner_samples() == 0u, "two owners in "
                                                << obs.two_owner_samples()
                                                << " samples: " << obs.two_owner_evidence());
  no_two_owners_at_any_moment(f);
  BOOST_TEST(r.others_took_over.has_value(),
             "the others never took the paused worker's partitions over");
  BOOST_TEST(r.first_answer_clean,
             "right after SIGCONT the paused worker listed partitions that others served: "
                 << r.first_answer);
  BOOST_TEST(after.has_value(), "no convergence within 20 s after the resumption: "
                                    << obs.since(r.resumed).back().describe());
}

// The leader is stopped until another node leads and every partition is served again (at least
// 2 x (TTL + grace)), then continued: the group converges with exactly one leader, and never two
// owners.
BOOST_AUTO_TEST_CASE(leader_paused) {
  local_nats_server nats;
  log_dir logs;
  fleet::fleet f(test::app_binary("parti-node"), common_args(), logs.path);
  start_nodes(f, {nats.url(), nats.url(), nats.url()});
  observer obs(ports_of(f));
  const int paused = 0;

  auto before = obs.await(
      [](const sample& s) {
        return converged(s, {0, 1, 2}, partition_count);
      },
      20s);
  BOOST_REQUIRE_MESSAGE(before, "no convergence before the pause");
  const auto* p = before->node(paused);
  BOOST_REQUIRE(p->leader);
  const auto worker = p->worker;
  std::optional<time_point> new_leader_at;

  auto r = pause_member(f, obs, paused, worker, 2 * (heartbeat_ttl + emergency_grace), 12s,
                        [&](const sample& s) {
                          bool other_leads = false;
                          for (int i : {1, 2}) {
                            const auto* n = s.node(i);
                            if (n && n->leader) other_leads = true;
                          }
                          if (other_leads && !new_leader_at) new_leader_at = s.finished;
                          if (!other_leads) return false;
                          auto o = s.owners();
                          if (o.size() != partition_count) return false;
                          for (const auto& [q, ws] : o)
                            if (ws.size() != 1 || ws.count(worker)) return false;
                          return true;
                        });
  auto after = obs.await(
      [](const sample& s) {
        return converged(s, {0, 1, 2}, partition_count);
      },
      20s);
  std::string final_role;
  if (after) final_role = after->node(paused)->leader ? "leader" : "follower";
  BOOST_TEST_MESSAGE(
      "leader paused: "
      << obs.samples() << " samples, two-owner samples " << obs.two_owner_samples()
      << ", new leader after "
      << (new_leader_at ? std::to_string(millis(*new_leader_at - r.stopped)) : "never")
      << " ms, all partitions served by the others after "
      << (r.others_took_over ? std::to_string(millis(*r.others_took_over - r.stopped)) : "never")
      << " ms, paused for " << millis(r.resumed - r.stopped) << " ms, converged "
      << (after ? std::to_string(millis(after->finished - r.resumed)) : "never")
      << " ms after the resumption; the resumed process ends as "
      << (final_role.empty() ? "?" : final_role));

  BOOST_TEST(obs.two_owner_samples() == 0u, "two owners in "
                                                << obs.two_owner_samples()
                                                << " samples: " << obs.two_owner_evidence());
  no_two_owners_at_any_moment(f);
  BOOST_TEST(new_leader_at.has_value(), "no other node became the leader during the pause");
  BOOST_TEST(r.others_took_over.has_value(),
             "the others never served every partition during the pause");
  BOOST_TEST(r.first_answer_clean,
             "right after SIGCONT the paused leader listed partitions that others served: "
                 << r.first_answer);
  BOOST_TEST(after.has_value(),
             "no convergence (one leader, every partition once) within 20 s "
             "after the resumption: "
                 << obs.since(r.resumed).back().describe());
  auto newest = no_applied_epoch_goes_back(obs, r.stopped, {0, 1, 2});
  BOOST_TEST(newest[1] > before->node(1)->applied_epoch,
             "the followers never applied the new leader's epoch");
}

/// Whether member `index`'s log (`dir`/node-<index>.log) holds `text` yet.
bool log_contains(const std::string& dir, int index, const std::string& text) {
  std::ifstream in(dir + "/node-" + std::to_string(index) + ".log");
  std::stringstream all;
  all << in.rdbuf();
  return all.str().find(text) != std::string::npos;
}

// The leader is paused while a revocation is pending: worker node 1 is cut off, so it never
// applies the revocation of its partitions; the leader publishes it, fences the worker and is
// stopped (SIGSTOP) as soon as its log shows the fence. The grant that follows is then due, or
// already sent and still in flight, across the pause (the holder's lease has usually lapsed by
// the fence, so the grant follows within a millisecond). Another node takes over the leadership
// and the partitions; the paused leader resumes. None of its later writes may be applied (no
// node's applied epoch goes back), and no partition ever has two owners, on the exact spans or
// in the samples. Found two bugs on its way: a worker that expired owning nothing stayed in the
// live set (the next round gave it partitions, lost until it came back), and a leader that
// stepped down mid-emergency showed Emergency for good.
BOOST_AUTO_TEST_CASE(leader_paused_while_a_revocation_is_pending) {
  local_nats_server nats;
  fleet::tcp_relay relay(nats.port());
  log_dir logs;
  fleet::fleet f(test::app_binary("parti-node"), common_args(), logs.path);
  start_nodes(f, {nats.url(), relay.url(), nats.url()});
  observer obs(ports_of(f));
  const int leader = 0, cut_node = 1;

  auto before = obs.await(
      [](const sample& s) {
        return converged(s, {0, 1, 2}, partition_count);
      },
      20s);
  BOOST_REQUIRE_MESSAGE(before, "no convergence before the cut");
  BOOST_REQUIRE(before->node(leader)->leader);
  const auto leader_worker = before->node(leader)->worker;
  const auto cut_worker = before->node(cut_node)->worker;

  relay.cut();
  const auto cut = clock_type::now();
  // The leader has fenced the cut worker: its partitions are revoked and their grant waits for
  // the lease to lapse.
  BOOST_REQUIRE_MESSAGE(
      test::eventually(
          [&] { return log_contains(logs.path, leader, "publisher: fenced " + cut_worker + ";"); },
          ttl_plus_grace() + 3s),
      "the leader never fenced the cut-off worker");
  const auto fenced_after = millis(clock_type::now() - cut);
  auto r = pause_member(f, obs, leader, leader_worker, 2 * (heartbeat_ttl + emergency_grace), 12s,
                        [&](const sample& s) {
                          const auto* n = s.node(2);
                          if (!n || !n->leader) return false;
                          auto o = s.owners();
                          if (o.size() != partition_count) return false;
                          for (const auto& [q, ws] : o)
                            if (ws.size() != 1 || ws.count(leader_worker) || ws.count(cut_worker))
                              return false;
                          return true;
                        });
  relay.heal();
  const auto healed = clock_type::now();
  auto after = obs.await(
      [](const sample& s) {
        return converged(s, {0, 1, 2}, partition_count);
      },
      20s);
  BOOST_TEST_MESSAGE(
      "leader paused with a revocation pending: "
      << obs.samples() << " samples, two-owner samples " << obs.two_owner_samples() << ", fenced "
      << fenced_after << " ms after the cut, node 2 served all after "
      << (r.others_took_over ? std::to_string(millis(*r.others_took_over - r.stopped)) : "never")
      << " ms of the pause, converged "
      << (after ? std::to_string(millis(after->finished - healed)) : "never")
      << " ms after the heal");

  BOOST_TEST(obs.two_owner_samples() == 0u, "two owners in "
                                                << obs.two_owner_samples()
                                                << " samples: " << obs.two_owner_evidence());
  no_two_owners_at_any_moment(f);
  BOOST_TEST(r.others_took_over.has_value(),
             "node 2 never led and served every partition during the pause");
  BOOST_TEST(r.first_answer_clean,
             "right after SIGCONT the paused leader listed partitions that others served: "
                 << r.first_answer);
  // Which defence stopped the resumed leader's due grant: its own term check before a write
  // (logged), or its election stepping down first.
  BOOST_TEST_MESSAGE("the resumed leader "
                     << (log_contains(logs.path, leader, "not written, the leader's lease")
                             ? "refused a write past its term"
                             : "stepped down before writing"));
  auto newest = no_applied_epoch_goes_back(obs, cut, {0, 1, 2});
  BOOST_TEST(newest[2] > before->node(2)->applied_epoch,
             "node 2 never applied a newer epoch than before the pause");
  BOOST_TEST(after.has_value(),
             "no convergence within 20 s after the heal: " << obs.since(healed).back().describe());
}

namespace {

struct outage_result {
  std::map<std::string, std::string> before;  // partition -> worker
  std::size_t during_samples = 0;             // samples in which every node answered
  std::size_t listing_wrong = 0;              // answers that break the policy
  std::string listing_evidence;
  std::size_t moved = 0;  // samples that list a partition at another worker than before
  std::string moved_evidence;
  std::optional<long long> resumed_ms;  // restart -> every partition served by its old owner
  long long outage_ms = 0;
};

/// Stops the nats-server for 4 x TTL and starts it again. With `keep`, every node must list its
/// partitions through the outage; otherwise, from one TTL after the stop, nothing and its whole
/// assignment as suspended. Afterwards every partition must be served again by its owner
/// before the outage, and nothing may move at any time.
outage_result store_outage(bool keep, const log_dir& logs) {
  outage_result r;
  local_nats_server nats;
  // 3.2 s outage + up to half an id TTL since the last renewal stays well within 10 s.
  fleet::fleet f(test::app_binary("parti-node"), common_args("10s"), logs.path);
  std::vector<std::string> extra;
  if (keep) extra.push_back("--on-lease-loss=keep");
  start_nodes(f, {nats.url(), nats.url(), nats.url()}, extra);
  observer obs(ports_of(f));

  auto before = obs.await(
      [](const sample& s) {
        return converged(s, {0, 1, 2}, partition_count);
      },
      20s);
  BOOST_REQUIRE_MESSAGE(before, "no convergence before the outage");
  // Settled: the same owners for a while (no rebalance still going on).
  auto settled = obs.await(
      [&, last = before->owner_map(), since = clock_type::now()](const sample& s) mutable {
        if (!converged(s, {0, 1, 2}, partition_count) || s.owner_map() != last) {
          last = s.owner_map();
          since = clock_type::now();
          return false;
        }
        return clock_type::now() - since >= 1s;
      },
      15s);
  BOOST_REQUIRE_MESSAGE(settled, "the assignment did not settle before the outage");
  r.before = settled->owner_map();
  std::map<std::string, std::set<std::string>> assigned;  // worker -> partitions
  for (const auto& [p, w] : r.before) assigned[w].insert(p);

  const auto stopping = clock_type::now();
  nats.stop();
  const auto stopped = clock_type::now();
  obs.observe_until(stopped + 4 * heartbeat_ttl);
  nats.start();
  const auto restarted = clock_type::now();
  r.outage_ms = millis(restarted - stopping);
  auto back = obs.await(
      [&](const sample& s) {
        return converged(s, {0, 1, 2}, partition_count) && s.owner_map() == r.before;
      },
      20s);
  if (back) {
    r.resumed_ms = millis(back->finished - restarted);
    obs.observe_until(clock_type::now() + 1500ms);  // nothing moves later either
  }

  for (const auto& s : obs.since(stopping)) {
    for (const auto& [p, ws] : s.owners()) {
      auto it = r.before.find(p);
      if (ws.size() != 1 || it == r.before.end() || *ws.begin() != it->second) {
        ++r.moved;
        if (r.moved_evidence.empty()) r.moved_evidence = p + ": " + s.describe();
        break;
      }
    }
    if (s.finished > restarted) continue;
    bool all = true;
    for (const auto& a : s.members) {
      if (!a.node) {
        all = false;
        continue;
      }
      if (a.started < stopped + heartbeat_ttl) continue;
      const auto& mine = assigned[a.node->worker];
      bool ok = keep ? a.node->partitions == mine
                     : a.node->partitions.empty() && a.node->suspended == mine;
      if (!ok) {
        ++r.listing_wrong;
        if (r.listing_evidence.empty())
          r.listing_evidence = "at " + std::to_string(millis(a.started - stopped)) +
                               " ms after the stop: " + s.describe();
      }
    }
    if (all && s.started >= stopped + heartbeat_ttl) ++r.during_samples;
  }
  BOOST_TEST_MESSAGE(
      (keep ? "store outage, keep: " : "store outage, suspend: ")
      << obs.samples() << " samples, two-owner samples " << obs.two_owner_samples() << ", outage "
      << r.outage_ms << " ms, " << r.during_samples << " full samples during the outage, "
      << r.listing_wrong << " answers off the policy, " << r.moved
      << " samples with a moved partition, every partition served by its old "
         "owner again "
      << (r.resumed_ms ? std::to_string(*r.resumed_ms) : "never") << " ms after the restart");
  BOOST_TEST(obs.two_owner_samples() == 0u, "two owners in "
                                                << obs.two_owner_samples()
                                                << " samples: " << obs.two_owner_evidence());
  no_two_owners_at_any_moment(f);
  return r;
}

}  // namespace

// The whole store goes away for 4 x TTL (--on-lease-loss=suspend): from one TTL after the stop
// every node lists nothing and holds its whole assignment as suspended; after the restart every
// node serves the same partitions again, and nothing ever moves.
BOOST_AUTO_TEST_CASE(store_outage_suspends_and_resumes_the_same_partitions) {
  log_dir logs;
  auto r = store_outage(false, logs);
  BOOST_TEST(r.during_samples > 0u, "no sample in which every node answered during the outage");
  BOOST_TEST(r.listing_wrong == 0u,
             "nodes served during the outage, or suspended another set "
             "than their assignment, in "
                 << r.listing_wrong << " answers: " << r.listing_evidence);
  BOOST_TEST(r.moved == 0u, "partitions moved in " << r.moved << " samples: " << r.moved_evidence);
  BOOST_TEST(r.resumed_ms.has_value(),
             "the nodes did not serve their partitions of before the outage within 20 s");
}

// The same with --on-lease-loss=keep: every node lists its partitions through the outage, and
// nothing moves.
BOOST_AUTO_TEST_CASE(store_outage_with_keep_serves_on) {
  log_dir logs;
  auto r = store_outage(true, logs);
  BOOST_TEST(r.during_samples > 0u, "no sample in which every node answered during the outage");
  BOOST_TEST(r.listing_wrong == 0u, "nodes did not list their partitions during the outage in "
                                        << r.listing_wrong << " answers: " << r.listing_evidence);
  BOOST_TEST(r.moved == 0u, "partitions moved in " << r.moved << " samples: " << r.moved_evidence);
  BOOST_TEST(r.resumed_ms.has_value(),
             "the nodes did not serve their partitions of before the outage within 20 s");
}

namespace {

/// One run of drains_meet_a_handoff_in_flight: four nodes, two join, and `offset` after the joins
/// two of the old non-leaders are drained (SIGTERM) at once. Node logs go to `dir`.
void drain_meets_handoff(const std::string& dir, ms offset) {
  std::filesystem::create_directories(dir);
  local_nats_server nats;
  fleet::fleet f(test::app_binary("parti-node"), common_args(), dir);
  start_nodes(f, {nats.url(), nats.url(), nats.url(), nats.url()});

  // Four nodes converged and settled (no rebalance or cooldown still going on), so that the
  // joins below start a planned scale at once.
  std::vector<int> drainers;
  {
    observer warmup(ports_of(f));
    auto before = warmup.await(
        [](const sample& s) {
          return converged(s, {0, 1, 2, 3}, partition_count);
        },
        20s);
    BOOST_REQUIRE_MESSAGE(before, "no convergence of the first four nodes");
    auto settled = warmup.await(
        [&, last = before->owner_map(), since = clock_type::now()](const sample& s) mutable {
          if (!converged(s, {0, 1, 2, 3}, partition_count) || s.owner_map() != last) {
            last = s.owner_map();
            since = clock_type::now();
            return false;
          }
          return clock_type::now() - since >= 1s;
        },
        15s);
    BOOST_REQUIRE_MESSAGE(settled, "the assignment of the first four did not settle");
    for (int i : {1, 2, 3})
      if (drainers.size() < 2 && !settled->node(i)->leader) drainers.push_back(i);
    BOOST_REQUIRE_EQUAL(drainers.size(), 2u);
    BOOST_TEST(warmup.two_owner_samples() == 0u,
               "two owners before the joins in " << warmup.two_owner_samples()
                                                 << " samples: " << warmup.two_owner_evidence());
  }

  const std::vector<int> joiners{f.start(std::nullopt, {"--nats-url=" + nats.url()}),
                                 f.start(std::nullopt, {"--nats-url=" + nats.url()})};
  const auto joined = clock_type::now();
  observer obs(ports_of(f));
  obs.observe_until(joined + offset);

  // A drained process is gone with its /debug/ownership: its spans are read back to back (no
  // pause: a drain hands off and exits within tens of ms, so a 20 ms poll mostly misses the
  // hand-off) until it exits, and its last answer goes into the exact check. A span still open
  // at that answer ends there; what the process served between its last answer and its exit (a
  // request or two) is covered only by the 20 ms samples of /status.
  struct last_answer {
    std::vector<fleet::served_span> spans;
    std::int64_t boot_ns = 0;  // when the process answered, on the boot clock
    time_point at;
  };
  std::map<int, last_answer> last;
  std::map<int, time_point> exited;  // when the exit was seen (reaped)
  auto poll = [&](int i) {
    last_answer a;
    if (auto spans = f.served_spans(i, ms(200), &a.boot_ns)) {
      a.spans = std::move(*spans);
      a.at = clock_type::now();
      last[i] = std::move(a);
    }
  };
  for (int i : drainers) poll(i);
  const auto drained = clock_type::now();
  for (int i : drainers) f.signal(i, SIGTERM, false);
  while (exited.size() < drainers.size() && clock_type::now() < drained + 20s) {
    for (int i : drainers) poll(i);  // nothing once reaped
    f.reap();
    for (int i : drainers)
      if (!f.members()[static_cast<std::size_t>(i)].alive() && !exited.count(i))
        exited[i] = clock_type::now();
  }
  const bool all_exited = exited.size() == drainers.size();
  for (int i : drainers) f.signal(i, SIGKILL);  // no-op for those that exited

  std::vector<int> survivors = f.alive();
  auto after = obs.await([&](const sample& s) { return converged(s, survivors, partition_count); },
                         drained + 15s - clock_type::now());

  // What the joiners served when the drain began, and when they first served anything.
  std::size_t joiners_serving_at_drain = 0;
  std::optional<long long> joiners_first_ms;
  for (const auto& s : obs.since(joined)) {
    std::size_t serving = 0;
    for (int i : joiners)
      if (const auto* n = s.node(i)) serving += n->partitions.size();
    if (serving > 0 && !joiners_first_ms) joiners_first_ms = millis(s.finished - joined);
    if (s.started <= drained) joiners_serving_at_drain = serving;
  }
  std::vector<fleet::served_span> gone;
  std::size_t open_at_last = 0;
  long long tail_ms = 0;  // last answer -> exit seen, for a drainer with spans open then
  for (int i : drainers) {
    auto it = last.find(i);
    BOOST_REQUIRE_MESSAGE(it != last.end(), "drained member " << i << " never answered");
    std::size_t open = 0;
    for (const auto& span : it->second.spans)
      if (span.to >= it->second.boot_ns) ++open;
    if (open > 0 && exited.count(i)) tail_ms = std::max(tail_ms, millis(exited[i] - it->second.at));
    open_at_last += open;
    gone.insert(gone.end(), it->second.spans.begin(), it->second.spans.end());
  }
  long long exit_ms = 0;
  for (const auto& [i, t] : exited) exit_ms = std::max(exit_ms, millis(t - drained));
  BOOST_TEST_MESSAGE(
      "drain " << offset.count() << " ms after the joins: " << obs.samples()
               << " samples, two-owner samples " << obs.two_owner_samples()
               << ", joiners first served after "
               << (joiners_first_ms ? std::to_string(*joiners_first_ms) : "never") << " ms and "
               << joiners_serving_at_drain << " partitions at the drain, drainers "
               << (all_exited ? "exited " + std::to_string(exit_ms) + " ms" : "did not exit")
               << " after SIGTERM, " << gone.size() << " drainer spans, " << open_at_last
               << " open at their last answer (uncovered tail up to " << tail_ms
               << " ms), converged "
               << (after ? std::to_string(millis(after->finished - drained)) : "never")
               << " ms after the drain");

  BOOST_TEST(obs.two_owner_samples() == 0u, "two owners in "
                                                << obs.two_owner_samples()
                                                << " samples: " << obs.two_owner_evidence());
  BOOST_TEST(!gone.empty(), "the drained members reported no served span");
  no_two_owners_at_any_moment(f, gone);
  BOOST_TEST(all_exited, "the drained members did not exit within 20 s of SIGTERM");
  BOOST_TEST(after.has_value(),
             "no convergence (one leader, every partition once, all Stable) on the survivors "
             "within 15 s of the drain: "
                 << (obs.since(drained).empty() ? "" : obs.since(drained).back().describe()));
}

}  // namespace

// Two workers join, which starts a planned scale (the leader waits the planned-scale window,
// 500 ms, and then hands partitions over to them), and two of the old non-leaders are drained
// (SIGTERM: hand everything off, then exit) 300, 500 and 700 ms after the joins: before the
// rebalance, as it begins and with hand-offs in flight (a fresh group each time). A leaving
// worker holds its partitions until it applied their revocation, so never two owners (sampled
// and exactly), and the four that remain converge.
BOOST_AUTO_TEST_CASE(drains_meet_a_handoff_in_flight) {
  log_dir logs;
  for (ms offset : {ms(300), ms(500), ms(700)}) {
    BOOST_TEST_CONTEXT("drain " << offset.count() << " ms after the joins") {
      drain_meets_handoff(logs.path + "/offset-" + std::to_string(offset.count()) + "ms", offset);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
