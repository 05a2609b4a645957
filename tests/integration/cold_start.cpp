// Cold start against real parti-node processes on a real nats-server: six nodes started together
// own every partition within the settle + 2 s of the first election (immediate mode, the
// default), workers that join during the window are balanced when it closes with at most one
// move more than the optimum, `--cold-start=wait` assigns nothing before the window closes, and
// a leader killed between the first round and the window's end loses nothing.
// Every /status sample (all nodes read at once, every 20 ms) must show no partition with two
// owners, and the served spans of /debug/ownership are checked exactly.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

// The fleet driver is part of the parti_apps library (linked by tests/CMakeLists.txt).
#include "apps/lib/fleet.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/nats/local_server.hpp"
#include "parti/runtime/strategy/movement.hpp"
#include "tests/support/fleet_observer.hpp"
#include "tests/support/kept_dir.hpp"
#include "tests/support/run_program.hpp"

using namespace parti;
using namespace std::chrono_literals;
using test::observer;
using test::sample;

namespace {

using clock_type = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;

constexpr std::size_t partition_count = 120;

struct log_dir : test::kept_dir {
  log_dir() : kept_dir("parti-cold-start") {}
};

long long millis(clock_type::duration d) {
  return std::chrono::duration_cast<ms>(d).count();
}

/// Every partition is listed by exactly one worker (states may still be settling).
bool covered(const sample& s) {
  auto o = s.owners();
  if (o.size() != partition_count) return false;
  return std::all_of(o.begin(), o.end(),
                     [](const auto& entry) { return entry.second.size() == 1; });
}

bool has_leader(const sample& s) {
  for (const auto& a : s.members)
    if (a.node && a.node->leader) return true;
  return false;
}

/// worker -> partitions it owns, over the partitions with one owner.
std::map<std::string, std::size_t> counts_of(const std::map<std::string, std::string>& owners) {
  std::map<std::string, std::size_t> out;
  for (const auto& [p, w] : owners) ++out[w];
  return out;
}

/// The fewest moves that take `before` (worker -> count) to a balanced assignment of `total`
/// partitions over `workers` (the ones of `before` and new ones holding nothing).
std::size_t optimal_moves(const std::map<std::string, std::size_t>& before, std::size_t total,
                          std::size_t workers) {
  std::vector<std::size_t> held;
  for (const auto& [w, n] : before) held.push_back(n);
  held.resize(std::max(held.size(), workers), 0);
  return total - most_kept_when_balanced(held, total);
}

std::size_t moved(const std::map<std::string, std::string>& before,
                  const std::map<std::string, std::string>& after) {
  std::size_t n = 0;
  for (const auto& [p, w] : after) {
    auto it = before.find(p);
    n += (it == before.end() || it->second != w) ? 1 : 0;
  }
  return n;
}

std::vector<int> indices(int from, int to) {
  std::vector<int> out;
  for (int i = from; i < to; ++i) out.push_back(i);
  return out;
}

/// Starts `count` nodes at once (no waiting for a leader in between).
void start_together(fleet::fleet& f, int count, const std::vector<std::string>& args) {
  for (int i = 0; i < count; ++i) f.start(std::nullopt, args);
}

struct first_coverage {
  clock_type::time_point elected;
  clock_type::time_point covered;
  sample at;
};

/// The first sample with a leader, then the first in which every partition has one owner.
std::optional<first_coverage> await_first_coverage(observer& obs, clock_type::duration timeout) {
  auto elected = obs.await(has_leader, timeout);
  if (!elected) return std::nullopt;
  auto full = obs.await(covered, timeout);
  if (!full) return std::nullopt;
  return first_coverage{elected->started, full->finished, *full};
}

void no_two_owner_samples(const observer& obs) {
  BOOST_TEST(obs.two_owner_samples() == 0u, "two owners in "
                                                << obs.two_owner_samples()
                                                << " samples: " << obs.two_owner_evidence());
}

std::vector<std::string> scaled_args(const std::string& url, const std::string& mode) {
  return {"--nats-url=" + url,
          "--group=cold-start",
          "--partitions=" + std::to_string(partition_count),
          "--heartbeat-interval=200ms",
          "--heartbeat-ttl=800ms",
          "--emergency-grace=200ms",
          "--id-ttl=4s",
          "--election-ttl=1500ms",
          "--cold-start-window=4s",
          "--planned-scale-window=500ms",
          "--cooldown=500ms",
          "--cold-start=" + mode};
}

}  // namespace

// The user's case with every default (heartbeat 1 s, so the settle is 1 s; window 30 s): the
// fleet owns everything long before the window closes.
BOOST_AUTO_TEST_CASE(six_nodes_with_default_timings_own_everything_within_the_settle_and_2s) {
  local_nats_server nats;
  log_dir logs;
  fleet::fleet f(test::app_binary("parti-node"),
                 {"--nats-url=" + nats.url(), "--group=cold-start",
                  "--partitions=" + std::to_string(partition_count)},
                 logs.path);
  start_together(f, 6, {});
  observer obs(test::ports_of(f));
  auto first = await_first_coverage(obs, 20s);
  BOOST_REQUIRE_MESSAGE(first, "no full coverage within 20 s");
  auto took = first->covered - first->elected;
  BOOST_TEST_MESSAGE("default timings: covered " << millis(took) << " ms after the first election, "
                                                 << first->at.owner_map().size() << " partitions, "
                                                 << counts_of(first->at.owner_map()).size()
                                                 << " owners");
  BOOST_TEST(millis(took) <= 1000 + 2000,
             "covered only " << millis(took) << " ms after the first election");
  no_two_owner_samples(obs);
  test::no_two_owners_at_any_moment(f);
}

