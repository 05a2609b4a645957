// The stderr log line in each format (text, logfmt, json) from a fixed time point: the UTC
// ISO-8601 timestamp with milliseconds, the escaping of quoted messages, and the journald
// priority prefix with the check that JOURNAL_STREAM names stderr.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

#include "parti/runtime/log.hpp"

using namespace parti;
using namespace std::chrono;

namespace {

/// 2026-11-30T05:12:09.572Z, plus a few microseconds that the stamp rounds down.
system_clock::time_point fixed_time() {
  return system_clock::time_point{seconds{1'796'015'529} + milliseconds{572} + microseconds{999}};
}

std::string json_line(std::string_view message) {
  return format_log_line(log_format::json, log_level::info, message, fixed_time());
}

std::string logfmt_line(std::string_view message) {
  return format_log_line(log_format::logfmt, log_level::info, message, fixed_time());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(log_format_tests)

BOOST_AUTO_TEST_CASE(the_timestamp_is_utc_iso8601_with_milliseconds) {
  BOOST_TEST(iso8601_utc(fixed_time()) == "2026-11-30T05:12:09.572Z");
  BOOST_TEST(iso8601_utc(system_clock::time_point{}) == "1970-01-01T00:00:00.000Z");
  // Before the epoch the milliseconds still count forward from the second below.
  BOOST_TEST(iso8601_utc(system_clock::time_point{} - milliseconds{1}) ==
             "1969-12-31T23:59:59.999Z");
}

BOOST_AUTO_TEST_CASE(text_keeps_the_layout_with_the_iso_timestamp) {
  BOOST_TEST(
      format_log_line(log_format::text, log_level::info, "parti-node: started", fixed_time()) ==
      "2026-11-30T05:12:09.572Z INFO  parti-node: started\n");
  BOOST_TEST(format_log_line(log_format::text, log_level::warning, "w", fixed_time()) ==
             "2026-11-30T05:12:09.572Z WARN  w\n");
  BOOST_TEST(format_log_line(log_format::text, log_level::error, "e", fixed_time()) ==
             "2026-11-30T05:12:09.572Z ERROR e\n");
  BOOST_TEST(format_log_line(log_format::text, log_level::debug, "d", fixed_time()) ==
             "2026-11-30T05:12:09.572Z DEBUG d\n");
}

BOOST_AUTO_TEST_CASE(logfmt_has_ts_level_and_a_quoted_msg) {
  BOOST_TEST(logfmt_line("group parti, 1 node(s)") ==
             "ts=2026-11-30T05:12:09.572Z level=info msg=\"group parti, 1 node(s)\"\n");
  BOOST_TEST(format_log_line(log_format::logfmt, log_level::warning, "x", fixed_time()) ==
             "ts=2026-11-30T05:12:09.572Z level=warning msg=\"x\"\n");
  BOOST_TEST(format_log_line(log_format::logfmt, log_level::error, "", fixed_time()) ==
             "ts=2026-11-30T05:12:09.572Z level=error msg=\"\"\n");
}

BOOST_AUTO_TEST_CASE(json_is_one_object_a_line) {
  BOOST_TEST(json_line("group parti") ==
             "{\"ts\":\"2026-11-30T05:12:09.572Z\",\"level\":\"info\",\"msg\":\"group parti\"}\n");
  BOOST_TEST(format_log_line(log_format::json, log_level::debug, "d", fixed_time()) ==
             "{\"ts\":\"2026-11-30T05:12:09.572Z\",\"level\":\"debug\",\"msg\":\"d\"}\n");
}

BOOST_AUTO_TEST_CASE(quotes_backslashes_and_control_characters_are_escaped) {
  const std::string message = std::string("a \"b\" c:\\d\nnext\r\tend") + '\x01' + '\x1f' + '\x7f' +
                              std::string(1, '\0') + "!";
  const std::string escaped = R"(a \"b\" c:\\d\nnext\r\tend\u0001\u001f\u007f\u0000!)";
  BOOST_TEST(json_line(message) ==
             "{\"ts\":\"2026-11-30T05:12:09.572Z\",\"level\":\"info\",\"msg\":\"" + escaped +
                 "\"}\n");
  BOOST_TEST(logfmt_line(message) ==
             "ts=2026-11-30T05:12:09.572Z level=info msg=\"" + escaped + "\"\n");
  // One line, whatever the message holds.
  BOOST_TEST(json_line(message).find('\n') == json_line(message).size() - 1);
}

BOOST_AUTO_TEST_CASE(utf8_passes_through_and_bytes_that_are_not_utf8_become_replacement_chars) {
  const std::string text = "Zürich \xE2\x82\xAC \xF0\x9F\x98\x80";  // ü, €, an emoji
  BOOST_TEST(json_line(text).find("\"msg\":\"" + text + "\"") != std::string::npos);
  const std::string fffd = "\xEF\xBF\xBD";
  // A stray continuation byte, a cut-short sequence, an overlong '/', a surrogate.
  BOOST_TEST(logfmt_line("a\x80z").find("msg=\"a" + fffd + "z\"") != std::string::npos);
  BOOST_TEST(logfmt_line("a\xE2\x82").find("msg=\"a" + fffd + fffd + "\"") != std::string::npos);
  BOOST_TEST(logfmt_line("\xC0\xAF").find("msg=\"" + fffd + fffd + "\"") != std::string::npos);
  BOOST_TEST(logfmt_line("\xED\xA0\x80").find("msg=\"" + fffd + fffd + fffd + "\"") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(log_formats_are_named_as_the_option_takes_them) {
  BOOST_TEST((parse_log_format("text") == log_format::text));
  BOOST_TEST((parse_log_format("logfmt") == log_format::logfmt));
  BOOST_TEST((parse_log_format("json") == log_format::json));
  BOOST_TEST(!parse_log_format("JSON").has_value());
  BOOST_TEST(!parse_log_format("").has_value());
}

BOOST_AUTO_TEST_CASE(journald_gets_the_syslog_priority_of_each_level) {
  BOOST_TEST(journal_priority_prefix(log_level::error) == "<3>");
  BOOST_TEST(journal_priority_prefix(log_level::warning) == "<4>");
  BOOST_TEST(journal_priority_prefix(log_level::info) == "<6>");
  BOOST_TEST(journal_priority_prefix(log_level::debug) == "<7>");
}

BOOST_AUTO_TEST_CASE(journal_stream_must_name_stderr) {
  BOOST_TEST(journal_stream_is("8:123456", 8, 123456));
  BOOST_TEST(!journal_stream_is("8:123456", 8, 123457));  // stderr redirected elsewhere
  BOOST_TEST(!journal_stream_is("9:123456", 8, 123456));
  BOOST_TEST(!journal_stream_is("", 0, 0));
  BOOST_TEST(!journal_stream_is(":", 0, 0));
  BOOST_TEST(!journal_stream_is("8", 8, 0));
  BOOST_TEST(!journal_stream_is("8:12x", 8, 12));
}

BOOST_AUTO_TEST_SUITE_END()
