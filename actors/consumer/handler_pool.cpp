#include "parti/actors/consumer/handler_pool.hpp"

#include <algorithm>
#include <utility>

namespace parti {

handler_pool::handler_pool(int threads) {
  const int n = std::max(threads, 1);
  threads_.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { run(); });
}

handler_pool::~handler_pool() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void handler_pool::post(task t) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (stopping_) return;
    queue_.push_back(std::move(t));
  }
  wake_.notify_one();
}

std::size_t handler_pool::queued() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return queue_.size();
}

bool handler_pool::on_pool_thread() const {
  const auto me = std::this_thread::get_id();
  return std::any_of(threads_.begin(), threads_.end(),
                     [me](const std::thread& t) { return t.get_id() == me; });
}

void handler_pool::run() {
  for (;;) {
    task next;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      next();
    } catch (...) {
      // A task is the pool's user's code: it must not end the thread (nor the process).
    }
  }
}

}  // namespace parti
