#include "parti/runtime/partition_source.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

namespace parti {

namespace {

class counted_source final : public partition_source {
 public:
  explicit counted_source(std::uint32_t count) : count_(count) {}

  result<std::vector<partition>> load() const override {
    std::vector<partition> out;
    out.reserve(count_);
    for (std::uint32_t i = 0; i < count_; ++i) out.push_back({{"p-" + std::to_string(i)}, 1});
    return out;
  }

 private:
  std::uint32_t count_;
};

class fixed_source final : public partition_source {
 public:
  explicit fixed_source(std::vector<partition> partitions) : partitions_(std::move(partitions)) {}
  result<std::vector<partition>> load() const override { return partitions_; }

 private:
  std::vector<partition> partitions_;
};

class function_source final : public partition_source {
 public:
  explicit function_source(std::function<result<std::vector<partition>>()> fn)
      : fn_(std::move(fn)) {}

  result<std::vector<partition>> load() const override {
    if (!fn_) return failure{"partition source: no callback given"};
    return fn_();
  }

 private:
  std::function<result<std::vector<partition>>()> fn_;
};

class text_file_source final : public partition_source {
 public:
  explicit text_file_source(std::string path) : path_(std::move(path)) {}

  result<std::vector<partition>> load() const override {
    std::ifstream in(path_);
    if (!in) return failure{"partitions file " + path_ + ": cannot open: " + std::strerror(errno)};
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return failure{"partitions file " + path_ + ": cannot read"};
    auto parsed = parse_partitions(text.str());
    if (!parsed) return failure{"partitions file " + path_ + ": " + parsed.error()};
    return parsed;
  }

 private:
  std::string path_;
};

// -- parsing one line -------------------------------------------------------------------------

constexpr std::int64_t max_weight = 1'000'000'000;  // keeps sums of weights far from overflow

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

std::string trim(const std::string& s) {
  std::size_t begin = 0, end = s.size();
  while (begin < end && is_space(s[begin])) ++begin;
  while (end > begin && is_space(s[end - 1])) --end;
  return s.substr(begin, end - begin);
}

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

/// The text of the line without its comment ('#' to the end of the line), trimmed.
std::string content_of(const std::string& line) {
  return trim(line.substr(0, line.find('#')));
}

/// Splits "keys [weight]": the weight is the last whitespace-separated word when the line has
/// more than one and that word is a number; everything before it is the key list.
std::pair<std::string, std::string> split_weight(const std::string& content) {
  auto last_space = content.find_last_of(" \t\r\v\f");
  if (last_space == std::string::npos) return {content, ""};
  auto last_word = content.substr(last_space + 1);
  auto before = trim(content.substr(0, last_space));
  // "a, b" ends in a key, not a weight; "a 5" and "a,b 5" end in one.
  if (!all_digits(last_word) || before.empty() || before.back() == ',') return {content, ""};
  return {before, last_word};
}

result<std::int64_t> parse_weight(const std::string& text) {
  if (text.empty()) return std::int64_t{1};
  if (text.size() > 10) return failure{"weight " + text + " is too large (at most 1000000000)"};
  auto value = std::stoll(text);
  if (value < 1) return failure{"weight must be at least 1, is " + text};
  if (value > max_weight) return failure{"weight " + text + " is too large (at most 1000000000)"};
  return value;
}

result<std::vector<std::string>> parse_keys(const std::string& text) {
  std::vector<std::string> keys;
  std::size_t start = 0;
  while (true) {
    auto comma = text.find(',', start);
    auto key = trim(text.substr(start, comma == std::string::npos ? comma : comma - start));
    if (key.empty()) return failure{"empty key (keys are separated by single commas)"};
    for (char c : key)
      if (is_space(c))
        return failure{"\"" + key +
                       "\" contains a space: keys are separated by commas, and only a "
                       "final number counts as the weight"};
    keys.push_back(std::move(key));
    if (comma == std::string::npos) return keys;
    start = comma + 1;
  }
}

result<partition> parse_line(const std::string& content) {
  auto [key_text, weight_text] = split_weight(content);
  auto keys = parse_keys(key_text);
  if (!keys) return failure{keys.error()};
  auto weight = parse_weight(weight_text);
  if (!weight) return failure{weight.error()};
  return partition{std::move(*keys), *weight};
}

}  // namespace

std::shared_ptr<partition_source> count_source(std::uint32_t count) {
  return std::make_shared<counted_source>(count);
}

std::shared_ptr<partition_source> list_source(std::vector<partition> partitions) {
  return std::make_shared<fixed_source>(std::move(partitions));
}

std::shared_ptr<partition_source> callback_source(
    std::function<result<std::vector<partition>>()> fn) {
  return std::make_shared<function_source>(std::move(fn));
}

result<std::vector<partition>> parse_partitions(const std::string& text) {
  std::vector<partition> out;
  std::map<std::string, int> line_of_key;  // a key names one partition only: explain KEY relies
                                           // on it, and two owners of one key would be a bug
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    auto content = content_of(line);
    if (content.empty()) continue;
    auto parsed = parse_line(content);
    auto where = "line " + std::to_string(number) + ": ";
    if (!parsed) return failure{where + parsed.error()};
    for (const auto& key : parsed->keys) {
      auto [it, fresh] = line_of_key.emplace(key, number);
      if (fresh) continue;
      if (it->second == number) return failure{where + "key \"" + key + "\" appears twice"};
      return failure{where + "key \"" + key + "\" already belongs to the partition on line " +
                     std::to_string(it->second)};
    }
    out.push_back(std::move(*parsed));
  }
  if (out.empty()) return failure{"no partitions (every line is blank or a comment)"};
  return out;
}

std::shared_ptr<partition_source> file_source(std::string path) {
  return std::make_shared<text_file_source>(std::move(path));
}

}  // namespace parti
