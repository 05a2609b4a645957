#pragma once
// Figures of a benchmark: samples, percentiles, a printed table row and a JSON object per
// figure ({name, unit, samples, p50, p99, max, baseline_p50?, missed?}), shared by the bench
// programs. A figure without samples has null percentiles (not 0).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace parti::bench {

struct figure {
  std::string name;
  std::string unit;
  std::vector<double> samples;
  std::optional<double> baseline_p50;
  std::string note;
  int missed = 0;  // rounds in which the measured event did not happen within the limit

  double percentile(double q) const {
    if (samples.empty()) return 0;
    auto sorted = samples;
    std::sort(sorted.begin(), sorted.end());
    auto index = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
    return sorted[std::min(index, sorted.size() - 1)];
  }
  double max() const {
    return samples.empty() ? 0 : *std::max_element(samples.begin(), samples.end());
  }
};

inline void print_table(const std::vector<figure>& figures) {
  std::printf("%-40s %-6s %7s %10s %10s %10s %12s\n", "figure", "unit", "samples", "p50", "p99",
              "max", "baseline_p50");
  for (const auto& f : figures) {
    if (f.samples.empty() && f.missed)
      std::printf("%-40s %-6s %7zu %10s %10s %10s", f.name.c_str(), f.unit.c_str(),
                  f.samples.size(), "never", "never", "never");
    else
      std::printf("%-40s %-6s %7zu %10.3f %10.3f %10.3f", f.name.c_str(), f.unit.c_str(),
                  f.samples.size(), f.percentile(0.5), f.percentile(0.99), f.max());
    if (f.baseline_p50)
      std::printf(" %12.3f", *f.baseline_p50);
    else
      std::printf(" %12s", "-");
    if (f.missed) std::printf("  missed in %d rounds", f.missed);
    if (!f.note.empty()) std::printf("  %s", f.note.c_str());
    std::printf("\n");
  }
}

inline nlohmann::json to_json(const std::vector<figure>& figures) {
  auto out = nlohmann::json::array();
  for (const auto& f : figures) {
    nlohmann::json j{{"name", f.name},
                     {"unit", f.unit},
                     {"samples", f.samples.size()},
                     {"p50", f.percentile(0.5)},
                     {"p99", f.percentile(0.99)},
                     {"max", f.max()}};
    if (f.samples.empty()) j["p50"] = j["p99"] = j["max"] = nullptr;
    if (f.baseline_p50) j["baseline_p50"] = *f.baseline_p50;
    if (f.missed) j["missed"] = f.missed;
    if (!f.note.empty()) j["note"] = f.note;
    out.push_back(j);
  }
  return out;
}

/// Writes the figures as JSON to `path` (when not empty); returns false on an I/O error.
inline bool write_json(const std::vector<figure>& figures, const std::string& path) {
  if (path.empty()) return true;
  std::ofstream out(path);
  out << to_json(figures).dump(2) << "\n";
  return static_cast<bool>(out);
}

}  // namespace parti::bench
