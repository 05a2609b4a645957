#pragma once
// Exponential backoff with jitter: how long to wait before the n-th retry or restart.
//
// delay(n) = min(max, initial * multiplier^n), then spread by +-jitter (a fraction of the delay)
// using the injected random source, so a fleet that failed together does not retry together.
#include <chrono>
#include <cstdint>
#include <functional>

#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"

namespace parti {

struct backoff_policy {
  duration initial = std::chrono::milliseconds(100);
  duration max = std::chrono::seconds(30);
  double multiplier = 2.0;
  double jitter = 0.2;  // fraction of the delay, in [0, 1]

  /// Checks the policy; the failure names the field and the rule.
  status validate() const;
};

/// A source of uniform numbers in [0, 1). Tests pass a fixed sequence.
using random_source = std::function<double()>;

/// A deterministic random source seeded once (splitmix64), for production and reproducible tests.
random_source seeded_random(std::uint64_t seed);

class backoff {
 public:
  backoff(backoff_policy policy, random_source random);

  /// The delay before the next attempt; each call counts one attempt.
  duration next();

  /// After a success: the next delay starts again from `initial`.
  void reset() { attempts_ = 0; }

  std::uint32_t attempts() const { return attempts_; }
  const backoff_policy& policy() const { return policy_; }

 private:
  backoff_policy policy_;
  random_source random_;
  std::uint32_t attempts_ = 0;
};

}  // namespace parti
