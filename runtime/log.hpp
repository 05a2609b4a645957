#pragma once
// One-line, timestamped log lines on stderr, safe from any thread. CAF 0.17 as Debian builds it
// has its logger compiled out (CAF_LOG_LEVEL_QUIET), so parti has this small one.
#include <sstream>
#include <string>

namespace parti {

enum class log_level { error = 0, warning = 1, info = 2, debug = 3 };

/// Sets the most detailed level printed (default info). Accepts "error|warning|info|debug".
bool set_log_level(const std::string& name);
log_level current_log_level();

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
