#pragma once
// An ordered executor for application callbacks: one std::thread of its own and a queue
// (runtime/callback_queue.hpp). Tasks run one at a time, in the order they were posted, never
// on an actor thread, so a slow callback delays later callbacks but never the actor that
// posted them. A task that throws is caught and reported to `on_failure` (on the executor
// thread); the executor goes on with the next one.
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "parti/runtime/clock.hpp"

namespace parti {

class callback_executor {
 public:
  /// Called on the executor thread with the what() of a task that threw.
  using failure_handler = std::function<void(const std::string& what)>;

  explicit callback_executor(failure_handler on_failure = {});
  /// stop() with a bound of a few seconds when still running.
  ~callback_executor();
  callback_executor(const callback_executor&) = delete;
  callback_executor& operator=(const callback_executor&) = delete;

  /// Queues `task`; false (not run) once stop() began.
  bool post(std::function<void()> task);

  /// Refuses new tasks, runs the queued ones and ends the thread. Waits up to `timeout` for
  /// that; true when done. False when a task is still running then (the thread is left to
  /// finish on its own) or when called from a task (the thread ends after that task returns).
  bool stop(duration timeout);

  /// The executor thread's id: callbacks compare it with std::this_thread::get_id().
  std::thread::id thread_id() const { return thread_id_; }
  bool on_executor_thread() const { return std::this_thread::get_id() == thread_id_; }

 private:
  struct shared;  // the queue and the end flag, also owned by the thread (it may outlive us)
  std::shared_ptr<shared> shared_;
  std::thread thread_;
  std::thread::id thread_id_;
};

}  // namespace parti
