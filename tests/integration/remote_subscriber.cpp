// A separate CAF application receives a parti-node's messages through CAF's middleman: the node
// runs with --publish-port, parti-subscriber (another process) subscribes and prints them.
#include <boost/test/unit_test.hpp>

#include "parti/runtime/nats/local_server.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/run_program.hpp"

using namespace parti;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(a_second_process_receives_assignment_and_state_messages) {
  auto port = std::to_string(free_loopback_port());
  test::child_program node({test::app_binary("parti-node"), "--nats-url=embedded", "--partitions=6",
                            "--cold-start-window=2s", "--planned-scale-window=1s", "--cooldown=1s",
                            "--publish-port=" + port, "--run-for=30s"});
  BOOST_REQUIRE_MESSAGE(
      test::eventually([&] { return node.err().find("published on") != std::string::npos; }, 20s),
      node.err());
  // Subscribed before or after the cold-start window ends, it sees the assignment: as it
  // arrives, or as the snapshot a new subscriber gets.
  test::child_program subscriber(
      {test::app_binary("parti-subscriber"), "--port=" + port, "--run-for=25s"});
  BOOST_TEST(test::eventually(
                 [&] {
                   return subscriber.out().find("assignment worker-0 e1 v1") != std::string::npos &&
                          subscriber.out().find("owns 6") != std::string::npos;
                 },
                 20s),
             subscriber.out() + subscriber.err());
  BOOST_TEST(subscriber.out().find("leadership worker-0 leader=worker-0") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unreachable_node_is_a_clear_error) {
  auto port = std::to_string(free_loopback_port());
  auto r = test::run_program({test::app_binary("parti-subscriber"), "--port=" + port}, 20s);
  BOOST_TEST(r.code == 1, r.output());
  BOOST_TEST(r.err.find("cannot reach 127.0.0.1:" + port) != std::string::npos, r.output());
}
