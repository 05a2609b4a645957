#pragma once
// The queue of an ordered callback executor: application callbacks run one at a time, in the
// order they were queued, on one thread of the executor's own (api/callback_executor.hpp), never
// on a thread of the actor system. Pure: no CAF, no threads of its own.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace parti {

class callback_queue {
 public:
  using task = std::function<void()>;

  /// Appends `t`; false (and `t` is dropped) once the queue is closed.
  bool push(task t);

  /// The oldest task; waits while the queue is open and empty. Empty once the queue is closed
  /// and every task queued before the close has been taken: closing drains, it drops nothing.
  std::optional<task> pop();

  /// The oldest task if there is one now; never waits.
  std::optional<task> try_pop();

  /// Refuses further tasks and wakes a waiting pop(); what is queued is still handed out.
  void close();

  bool closed() const;
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<task> tasks_;
  bool closed_ = false;
};

/// Runs `t`, catching what it throws: empty when it returned, else the exception's what() (or
/// "unknown exception" for a throw of something that is no std::exception).
std::optional<std::string> run_catching(const callback_queue::task& t);

}  // namespace parti
