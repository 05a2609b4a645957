#include "parti/runtime/callback_queue.hpp"

#include <exception>
#include <utility>

namespace parti {

bool callback_queue::push(task t) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (closed_) return false;
    tasks_.push_back(std::move(t));
  }
  ready_.notify_one();
  return true;
}

std::optional<callback_queue::task> callback_queue::pop() {
  std::unique_lock<std::mutex> lock(mutex_);
  ready_.wait(lock, [this] { return closed_ || !tasks_.empty(); });
  if (tasks_.empty()) return std::nullopt;
  task t = std::move(tasks_.front());
  tasks_.pop_front();
  return t;
}

std::optional<callback_queue::task> callback_queue::try_pop() {
  std::lock_guard<std::mutex> guard(mutex_);
  if (tasks_.empty()) return std::nullopt;
  task t = std::move(tasks_.front());
  tasks_.pop_front();
  return t;
}

void callback_queue::close() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    closed_ = true;
  }
  ready_.notify_all();
}

bool callback_queue::closed() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return closed_;
}

std::size_t callback_queue::size() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return tasks_.size();
}

std::optional<std::string> run_catching(const callback_queue::task& t) {
  try {
    t();
    return std::nullopt;
  } catch (const std::exception& e) {
    return std::string(e.what());
  } catch (...) {
    return std::string("unknown exception");
  }
}

}  // namespace parti
