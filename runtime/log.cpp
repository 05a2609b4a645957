#include "runtime/log.hpp"

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace parti {

namespace {
std::atomic<int> level_{static_cast<int>(log_level::info)};
std::mutex mutex_;  // one line at a time, to stderr or the sink
log_sink sink_;     // guarded by mutex_
const char* names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
}  // namespace

bool set_log_level(const std::string& name) {
  for (int i = 0; i < 4; ++i) {
    std::string lower = names[i];
    for (auto& c : lower) c = static_cast<char>(std::tolower(c));
    if (name == lower || (i == 1 && name == "warning")) {
      level_ = i;
      return true;
    }
  }
  return false;
}

log_level current_log_level() {
  return static_cast<log_level>(level_.load());
}

void set_log_sink(log_sink sink) {
  std::lock_guard<std::mutex> guard(mutex_);
  sink_ = std::move(sink);
}

void write_log(log_level level, const std::string& line) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (sink_) {
      sink_(level, line);
      return;
    }
  }
  using namespace std::chrono;
  auto now = system_clock::now();
  auto t = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
  std::lock_guard<std::mutex> guard(mutex_);
  std::fprintf(stderr, "%s.%03d %-5s %s\n", stamp, static_cast<int>(ms),
               names[static_cast<int>(level)], line.c_str());
}

}  // namespace parti
