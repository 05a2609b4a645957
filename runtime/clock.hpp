#pragma once
// Time for the pure logic. Every rule that depends on time takes a clock (or a time point) from
// outside, so tests drive it with manual_clock, deterministically and without sleeping.
#include <chrono>
#include <cstdint>

namespace parti {

using duration = std::chrono::nanoseconds;
using time_point = std::chrono::steady_clock::time_point;

class clock {
 public:
  virtual ~clock() = default;
  virtual time_point now() const = 0;
};

/// The real monotonic clock.
class steady_clock_source final : public clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
};

/// A clock that moves only when told to: for unit tests.
class manual_clock final : public clock {
 public:
  explicit manual_clock(time_point start = time_point{} + std::chrono::hours(1)) : now_(start) {}
  time_point now() const override { return now_; }
  void advance(duration d) { now_ += d; }
  void set(time_point t) { now_ = t; }

 private:
  time_point now_;
};

/// Wall-clock unix milliseconds, the time format of every KV record (DESIGN.md §2).
inline std::uint64_t unix_millis() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace parti
