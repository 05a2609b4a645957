// Failover benchmark: parti-node processes on a local nats-server, observed through /status.
//   crash        one of N workers killed with SIGKILL -> all its partitions owned by survivors
//   drain        one of N workers stopped with SIGTERM (drain) -> its partitions owned by others
//   leader_crash the leader killed with SIGKILL -> a new leader has published (full coverage)
//   cut          a fleet of its own where one non-leader reaches NATS through a TCP relay
//                (apps/lib/tcp_relay.hpp); each round the relay is cut for 3 x TTL, then healed:
//                  cut_lapsed_lease_to_app_told   cut -> the node's /status lists no partition
//                      (its lease lapsed: it suspends and its application is told
//                      ownership_suspended at that moment); "never" within 3 x TTL counts as
//                      missed (a binary that does not suspend)
//                  cut_to_single_owner            cut -> every partition owned by exactly one
//                      node and the cut node lists none (its claims count: a binary that keeps
//                      serving through the cut never gets there before the heal)
//                  cut_others_took_over           cut -> the other nodes own every partition
//                      exactly once (the cut node's claims left out)
//                  cut_healed_to_serving          heal -> every partition owned exactly once, every
//                      node answering, the cut node Stable with nothing suspended (its lease
//                      renewed and the current assignment applied)
//                  cut_two_owner_samples          per round, samples (every 20 ms, from the cut
//                      until serving again) in which some partition had two owners
//   footprint    one idle node: RSS and CPU share over a measurement window
// Each figure is a distribution over --rounds repetitions, with default timings unless told.
// bench_failover [--nodes 10] [--partitions 100] [--rounds 5] [--json FILE] [--binary PATH]
//                [--only crash,drain,leader_crash,cut,footprint]
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "apps/bench/bench_report.hpp"
#include "apps/lib/fleet.hpp"
#include "apps/lib/tcp_relay.hpp"
#include "parti/runtime/nats/local_server.hpp"

using namespace parti;
using clock_type = std::chrono::steady_clock;

namespace {

struct settings {
  int nodes = 10;
  std::uint32_t partitions = 100;
  int rounds = 5;
  std::string json;
  std::string binary;
  std::string only = "crash,drain,leader_crash,cut,footprint";
};

/// parti-node's default heartbeat TTL (the bench passes no timing that changes it).
constexpr std::chrono::milliseconds heartbeat_ttl{3000};

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

/// Polls until `done` or `limit`; returns the elapsed ms or -1.
template <class Done>
double wait_for(Done done, std::chrono::milliseconds limit, std::chrono::milliseconds every) {
  auto t0 = clock_type::now();
  while (clock_type::now() - t0 < limit) {
    if (done()) return ms_since(t0);
    std::this_thread::sleep_for(every);
  }
  return -1;
}

/// RSS (kB) and cumulative CPU ticks of a process, from /proc.
std::pair<long, long> proc_usage(pid_t pid) {
  long rss = 0, ticks = 0;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stol(line.substr(6));
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), {});
  auto close = content.rfind(')');
  std::istringstream rest(content.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i == 14 || i == 15) ticks += std::stol(field);  // utime + stime
  return {rss, ticks};
}

class failover_bench {
 public:
  failover_bench(settings s, local_nats_server& nats, std::string logs)
      : s_(std::move(s)),
        url_(nats.url()),
        fleet_(s_.binary,
               {"--group=bench", "--partitions=" + std::to_string(s_.partitions),
                "--cold-start-window=3s", "--planned-scale-window=3s", "--cooldown=3s",
                "--log-level=warning"},
               logs) {}

  /// Starts the fleet and waits for the first full coverage. With `relayed_url`, the last node
  /// is started once the others have settled (so that it does not lead) and reaches NATS there.
  bool start(const std::string& relayed_url = {}) {
    int direct = relayed_url.empty() ? s_.nodes : s_.nodes - 1;
    for (int i = 0; i < direct; ++i)
      fleet_.start(static_cast<std::uint32_t>(i), {"--nats-url=" + url_});
    if (relayed_url.empty()) return settle() >= 0;
    if (settle() < 0) return false;
    relayed_ = fleet_.start(static_cast<std::uint32_t>(direct), {"--nats-url=" + relayed_url});
    return settle() >= 0;
  }

  /// Waits for full coverage with every member answering and one leader.
  double settle(std::chrono::milliseconds limit = std::chrono::seconds(90)) {
    return wait_for(
        [&] {
          fleet_.reap();
          int answered = 0;
          auto o = fleet_.sample(&answered);
          return answered == static_cast<int>(fleet_.alive().size()) &&
                 fleet::fully_covered(o, s_.partitions) && fleet_.leader().has_value();
        },
        limit, std::chrono::milliseconds(50));
  }

