// The embedding examples, run as built: embed-example (the application's own actor hears the
// node's messages) and embed-example-plain (a plain program, through the synchronous facade:
// its callbacks hear them). Each is told an assignment_update covering every partition (it is
// alone in its group), and stops cleanly. embed-example runs for a fixed time, with the default
// timings (about 2 s to the first assignment): 8 s leave room for a loaded machine.
#include <boost/test/unit_test.hpp>

#include <regex>

#include "parti/runtime/nats/local_server.hpp"
#include "tests/support/run_program.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

using test::contains;

void check_output(const test::program_result& r, const std::string& program = "embed-example") {
  BOOST_TEST(r.code == 0, r.output());
  BOOST_TEST(contains(r.out, "node_state_update worker-0: ClaimingID -> Election"), r.output());
  BOOST_TEST(contains(r.out, "leadership_update worker-0: leads with epoch"), r.output());
  // Alone in the group, the node is assigned all partitions, in one cold-start round.
  BOOST_TEST(std::regex_search(r.out, std::regex("assignment_update worker-0 e[0-9]+ v[0-9]+ "
                                                 "\\(cold_start\\): owns 3 \\[p-0 p-1 p-2\\]")),
             r.output());
  BOOST_TEST(contains(r.out, program + ": stopped"), r.output());
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_example_prints_its_assignment_on_an_embedded_server) {
  check_output(test::run_program(
      {test::app_binary("embed-example"), "--partitions=3", "--run-for=8s"}, 60s));
}

BOOST_AUTO_TEST_CASE(the_example_prints_its_assignment_on_a_given_server) {
  local_nats_server server;
  check_output(test::run_program({test::app_binary("embed-example"), "--nats-url=" + server.url(),
                                  "--partitions=3", "--run-for=8s"},
                                 60s));
}

BOOST_AUTO_TEST_CASE(the_plain_example_prints_its_assignment_on_an_embedded_server) {
  check_output(
      test::run_program({test::app_binary("embed-example-plain"), "--partitions=3", "--run-for=2s"},
                        60s),
      "embed-example-plain");
}

BOOST_AUTO_TEST_CASE(the_plain_example_prints_its_assignment_on_a_given_server) {
  local_nats_server server;
  auto r = test::run_program({test::app_binary("embed-example-plain"), "--nats-url=" + server.url(),
                              "--partitions=3", "--run-for=2s"},
                             60s);
  check_output(r, "embed-example-plain");
  // start() returned with the assignment applied: the program says so before it runs.
  BOOST_TEST(contains(r.out, "started as worker-0 on " + server.url() + ", owns 3 [p-0 p-1 p-2]"),
             r.output());
}

BOOST_AUTO_TEST_CASE(the_plain_example_fails_clearly_without_a_server) {
  auto r = test::run_program({test::app_binary("embed-example-plain"),
                              "--nats-url=nats://127.0.0.1:1", "--start-timeout=1s"},
                             60s);
  BOOST_TEST(r.code == 1, r.output());
  BOOST_TEST(contains(r.err, "no worker id held"), r.output());
  BOOST_TEST(contains(r.err, "not reachable"), r.output());
}
