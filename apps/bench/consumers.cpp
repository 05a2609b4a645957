// What per-partition durable consumers cost the server: the scale ceiling of partition
// consumption (one durable pull consumer per partition).
//
// On a local three-server JetStream cluster and one stream replicated three times, it creates N
// durable consumers the way a reader attaches (ensure_consumer, one after another), for consumer
// replicas 1 and 3, and reports per replica count: the creation time per consumer (baseline in
// the same run: a stream-info request, the same JetStream API round trip creating nothing), the
// total creation time, the servers' resident memory before and after (the sum over the three
// members, from their /varz), and the deletion time.
//
// Usage: bench_consumers [--consumers N] [--replicas 1,3] [--json FILE]
// CI-sized runs stay at 1000 consumers or fewer; 10000 is a manual run (docs/BENCHMARKS.md).
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "apps/bench/bench_report.hpp"
#include "parti/runtime/nats/connection.hpp"
#include "parti/runtime/nats/jetstream_consumers.hpp"
#include "tests/support/local_nats_cluster.hpp"

using namespace parti;

namespace {

constexpr const char* stream_name = "BENCH";

double millis_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

/// The members' resident memory in MiB (their /varz "mem"), summed.
double cluster_memory_mib(const test::local_nats_cluster& cluster) {
  double bytes = 0;
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    auto body = cluster.monitoring(i, "/varz");
    auto varz = nlohmann::json::parse(body, nullptr, false);
    if (varz.is_object() && varz.contains("mem")) bytes += varz["mem"].get<double>();
  }
  return bytes / (1024.0 * 1024.0);
}

bool create_stream(connection& conn, int replicas) {
  auto created = ensure_stream(conn, stream_settings{stream_name, {"bench.>"}, replicas});
  if (!created)
    std::fprintf(stderr, "bench_consumers: cannot create the stream: %s\n",
                 created.error().c_str());
  return created.ok();
}

/// One stream-info request: the JetStream API round trip, creating nothing.
double stream_info_ms(connection& conn) {
  auto t0 = std::chrono::steady_clock::now();
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (js_GetStreamInfo(&si, conn.jetstream(), stream_name, nullptr, &jerr) == NATS_OK)
    jsStreamInfo_Destroy(si);
  return millis_since(t0);
}

std::string consumer_of(int replicas, int i) {
  return "bench_r" + std::to_string(replicas) + "_" + std::to_string(i);
}

/// Creates `count` consumers of `replicas`, measures, deletes them; appends the figures.
bool measure(connection& conn, const test::local_nats_cluster& cluster, int count, int replicas,
             std::vector<bench::figure>& figures) {
  auto label = std::to_string(count) + "_consumers_r" + std::to_string(replicas);
  bench::figure create{"create_consumer_" + label, "ms", {}, {}, ""};
  bench::figure baseline{"stream_info_request_" + label, "ms", {}, {}, ""};
  consumer_settings settings;
  settings.replicas = replicas;
  settings.max_ack_pending = 1;
  double memory_before = cluster_memory_mib(cluster);
  auto t_all = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = ensure_consumer(conn, stream_name, consumer_of(replicas, i),
                             "bench.p-" + std::to_string(i), settings);
    if (!r) {
      std::fprintf(stderr, "bench_consumers: consumer %d (R%d): %s\n", i, replicas,
                   r.error().c_str());
      return false;
    }
    create.samples.push_back(millis_since(t0));
    if (i % 10 == 0) baseline.samples.push_back(stream_info_ms(conn));
  }
  double total_s = millis_since(t_all) / 1000.0;
  // The servers settle their raft groups (R3) after the last create; give the memory figure a
  // moment to include them (a measurement pause, not a synchronisation).
  std::this_thread::sleep_for(std::chrono::seconds(2));
  double memory_after = cluster_memory_mib(cluster);
  auto t_delete = std::chrono::steady_clock::now();
  auto deleted = prune_consumers(conn, stream_name, "bench_r" + std::to_string(replicas), {});
  double delete_s = millis_since(t_delete) / 1000.0;
  if (!deleted) {
    std::fprintf(stderr, "bench_consumers: prune: %s\n", deleted.error().c_str());
    return false;
  }
  create.baseline_p50 = baseline.percentile(0.5);
  char note[200];
  std::snprintf(note, sizeof note,
                "total %.1f s; server memory %.0f -> %.0f MiB (+%.1f KiB per consumer); "
                "deleting %zu took %.1f s",
                total_s, memory_before, memory_after,
                (memory_after - memory_before) * 1024.0 / count, deleted->size(), delete_s);
  create.note = note;
  figures.push_back(create);
  figures.push_back(baseline);
  figures.push_back({"create_total_" + label, "s", {total_s}, {}, ""});
  figures.push_back({"server_memory_after_" + label, "MiB", {memory_after}, memory_before, ""});
  return true;
}

std::vector<int> parse_list(const char* text) {
  std::vector<int> out;
  std::string s(text);
  std::size_t from = 0;
  while (from <= s.size()) {
    auto comma = s.find(',', from);
    auto item = s.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    if (!item.empty()) out.push_back(std::atoi(item.c_str()));
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int count = 1000;
  std::vector<int> replica_counts{1, 3};
  std::string json;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--consumers"))
      count = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--replicas"))
      replica_counts = parse_list(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--json"))
      json = argv[i + 1];
  }
  if (count < 1 || replica_counts.empty()) {
    std::fprintf(stderr, "bench_consumers: --consumers must be positive, --replicas a list\n");
    return 2;
  }
  for (int r : replica_counts)
    if (r != 1 && r != 3) {
      std::fprintf(stderr, "bench_consumers: --replicas takes 1 and/or 3\n");
      return 2;
    }
  test::local_nats_cluster cluster(3);
  connection_options options;
  options.urls = cluster.url_list();
  options.request_timeout = std::chrono::seconds(10);
  auto conn = connection::open(options);
  if (!conn) return std::fprintf(stderr, "%s\n", conn.error().c_str()), 1;
  if (!create_stream(**conn, 3)) return 1;
  std::vector<bench::figure> figures;
  for (int replicas : replica_counts)
    if (!measure(**conn, cluster, count, replicas, figures)) return 1;
  bench::print_table(figures);
  return bench::write_json(figures, json) ? 0 : 1;
}
