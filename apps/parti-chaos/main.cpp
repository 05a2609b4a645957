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
// parti-chaos [--seed N] [--duration 150s] [--nodes 5] [--partitions 60]
//             [--binary build/apps/parti-node] [--json FILE] [--logs DIR]
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include "apps/lib/fleet.hpp"
#include "apps/lib/tcp_relay.hpp"
#include "runtime/config.hpp"
#include "runtime/nats/local_server.hpp"

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
};

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
  s.binary = (std::filesystem::path(argv[0]).parent_path() / "parti-node").string();
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + ": missing value");
      return argv[++i];
    };
    if (arg == "--seed")
      s.seed = std::stoull(value());
    else if (arg == "--duration") {
      auto d = parse_duration(value());
      if (!d) usage("--duration: " + d.error());
      s.run = *d;
    } else if (arg == "--nodes")
      s.nodes = std::stoi(value());
    else if (arg == "--partitions")
      s.partitions = static_cast<std::uint32_t>(std::stoul(value()));
    else if (arg == "--binary")
      s.binary = value();
    else if (arg == "--json")
      s.json = value();
    else if (arg == "--logs")
      s.logs = value();
    else
      usage("unknown argument " + arg);
  }
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

}  // namespace

int main(int argc, char** argv) {
  auto s = parse(argc, argv);
  if (s.logs.empty()) {
    s.logs =
        (std::filesystem::temp_directory_path() / ("parti-chaos-" + std::to_string(::getpid())))
            .string();
  }
  std::filesystem::create_directories(s.logs);
  std::printf("parti-chaos: logs in %s\n", s.logs.c_str());
  local_nats_server nats;
  harness h(s, nats);
  return h.run();
}