  /// Kills (signal) a member chosen by `pick`, measures until full coverage without it, then
  /// brings it back (same id) and waits until the group has settled again.
  bench::figure measure(const std::string& name, int sig, bool leader) {
    bench::figure f{name, "ms", {}, {}, ""};
    for (int r = 0; r < s_.rounds; ++r) {
      auto l = fleet_.leader();
      if (!l) break;
      int victim = leader ? l->first : pick_follower(l->first, r);
      auto t0 = clock_type::now();
      fleet_.signal(victim, sig, /*wait=*/sig == SIGKILL);
      double took = wait_for(
          [&] {
            auto o = fleet_.sample();
            if (!fleet::fully_covered(o, s_.partitions)) return false;
            // Covered by the others: the victim owns nothing any more (or is gone).
            auto v = fleet_.status(victim, std::chrono::milliseconds(200));
            return !v || v->empty() || v->front().partitions.empty();
          },
          std::chrono::seconds(60), std::chrono::milliseconds(20));
      if (took >= 0) f.samples.push_back(ms_since(t0));
      fleet_.signal(victim, SIGKILL, true);  // a drained node exits on its own; make sure
      fleet_.restart(victim);
      settle();
    }
    return f;
  }

  /// One figure per measure of the cut mode (see the top of the file).
  std::vector<bench::figure> measure_cut(fleet::tcp_relay& relay) {
    bench::figure told{"cut_lapsed_lease_to_app_told", "ms", {}, {}, ""};
    bench::figure single{"cut_to_single_owner", "ms", {}, {}, ""};
    bench::figure others{"cut_others_took_over", "ms", {}, {}, ""};
    bench::figure serving{"cut_healed_to_serving", "ms", {}, {}, ""};
    bench::figure two{"cut_two_owner_samples", "samples", {}, {}, ""};
    int skipped = 0;
    std::size_t sampled = 0;
    for (int r = 0; r < s_.rounds; ++r) {
      // Ready: full coverage, and the relayed node leads nothing and owns something.
      std::string worker;
      bool ready = wait_for(
                       [&] {
                         auto v = fleet_.status(relayed_, std::chrono::milliseconds(200));
                         if (!v || v->empty() || v->front().leader ||
                             v->front().partitions.empty() || v->front().state != "Stable")
                           return false;
                         worker = v->front().worker;
                         return fleet::fully_covered(fleet_.sample(), s_.partitions);
                       },
                       std::chrono::seconds(60), std::chrono::milliseconds(50)) >= 0;
      if (!ready) {
        ++skipped;
        settle();
        continue;
      }
      relay.cut();
      auto cut = clock_type::now();
      std::optional<double> t_told, t_single, t_others;
      int two_owner = 0;
      bool cutting = true;  // (a) and (b) count only until the heal (3 x TTL)
      auto observe = [&] {
        auto [all, without] = sample_split(worker);
        ++sampled;
        double t = ms_since(cut);
        if (!fleet::doubly_owned(all).empty()) ++two_owner;
        if (!cutting) return all;
        bool others_cover = fleet::fully_covered(without, s_.partitions);
        if (!t_others && others_cover) t_others = t;
        // Exactly one owner each and the cut node among none: `all` equals `without`.
        if (!t_single && others_cover && all == without) t_single = t;
        if (!t_told) {
          auto v = fleet_.status(relayed_, std::chrono::milliseconds(200));
          if (v && !v->empty() && v->front().partitions.empty()) t_told = ms_since(cut);
        }
        return all;
      };
      while (clock_type::now() - cut < 3 * heartbeat_ttl) {
        observe();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      cutting = false;
      relay.heal();
      auto healed = clock_type::now();
      double back = wait_for(
          [&] {
            auto all = observe();
            if (!fleet::fully_covered(all, s_.partitions)) return false;
            int answered = 0;
            fleet_.sample(&answered);
            auto v = fleet_.status(relayed_, std::chrono::milliseconds(200));
            return answered == static_cast<int>(fleet_.alive().size()) && v && !v->empty() &&
                   v->front().state == "Stable" && v->front().suspended_partitions.empty();
          },
          std::chrono::seconds(60), std::chrono::milliseconds(20));
      if (t_told)
        told.samples.push_back(*t_told);
      else
        ++told.missed;
      if (t_single)
        single.samples.push_back(*t_single);
      else
        ++single.missed;
      if (t_others)
        others.samples.push_back(*t_others);
      else
        ++others.missed;
      if (back >= 0)
        serving.samples.push_back(ms_since(healed));
      else
        ++serving.missed;
      two.samples.push_back(two_owner);
      settle();
    }
    two.note = std::to_string(sampled) + " samples in all";
    if (skipped) two.note += "; " + std::to_string(skipped) + " rounds skipped (not ready)";
    return {told, single, others, serving, two};
  }

  bench::figure footprint() {
    bench::figure f{"footprint_idle_node_rss", "MB", {}, {}, ""};
    bench::figure cpu{"footprint_idle_node_cpu", "%", {}, {}, ""};
    // A group of one: the node leads, owns everything and idles.
    auto pid = fleet_.members().front().pid;
    for (int r = 0; r < s_.rounds; ++r) {
      auto [rss0, ticks0] = proc_usage(pid);
      auto t0 = clock_type::now();
      std::this_thread::sleep_for(std::chrono::seconds(5));
      auto [rss1, ticks1] = proc_usage(pid);
      double seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
      f.samples.push_back(static_cast<double>(rss1) / 1024.0);
      cpu.samples.push_back(100.0 * static_cast<double>(ticks1 - ticks0) /
                            static_cast<double>(::sysconf(_SC_CLK_TCK)) / seconds);
      (void)rss0;
    }
    footprint_cpu_ = cpu;
    return f;
  }

  bench::figure footprint_cpu() const { return footprint_cpu_; }
  fleet::fleet& members() { return fleet_; }

 private:
  int pick_follower(int leader, int round) {
    auto alive = fleet_.alive();
    std::vector<int> followers;
    for (int i : alive)
      if (i != leader) followers.push_back(i);
    return followers[static_cast<std::size_t>(round) % followers.size()];
  }

  /// Who owns what over every live member that answered, and the same without `worker`.
  std::pair<fleet::ownership, fleet::ownership> sample_split(const std::string& worker) {
    fleet::ownership all, without;
    for (int i : fleet_.alive()) {
      auto v = fleet_.status(i, std::chrono::milliseconds(200));
      if (!v) continue;
      for (const auto& n : *v)
        for (const auto& p : n.partitions) {
          all[p].insert(n.worker);
          if (n.worker != worker) without[p].insert(n.worker);
        }
    }
    return {all, without};
  }

  settings s_;
  std::string url_;
  int relayed_ = -1;
  fleet::fleet fleet_;
  bench::figure footprint_cpu_;
};

bool wanted(const settings& s, const std::string& what) {
  return ("," + s.only + ",").find("," + what + ",") != std::string::npos;
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  s.binary = (std::filesystem::path(argv[0]).parent_path() / "parti-node").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string arg = argv[i], value = argv[i + 1];
    if (arg == "--nodes")
      s.nodes = std::stoi(value);
    else if (arg == "--partitions")
      s.partitions = static_cast<std::uint32_t>(std::stoul(value));
    else if (arg == "--rounds")
      s.rounds = std::stoi(value);
    else if (arg == "--json")
      s.json = value;
    else if (arg == "--binary")
      s.binary = value;
    else if (arg == "--only")
      s.only = value;
    else
      return std::fprintf(stderr, "bench_failover: unknown argument %s\n", arg.c_str()), 2;
  }
  auto logs =
      (std::filesystem::temp_directory_path() / ("parti-bench-" + std::to_string(::getpid())))
          .string();
  std::filesystem::create_directories(logs);
  std::vector<bench::figure> figures;
  {
    local_nats_server nats;
    failover_bench b(s, nats, logs);
    if (!b.start()) return std::fprintf(stderr, "bench_failover: the group did not converge\n"), 1;
    if (wanted(s, "crash"))
      figures.push_back(b.measure("crash_sigkill_worker_to_covered", SIGKILL, false));
    if (wanted(s, "drain"))
      figures.push_back(b.measure("drain_sigterm_worker_to_covered", SIGTERM, false));
    if (wanted(s, "leader_crash"))
      figures.push_back(b.measure("crash_sigkill_leader_to_covered", SIGKILL, true));
  }
  if (wanted(s, "cut")) {
    local_nats_server nats;
    fleet::tcp_relay relay(nats.port());
    failover_bench b(s, nats, logs);
    if (!b.start(relay.url()))
      return std::fprintf(stderr, "bench_failover: the cut group did not converge\n"), 1;
    for (auto& f : b.measure_cut(relay)) figures.push_back(std::move(f));
  }
  if (wanted(s, "footprint")) {
    local_nats_server nats;
    settings one = s;
    one.nodes = 1;
    failover_bench b(one, nats, logs);
    if (b.start()) {
      figures.push_back(b.footprint());
      figures.push_back(b.footprint_cpu());
    }
  }
  bench::print_table(figures);
  std::printf("logs: %s\n", logs.c_str());
  return bench::write_json(figures, s.json) ? 0 : 1;
}
