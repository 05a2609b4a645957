// Cold-start benchmark: a simultaneous start of N nodes in ONE parti-node process (--workers N)
// on a fresh local nats-server, in both cold-start modes side by side: `immediate` (the default:
// a first assignment one settle after the leader's cold-start window opened, the window's round
// at its end for whoever joined late) and `wait` (nothing until the window closes), which is the
// baseline of every figure (baseline_p50).
//
// bench_cold_start [--nodes 10,100] [--rounds 1] [--window 30s] [--json FILE] [--binary PATH]
//                  [--log-level info] [--late-share 0] [--late-after 5s]
//
// With --late-share F > 0 each node count N also runs with late joiners: round(F x N) more
// nodes in a second parti-node process started --late-after after the election, while an
// immediate cold start's window is still open. Nodes of one process all start within about a
// second, so in the simultaneous start every node is in the first round and nothing is left to
// move; the late joiners are what gives the window's round (and the moved figures) something to
// do. Partitions stay 10 x N; the balance is over all N + late workers.
//
// Per round and node count, each mode runs once (the order alternates between rounds), each on
// a nats-server of its own (a fresh store: no assignment, no ids, no leader from an earlier run)
// and a group of its own. The processes' /status is sampled every 100 ms (a sample counts only
// when every process answered); t0 is just before the fork of the first parti-node. Definitions
// (all times from t0 unless said):
//  - elected: the first sample in which some node reports `leader`. "from election" figures are
//    measured from it; the leader's cold-start window opens about then.
//  - covered: the first sample in which every partition p-0 .. p-(P-1) is owned by exactly one
//    worker (fleet::fully_covered).
//  - balanced: covered, and each of the N (+ late) workers (those owning nothing count with 0) owns
//  a
//    number of partitions within +-1 of the mean P / N.
//  - final balance: the observation ends once at least window + 10 s passed since the election
//    (past the window's close, and its round, when no join extended it) and the ownership has
//    not changed for 5 s while balanced; or at the limit (4 x window + 60 s after t0). The final
//    state is the ownership of the last sample; "final balance" is the first sample from which
//    the ownership stayed exactly that final state, provided it is balanced (otherwise the round
//    counts as missed).
//  - moved: partitions whose owner in the final state differs from their owner at the first
//    coverage. moved_seen: owner changes seen in the samples in between (a partition moved A -> B
//    -> A counts 2 there and 0 in moved). optimum: P - sum over workers of
//    min(count at first coverage, target), the targets balanced over the final workers with the
//    P mod N larger targets given to the largest holders at first coverage (ties by name).
//  - rounds: successful rebalance rounds, from the processes' parti_calculator_rebalance_total
//    at the end, summed over reasons (the reasons are printed on stderr).
//
// Timings: parti-node's defaults (heartbeat 1 s, TTL 3 s, cold-start settle one heartbeat,
// cold-start window 30 s, cooldown 10 s) except the partitions (10 per node). None needs to
// change: a configuration takes about window + 15 s (+ late-after with late joiners): 4
// configurations about 3 minutes a round, 8 with late joiners about 6.5 minutes.
// A --window under 10 s (for a quick try) also sets the planned-scale window and the cooldown to
// it, which parti-node requires (cold-start window >= planned-scale window >= cooldown).
// Node logs go to a temporary directory, printed on stderr with each configuration's result.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "apps/bench/bench_report.hpp"
#include "apps/lib/fleet.hpp"
#include "apps/lib/http_client.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/nats/local_server.hpp"
#include "parti/runtime/strategy/movement.hpp"

using namespace parti;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto sample_interval = std::chrono::milliseconds(100);
constexpr auto quiet_period = std::chrono::seconds(5);
constexpr auto past_window = std::chrono::seconds(10);

struct options {
  std::vector<int> nodes{10, 100};
  int rounds = 1;
  duration window = std::chrono::seconds(30);
  std::string json;
  std::string binary;
  std::string log_level = "info";
  /// Late joiners: with a share > 0, each node count also runs with share x N more nodes, in a
  /// second process started `late_after` after the election.
  double late_share = 0;
  duration late_after = std::chrono::seconds(5);
};

