#pragma once
// The restart budget of the node's children. Pure: no CAF, no NATS; time is passed in.
//
// A child that fails is restarted after an exponential backoff with jitter (so that a fleet
// that failed together does not restart together). More failures than `max_failures` within
// `failure_window` mean restarting does not help: the node gives up and reports Failed rather
// than hang in a restart loop. The backoff is shared by all children and never resets: a node
// whose children keep failing slows down, whichever child it is.
#include <deque>
#include <optional>

#include "parti/runtime/clock.hpp"
#include "parti/runtime/resilience/backoff.hpp"

namespace parti {

struct supervision_options {
  /// More failures than this within `failure_window` -> give up.
  int max_failures = 5;
  duration failure_window = std::chrono::seconds(60);
  backoff_policy restart_backoff{std::chrono::milliseconds(100), std::chrono::seconds(10), 2.0,
                                 0.2};
};

class child_supervision {
 public:
  child_supervision(supervision_options options, random_source random);

  /// A child failed at `now`: the delay before it is restarted, or nullopt when the failures
  /// within the window exceed the budget.
  std::optional<duration> failed(time_point now);

 private:
  supervision_options options_;
  backoff restart_backoff_;
  std::deque<time_point> failures_;  // within the window, oldest first
};

}  // namespace parti
