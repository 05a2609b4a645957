#pragma once
// When a node is Degraded: the store has been unreachable for longer than a
// threshold, judged from connection events and from store operations that failed for lack of a
// connection. Short outages (a reconnect) do not flip the state; any sign of a working store
// (reconnected, an operation that succeeded) ends the outage.
#include <optional>

#include "parti/runtime/clock.hpp"

namespace parti {

struct degraded_options {
  duration threshold = std::chrono::seconds(5);
};

enum class degraded_change { entered, recovered };

class degraded_monitor {
 public:
  explicit degraded_monitor(degraded_options options) : options_(options) {}

  /// The connection dropped, or an operation failed because the store could not be reached.
  void unreachable(time_point now) {
    if (!outage_since_) outage_since_ = now;
  }

  /// The connection is back, or an operation succeeded.
  void reachable() { outage_since_.reset(); }

  /// Entered when the outage reached the threshold; recovered when it ended while degraded.
  /// Each change is reported once.
  std::optional<degraded_change> poll(time_point now) {
    if (!degraded_ && outage_since_ && now - *outage_since_ >= options_.threshold) {
      degraded_ = true;
      return degraded_change::entered;
    }
    if (degraded_ && !outage_since_) {
      degraded_ = false;
      return degraded_change::recovered;
    }
    return std::nullopt;
  }

  /// When poll() would enter Degraded if nothing changes; nullopt when no outage is running.
  std::optional<time_point> next_deadline() const {
    if (degraded_ || !outage_since_) return std::nullopt;
    return *outage_since_ + options_.threshold;
  }

  bool degraded() const { return degraded_; }
  bool in_outage() const { return outage_since_.has_value(); }

 private:
  degraded_options options_;
  std::optional<time_point> outage_since_;
  bool degraded_ = false;
};

}  // namespace parti
