#pragma once
// The least movement any assignment balanced to +-1 must make: what the sticky strategy achieves
// exactly (docs/STRATEGIES.md), and what tests and benchmarks measure other moves against.
#include <cstddef>
#include <vector>

namespace parti {

/// With `held[i]` the partitions target worker i already holds (partitions that still exist),
/// the most of them that any +-1-balanced assignment of `partition_count` partitions over
/// `held.size()` workers keeps in place: each keeps up to q = P / N, and the P mod N larger
/// shares go to workers holding more than q. Moves needed: the held total (or P) minus this.
std::size_t most_kept_when_balanced(const std::vector<std::size_t>& held,
                                    std::size_t partition_count);

}  // namespace parti
