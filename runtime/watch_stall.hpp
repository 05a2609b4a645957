#pragma once
// Tells a silent bucket from a stalled watch. A KV watch can stop delivering without failing:
// with nats-server 2.9 and nats.c 3.4, a watch whose consumer lived on a cluster member that was
// killed returns only timeouts for 20-30 s (tests/integration/cluster.cpp measures it). Silence
// alone proves nothing (a bucket may not change for hours), so after `silence` without a
// delivery the watch asks the store for the newest revision matching its filter:
//   - not newer than what was delivered: the bucket is merely quiet; ask again after `silence`;
//   - newer: suspect. If the watch still has not delivered it `confirm` later, it is stalled
//     (a working watch delivers in milliseconds) and is replaced by a new one.
// A probe that fails (the stream has no leader) decides nothing; it is repeated after `confirm`.
// Pure: the watch thread feeds it and passes the time in.
#include <cstdint>
#include <optional>

#include "parti/runtime/clock.hpp"

namespace parti {

struct stall_options {
  duration silence = std::chrono::seconds(2);  // zero: never probe
  duration confirm = std::chrono::seconds(1);
};

enum class stall_verdict {
  quiet,    // the watch has everything the store has
  suspect,  // the store has newer entries; ask again after `confirm`
  stalled,  // it still has not delivered them: replace the watch
};

class watch_stall_detector {
 public:
  /// `now`: when the watch started (a new watch has its replay to deliver first).
  watch_stall_detector(stall_options options, time_point now);

  /// The watch delivered an entry (a put, delete or purge) with this revision.
  void delivered(std::uint64_t revision, time_point now);
  /// The watch delivered the end-of-replay marker: it is alive.
  void caught_up(time_point now);

  /// True when the store should be asked for its newest revision now.
  bool probe_due(time_point now) const;
  /// The store's newest revision matching the watch, asked at `now`.
  stall_verdict probed(std::uint64_t latest, time_point now);
  /// The store could not answer.
  void probe_failed(time_point now);

  std::uint64_t delivered_up_to() const { return highest_; }
  /// The store revision the watch is suspected of missing.
  std::optional<std::uint64_t> missing() const { return target_; }
  /// Since when nothing was delivered.
  time_point last_delivery() const { return last_delivery_; }

 private:
  stall_options options_;
  std::uint64_t highest_ = 0;
  time_point last_delivery_;
  time_point next_probe_;
  std::optional<std::uint64_t> target_;  // set while suspect
  time_point suspect_since_{};
};

}  // namespace parti
