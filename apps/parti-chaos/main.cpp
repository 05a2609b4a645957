// parti-chaos: a seeded, reproducible, time-bounded chaos run against a group of parti-node
// processes on a local nats-server. Every member reaches the server through a TCP relay of its
// own (apps/lib/tcp_relay), which connects to the server on each accepted connection, so
// nats-server restarts pass through it. It applies a random schedule of
//   kill -9 of a worker, kill -9 of the leader, graceful restart (restart intent, same id),
//   scale up, scale down (drain), nats-server restart, pause (SIGSTOP) of a worker or of the
//   leader, one worker cut off from NATS (its relay holds every byte without closing)
// and after each event samples every node's /status until the group has converged. It reports
// per event the convergence time, partitions without an owner after convergence (must be 0),
// sampled moments with two owners (cooperative hand-off: must be 0) and partitions that moved
// although no worker joined or left (false emergencies: must be 0). Exits 1 on any violation.
//
// With --consume it runs parti-consume processes instead (apps/lib/consume_fleet.hpp, the steps
// of tests/integration/consume_faults.cpp): a stream with --partitions partitions, a producer
// of sequence-numbered messages at --rate, and a random schedule of
//   kill -9 of any member (and a replacement), restart with restart intent of any member, a
//   drain (and a replacement), scale up, scale down (drain), one member cut off from NATS until
//   its lease lapsed and its partitions moved (then healed), nats-server restart
// each followed by a wait until every partition has one owner and consumes again. At the end the
// producer stops, every published message must be handled, and the records are checked: gaps,
// overlaps (two workers handling one partition at once), order violations, and duplicates by
// cause (kill -9, cut, server restart, delivered anew by the server; unexplained ones are
// violations). Exits 1 on any violation or on a step that did not settle.
//
// parti-chaos [--seed N] [--duration 150s] [--nodes 5] [--partitions 60]
//             [--binary build/apps/parti-node] [--json FILE] [--logs DIR]
// parti-chaos --consume [--seed N] [--duration 60s] [--nodes 3] [--partitions 16] [--rate 100]
//             [--binary build/apps/parti-consume] [--json FILE] [--logs DIR]
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "apps/lib/consume_fleet.hpp"
#include "apps/lib/fleet.hpp"
#include "apps/lib/tcp_relay.hpp"
#include "apps/lib/version_flag.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/nats/local_server.hpp"

using namespace parti;
using clock_type = std::chrono::steady_clock;

