#include "parti/runtime/strategy/movement.hpp"

#include <algorithm>

namespace parti {

std::size_t most_kept_when_balanced(const std::vector<std::size_t>& held,
                                    std::size_t partition_count) {
  if (held.empty()) return 0;
  const std::size_t q = partition_count / held.size();
  const std::size_t r = partition_count % held.size();
  std::size_t kept = 0;
  std::size_t over = 0;
  for (auto k : held) {
    kept += std::min(k, q);
    if (k > q) ++over;
  }
  return kept + std::min(r, over);
}

}  // namespace parti
