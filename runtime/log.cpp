#include "parti/runtime/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace parti {

namespace {
std::atomic<int> level_{static_cast<int>(log_level::info)};
std::atomic<int> format_{static_cast<int>(log_format::text)};
std::mutex mutex_;  // one line at a time, to stderr or the sink
log_sink sink_;     // guarded by mutex_
const char* names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
// logfmt and json: the names --log-level takes.
const char* lower_names[] = {"error", "warning", "info", "debug"};

/// The length of the well-formed UTF-8 sequence at the start of `s`, 0 when it is not one
/// (a stray continuation byte, an overlong form, a surrogate, beyond U+10FFFF, cut short).
std::size_t utf8_sequence_length(std::string_view s) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i)
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  return length;
}

/// Appends `text` between double quotes, escaped as JSON strings are (logfmt's quoted values
/// read the same escapes).
void append_quoted(std::string& out, std::string_view text) {
  out += '"';
  while (!text.empty()) {
    auto c = static_cast<unsigned char>(text.front());
    std::size_t length = 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else if ((length = utf8_sequence_length(text)) == 0) {
          out += "\xEF\xBF\xBD";  // U+FFFD for the byte that is not UTF-8
          length = 1;
        } else {
          out.append(text.substr(0, length));
        }
    }
    text.remove_prefix(length);
  }
  out += '"';
}

/// Whether systemd connected our stderr to the journal; decided once, at the first line.
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return journal_stream_is(stream, static_cast<unsigned long long>(st.st_dev),
                           static_cast<unsigned long long>(st.st_ino));
}

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

std::optional<log_format> parse_log_format(std::string_view name) {
  if (name == "text") return log_format::text;
  if (name == "logfmt") return log_format::logfmt;
  if (name == "json") return log_format::json;
  return std::nullopt;
}

void set_log_format(log_format format) {
  format_ = static_cast<int>(format);
}

std::string iso8601_utc(std::chrono::system_clock::time_point at) {
  using namespace std::chrono;
  auto ms = floor<milliseconds>(at);
  auto seconds = floor<std::chrono::seconds>(ms);
  auto t = system_clock::to_time_t(time_point_cast<system_clock::duration>(seconds));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[40];
  auto n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>((ms - seconds).count()));
  return stamp;
}

std::string format_log_line(log_format format, log_level level, std::string_view message,
                            std::chrono::system_clock::time_point at) {
  const auto index = static_cast<int>(level);
  std::string line;
  line.reserve(message.size() + 64);
  switch (format) {
    case log_format::text: {
      char prefix[8];
      std::snprintf(prefix, sizeof prefix, "%-5s ", names[index]);
      line += iso8601_utc(at);
      line += ' ';
      line += prefix;
      line += message;
      break;
    }
    case log_format::logfmt:
      line += "ts=" + iso8601_utc(at) + " level=" + lower_names[index] + " msg=";
      append_quoted(line, message);
      break;
    case log_format::json:
      line +=
          "{\"ts\":\"" + iso8601_utc(at) + "\",\"level\":\"" + lower_names[index] + "\",\"msg\":";
      append_quoted(line, message);
      line += '}';
      break;
  }
  line += '\n';
  return line;
}

std::string_view journal_priority_prefix(log_level level) {
  switch (level) {
    case log_level::error:
      return "<3>";
    case log_level::warning:
      return "<4>";
    case log_level::info:
      return "<6>";
    case log_level::debug:
      return "<7>";
  }
  return "<6>";
}

bool journal_stream_is(std::string_view journal_stream, unsigned long long device,
                       unsigned long long inode) {
  auto colon = journal_stream.find(':');
  if (colon == std::string_view::npos) return false;
  auto number = [](std::string_view text, unsigned long long& value) {
    auto end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    return ec == std::errc() && ptr == end && !text.empty();
  };
  unsigned long long d = 0, i = 0;
  return number(journal_stream.substr(0, colon), d) &&
         number(journal_stream.substr(colon + 1), i) && d == device && i == inode;
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
  static const bool journal = stderr_is_journal();
  auto text = format_log_line(static_cast<log_format>(format_.load()), level, line,
                              std::chrono::system_clock::now());
  if (journal) text.insert(0, journal_priority_prefix(level));
  std::lock_guard<std::mutex> guard(mutex_);
  std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace parti