namespace {

struct settings {
  std::uint64_t seed = 1;
  duration run = std::chrono::seconds(150);
  int nodes = 5;
  std::uint32_t partitions = 60;
  std::string binary;
  std::string json;
  std::string logs;
  bool consume = false;  // parti-consume processes, a producer, and the record check
  double rate = 100;     // --consume: messages per second over all partitions
};

constexpr const char* usage_text =
    "usage: parti-chaos [options]\n"
    "  a seeded chaos run against parti-node processes on a local nats-server: kill -9,\n"
    "  restarts, scaling, nats-server restarts, pauses and cuts, each followed by a wait for\n"
    "  convergence; exits 1 on any violation (unowned partitions, two owners, false\n"
    "  emergencies, no convergence)\n"
    "\n"
    "  --seed N          the schedule's seed (default: 1)\n"
    "  --duration D      how long faults are applied (default: 150s; 60s with --consume)\n"
    "  --nodes N         processes at the start, at least 3 (default: 5; 3 with --consume)\n"
    "  --partitions N    (default: 60; 16 with --consume)\n"
    "  --binary PATH     the program to run (default: parti-node, or parti-consume with\n"
    "                    --consume, beside parti-chaos)\n"
    "  --json FILE       also write the report as JSON\n"
    "  --logs DIR        the processes' logs (and records) (default: a new temporary one)\n"
    "  --consume         run parti-consume processes on a stream while a producer publishes,\n"
    "                    with kill -9, restart intent restarts, drains, scaling, cuts from\n"
    "                    NATS and nats-server restarts; at the end check every record: gaps,\n"
    "                    overlaps, order violations and duplicates by cause (an unexplained\n"
    "                    duplicate is a violation)\n"
    "  --rate R          --consume: messages per second over all partitions (default: 100)\n"
    "  --help            this text\n"
    "  --version         the version and the commit it was built from\n";

enum class event_kind {
  kill_worker,
  kill_leader,
  restart_worker,
  scale_up,
  scale_down,
  nats_restart,
  pause_worker,  // SIGSTOP past TTL + grace, then SIGCONT: its lease lapses, others take over
  pause_leader,
  cut_worker,  // its relay cut for 2 x (TTL + grace), then healed: its lease lapses, others take
               // over
};

const char* to_string(event_kind k) {
  switch (k) {
    case event_kind::kill_worker:
      return "kill -9 worker";
    case event_kind::kill_leader:
      return "kill -9 leader";
    case event_kind::restart_worker:
      return "graceful restart";
    case event_kind::scale_up:
      return "scale up";
    case event_kind::scale_down:
      return "scale down (drain)";
    case event_kind::nats_restart:
      return "nats-server restart";
    case event_kind::pause_worker:
      return "pause worker";
    case event_kind::pause_leader:
      return "pause leader";
    case event_kind::cut_worker:
      return "cut worker";
  }
  return "?";
}

/// Events after which no partition should change owner: everyone who owned stays.
bool moves_nothing(event_kind k) {
  return k == event_kind::restart_worker || k == event_kind::nats_restart;
}

struct outcome {
  event_kind kind;
  std::string target;
  double converge_ms = -1;  // -1: did not converge in time
  std::size_t unowned_after = 0;
  std::size_t double_owner_samples = 0;
  std::size_t unexpected_moves = 0;
};

std::map<std::string, std::string> owners_of(const fleet::ownership& o) {
  std::map<std::string, std::string> out;
  for (const auto& [p, set] : o)
    if (set.size() == 1) out[p] = *set.begin();
  return out;
}

[[noreturn]] void usage(const std::string& message) {
  std::fprintf(stderr, "parti-chaos: %s\n", message.c_str());
  std::exit(2);
}

settings parse(int argc, char** argv) {
  settings s;
  bool run_set = false, nodes_set = false, partitions_set = false, binary_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + ": missing value");
      return argv[++i];
    };
    if (arg == "--help") {
      std::fputs(usage_text, stdout);
      std::exit(0);
    } else if (arg == "--seed")
      s.seed = std::stoull(value());
    else if (arg == "--duration") {
      auto d = parse_duration(value());
      if (!d) usage("--duration: " + d.error());
      s.run = *d;
      run_set = true;
    } else if (arg == "--nodes") {
      s.nodes = std::stoi(value());
      nodes_set = true;
    } else if (arg == "--partitions") {
      s.partitions = static_cast<std::uint32_t>(std::stoul(value()));
      partitions_set = true;
    } else if (arg == "--binary") {
      s.binary = value();
      binary_set = true;
    } else if (arg == "--json")
      s.json = value();
    else if (arg == "--logs")
      s.logs = value();
    else if (arg == "--consume")
      s.consume = true;
    else if (arg == "--rate") {
      s.rate = std::stod(value());
      if (!(s.rate > 0)) usage("--rate: must be above 0");
    } else
      usage("unknown argument " + arg);
  }
  if (s.consume) {
    if (!run_set) s.run = std::chrono::seconds(60);
    if (!nodes_set) s.nodes = 3;
    if (!partitions_set) s.partitions = 16;
  }
  if (!binary_set)
    s.binary = (std::filesystem::path(argv[0]).parent_path() /
                (s.consume ? "parti-consume" : "parti-node"))
                   .string();
  if (s.nodes < 3) usage("--nodes: at least 3");
  if (s.partitions < 1) usage("--partitions: at least 1");
  return s;
}

