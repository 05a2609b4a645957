#pragma once
// One-line, timestamped log lines on stderr, safe from any thread. CAF 0.17 as Debian builds it
// has its logger compiled out (CAF_LOG_LEVEL_QUIET), so parti has this small one.
//
// The stderr lines come in three formats (set_log_format), each with a UTC ISO-8601 timestamp
// with milliseconds:
//   text    2026-11-30T05:12:09.572Z INFO  parti-node: group parti, 1 node(s)
//   logfmt  ts=2026-11-30T05:12:09.572Z level=info msg="parti-node: group parti, 1 node(s)"
//   json    {"ts":"2026-11-30T05:12:09.572Z","level":"info","msg":"parti-node: group ..."}
// When systemd connects stderr to the journal (JOURNAL_STREAM names stderr's device and inode),
// every line starts with its syslog priority, "<3>" error to "<7>" debug (sd-daemon(3)), so that
// `journalctl -p warning` filters by level; the journal strips the prefix.
#include <chrono>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace parti {

enum class log_level { error = 0, warning = 1, info = 2, debug = 3 };

/// Sets the most detailed level printed (default info). Accepts "error|warning|info|debug".
bool set_log_level(const std::string& name);
log_level current_log_level();

/// Where log lines go instead of stderr: called with the level and the line (no timestamp, no
/// level prefix), from whichever thread logs, one call at a time (under the log's lock: a sink
/// must not log through parti::log itself). Process-wide.
using log_sink = std::function<void(log_level, const std::string&)>;

/// Installs `sink` for every later line; an empty sink restores the timestamped stderr lines.
/// Once it returns, the previous sink is no longer called.
void set_log_sink(log_sink sink);

enum class log_format { text, logfmt, json };

/// "text|logfmt|json"; nullopt for anything else.
std::optional<log_format> parse_log_format(std::string_view name);

/// The format of the stderr lines from now on (default text). A sink gets the bare line in
/// every format.
void set_log_format(log_format format);

/// 2026-11-30T05:12:09.572Z: UTC, milliseconds, rounded down.
std::string iso8601_utc(std::chrono::system_clock::time_point at);

/// One stderr line as `format` writes it, ending in '\n', for a `message` logged `at`.
/// Quoted values (logfmt's msg, json's strings) escape quotes, backslashes and control characters
/// (a newline as \n), and replace bytes that are not UTF-8 by U+FFFD, so a line stays one line and
/// json stays valid.
std::string format_log_line(log_format format, log_level level, std::string_view message,
                            std::chrono::system_clock::time_point at);

/// The sd-daemon(3) priority prefix of `level`: "<3>" error, "<4>" warning, "<6>" info, "<7>"
/// debug.
std::string_view journal_priority_prefix(log_level level);

/// True when the value of JOURNAL_STREAM ("<device>:<inode>", as systemd sets it) names the
/// file that stderr is (`device`, `inode` from fstat): a child whose stderr was redirected
/// elsewhere inherits the variable but must not get the prefixes.
bool journal_stream_is(std::string_view journal_stream, unsigned long long device,
                       unsigned long long inode);

/// Writes one line to the sink, or to stderr when none is set. Does not filter by level.
void write_log(log_level level, const std::string& line);

/// log(log_level::info, "worker ", id, " owns ", n, " partitions")
template <class... Ts>
void log(log_level level, const Ts&... parts) {
  if (level > current_log_level()) return;
  std::ostringstream out;
  (out << ... << parts);
  write_log(level, out.str());
}

}  // namespace parti