/// What one start of one configuration gave; times in ms from t0, negative when never seen.
struct outcome {
  double elected = -1;
  double covered = -1;
  double balanced = -1;  // the final balance
  int moved = -1;
  int moved_seen = -1;
  int optimum = -1;
  int first_owners = -1;  // workers owning something at the first coverage
  double rounds = -1;
};

/// partition -> its single owner; partitions with none or several owners are left out.
using owners = std::map<std::string, std::string>;
/// worker -> partitions it reports (every node of the process, owning something or not).
using holdings = std::map<std::string, std::set<std::string>>;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

owners single_owners(const fleet::ownership& o) {
  owners out;
  for (const auto& [partition, workers] : o)
    if (workers.size() == 1) out[partition] = *workers.begin();
  return out;
}

bool balanced(const holdings& h, int nodes, std::uint32_t partitions) {
  if (static_cast<int>(h.size()) < nodes) return false;  // a node without its id yet
  const double mean = static_cast<double>(partitions) / nodes;
  for (const auto& [worker, owned] : h)
    if (std::abs(static_cast<double>(owned.size()) - mean) > 1.0) return false;
  return true;
}

/// The fewest partitions a balanced assignment over the workers of `after` must move from
/// `before` (see the header).
int optimum_moves(const owners& before, const holdings& after, std::uint32_t partitions) {
  std::map<std::string, std::size_t> count;
  for (const auto& [worker, owned] : after) count[worker] = 0;
  for (const auto& [partition, worker] : before)
    if (count.count(worker)) ++count[worker];
  if (count.empty()) return -1;
  std::vector<std::size_t> held;
  for (const auto& [worker, n] : count) held.push_back(n);
  return static_cast<int>(partitions - most_kept_when_balanced(held, partitions));
}

/// Successful rounds by reason, from the Prometheus text of parti-node's /metrics.
std::map<std::string, double> rounds_by_reason(const std::string& text) {
  std::map<std::string, double> out;
  const std::string name = "parti_calculator_rebalance_total{";
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) != 0 || line.find("result=\"success\"") == std::string::npos) continue;
    auto at = line.find("reason=\"");
    if (at == std::string::npos) continue;
    auto end = line.find('"', at + 8);
    out[line.substr(at + 8, end - at - 8)] += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return out;
}

/// One configuration: `nodes` started at once, `late` more in a second process later.
struct setup {
  int nodes = 0;
  int late = 0;
  std::string mode;
};

std::string tag_of(int nodes, int late, const std::string& mode) {
  return std::to_string(nodes) + "_nodes_" + (late ? std::to_string(late) + "_late_" : "") + mode;
}
std::string tag_of(const setup& s) {
  return tag_of(s.nodes, s.late, s.mode);
}

/// Every node of every live member, or nothing when one of them did not answer.
std::optional<std::vector<fleet::node_view>> sample_all(fleet::fleet& f) {
  std::vector<fleet::node_view> out;
  for (int i : f.alive()) {
    auto s = f.status(i, std::chrono::seconds(2));
    if (!s) return std::nullopt;
    out.insert(out.end(), s->begin(), s->end());
  }
  return out;
}

