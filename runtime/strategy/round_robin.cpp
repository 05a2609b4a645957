// Round robin (registry name "round-robin"): partitions sorted by keys are dealt in turn to the
// workers sorted by id; the previous assignment is ignored. Counts are within +-1.
#include <algorithm>
#include <numeric>

#include "parti/runtime/strategy/detail.hpp"
#include "parti/runtime/strategy/strategy.hpp"

namespace parti {

result<assignment> round_robin_strategy::assign(const assignment& /*previous*/,
                                                const std::vector<std::string>& workers,
                                                const std::vector<partition>& partitions,
                                                const strategy_options& options) const {
  if (auto ok = validate(options); !ok) return failure{ok.error()};
  auto prep = strategy_detail::prepare(workers, partitions, nullptr);
  if (!prep) return failure{prep.error()};
  const auto& in = *prep;
  std::vector<std::uint32_t> by_keys(in.parts.size());
  std::iota(by_keys.begin(), by_keys.end(), 0U);
  std::sort(by_keys.begin(), by_keys.end(), [&](std::uint32_t a, std::uint32_t b) {
    return in.parts[a]->keys < in.parts[b]->keys;
  });
  std::vector<std::int32_t> owner(in.parts.size());
  for (std::size_t k = 0; k < by_keys.size(); ++k)
    owner[by_keys[k]] = static_cast<std::int32_t>(k % in.workers.size());
  return strategy_detail::build(in, owner);
}

}  // namespace parti
