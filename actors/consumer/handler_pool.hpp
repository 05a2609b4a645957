#pragma once
// A fixed pool of threads for the application's message callbacks (consumer_actor.hpp's callback
// form): callbacks block as long as they like without holding an actor scheduler thread, and
// the thread count does not grow with the partitions. Tasks run in the order they were posted
// (FIFO); per-partition order comes from the partition's reader, which has one message in flight
// by default. Pure C++: no CAF.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace parti {

class handler_pool {
 public:
  using task = std::function<void()>;

  /// Starts `threads` threads (at least 1).
  explicit handler_pool(int threads);
  /// Stops: tasks not started yet are dropped, running ones are waited for (a callback that
  /// never returns holds the destructor up). Must not run on one of the pool's threads.
  ~handler_pool();
  handler_pool(const handler_pool&) = delete;
  handler_pool& operator=(const handler_pool&) = delete;

  /// Queues `t`; ignored once the pool is stopping. A task must not throw (one that does is
  /// caught and dropped: the thread survives).
  void post(task t);

  std::size_t threads() const { return threads_.size(); }
  /// Tasks waiting for a thread.
  std::size_t queued() const;
  /// True on one of this pool's threads.
  bool on_pool_thread() const;

 private:
  void run();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<task> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace parti
