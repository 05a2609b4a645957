// Scale benchmark: N nodes in one parti-node process (--workers N) on one local nats-server.
// Measures the time from start to full coverage, then over a steady-state window the CPU share
// and RSS of the parti-node process and of nats-server, and the heartbeat writes per second
// (from the process's own /metrics: parti_kv_operation_duration_seconds_count{operation="put"}).
// bench_scale [--workers 1000] [--partitions 10000] [--window 20s] [--json FILE] [--binary PATH]
//             [--preferred-ids yes|no] [--cluster 1|3]
// With --cluster 3 the nodes run on a local 3-server JetStream cluster with every bucket at 3
// replicas (--bucket-replicas=3), all on the machine the benchmark runs on; the nats-server
// figures are the sums over its members.
// With --preferred-ids no the nodes claim without a preferred id: each lists the ids bucket and
// they race for the free ids, the start of a fleet that has no ordinal to give its nodes.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "apps/bench/bench_report.hpp"
#include "apps/lib/fleet.hpp"
#include "apps/lib/http_client.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/nats/local_server.hpp"
#include "tests/support/local_nats_cluster.hpp"

using namespace parti;
using clock_type = std::chrono::steady_clock;

namespace {

struct usage {
  double cpu_seconds = 0;
  double rss_mb = 0;
  int threads = 0;
};

usage usage_of(pid_t pid) {
  usage u;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) u.rss_mb = std::stod(line.substr(6)) / 1024.0;
    if (line.rfind("Threads:", 0) == 0) u.threads = std::stoi(line.substr(8));
  }
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), {});
  auto close = content.rfind(')');
  if (close == std::string::npos) return u;
  std::istringstream rest(content.substr(close + 2));
  std::string field;
  long ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i == 14 || i == 15) ticks += std::stol(field);
  u.cpu_seconds = static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  return u;
}

/// Our child processes named `comm` (the nats-servers we started).
std::vector<pid_t> children_named(const std::string& comm) {
  std::vector<pid_t> out;
  auto me = ::getpid();
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir("/proc"), ::closedir);
  while (auto* e = ::readdir(dir.get())) {
    std::string name = e->d_name;
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat("/proc/" + name + "/stat");
    std::string content((std::istreambuf_iterator<char>(stat)), {});
    auto open = content.find('('), close = content.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(content.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == me && content.substr(open + 1, close - open - 1) == comm)
      out.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  return out;
}

/// The usage of several processes added up (threads too).
usage usage_of(const std::vector<pid_t>& pids) {
  usage total;
  for (auto pid : pids) {
    auto u = usage_of(pid);
    total.cpu_seconds += u.cpu_seconds;
    total.rss_mb += u.rss_mb;
    total.threads += u.threads;
  }
  return total;
}