class harness {
 public:
  harness(settings s, local_nats_server& nats)
      : s_(std::move(s)),
        nats_(nats),
        rng_(s_.seed),
        fleet_(s_.binary,
               {"--group=chaos", "--partitions=" + std::to_string(s_.partitions),
                "--heartbeat-interval=500ms", "--heartbeat-ttl=1500ms", "--emergency-grace=500ms",
                "--id-ttl=6s", "--election-ttl=3s", "--cold-start-window=3s",
                "--planned-scale-window=1s", "--cooldown=1s", "--log-level=info"},
               s_.logs) {}

  int run() {
    for (int i = 0; i < s_.nodes; ++i) start_member();
    auto first = converge(std::chrono::seconds(60));
    std::printf("seed %llu: %d nodes, %u partitions; initial convergence %.0f ms\n",
                static_cast<unsigned long long>(s_.seed), s_.nodes, s_.partitions, first);
    if (first < 0) return report(true);
    auto end = clock_type::now() + s_.run;
    while (clock_type::now() < end) apply(pick());
    return report(false);
  }

 private:
  event_kind pick() {
    auto alive = fleet_.alive().size();
    std::vector<event_kind> choices{event_kind::kill_worker,    event_kind::kill_leader,
                                    event_kind::restart_worker, event_kind::nats_restart,
                                    event_kind::pause_worker,   event_kind::pause_leader,
                                    event_kind::cut_worker};
    if (alive < static_cast<std::size_t>(s_.nodes) + 2) choices.push_back(event_kind::scale_up);
    if (alive > 3) choices.push_back(event_kind::scale_down);
    // Keep the fleet from shrinking below three: kills are followed by a replacement below.
    return choices[std::uniform_int_distribution<std::size_t>(0, choices.size() - 1)(rng_)];
  }

  int random_member(bool leader) {
    auto alive = fleet_.alive();
    if (leader) {
      if (auto l = fleet_.leader()) return l->first;
    }
    std::vector<int> followers;
    auto l = fleet_.leader();
    for (int i : alive)
      if (!l || l->first != i) followers.push_back(i);
    if (followers.empty()) return alive.front();
    return followers[std::uniform_int_distribution<std::size_t>(0, followers.size() - 1)(rng_)];
  }

  std::string worker_of(int index) {
    if (auto s = fleet_.status(index); s && !s->empty()) return s->front().worker;
    return "member-" + std::to_string(index);
  }

