#include "parti/actors/calculator/partition_refresh.hpp"

#include <algorithm>

namespace parti {

std::optional<std::vector<partition>> refresh_baseline(
    const std::optional<std::vector<partition>>& last, const assignment& previous) {
  if (last) return last;
  if (previous.empty()) return std::nullopt;
  std::vector<partition> out;
  for (const auto& [worker, partitions] : previous)
    out.insert(out.end(), partitions.begin(), partitions.end());
  return out;
}

bool partitions_changed(std::optional<std::vector<partition>> baseline,
                        std::vector<partition> loaded) {
  if (!baseline) return false;
  if (baseline->size() != loaded.size()) return true;
  std::sort(baseline->begin(), baseline->end());
  std::sort(loaded.begin(), loaded.end());
  return *baseline != loaded;
}

}  // namespace parti