/// Sum of the samples of the series `name` that carry the label `label` (`key="value"`), in a
/// Prometheus text exposition.
double counter_sum(const std::string& text, const std::string& name, const std::string& label) {
  double total = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + "{", 0) == 0 && line.find(label) != std::string::npos)
      total += std::stod(line.substr(line.rfind(' ') + 1));
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  int workers = 1000;
  std::uint32_t partitions = 10000;
  duration window = std::chrono::seconds(20);
  bool preferred_ids = true;
  std::size_t cluster_size = 1;
  std::string json, binary = (std::filesystem::path(argv[0]).parent_path() / "parti-node").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string arg = argv[i], value = argv[i + 1];
    if (arg == "--workers")
      workers = std::stoi(value);
    else if (arg == "--partitions")
      partitions = static_cast<std::uint32_t>(std::stoul(value));
    else if (arg == "--window")
      window = parse_duration(value).value();
    else if (arg == "--json")
      json = value;
    else if (arg == "--binary")
      binary = value;
    else if (arg == "--preferred-ids" && (value == "yes" || value == "no"))
      preferred_ids = value == "yes";
    else if (arg == "--cluster" && (value == "1" || value == "3"))
      cluster_size = std::stoul(value);
    else
      return std::fprintf(stderr, "bench_scale: unknown argument %s\n", arg.c_str()), 2;
  }
  auto logs =
      (std::filesystem::temp_directory_path() / ("parti-scale-" + std::to_string(::getpid())))
          .string();
  std::filesystem::create_directories(logs);
  std::optional<local_nats_server> server;
  std::optional<test::local_nats_cluster> cluster;
  std::vector<std::string> args{"--group=scale", "--workers=" + std::to_string(workers),
                                "--partitions=" + std::to_string(partitions),
                                "--cold-start-window=10s", "--log-level=warning"};
  if (cluster_size > 1) {
    cluster.emplace(cluster_size);
    args.push_back("--nats-url=" + cluster->urls());
    args.push_back("--bucket-replicas=" + std::to_string(cluster_size));
  } else {
    server.emplace();
    args.push_back("--nats-url=" + server->url());
  }
  auto nats_pids = children_named("nats-server");
  fleet::fleet f(binary, args, logs);
  auto t0 = clock_type::now();
  int index = preferred_ids ? f.start(0) : f.start(std::nullopt);
  auto pid = f.members().at(0).pid;
  std::vector<bench::figure> figures;
  double covered_ms = -1;
  while (clock_type::now() - t0 < std::chrono::minutes(5)) {
    auto o = f.sample();
    if (fleet::fully_covered(o, partitions)) {
      covered_ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  char tag[64];
  std::snprintf(tag, sizeof tag, "%d_nodes_%u_partitions", workers, partitions);
  figures.push_back({std::string("scale_start_to_covered_") + tag,
                     "ms",
                     covered_ms >= 0 ? std::vector<double>{covered_ms} : std::vector<double>{},
                     {},
                     preferred_ids ? "preferred ids 0 .. workers-1"
                                   : "no preferred ids: every node lists and races"});
  if (covered_ms < 0) std::fprintf(stderr, "bench_scale: not covered within 5 minutes\n");
  // Steady state: let the rebalance settle, then measure over the window.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  auto metrics_port = f.members().at(static_cast<std::size_t>(index)).metrics_port;
  auto m0 = http_get(metrics_port, "/metrics", std::chrono::seconds(10));
  auto p0 = usage_of(pid), n0 = usage_of(nats_pids);
  auto w0 = clock_type::now();
  std::this_thread::sleep_for(window);
  auto p1 = usage_of(pid), n1 = usage_of(nats_pids);
  auto m1 = http_get(metrics_port, "/metrics", std::chrono::seconds(10));
  double seconds = std::chrono::duration<double>(clock_type::now() - w0).count();
  // Heartbeats are compare-and-set writes: an update each, a create for the first (and after
  // a fence); plain puts are counted too, for a build that still writes them so.
  auto writes = [](const std::string& body) {
    double n = 0;
    for (const char* op : {"put", "update", "create"})
      n += counter_sum(body, "parti_kv_operation_duration_seconds_count",
                       std::string("operation=\"") + op + "\"");
    return n;
  };
  double put_rate = (m0.ok() && m1.ok()) ? (writes(m1.body) - writes(m0.body)) / seconds : -1;
  figures.push_back(
      {"scale_parti_node_cpu", "%", {100.0 * (p1.cpu_seconds - p0.cpu_seconds) / seconds}, {}, ""});
  figures.push_back(
      {"scale_parti_node_rss", "MB", {p1.rss_mb}, {}, std::to_string(p1.threads) + " threads"});
  figures.push_back({"scale_nats_server_cpu",
                     "%",
                     {100.0 * (n1.cpu_seconds - n0.cpu_seconds) / seconds},
                     {},
                     ""});
  auto servers = cluster_size > 1
                     ? "sum over " + std::to_string(nats_pids.size()) +
                           " cluster members, buckets at R" + std::to_string(cluster_size)
                     : std::string("one server");
  figures.push_back({"scale_nats_server_rss", "MB", {n1.rss_mb}, {}, servers});
  figures.push_back(
      {"scale_heartbeat_puts_per_second",
       "1/s",
       {put_rate},
       {},
       "writes to the store (heartbeats, claims, election), expected ~workers/interval"});
  bench::print_table(figures);
  f.signal(index, SIGKILL);
  return bench::write_json(figures, json) ? 0 : 1;
}