  void apply(event_kind kind) {
    outcome o{kind, {}, -1, 0, 0, 0};
    auto before = owners_of(fleet_.sample());
    switch (kind) {
      case event_kind::kill_worker:
      case event_kind::kill_leader: {
        int victim = random_member(kind == event_kind::kill_leader);
        o.target = worker_of(victim);
        fleet_.signal(victim, SIGKILL);
        break;
      }
      case event_kind::restart_worker: {
        int victim = random_member(false);
        o.target = worker_of(victim);
        fleet_.signal(victim, SIGUSR1);  // stop with restart intent
        fleet_.restart(victim);          // same preferred id, back within the restart grace
        break;
      }
      case event_kind::scale_up:
        o.target = "member-" + std::to_string(start_member());
        break;
      case event_kind::scale_down: {
        int victim = random_member(false);
        o.target = worker_of(victim);
        fleet_.signal(victim, SIGTERM);  // drain
        break;
      }
      case event_kind::nats_restart:
        nats_.kill();
        nats_.start();
        break;
      case event_kind::pause_worker:
      case event_kind::pause_leader: {
        int victim = random_member(kind == event_kind::pause_leader);
        o.target = worker_of(victim);
        pause(victim, std::chrono::seconds(4), o);  // 2 x (TTL 1.5 s + grace 0.5 s)
        break;
      }
      case event_kind::cut_worker: {
        int victim = random_member(false);
        o.target = worker_of(victim);
        cut(victim, std::chrono::seconds(4), o);  // 2 x (TTL 1.5 s + grace 0.5 s)
        break;
      }
    }
    o.converge_ms = converge(std::chrono::seconds(45), &o);
    if (moves_nothing(kind)) {
      // A false emergency shows only after the leader's grace periods: keep watching that long
      // (recovery grace after an outage + heartbeat TTL + emergency grace, with margin).
      auto watch_until = clock_type::now() + std::chrono::seconds(9);
      while (clock_type::now() < watch_until) {
        auto now_owners = owners_of(fleet_.sample());
        if (moved(before, now_owners) > 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
    auto after = fleet_.sample();
    o.unowned_after = s_.partitions - std::min<std::size_t>(s_.partitions, after.size());
    if (moves_nothing(kind)) o.unexpected_moves = moved(before, owners_of(after));
    std::printf("%-22s %-12s converged %8.0f ms  unowned %zu  two-owner samples %zu  moved %zu\n",
                to_string(kind), o.target.c_str(), o.converge_ms, o.unowned_after,
                o.double_owner_samples, o.unexpected_moves);
    std::fflush(stdout);
    outcomes_.push_back(o);
    // Kills shrink the fleet; bring it back to size so the run keeps its shape.
    if (kind == event_kind::kill_worker || kind == event_kind::kill_leader) {
      start_member();
      converge(std::chrono::seconds(45), nullptr);
    }
  }

  /// Starts a member (the next preferred id) that reaches nats-server through a relay of its own;
  /// returns its index. A restart of the member keeps the relay (same arguments).
  int start_member() {
    auto relay = std::make_unique<fleet::tcp_relay>(nats_.port());
    int index = fleet_.start(next_id_++, {"--nats-url=" + relay->url()});
    relays_[index] = std::move(relay);
    return index;
  }

  /// Cuts a member off from nats-server (its relay holds every byte, closes nothing) for
  /// `how_long`, sampling every 20 ms for partitions listed by two members meanwhile, then heals
  /// (the held bytes are delivered, as after a short partition).
  void cut(int victim, duration how_long, outcome& o) {
    auto& relay = *relays_.at(victim);
    relay.cut();
    auto until = clock_type::now() + how_long;
    while (clock_type::now() < until) {
      if (!fleet::doubly_owned(fleet_.sample()).empty()) ++o.double_owner_samples;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    relay.heal();
  }

  /// Stops a member (a GC pause, a frozen VM) for `how_long`, sampling every 20 ms for partitions
  /// listed by two members meanwhile, then lets it go on.
  void pause(int victim, duration how_long, outcome& o) {
    fleet_.signal(victim, SIGSTOP, false);
    auto until = clock_type::now() + how_long;
    while (clock_type::now() < until) {
      if (!fleet::doubly_owned(fleet_.sample()).empty()) ++o.double_owner_samples;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    fleet_.signal(victim, SIGCONT, false);
  }

  static std::size_t moved(const std::map<std::string, std::string>& a,
                           const std::map<std::string, std::string>& b) {
    std::size_t n = 0;
    for (const auto& [p, owner] : a) {
      auto it = b.find(p);
      if (it != b.end() && it->second != owner) ++n;
    }
    return n;
  }

  /// Samples until every partition has exactly one owner and every live member answers with a
  /// settled state; returns the time it took in ms, or -1 on timeout. Counts two-owner samples.
  double converge(duration limit, outcome* o = nullptr) {
    auto t0 = clock_type::now();
    while (clock_type::now() - t0 < limit) {
      fleet_.reap();
      int answered = 0;
      auto sample = fleet_.sample(&answered);
      if (o && !fleet::doubly_owned(sample).empty()) ++o->double_owner_samples;
      bool all_answer = answered == static_cast<int>(fleet_.alive().size());
      if (all_answer && fleet::fully_covered(sample, s_.partitions) && settled())
        return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;
  }

  /// Every live member answers in a settled state, exactly one leads, and (while there are at
  /// least as many partitions as members) every member serves some: a worker that lost its
  /// partitions to a pause or a cut stays Stable with none until the planned scale that takes
  /// it back in, and that scale would otherwise land in the next event.
  bool settled() {
    int leaders = 0;
    auto alive = fleet_.alive();
    bool all_serve = alive.size() <= s_.partitions;
    for (int i : alive) {
      auto s = fleet_.status(i);
      if (!s) return false;
      for (const auto& n : *s) {
        if (n.state != "Stable" && n.state != "Scaling") return false;
        if (all_serve && n.partitions.empty()) return false;
        leaders += n.leader ? 1 : 0;
      }
    }
    return leaders == 1;
  }

  int report(bool initial_failed) {
    std::size_t unowned = 0, doubles = 0, moves = 0, timeouts = initial_failed ? 1 : 0;
    nlohmann::json events = nlohmann::json::array();
    for (const auto& o : outcomes_) {
      unowned += o.unowned_after;
      doubles += o.double_owner_samples;
      moves += o.unexpected_moves;
      timeouts += o.converge_ms < 0 ? 1 : 0;
      events.push_back({{"event", to_string(o.kind)},
                        {"target", o.target},
                        {"converge_ms", o.converge_ms},
                        {"unowned_after", o.unowned_after},
                        {"double_owner_samples", o.double_owner_samples},
                        {"unexpected_moves", o.unexpected_moves}});
    }
    bool failed = unowned || doubles || moves || timeouts;
    std::printf(
        "\n%zu events: not converged %zu, unowned after convergence %zu, two-owner samples "
        "%zu, false emergencies (moves without a leave) %zu -> %s\n",
        outcomes_.size(), timeouts, unowned, doubles, moves, failed ? "FAILED" : "passed");
    if (!s_.json.empty()) {
      std::ofstream out(s_.json);
      out << nlohmann::json{{"seed", s_.seed},
                            {"events", events},
                            {"not_converged", timeouts},
                            {"unowned_after", unowned},
                            {"double_owner_samples", doubles},
                            {"false_emergencies", moves},
                            {"passed", !failed}}
                 .dump(2)
          << "\n";
    }
    return failed ? 1 : 0;
  }

  settings s_;
  local_nats_server& nats_;
  std::mt19937_64 rng_;
  // Member index -> its relay to nats-server; declared before the fleet, so that the processes
  // are gone before their relays.
  std::map<int, std::unique_ptr<fleet::tcp_relay>> relays_;
  fleet::fleet fleet_;
  std::uint32_t next_id_ = 0;
  std::vector<outcome> outcomes_;
};

/// --consume: parti-consume processes under a random schedule of the fault steps of
/// apps/lib/consume_fleet.hpp, then the check of every record.
class consume_harness {
 public:
  explicit consume_harness(const settings& s) : s_(s), rng_(s.seed), fleet_(options_for(s)) {}

  int run() {
    const auto since = consume_app::wall_ms();
    for (int i = 0; i < s_.nodes; ++i) fleet_.start_member();
    auto first = fleet_.settle(since, std::chrono::seconds(60));
    std::printf(
        "seed %llu: %d parti-consume processes, %u partitions, %.0f messages/s; initial "
        "settle %s\n",
        static_cast<unsigned long long>(s_.seed), s_.nodes, s_.partitions, s_.rate,
        first ? (std::to_string(millis(*first)) + " ms").c_str() : first.error().c_str());
    std::fflush(stdout);
    if (!first) {
      initial_failed_ = true;
    } else {
      auto end = clock_type::now() + s_.run;
      while (clock_type::now() < end) apply(pick());
    }
    std::printf("stopping the producer; waiting until every message is handled\n");
    std::fflush(stdout);
    return report(fleet_.finish(std::chrono::seconds(90)));
  }

 private:
  enum class step_kind { kill, restart, drain, scale_up, scale_down, cut, server_restart };

  static const char* to_string(step_kind k) {
    switch (k) {
      case step_kind::kill:
        return "kill -9 + replacement";
      case step_kind::restart:
        return "restart (intent)";
      case step_kind::drain:
        return "drain + replacement";
      case step_kind::scale_up:
        return "scale up";
      case step_kind::scale_down:
        return "scale down (drain)";
      case step_kind::cut:
        return "cut from NATS";
      case step_kind::server_restart:
        return "nats-server restart";
    }
    return "?";
  }

  struct step_outcome {
    step_kind kind;
    std::string target;
    long long step_ms = 0;
    long long settle_ms = -1;  // -1: did not settle
    std::string step_error;    // the step itself failed (a drain that did not exit 0, ...)
    std::string settle_error;
  };

  static consume_app::consume_fleet_options options_for(const settings& s) {
    consume_app::consume_fleet_options o;
    o.binary = s.binary;
    o.work_dir = s.logs;
    o.partitions = s.partitions;
    o.rate = s.rate;
    o.group = "chaos-consume";
    return o;
  }

  static long long millis(duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  }

  step_kind pick() {
    auto alive = fleet_.alive().size();
    std::vector<step_kind> choices{step_kind::kill, step_kind::restart, step_kind::drain,
                                   step_kind::cut, step_kind::server_restart};
    if (alive < static_cast<std::size_t>(s_.nodes) + 2) choices.push_back(step_kind::scale_up);
    if (alive > 3) choices.push_back(step_kind::scale_down);
    return choices[std::uniform_int_distribution<std::size_t>(0, choices.size() - 1)(rng_)];
  }

  int any_member() {
    auto alive = fleet_.alive();
    return alive[std::uniform_int_distribution<std::size_t>(0, alive.size() - 1)(rng_)];
  }

  std::optional<int> a_follower() {
    auto followers = fleet_.followers();
    if (followers.empty()) return std::nullopt;
    return followers[std::uniform_int_distribution<std::size_t>(0, followers.size() - 1)(rng_)];
  }

  void apply(step_kind kind) {
    step_outcome o{kind, {}, 0, -1, {}, {}};
    const auto since = consume_app::wall_ms();
    const auto started = clock_type::now();
    status done = parti::done{};
    switch (kind) {
      case step_kind::kill: {
        int victim = any_member();
        o.target = fleet_.worker_of(victim);
        done = fleet_.kill(victim);
        fleet_.start_member();
        break;
      }
      case step_kind::restart: {
        int victim = any_member();
        o.target = fleet_.worker_of(victim);
        done = fleet_.restart(victim);
        break;
      }
      case step_kind::drain:
      case step_kind::scale_down: {
        // leader drains: see the leader-drain fix
        auto victim = a_follower();
        if (!victim) {
          done = failure{"no follower to drain"};
          break;
        }
        o.target = fleet_.worker_of(*victim);
        done = fleet_.drain(*victim);
        if (kind == step_kind::drain) fleet_.start_member();
        break;
      }
      case step_kind::scale_up:
        o.target = "member-" + std::to_string(fleet_.start_member());
        break;
      case step_kind::cut: {
        int victim = any_member();
        o.target = fleet_.worker_of(victim);
        done = fleet_.cut(victim);
        break;
      }
      case step_kind::server_restart:
        fleet_.restart_server();
        break;
    }
    o.step_ms = millis(clock_type::now() - started);
    if (!done) o.step_error = done.error();
    if (auto settled = fleet_.settle(since)) {
      o.settle_ms = millis(*settled);
    } else {
      o.settle_error = settled.error();
    }
    std::printf("%-22s %-10s step %6lld ms  settled %8lld ms%s%s\n", to_string(kind),
                o.target.c_str(), o.step_ms, o.settle_ms,
                o.step_error.empty() ? "" : ("  STEP FAILED: " + o.step_error).c_str(),
                o.settle_error.empty() ? "" : ("  NOT SETTLED: " + o.settle_error).c_str());
    std::fflush(stdout);
    steps_.push_back(std::move(o));
  }

  int report(const consume_app::consume_outcome& out) {
    using consume_check::fault_kind;
    std::size_t not_settled = initial_failed_ ? 1 : 0, step_failures = 0;
    nlohmann::json events = nlohmann::json::array();
    for (const auto& o : steps_) {
      not_settled += o.settle_error.empty() ? 0 : 1;
      step_failures += o.step_error.empty() ? 0 : 1;
      events.push_back({{"event", to_string(o.kind)},
                        {"target", o.target},
                        {"step_ms", o.step_ms},
                        {"settle_ms", o.settle_ms},
                        {"step_error", o.step_error},
                        {"settle_error", o.settle_error}});
    }
    const auto& r = out.report;
    const auto& d = out.duplicates;
    auto cause = [&](fault_kind k) {
      auto it = d.by_cause.find(k);
      return it == d.by_cause.end() ? std::size_t{0} : it->second;
    };
    const bool failed = !out.passed() || not_settled > 0 || step_failures > 0;
    std::printf("\n%s", consume_app::render(out).c_str());
    std::printf(
        "\n%zu events: not settled %zu, step failures %zu; gaps %zu, overlaps %zu, order "
        "violations %zu, duplicates %zu (kill -9 %zu, cut %zu, server restart %zu, delivered "
        "anew by the server %zu, unexplained %zu) -> %s\n",
        steps_.size(), not_settled, step_failures, r.missing.size(), r.overlap_count,
        r.order_violation_count, r.extra_handlings, cause(fault_kind::kill), cause(fault_kind::cut),
        cause(fault_kind::server_restart), d.delivered_anew, d.unexplained_count,
        failed ? "FAILED" : "passed");
    if (!s_.json.empty()) {
      std::ofstream file(s_.json);
      file << nlohmann::json{{"mode", "consume"},
                             {"seed", s_.seed},
                             {"partitions", s_.partitions},
                             {"events", events},
                             {"not_settled", not_settled},
                             {"step_failures", step_failures},
                             {"published", r.published},
                             {"handled", r.handled},
                             {"records", r.records},
                             {"bad_lines", out.bad_lines.size()},
                             {"all_handled", out.all_handled},
                             {"gaps", r.missing.size()},
                             {"unexpected", r.unexpected.size()},
                             {"overlaps", r.overlap_count},
                             {"order_violations", r.order_violation_count},
                             {"duplicates",
                              {{"messages", r.duplicates},
                               {"extra_handlings", r.extra_handlings},
                               {"kill", cause(fault_kind::kill)},
                               {"cut", cause(fault_kind::cut)},
                               {"server_restart", cause(fault_kind::server_restart)},
                               {"delivered_anew", d.delivered_anew},
                               {"unexplained", d.unexplained_count}}},
                             {"recreated_consumers", out.recreated_consumers},
                             {"error", out.error},
                             {"passed", !failed}}
                  .dump(2)
           << "\n";
    }
    return failed ? 1 : 0;
  }

  settings s_;
  std::mt19937_64 rng_;
  consume_app::consume_fleet fleet_;
  bool initial_failed_ = false;
  std::vector<step_outcome> steps_;
};

}  // namespace

int main(int argc, char** argv) {
  if (node_app::print_version_if_asked("parti-chaos", argc, argv)) return 0;
  auto s = parse(argc, argv);
  if (s.logs.empty()) {
    s.logs =
        (std::filesystem::temp_directory_path() / ("parti-chaos-" + std::to_string(::getpid())))
            .string();
  }
  std::filesystem::create_directories(s.logs);
  std::printf("parti-chaos: logs in %s\n", s.logs.c_str());
  if (s.consume) {
    consume_harness h(s);
    return h.run();
  }
  local_nats_server nats;
  harness h(s, nats);
  return h.run();
}