outcome run_one(const options& opt, const setup& cfg, int round) {
  const int nodes = cfg.nodes + cfg.late;  // in the end
  const auto partitions = static_cast<std::uint32_t>(cfg.nodes) * 10;
  const auto group = "cold-" + tag_of(cfg) + "-" + std::to_string(round);
  auto logs = (std::filesystem::temp_directory_path() /
               ("parti-cold-start-" + std::to_string(::getpid())) / group)
                  .string();
  std::filesystem::create_directories(logs);
  local_nats_server nats;
  std::vector<std::string> args{"--nats-url=" + nats.url(),
                                "--group=" + group,
                                "--partitions=" + std::to_string(partitions),
                                "--cold-start=" + cfg.mode,
                                "--cold-start-window=" + format_duration(opt.window),
                                "--log-level=" + opt.log_level};
  // parti-node wants cold-start window >= planned-scale window (10 s) >= cooldown (10 s).
  if (opt.window < std::chrono::seconds(10))
    for (const char* flag : {"--planned-scale-window=", "--cooldown="})
      args.push_back(flag + format_duration(opt.window));
  fleet::fleet f(opt.binary, args, logs);
  outcome out;
  const auto limit = 4 * opt.window + std::chrono::seconds(60);
  const auto t0 = clock_type::now();
  f.start(std::nullopt, {"--workers=" + std::to_string(cfg.nodes)});
  bool late_started = cfg.late == 0;
  owners at_coverage, last_seen, previous;
  holdings last_holdings;
  double changed_at = -1;  // the first sample of the current ownership
  bool last_covered = false;
  int moved_seen = 0;
  while (clock_type::now() - t0 < limit) {
    auto next = clock_type::now() + sample_interval;
    auto status = sample_all(f);
    const double now = ms_since(t0);
    if (!late_started && out.elected >= 0 &&
        now - out.elected >= std::chrono::duration<double, std::milli>(opt.late_after).count()) {
      f.start(std::nullopt, {"--workers=" + std::to_string(cfg.late)});
      late_started = true;
    }
    if (status) {
      fleet::ownership o;
      holdings h;
      for (const auto& n : *status) {
        if (n.leader && out.elected < 0) out.elected = now;
        if (n.worker.empty()) continue;
        auto& owned = h[n.worker];
        for (const auto& p : n.partitions) {
          o[p].insert(n.worker);
          owned.insert(p);
        }
      }
      auto single = single_owners(o);
      const bool covered = fleet::fully_covered(o, partitions);
      if (covered && out.covered < 0) {
        out.covered = now;
        at_coverage = last_seen = single;
        out.first_owners = static_cast<int>(
            std::count_if(h.begin(), h.end(), [](const auto& w) { return !w.second.empty(); }));
      }
      if (out.covered >= 0)
        for (const auto& [partition, worker] : single) {
          auto& last = last_seen[partition];
          if (last != worker) ++moved_seen, last = worker;
        }
      if (changed_at < 0 || h != last_holdings) changed_at = now;
      last_holdings = std::move(h);
      previous = std::move(single);
      last_covered = covered;
      const bool settled =
          late_started && covered && balanced(last_holdings, nodes, partitions) &&
          out.elected >= 0 &&
          now - out.elected >=
              std::chrono::duration<double, std::milli>(opt.window + past_window).count() &&
          now - changed_at >= std::chrono::duration<double, std::milli>(quiet_period).count();
      if (settled) break;
    }
    f.reap();
    if (f.alive().size() != f.members().size()) {
      std::fprintf(stderr, "bench_cold_start: parti-node exited, see %s\n", logs.c_str());
      break;
    }
    std::this_thread::sleep_until(next);
  }
  if (last_covered && balanced(last_holdings, nodes, partitions)) {
    out.balanced = changed_at;
    out.moved_seen = moved_seen;
    out.optimum = optimum_moves(at_coverage, last_holdings, partitions);
    out.moved = 0;
    for (const auto& [partition, worker] : at_coverage)
      if (previous.count(partition) && previous.at(partition) != worker) ++out.moved;
  }
  // Only a leader counts rounds; a leader change would show as rounds in two members.
  std::map<std::string, double> rounds;
  bool answered = !f.alive().empty();
  for (int i : f.alive()) {
    auto metrics = http_get(f.members().at(static_cast<std::size_t>(i)).metrics_port, "/metrics",
                            std::chrono::seconds(10));
    answered = answered && metrics.ok();
    for (const auto& [reason, count] : rounds_by_reason(metrics.body)) rounds[reason] += count;
  }
  if (answered) {
    out.rounds = 0;
    std::string reasons;
    for (const auto& [reason, count] : rounds) {
      out.rounds += count;
      reasons += " " + reason + "=" + std::to_string(static_cast<int>(count));
    }
    std::fprintf(stderr, "  rounds by reason:%s\n", reasons.c_str());
  }
  std::fprintf(stderr,
               "%s round %d: elected %.0f ms, covered %.0f ms (%d workers), final balance %.0f ms, "
               "moved %d (seen %d, optimum %d); logs %s\n",
               tag_of(cfg).c_str(), round, out.elected, out.covered, out.first_owners, out.balanced,
               out.moved, out.moved_seen, out.optimum, logs.c_str());
  for (int i : f.alive()) f.signal(i, SIGKILL);
  return out;
}

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> out;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoi(item));
  return out;
}

