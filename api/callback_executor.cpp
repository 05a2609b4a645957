#include "parti/api/callback_executor.hpp"

#include <condition_variable>
#include <mutex>

#include "parti/runtime/callback_queue.hpp"
#include "parti/runtime/log.hpp"

namespace parti {

struct callback_executor::shared {
  callback_queue queue;
  failure_handler on_failure;
  std::mutex mutex;
  std::condition_variable ended_cv;
  bool ended = false;  // guarded by mutex: every queued task ran, the loop is over
};

callback_executor::callback_executor(failure_handler on_failure)
    : shared_(std::make_shared<shared>()) {
  shared_->on_failure = std::move(on_failure);
  auto s = shared_;
  thread_ = std::thread([s] {
    while (auto task = s->queue.pop()) {
      auto what = run_catching(*task);
      if (what && s->on_failure) {
        // The failure handler is application code too.
        if (auto again = run_catching([&] { s->on_failure(*what); }))
          log(log_level::error, "callback executor: the failure handler threw: ", *again);
      }
    }
    std::lock_guard<std::mutex> guard(s->mutex);
    s->ended = true;
    s->ended_cv.notify_all();
  });
  thread_id_ = thread_.get_id();
}

callback_executor::~callback_executor() {
  stop(std::chrono::seconds(5));
}

bool callback_executor::post(std::function<void()> task) {
  return shared_->queue.push(std::move(task));
}

bool callback_executor::stop(duration timeout) {
  shared_->queue.close();
  if (!thread_.joinable()) {
    std::lock_guard<std::mutex> guard(shared_->mutex);
    return shared_->ended;
  }
  if (on_executor_thread()) {
    thread_.detach();  // a task stops its own executor: the loop ends after it returns
    return false;
  }
  std::unique_lock<std::mutex> lock(shared_->mutex);
  if (!shared_->ended_cv.wait_for(lock, timeout, [this] { return shared_->ended; })) {
    lock.unlock();
    log(log_level::warning, "callback executor: a callback still runs after ",
        std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count(),
        " ms; its thread is left to finish on its own");
    thread_.detach();
    return false;
  }
  lock.unlock();
  thread_.join();
  return true;
}

}  // namespace parti