// Six together, two more during the window: coverage within the settle + 2 s, then at the
// window's end every count within 1 of the mean, moved at most one more than the optimum.
BOOST_AUTO_TEST_CASE(late_joiners_are_balanced_at_the_window_end_with_near_optimal_moves) {
  local_nats_server nats;
  log_dir logs;
  fleet::fleet f(test::app_binary("parti-node"), scaled_args(nats.url(), "immediate"), logs.path);
  start_together(f, 6, {});
  std::optional<sample> before_late;
  {
    observer obs(test::ports_of(f));
    auto first = await_first_coverage(obs, 20s);
    BOOST_REQUIRE_MESSAGE(first, "no full coverage within 20 s");
    auto took = first->covered - first->elected;
    BOOST_TEST_MESSAGE("scaled timings: covered " << millis(took)
                                                  << " ms after the first election");
    BOOST_TEST(millis(took) <= 200 + 2000,
               "covered only " << millis(took) << " ms after the first election");
    // The fleet as the first round left it (six Stable nodes, or five and a sixth that joined
    // after the settle), before anyone else joins.
    before_late = obs.await([](const sample& s) { return covered(s); }, 5s);
    no_two_owner_samples(obs);
  }
  BOOST_REQUIRE(before_late);
  start_together(f, 2, {});
  observer obs(test::ports_of(f));
  auto all = indices(0, 8);
  auto balanced = obs.await(
      [&](const sample& s) {
        if (!test::converged(s, all, partition_count)) return false;
        auto counts = counts_of(s.owner_map());
        if (counts.size() != all.size()) return false;
        for (const auto& [w, n] : counts)
          if (n + 1 < partition_count / all.size() || n > partition_count / all.size() + 1)
            return false;
        return true;
      },
      30s);
  BOOST_REQUIRE_MESSAGE(balanced, "eight nodes were not balanced within 30 s: "
                                      << obs.since(clock_type::now() - 1s).back().describe());
  auto before = before_late->owner_map();
  auto after = balanced->owner_map();
  auto moves = moved(before, after);
  auto best = optimal_moves(counts_of(before), partition_count, all.size());
  BOOST_TEST_MESSAGE("window end: " << moves << " partitions moved, optimum " << best);
  BOOST_TEST(moves <= best + 1);
  no_two_owner_samples(obs);
  test::no_two_owners_at_any_moment(f);
}

// --cold-start=wait: nothing is owned until the window closes, then everything.
BOOST_AUTO_TEST_CASE(wait_mode_assigns_nothing_before_the_window_closes) {
  local_nats_server nats;
  log_dir logs;
  fleet::fleet f(test::app_binary("parti-node"), scaled_args(nats.url(), "wait"), logs.path);
  start_together(f, 3, {});
  observer obs(test::ports_of(f));
  auto first = await_first_coverage(obs, 20s);
  BOOST_REQUIRE_MESSAGE(first, "no full coverage within 20 s");
  // The window (4 s) opens when the leader has read the heartbeats, after its election.
  BOOST_TEST(millis(first->covered - first->elected) >= 4000);
  for (const auto& s : obs.since(first->elected))
    if (s.finished < first->elected + 3500ms) BOOST_TEST_REQUIRE(s.owners().empty());
  no_two_owner_samples(obs);
}

// The leader is killed (SIGKILL) after the first round, while the cold-start window still runs:
// the next leader finds that round's assignment (no cold start any more), the dead leader's
// partitions move once its lease is over, and no partition ever has two owners.
BOOST_AUTO_TEST_CASE(a_leader_killed_inside_the_window_loses_nothing) {
  local_nats_server nats;
  log_dir logs;
  fleet::fleet f(test::app_binary("parti-node"), scaled_args(nats.url(), "immediate"), logs.path);
  start_together(f, 4, {});
  observer obs(test::ports_of(f));
  BOOST_REQUIRE_MESSAGE(await_first_coverage(obs, 20s), "no full coverage within 20 s");
  auto leader = f.leader();
  BOOST_REQUIRE(leader);
  // The dead process cannot be asked afterwards: its spans up to now, the open ones ending at
  // the kill.
  std::int64_t read_at = 0;
  auto dead_spans = f.served_spans(leader->first, ms(2000), &read_at);
  BOOST_REQUIRE(dead_spans);
  f.signal(leader->first, SIGKILL);
  auto killed_at = boot_now().time_since_epoch().count();
  for (auto& span : *dead_spans)
    if (span.to >= read_at) span.to = killed_at;
  std::vector<int> rest;
  for (int i : indices(0, 4))
    if (i != leader->first) rest.push_back(i);
  auto after =
      obs.await([&](const sample& s) { return test::converged(s, rest, partition_count); }, 20s);
  BOOST_TEST(after.has_value(), "the three others did not converge within 20 s");
  no_two_owner_samples(obs);
  test::no_two_owners_at_any_moment(f, *dead_spans);
}
