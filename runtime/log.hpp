#pragma once
// One-line, timestamped log lines on stderr, safe from any thread. CAF 0.17 as Debian builds it
// has its logger compiled out (CAF_LOG_LEVEL_QUIET), so parti has this small one.
#include <functional>
#include <sstream>
#include <string>

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
