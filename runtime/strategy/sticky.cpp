// Sticky balanced (registry name "sticky", the default). See docs/STRATEGIES.md.
//
// With P partitions and N workers, q = P / N and r = P % N: exactly r workers get a quota of
// q + 1 and the others q, so counts are within +-1 (max = ceil(P/N), min = floor(P/N)).
//  1. Candidates: the partitions each present worker owned before (and that still exist).
//  2. Quotas: the r quotas of q + 1 go first to workers with more than q candidates, then to
//     the others, each group in worker-id order. This keeps the largest possible number of
//     partitions in place, so the movement is the optimum for the +-1 constraint.
//  3. Keep: a worker keeps all its candidates when they fit its quota, otherwise the quota's
//     worth with the highest rendezvous score for it (ties: canonical partition order).
//  4. Place the rest, in canonical order (partition_hash, keys), each on the worker with the
//     highest rendezvous score among those below quota (ties: smaller worker id).
#include <algorithm>
#include <numeric>

#include "parti/runtime/strategy/detail.hpp"
#include "parti/runtime/strategy/hashing.hpp"
#include "parti/runtime/strategy/strategy.hpp"

namespace parti {

using strategy_detail::prepared;

result<assignment> sticky_strategy::assign(const assignment& previous,
                                           const std::vector<std::string>& workers,
                                           const std::vector<partition>& partitions,
                                           const strategy_options& options) const {
  if (auto ok = validate(options); !ok) return failure{ok.error()};
  auto prep = strategy_detail::prepare(workers, partitions, &previous);
  if (!prep) return failure{prep.error()};
  const prepared& in = *prep;
  const std::size_t n = in.workers.size();
  const std::size_t p = in.parts.size();
  const std::size_t q = p / n;
  const std::size_t r = p % n;

  // 1. Candidates grouped by previous owner (counting sort; canonical order within a group).
  std::vector<std::size_t> count(n + 1, 0);
  for (auto w : in.prev_owner)
    if (w >= 0) ++count[static_cast<std::size_t>(w) + 1];
  std::vector<std::size_t> start(n + 1, 0);
  std::partial_sum(count.begin(), count.end(), start.begin());
  std::vector<std::uint32_t> candidates(start[n]);
  {
    std::vector<std::size_t> fill(start.begin(), start.end() - 1);
    for (std::size_t j = 0; j < p; ++j)
      if (in.prev_owner[j] >= 0)
        candidates[fill[static_cast<std::size_t>(in.prev_owner[j])]++] =
            static_cast<std::uint32_t>(j);
  }
  auto candidate_count = [&](std::size_t w) { return start[w + 1] - start[w]; };

  // 2. Quotas.
  std::vector<std::size_t> quota(n, q);
  {
    std::size_t extra = r;
    for (std::size_t w = 0; w < n && extra > 0; ++w)
      if (candidate_count(w) > q) {
        ++quota[w];
        --extra;
      }
    for (std::size_t w = 0; w < n && extra > 0; ++w)
      if (quota[w] == q) {
        ++quota[w];
        --extra;
      }
  }

  // 3. Keep.
  std::vector<std::int32_t> owner(p, -1);
  std::vector<std::size_t> remaining(n);
  for (std::size_t w = 0; w < n; ++w) {
    auto first = candidates.begin() + static_cast<std::ptrdiff_t>(start[w]);
    auto last = candidates.begin() + static_cast<std::ptrdiff_t>(start[w + 1]);
    std::size_t keep = candidate_count(w);
    if (keep > quota[w]) {
      keep = quota[w];
      const std::uint64_t wh = in.worker_hash[w];
      std::nth_element(first, first + static_cast<std::ptrdiff_t>(keep), last,
                       [&](std::uint32_t a, std::uint32_t b) {
                         const auto sa = strategy_hash::rendezvous_score(in.part_hash[a], wh);
                         const auto sb = strategy_hash::rendezvous_score(in.part_hash[b], wh);
                         return sa != sb ? sa > sb : a < b;
                       });
    }
    for (auto it = first; it != first + static_cast<std::ptrdiff_t>(keep); ++it)
      owner[*it] = static_cast<std::int32_t>(w);
    remaining[w] = quota[w] - keep;
  }

  // 4. Place by rendezvous among the workers below quota (kept in worker-id order).
  std::vector<std::uint64_t> open_hash;
  std::vector<std::uint32_t> open_worker;
  open_hash.reserve(n);
  open_worker.reserve(n);
  for (std::size_t w = 0; w < n; ++w)
    if (remaining[w] > 0) {
      open_hash.push_back(in.worker_hash[w]);
      open_worker.push_back(static_cast<std::uint32_t>(w));
    }
  for (std::size_t j = 0; j < p; ++j) {
    if (owner[j] >= 0) continue;
    // Total quota is P, so some worker is below quota while a partition is unplaced.
    const std::size_t b =
        strategy_detail::best_score_index(in.part_hash[j], open_hash.data(), open_hash.size());
    const std::uint32_t w = open_worker[b];
    owner[j] = static_cast<std::int32_t>(w);
    if (--remaining[w] == 0) {
      open_hash.erase(open_hash.begin() + static_cast<std::ptrdiff_t>(b));
      open_worker.erase(open_worker.begin() + static_cast<std::ptrdiff_t>(b));
    }
  }
  return strategy_detail::build(in, owner);
}

}  // namespace parti
