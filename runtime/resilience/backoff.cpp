#include "parti/runtime/resilience/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

namespace parti {

status backoff_policy::validate() const {
  if (initial <= duration::zero()) return failure{"backoff.initial: must be greater than 0"};
  if (max < initial) return failure{"backoff.max: must be at least backoff.initial"};
  if (!(multiplier >= 1.0)) return failure{"backoff.multiplier: must be at least 1"};
  if (!(jitter >= 0.0 && jitter <= 1.0)) return failure{"backoff.jitter: must be within [0, 1]"};
  return done{};
}

random_source seeded_random(std::uint64_t seed) {
  auto state = std::make_shared<std::uint64_t>(seed);
  return [state] {
    std::uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);  // splitmix64
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
  };
}

backoff::backoff(backoff_policy policy, random_source random)
    : policy_(policy), random_(std::move(random)) {}

duration backoff::next() {
  // Grow in floating point and clamp before converting, so many attempts cannot overflow.
  const double initial = static_cast<double>(policy_.initial.count());
  const double cap = static_cast<double>(policy_.max.count());
  double base = initial * std::pow(policy_.multiplier, static_cast<double>(attempts_));
  base = std::min(base, cap);
  if (attempts_ < UINT32_MAX) ++attempts_;
  const double spread = (2.0 * random_() - 1.0) * policy_.jitter;  // in [-jitter, +jitter)
  const double jittered = std::clamp(base * (1.0 + spread), 0.0, cap);
  return duration(static_cast<duration::rep>(jittered));
}

}  // namespace parti
