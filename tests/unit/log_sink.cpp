// The process-wide log sink: lines go to it instead of stderr, with their level, and an empty
// sink restores stderr.
#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>
#include <vector>

#include "parti/runtime/log.hpp"

using namespace parti;

namespace {

/// Restores stderr when a test case ends, also on a failed requirement.
struct sink_reset {
  ~sink_reset() { set_log_sink(nullptr); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(lines_go_to_the_sink_with_their_level_and_without_a_stamp) {
  sink_reset reset;
  std::vector<std::pair<log_level, std::string>> lines;
  set_log_sink([&](log_level level, const std::string& line) { lines.emplace_back(level, line); });
  log(log_level::warning, "worker-", 3, " lost its id");
  write_log(log_level::error, "plain line");
  BOOST_REQUIRE_EQUAL(lines.size(), 2u);
  BOOST_TEST((lines[0].first == log_level::warning));
  BOOST_TEST(lines[0].second == "worker-3 lost its id");
  BOOST_TEST((lines[1].first == log_level::error));
  BOOST_TEST(lines[1].second == "plain line");
}

BOOST_AUTO_TEST_CASE(the_level_filter_still_applies_before_the_sink) {
  sink_reset reset;
  set_log_level("warning");
  std::vector<std::string> lines;
  set_log_sink([&](log_level, const std::string& line) { lines.push_back(line); });
  log(log_level::info, "not shown");
  log(log_level::error, "shown");
  set_log_level("info");
  BOOST_REQUIRE_EQUAL(lines.size(), 1u);
  BOOST_TEST(lines[0] == "shown");
}

BOOST_AUTO_TEST_CASE(an_empty_sink_restores_stderr_and_the_old_sink_is_not_called_again) {
  sink_reset reset;
  int calls = 0;
  set_log_sink([&](log_level, const std::string&) { ++calls; });
  log(log_level::error, "to the sink");
  set_log_sink(nullptr);
  log(log_level::error, "log_sink test: this line goes to stderr on purpose");
  BOOST_TEST(calls == 1);
}
