#include "parti/runtime/watch_stall.hpp"

#include <algorithm>

namespace parti {

watch_stall_detector::watch_stall_detector(stall_options options, time_point now)
    : options_(options), last_delivery_(now), next_probe_(now + options.silence) {}

void watch_stall_detector::delivered(std::uint64_t revision, time_point now) {
  highest_ = std::max(highest_, revision);
  if (target_ && highest_ >= *target_) target_.reset();
  caught_up(now);
}

void watch_stall_detector::caught_up(time_point now) {
  last_delivery_ = now;
  if (!target_) next_probe_ = now + options_.silence;
}

bool watch_stall_detector::probe_due(time_point now) const {
  return options_.silence > duration::zero() && now >= next_probe_;
}

stall_verdict watch_stall_detector::probed(std::uint64_t latest, time_point now) {
  if (latest <= highest_) {
    target_.reset();
    next_probe_ = now + options_.silence;
    return stall_verdict::quiet;
  }
  if (!target_) {
    target_ = latest;
    suspect_since_ = now;
    next_probe_ = now + options_.confirm;
    return stall_verdict::suspect;
  }
  // Still short of the revision seen a probe ago (delivered() would have cleared it).
  if (now - suspect_since_ >= options_.confirm) return stall_verdict::stalled;
  next_probe_ = suspect_since_ + options_.confirm;
  return stall_verdict::suspect;
}

void watch_stall_detector::probe_failed(time_point now) {
  next_probe_ = now + (target_ ? options_.confirm : options_.silence);
}

}  // namespace parti
