// bench_strategy: balance, movement and speed of the assignment strategies (docs/STRATEGIES.md).
//
//   bench_strategy [--json FILE] [--repeat R] [--quick] [--kernel portable|avx2|avx512]
//
// --kernel forces the rendezvous kernel (default: the fastest the CPU supports); --quick skips
// P = 100000.
//
// For P in {2400, 10000, 100000} and N in {30, 100, 1000}, for each built-in strategy and for the
// baseline "ring150-baseline" (a ring with 150 virtual nodes and no stickiness, hashed like the
// Go library parti: XXH3 of the worker id, then XXH3 of le64(i) seeded with it; partitions by
// XXH3 of each key seeded with the previous hash), it reports:
//   max_over_avg_count   max partitions per worker / (P / N), all weights 1, cold start
//   max_over_avg_load    max load / mean load on the skewed set (5% of partitions weight 100,
//                        the rest 1), cold start; load_lower_bound_over_avg is the best possible
//   moved_over_optimal_* partitions whose owner changed / optimum, all weights 1, from the
//                        strategy's own assignment for N workers: add (N -> N+1, optimum
//                        P/(N+1)), remove (one worker leaves, optimum = what it owned),
//                        30_to_45 (only for N = 30, optimum P/3)
//   moved_weight_over_optimal_add/remove  the same on the skewed set, in weight
//   assign_ms            median wall time of one full assignment from nothing (cold start:
//                        every partition placed), all weights 1
//   reassign_ms          median wall time of the N -> N+1 rebalance (with a previous assignment)
//   assign_cpu_ms, reassign_cpu_ms  the same in CPU time of the calling thread (less disturbed
//                        by other processes on a shared machine)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <xxhash.h>
#include <nlohmann/json.hpp>

#include "parti/runtime/strategy/detail.hpp"
#include "parti/runtime/strategy/strategy.hpp"

using namespace parti;

