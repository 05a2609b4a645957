#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "parti/actors/consumer/handler_pool.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

/// A latch the tasks wait on, so a test decides when they may finish.
struct gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  void wait() {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [this] { return open; });
  }
  void release() {
    {
      std::lock_guard<std::mutex> guard(mutex);
      open = true;
    }
    cv.notify_all();
  }
};

/// Waits up to `timeout` for `condition` (the pool's threads run on their own).
template <class F>
bool within(std::chrono::milliseconds timeout, F condition) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_CASE(runs_tasks_on_its_own_fixed_threads) {
  handler_pool pool(3);
  BOOST_TEST(pool.threads() == 3u);
  BOOST_TEST(!pool.on_pool_thread());
  std::mutex mutex;
  std::set<std::thread::id> seen;
  std::atomic<int> done{0};
  std::atomic<bool> on_pool{true};
  for (int i = 0; i < 50; ++i)
    pool.post([&] {
      if (!pool.on_pool_thread()) on_pool = false;
      {
        std::lock_guard<std::mutex> guard(mutex);
        seen.insert(std::this_thread::get_id());
      }
      ++done;
    });
  BOOST_TEST(within(5000ms, [&] { return done == 50; }));
  BOOST_TEST(on_pool.load());
  std::lock_guard<std::mutex> guard(mutex);
  BOOST_TEST(seen.size() <= 3u);
  BOOST_TEST(seen.count(std::this_thread::get_id()) == 0u);
}

BOOST_AUTO_TEST_CASE(a_single_thread_runs_tasks_in_the_order_posted) {
  handler_pool pool(1);
  std::vector<int> order;
  std::atomic<int> done{0};
  for (int i = 0; i < 100; ++i)
    pool.post([&, i] {
      order.push_back(i);  // one thread: no race
      ++done;
    });
  BOOST_REQUIRE(within(5000ms, [&] { return done == 100; }));
  for (int i = 0; i < 100; ++i) BOOST_TEST(order[static_cast<std::size_t>(i)] == i);
}

BOOST_AUTO_TEST_CASE(blocked_threads_leave_later_tasks_queued) {
  handler_pool pool(2);
  gate g;
  std::atomic<int> started{0};
  std::atomic<int> done{0};
  for (int i = 0; i < 5; ++i)
    pool.post([&] {
      ++started;
      g.wait();
      ++done;
    });
  BOOST_TEST(within(5000ms, [&] { return started == 2; }));
  BOOST_TEST(pool.queued() == 3u);
  g.release();
  BOOST_TEST(within(5000ms, [&] { return done == 5; }));
  BOOST_TEST(pool.queued() == 0u);
}

BOOST_AUTO_TEST_CASE(a_throwing_task_does_not_end_its_thread) {
  handler_pool pool(1);
  std::atomic<int> done{0};
  pool.post([] { throw std::runtime_error("boom"); });
  pool.post([&] { ++done; });
  BOOST_TEST(within(5000ms, [&] { return done == 1; }));
}

BOOST_AUTO_TEST_CASE(stopping_waits_for_running_tasks_and_drops_queued_ones) {
  gate g;
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  std::atomic<int> ran_late{0};
  std::thread releaser;
  {
    handler_pool pool(1);
    pool.post([&] {
      ++started;
      g.wait();
      ++finished;
    });
    pool.post([&] { ++ran_late; });
    BOOST_REQUIRE(within(5000ms, [&] { return started == 1; }));
    // Opens the gate a little later, while the destructor waits.
    releaser = std::thread([&] {
      std::this_thread::sleep_for(50ms);
      g.release();
    });
  }
  releaser.join();
  BOOST_TEST(finished == 1);  // the running task was waited for
  BOOST_TEST(ran_late == 0);  // the queued one was dropped
}

BOOST_AUTO_TEST_CASE(at_least_one_thread) {
  handler_pool pool(0);
  BOOST_TEST(pool.threads() == 1u);
}
