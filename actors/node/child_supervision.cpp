#include "parti/actors/node/child_supervision.hpp"

#include <utility>

namespace parti {

child_supervision::child_supervision(supervision_options options, random_source random)
    : options_(std::move(options)), restart_backoff_(options_.restart_backoff, std::move(random)) {}

std::optional<duration> child_supervision::failed(time_point now) {
  failures_.push_back(now);
  while (!failures_.empty() && now - failures_.front() > options_.failure_window)
    failures_.pop_front();
  if (static_cast<int>(failures_.size()) > options_.max_failures) return std::nullopt;
  return restart_backoff_.next();
}

}  // namespace parti