namespace {

// -- the baseline: a ring with 150 virtual nodes, no stickiness, hashed like Go parti ----------

class ring150_baseline final : public strategy {
 public:
  result<assignment> assign(const assignment& /*previous*/, const std::vector<std::string>& workers,
                            const std::vector<partition>& partitions,
                            const strategy_options& /*options*/) const override {
    struct node {
      std::uint64_t hash;
      std::uint32_t worker;
    };
    std::vector<node> ring;
    ring.reserve(workers.size() * 150);
    for (std::size_t w = 0; w < workers.size(); ++w) {
      const std::uint64_t base = XXH3_64bits(workers[w].data(), workers[w].size());
      for (std::uint64_t i = 0; i < 150; ++i) {
        unsigned char le[8];
        for (int b = 0; b < 8; ++b) le[b] = static_cast<unsigned char>(i >> (8 * b));
        ring.push_back({XXH3_64bits_withSeed(le, 8, base), static_cast<std::uint32_t>(w)});
      }
    }
    std::sort(ring.begin(), ring.end(), [&](const node& a, const node& b) {
      return a.hash != b.hash ? a.hash < b.hash : workers[a.worker] < workers[b.worker];
    });
    assignment out;
    for (const auto& w : workers) out[w];
    for (const auto& p : partitions) {
      std::uint64_t h = 0;
      for (const auto& k : p.keys) h = XXH3_64bits_withSeed(k.data(), k.size(), h);
      auto it = std::lower_bound(ring.begin(), ring.end(), h,
                                 [](const node& n, std::uint64_t x) { return n.hash < x; });
      if (it == ring.end()) it = ring.begin();
      out[workers[it->worker]].push_back(p);
    }
    for (auto& [w, owned] : out) std::sort(owned.begin(), owned.end());
    return out;
  }
};

// -- inputs ----------------------------------------------------------------------------------

std::vector<std::string> make_workers(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back("worker-" + std::to_string(i));
  return out;
}

std::vector<partition> make_partitions(std::size_t p, bool skewed) {
  std::vector<partition> out;
  out.reserve(p);
  for (std::size_t i = 0; i < p; ++i) {
    partition part;
    part.keys = {"tenant-" + std::to_string(i)};
    part.weight = skewed && i % 20 == 0 ? 100 : 1;  // 5% weight 100
    out.push_back(std::move(part));
  }
  return out;
}

// -- measures --------------------------------------------------------------------------------

std::map<std::vector<std::string>, std::string> owners(const assignment& a) {
  std::map<std::vector<std::string>, std::string> out;
  for (const auto& [w, owned] : a)
    for (const auto& p : owned) out.emplace(p.keys, w);
  return out;
}

struct movement {
  std::size_t count = 0;
  std::int64_t weight = 0;
};

movement moved(const assignment& before, const assignment& after) {
  const auto old_owner = owners(before);
  movement m;
  for (const auto& [w, owned] : after)
    for (const auto& p : owned) {
      auto it = old_owner.find(p.keys);
      if (it != old_owner.end() && it->second != w) {
        ++m.count;
        m.weight += std::max<std::int64_t>(p.weight, 1);
      }
    }
  return m;
}

std::int64_t load_of(const std::vector<partition>& owned) {
  std::int64_t sum = 0;
  for (const auto& p : owned) sum += std::max<std::int64_t>(p.weight, 1);
  return sum;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2.0;
}

assignment run(const strategy& s, const assignment& prev, const std::vector<std::string>& workers,
               const std::vector<partition>& parts) {
  auto out = s.assign(prev, workers, parts, strategy_options{});
  if (!out) {
    std::cerr << "assignment failed: " << out.error() << "\n";
    std::exit(1);
  }
  return std::move(*out);
}

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct timing {
  double wall_ms;  // median wall time
  double cpu_ms;   // median CPU time of this thread: robust when other processes share the CPU
};

timing time_ms(const strategy& s, const assignment& prev, const std::vector<std::string>& workers,
               const std::vector<partition>& parts, int repeat) {
  std::vector<double> wall, cpu;
  for (int i = 0; i < repeat; ++i) {
    const double c0 = thread_cpu_ms();
    const auto t0 = std::chrono::steady_clock::now();
    auto out = s.assign(prev, workers, parts, strategy_options{});
    const auto t1 = std::chrono::steady_clock::now();
    const double c1 = thread_cpu_ms();
    if (!out) std::exit(1);
    wall.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    cpu.push_back(c1 - c0);
  }
  return {median(wall), median(cpu)};
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  int repeat = 7;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (arg == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--quick") {
      quick = true;
    } else if (arg == "--kernel" && i + 1 < argc) {
      const std::string k = argv[++i];
      using strategy_detail::score_kernel;
      const score_kernel kernel = k == "avx512" ? score_kernel::avx512
                                  : k == "avx2" ? score_kernel::avx2
                                                : score_kernel::portable;
      if (!strategy_detail::set_score_kernel(kernel)) {
        std::cerr << "kernel " << k << " is not supported on this CPU\n";
        return 2;
      }
    } else {
      std::cerr << "usage: bench_strategy [--json FILE] [--repeat R] [--quick]"
                   " [--kernel portable|avx2|avx512]\n";
      return 2;
    }
  }

  strategy_registry registry;
  std::vector<std::pair<std::string, std::shared_ptr<const strategy>>> strategies;
  for (const char* name : {"sticky", "weighted", "consistent-hash", "round-robin"})
    strategies.emplace_back(name, *registry.find(name));
  strategies.emplace_back("ring150-baseline", std::make_shared<ring150_baseline>());

  std::vector<std::size_t> sizes_p = {2400, 10000, 100000};
  std::vector<std::size_t> sizes_n = {30, 100, 1000};
  if (quick) sizes_p = {2400, 10000};

