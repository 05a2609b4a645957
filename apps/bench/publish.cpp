// Publish benchmark: one assignment to 1000 worker keys, written the way the publisher writes it
// (one pipelined batch of asynchronous publishes, then one wait for all acknowledgements),
// against the baseline of one synchronous kvStore_Put per key, in the same run, on a local
// nats-server. Usage: bench_publish [--keys N] [--rounds R] [--json FILE]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "apps/bench/bench_report.hpp"
#include "parti/messages/codec.hpp"
#include "parti/runtime/nats/connection.hpp"
#include "parti/runtime/nats/kv_store.hpp"
#include "parti/runtime/nats/local_server.hpp"

using namespace parti;

namespace {

std::vector<kv_write> assignment_writes(int keys, std::uint64_t version) {
  std::vector<kv_write> writes;
  for (int w = 0; w < keys; ++w) {
    assignment_record r;
    r.worker = "worker-" + std::to_string(w);
    r.epoch = 1;
    r.version = version;
    r.reason = "planned_scale";
    for (int p = 0; p < 10; ++p) r.partitions.push_back({{"p-" + std::to_string(w * 10 + p)}, 1});
    r.issued_at = 1;
    writes.push_back({r.worker, encode(r), false});
  }
  return writes;
}

double millis_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int keys = 1000, rounds = 11;
  std::string json;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--keys"))
      keys = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--rounds"))
      rounds = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--json"))
      json = argv[i + 1];
  }
  if (keys < 1 || rounds < 1) {
    std::fprintf(stderr, "bench_publish: --keys and --rounds must be positive\n");
    return 2;
  }
  local_nats_server server;
  connection_options options;
  options.urls = {server.url()};
  options.request_timeout = std::chrono::seconds(10);
  auto conn = connection::open(options);
  if (!conn) return std::fprintf(stderr, "%s\n", conn.error().c_str()), 1;
  auto store = kv_store::ensure(*conn, bucket_settings{"bench-assignments"});
  if (!store) return std::fprintf(stderr, "%s\n", store.error().c_str()), 1;
  auto& kv = **store;

  bench::figure pipelined{"publish_" + std::to_string(keys) + "_keys_pipelined", "ms", {}, {}, ""};
  bench::figure sequential{
      "publish_" + std::to_string(keys) + "_keys_sequential", "ms", {}, {}, ""};
  for (int round = 0; round < rounds; ++round) {
    // Alternate the order so that neither method always runs on a warmer server.
    auto writes = assignment_writes(keys, static_cast<std::uint64_t>(round) + 1);
    auto run_pipelined = [&] {
      auto t0 = std::chrono::steady_clock::now();
      auto r = kv.write_many(writes);
      if (!r) std::fprintf(stderr, "write_many: %s\n", r.error().c_str()), std::exit(1);
      pipelined.samples.push_back(millis_since(t0));
    };
    auto run_sequential = [&] {
      auto t0 = std::chrono::steady_clock::now();
      for (const auto& w : writes)
        if (auto r = kv.put(w.key, w.value); !r)
          std::fprintf(stderr, "put: %s\n", r.error().c_str()), std::exit(1);
      sequential.samples.push_back(millis_since(t0));
    };
    if (round % 2) {
      run_pipelined();
      run_sequential();
    } else {
      run_sequential();
      run_pipelined();
    }
  }
  pipelined.baseline_p50 = sequential.percentile(0.5);
  char note[64];
  std::snprintf(note, sizeof note, "speed-up %.1fx (p50)",
                sequential.percentile(0.5) / pipelined.percentile(0.5));
  pipelined.note = note;
  std::vector<bench::figure> figures{pipelined, sequential};
  bench::print_table(figures);
  return bench::write_json(figures, json) ? 0 : 1;
}
