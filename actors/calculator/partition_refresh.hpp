#pragma once
// The calculator's rule for a periodic re-read of the partition source: only a
// source that changed is worth a rebalance round. Pure logic: no CAF, no NATS.
#include <optional>
#include <vector>

#include "parti/messages/records.hpp"
#include "parti/runtime/strategy/strategy.hpp"

namespace parti {

/// What a periodic re-read is compared with: the last load (`last`), or before any load the
/// partitions of `previous`, the assignment read back from KV (what the previous leader loaded).
/// Nothing when neither exists: the first round, whatever its reason, loads the source anyway.
std::optional<std::vector<partition>> refresh_baseline(
    const std::optional<std::vector<partition>>& last, const assignment& previous);

/// Whether `loaded` differs from `baseline` as a collection of partitions (keys and weight),
/// whatever the order either lists them in. Without a baseline there is nothing to differ from.
bool partitions_changed(std::optional<std::vector<partition>> baseline,
                        std::vector<partition> loaded);

}  // namespace parti
