#pragma once
// Time for the pure logic. Every rule that depends on time takes a clock (or a time point) from
// outside, so tests drive it with manual_clock, deterministically and without sleeping.
#include <time.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <system_error>

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

/// Now on CLOCK_BOOTTIME, as a parti::time_point (nanoseconds since boot). Unlike steady_clock
/// (CLOCK_MONOTONIC), it keeps counting while the host is suspended, so a node that wakes from a
/// pause sees that its heartbeat lease ran out meanwhile. Its epoch is not steady_clock's: lease
/// times must all come from it and never be mixed with steady_clock values, although the type is
/// the same.
inline time_point boot_now() {
  timespec ts{};
  // Fails only on kernels older than 2.6.39. No value would be safe to return instead (a fixed
  // one would stop time, and a lease whose clock stands still never lapses).
  if (::clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
    throw std::system_error(errno, std::generic_category(), "clock_gettime(CLOCK_BOOTTIME)");
  return time_point(std::chrono::duration_cast<time_point::duration>(
      std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

/// The clock of ownership leases: boot_now().
class boot_clock_source final : public clock {
 public:
  time_point now() const override { return boot_now(); }
};

/// Now on the clock of ownership leases: `lease_clock` when given (actor tests run leases in
/// virtual time), else the boot clock.
inline time_point lease_now(const clock* lease_clock) {
  return lease_clock ? lease_clock->now() : boot_now();
}

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

/// Wall-clock unix milliseconds, the time format of every KV record (docs/WIRE.md).
inline std::uint64_t unix_millis() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace parti
