// The embedding example, run as built: its own actor hears the node's messages, among them an
// assignment_update covering every partition (it is alone in its group), and it stops cleanly.
#include <boost/test/unit_test.hpp>

#include <regex>

#include "runtime/nats/local_server.hpp"
#include "tests/support/run_program.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void check_output(const test::program_result& r) {
  BOOST_TEST(r.code == 0, r.output());
  BOOST_TEST(contains(r.out, "node_state_update worker-0: ClaimingID -> Election"), r.output());
  BOOST_TEST(contains(r.out, "leadership_update worker-0: leads with epoch"), r.output());
  // Alone in the group, the node is assigned all partitions, in one cold-start round.
  BOOST_TEST(std::regex_search(r.out, std::regex("assignment_update worker-0 e[0-9]+ v[0-9]+ "
                                                 "\\(cold_start\\): owns 3 \\[p-0 p-1 p-2\\]")),
             r.output());
  BOOST_TEST(contains(r.out, "embed-example: stopped"), r.output());
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_example_prints_its_assignment_on_an_embedded_server) {
  check_output(test::run_program(
      {test::app_binary("embed-example"), "--partitions=3", "--run-for=4s"}, 60s));
}

BOOST_AUTO_TEST_CASE(the_example_prints_its_assignment_on_a_given_server) {
  local_nats_server server;
  check_output(test::run_program({test::app_binary("embed-example"), "--nats-url=" + server.url(),
                                  "--partitions=3", "--run-for=4s"},
                                 60s));
}