  const char* kernel = strategy_detail::score_kernel_name(strategy_detail::active_score_kernel());
  std::printf("rendezvous kernel: %s; times: median of %d runs\n", kernel, repeat);
  nlohmann::json rows = nlohmann::json::array();
  std::printf("%-16s %6s %4s %6s %6s %6s %6s %6s %6s %6s %6s %8s %8s %8s\n", "strategy", "P", "N",
              "cnt", "load", "lb", "add", "rem", "30>45", "add_w", "rem_w", "assign", "cpu",
              "rebal");
  for (auto p : sizes_p) {
    const auto uniform = make_partitions(p, false);
    const auto skewed = make_partitions(p, true);
    std::int64_t total_skewed = 0;
    std::vector<std::int64_t> weights;
    for (const auto& part : skewed) {
      total_skewed += part.weight;
      weights.push_back(part.weight);
    }
    std::sort(weights.rbegin(), weights.rend());
    for (auto n : sizes_n) {
      const auto workers = make_workers(n);
      const auto workers_plus = make_workers(n + 1);
      const double mean_load = static_cast<double>(total_skewed) / static_cast<double>(n);
      // Lower bound of the max load: the mean, the heaviest partition, and two of the N+1
      // heaviest sharing a worker.
      double lower = std::max(mean_load, static_cast<double>(weights[0]));
      if (weights.size() > n)
        lower = std::max(lower, static_cast<double>(weights[n - 1] + weights[n]));
      for (const auto& [name, s] : strategies) {
        nlohmann::json row;
        row["strategy"] = name;
        row["partitions"] = p;
        row["workers"] = n;

        const assignment base = run(*s, {}, workers, uniform);
        std::size_t max_count = 0;
        for (const auto& [w, owned] : base) max_count = std::max(max_count, owned.size());
        row["max_over_avg_count"] =
            static_cast<double>(max_count) / (static_cast<double>(p) / static_cast<double>(n));

        const assignment base_skewed = run(*s, {}, workers, skewed);
        std::int64_t max_load = 0;
        for (const auto& [w, owned] : base_skewed) max_load = std::max(max_load, load_of(owned));
        row["max_over_avg_load"] = static_cast<double>(max_load) / mean_load;
        row["load_lower_bound_over_avg"] = lower / mean_load;

        // +1 worker
        const assignment added = run(*s, base, workers_plus, uniform);
        row["moved_over_optimal_add"] = static_cast<double>(moved(base, added).count) /
                                        (static_cast<double>(p) / static_cast<double>(n + 1));
        const assignment added_skewed = run(*s, base_skewed, workers_plus, skewed);
        row["moved_weight_over_optimal_add"] =
            static_cast<double>(moved(base_skewed, added_skewed).weight) /
            (static_cast<double>(total_skewed) / static_cast<double>(n + 1));

        // -1 worker: the worker at the middle of the id order (the next one owning something)
        auto pick_leaver = [&](const assignment& a) {
          std::vector<std::string> sorted = workers;
          std::sort(sorted.begin(), sorted.end());
          for (std::size_t k = 0; k < n; ++k) {
            const auto& w = sorted[(n / 2 + k) % n];
            if (!a.at(w).empty()) return w;
          }
          return sorted[n / 2];
        };
        {
          const std::string leaver = pick_leaver(base);
          std::vector<std::string> rest;
          for (const auto& w : workers)
            if (w != leaver) rest.push_back(w);
          const assignment removed = run(*s, base, rest, uniform);
          row["moved_over_optimal_remove"] = static_cast<double>(moved(base, removed).count) /
                                             static_cast<double>(base.at(leaver).size());
        }
        {
          const std::string leaver = pick_leaver(base_skewed);
          std::vector<std::string> rest;
          for (const auto& w : workers)
            if (w != leaver) rest.push_back(w);
          const assignment removed = run(*s, base_skewed, rest, skewed);
          row["moved_weight_over_optimal_remove"] =
              static_cast<double>(moved(base_skewed, removed).weight) /
              static_cast<double>(load_of(base_skewed.at(leaver)));
        }
        if (n == 30) {
          const assignment scaled = run(*s, base, make_workers(45), uniform);
          row["moved_over_optimal_30_to_45"] =
              static_cast<double>(moved(base, scaled).count) / (static_cast<double>(p) / 3.0);
        }

        const timing cold = time_ms(*s, {}, workers, uniform, repeat);
        const timing rebalance = time_ms(*s, base, workers_plus, uniform, repeat);
        row["assign_ms"] = cold.wall_ms;
        row["assign_cpu_ms"] = cold.cpu_ms;
        row["reassign_ms"] = rebalance.wall_ms;
        row["reassign_cpu_ms"] = rebalance.cpu_ms;
        row["repeat"] = repeat;
        row["kernel"] = kernel;

        auto num = [&](const char* key) {
          return row.contains(key) ? row[key].get<double>() : std::nan("");
        };
        std::printf(
            "%-16s %6zu %4zu %6.3f %6.3f %6.3f %6.3f %6.3f %6.3f %6.3f %6.3f %8.2f %8.2f %8.2f\n",
            name.c_str(), p, n, num("max_over_avg_count"), num("max_over_avg_load"),
            num("load_lower_bound_over_avg"), num("moved_over_optimal_add"),
            num("moved_over_optimal_remove"), num("moved_over_optimal_30_to_45"),
            num("moved_weight_over_optimal_add"), num("moved_weight_over_optimal_remove"),
            num("assign_ms"), num("assign_cpu_ms"), num("reassign_ms"));
        std::fflush(stdout);
        rows.push_back(row);
      }
    }
  }
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << rows.dump(2) << "\n";
    if (!out) {
      std::cerr << "cannot write " << json_path << "\n";
      return 1;
    }
  }
  return 0;
}
