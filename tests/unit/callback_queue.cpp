// The ordered executor's queue: first in, first out; a close refuses new tasks but hands out
// every task queued before it; a waiting pop wakes on a push and on a close; a throwing task is
// caught and named.
#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <thread>
#include <vector>

#include "parti/runtime/callback_queue.hpp"

using namespace parti;

BOOST_AUTO_TEST_CASE(tasks_come_out_in_the_order_they_were_pushed) {
  callback_queue q;
  std::vector<int> ran;
  for (int i = 0; i < 5; ++i) BOOST_TEST(q.push([&ran, i] { ran.push_back(i); }));
  BOOST_TEST(q.size() == 5u);
  while (auto t = q.try_pop()) (*t)();
  BOOST_TEST(ran == (std::vector<int>{0, 1, 2, 3, 4}), boost::test_tools::per_element());
  BOOST_TEST(q.size() == 0u);
  BOOST_TEST(!q.try_pop().has_value());
}

BOOST_AUTO_TEST_CASE(a_close_refuses_new_tasks_and_still_hands_out_the_queued_ones) {
  callback_queue q;
  std::vector<int> ran;
  q.push([&] { ran.push_back(1); });
  q.push([&] { ran.push_back(2); });
  q.close();
  BOOST_TEST(q.closed());
  BOOST_TEST(!q.push([&] { ran.push_back(3); }));
  while (auto t = q.pop()) (*t)();  // a closed queue's pop never waits: it ends the loop
  BOOST_TEST(ran == (std::vector<int>{1, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_waiting_pop_wakes_on_a_push_and_on_a_close) {
  callback_queue q;
  std::vector<int> ran;
  std::thread consumer([&] {
    while (auto t = q.pop()) (*t)();
  });
  q.push([&] { ran.push_back(7); });
  q.close();
  consumer.join();  // returns only because the close woke the waiting pop
  BOOST_TEST(ran == (std::vector<int>{7}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_throwing_task_is_caught_and_named) {
  BOOST_TEST(!run_catching([] {}).has_value());
  auto std_error = run_catching([] { throw std::runtime_error("disk full"); });
  BOOST_REQUIRE(std_error.has_value());
  BOOST_TEST(*std_error == "disk full");
  auto other = run_catching([] { throw 42; });
  BOOST_REQUIRE(other.has_value());
  BOOST_TEST(*other == "unknown exception");
}