/// Adds `value` when it was seen (>= 0), counts a miss otherwise.
void add(bench::figure& f, double value) {
  if (value >= 0)
    f.samples.push_back(value);
  else
    ++f.missed;
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  opt.binary = (std::filesystem::path(argv[0]).parent_path() / "parti-node").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string arg = argv[i], value = argv[i + 1];
    if (arg == "--nodes")
      opt.nodes = parse_list(value);
    else if (arg == "--rounds")
      opt.rounds = std::stoi(value);
    else if (arg == "--window")
      opt.window = parse_duration(value).value();
    else if (arg == "--json")
      opt.json = value;
    else if (arg == "--binary")
      opt.binary = value;
    else if (arg == "--log-level")
      opt.log_level = value;
    else if (arg == "--late-share")
      opt.late_share = std::stod(value);
    else if (arg == "--late-after")
      opt.late_after = parse_duration(value).value();
    else
      return std::fprintf(stderr, "bench_cold_start: unknown argument %s\n", arg.c_str()), 2;
  }
  const std::vector<std::string> modes{"immediate", "wait"};
  // (nodes, late) of every configuration, the simultaneous starts first.
  std::vector<std::pair<int, int>> shapes;
  for (int nodes : opt.nodes) shapes.emplace_back(nodes, 0);
  if (opt.late_share > 0)
    for (int nodes : opt.nodes)
      shapes.emplace_back(nodes, std::max(1, static_cast<int>(opt.late_share * nodes + 0.5)));
  // tag -> outcomes over the rounds
  std::map<std::string, std::vector<outcome>> results;
  for (int round = 0; round < opt.rounds; ++round)
    for (const auto& [nodes, late] : shapes)
      for (std::size_t m = 0; m < modes.size(); ++m) {
        setup cfg{nodes, late, modes[(m + static_cast<std::size_t>(round)) % modes.size()]};
        results[tag_of(cfg)].push_back(run_one(opt, cfg, round));
      }

  std::vector<bench::figure> figures;
  struct measure {
    const char* name;
    const char* unit;
    double (*get)(const outcome&);
    const char* note;
  };
  const std::vector<measure> measures{
      {"covered_from_start", "ms", [](const outcome& o) { return o.covered; },
       "process start -> every partition owned by exactly one worker"},
      {"covered_from_election", "ms",
       [](const outcome& o) {
         return o.covered >= 0 && o.elected >= 0 ? o.covered - o.elected : -1;
       },
       "first sample with a leader -> covered"},
      {"elected_from_start", "ms", [](const outcome& o) { return o.elected; },
       "process start -> first sample with a leader"},
      {"balanced_from_start", "ms", [](const outcome& o) { return o.balanced; },
       "process start -> the final balanced ownership (unchanged to the end)"},
      {"moved", "partitions", [](const outcome& o) { return static_cast<double>(o.moved); },
       "owner at first coverage != owner at the end"},
      {"moved_seen", "partitions",
       [](const outcome& o) { return static_cast<double>(o.moved_seen); },
       "owner changes seen in the samples after first coverage"},
      {"moved_optimum", "partitions",
       [](const outcome& o) { return static_cast<double>(o.optimum); },
       "fewest moves from the first coverage to a balance over the final workers"},
      {"first_owners", "workers",
       [](const outcome& o) { return static_cast<double>(o.first_owners); },
       "workers owning partitions at the first coverage"},
      {"rounds", "rounds", [](const outcome& o) { return o.rounds; },
       "successful rebalance rounds (parti_calculator_rebalance_total)"},
  };
  for (const auto& [nodes, late] : shapes) {
    for (const auto& m : measures) {
      bench::figure base{std::string("cold_start_") + m.name + "_" + tag_of(nodes, late, "wait"),
                         m.unit,
                         {},
                         std::nullopt,
                         m.note};
      for (const auto& o : results[tag_of(nodes, late, "wait")]) add(base, m.get(o));
      bench::figure main{
          std::string("cold_start_") + m.name + "_" + tag_of(nodes, late, "immediate"),
          m.unit,
          {},
          std::nullopt,
          m.note};
      for (const auto& o : results[tag_of(nodes, late, "immediate")]) add(main, m.get(o));
      if (!base.samples.empty()) main.baseline_p50 = base.percentile(0.5);
      figures.push_back(std::move(main));
      figures.push_back(std::move(base));
    }
  }
  bench::print_table(figures);
  return bench::write_json(figures, opt.json) ? 0 : 1;
}
