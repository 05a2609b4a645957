#include "parti/runtime/consume/consumer_naming.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

#include "parti/runtime/strategy/hashing.hpp"

namespace parti {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_name_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

// Space, tab, newline and every other control byte: none may appear in a subject or a name.
bool is_space_or_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7f;
}

bool is_wildcard(char c) {
  return c == '*' || c == '>';
}

std::string hex_byte(unsigned char byte) {
  static constexpr char digits[] = "0123456789ABCDEF";
  return {digits[byte >> 4], digits[byte & 0x0f]};
}

// [A-Za-z0-9-] kept, every other byte "_XX": distinct inputs stay distinct, and the result is
// a valid consumer name and subject token.
void append_escaped(std::string& out, std::string_view text) {
  for (char c : text) {
    if (is_name_char(c)) {
      out.push_back(c);
    } else {
      out.push_back('_');
      out += hex_byte(static_cast<unsigned char>(c));
    }
  }
}

// xxhash64 of the prefix and the keys, each length-prefixed (so ("ab","c") and ("a","bc")
// differ), cut to its low 32 bits: 8 hex digits.
std::string name_hash(std::string_view prefix, const std::vector<std::string>& keys) {
  std::vector<std::string> parts;
  parts.reserve(keys.size() + 1);
  parts.emplace_back(prefix);
  parts.insert(parts.end(), keys.begin(), keys.end());
  const auto hash = strategy_hash::partition_hash(parts);
  char text[9];
  std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(hash & 0xffffffffU));
  return text;
}

std::string position(std::size_t index) {
  return "at position " + std::to_string(index + 1);
}

std::string quote(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// Why `key` cannot fill a placeholder; empty when it can.
std::string key_problem(std::string_view key) {
  if (key.empty()) return "is empty";
  for (char c : key) {
    if (c == '.') return "contains '.' (a key must stay one part of a token)";
    if (is_wildcard(c)) return std::string("contains the wildcard '") + c + "'";
    if (is_space_or_control(c)) return "contains whitespace or a control character";
  }
  return {};
}

}  // namespace

// -- consumer names ---------------------------------------------------------------------------

std::string consumer_name(std::string_view prefix, const partition& p) {
  std::string body;
  append_escaped(body, prefix);
  body.push_back('_');
  for (std::size_t i = 0; i < p.keys.size(); ++i) {
    if (i > 0) body += "__";
    append_escaped(body, p.keys[i]);
  }
  const std::string suffix = "_" + name_hash(prefix, p.keys);
  // Cut the readable part, never the hash: names cut alike still differ by their hash.
  const std::size_t room = max_consumer_name - suffix.size();
  if (body.size() > room) body.resize(room);
  return body + suffix;
}

// -- subject templates ------------------------------------------------------------------------

result<subject_template> subject_template::parse(std::string_view text) {
  const auto fail = [&](const std::string& why) {
    return failure{"subject template " + quote(text) + ": " + why};
  };
  if (text.empty()) return fail("is empty");
  subject_template t;
  t.text_ = std::string(text);
  std::string literal;
  bool token_has_text = false;  // the current token is not empty (so far)
  const auto flush_literal = [&] {
    if (!literal.empty()) t.pieces_.push_back(piece{false, std::move(literal), 0});
    literal.clear();
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const bool doubled = i + 1 < text.size() && text[i + 1] == c;
    if ((c == '{' || c == '}') && doubled) {  // "{{" or "}}": a literal brace
      literal.push_back(c);
      token_has_text = true;
      i += 2;
    } else if (c == '{') {
      const auto close = text.find('}', i + 1);
      if (close == std::string_view::npos) return fail("unclosed '{' " + position(i));
      const auto inner = text.substr(i + 1, close - i - 1);
      if (inner.empty()) return fail("empty '{}' " + position(i));
      if (!std::all_of(inner.begin(), inner.end(), is_digit))
        return fail("'{" + std::string(inner) + "}' " + position(i) +
                    " is no key index (expected {0}, {1}, ...)");
      if (inner.size() > 3) return fail("key index " + position(i) + " is above 999");
      const auto index = static_cast<std::size_t>(std::stoul(std::string(inner)));
      flush_literal();
      t.pieces_.push_back(piece{true, {}, index});
      t.keys_needed_ = std::max(t.keys_needed_, index + 1);
      token_has_text = true;
      i = close + 1;
    } else if (c == '}') {
      return fail("unmatched '}' " + position(i) + " (write \"}}\" for a literal brace)");
    } else if (c == '.') {
      if (!token_has_text) return fail("empty token " + position(i));
      literal.push_back(c);
      token_has_text = false;
      ++i;
    } else if (is_wildcard(c)) {
      // Stricter than the server (which reads "a*" as a literal token): a filter subject here
      // is meant to be literal, and a '*' or '>' anywhere in it is almost surely a mistake.
      return fail(std::string("wildcard '") + c + "' " + position(i) +
                  " (each partition's filter subject must be literal)");
    } else if (is_space_or_control(c)) {
      return fail("whitespace or control character " + position(i));
    } else {
      literal.push_back(c);
      token_has_text = true;
      ++i;
    }
  }
  if (!token_has_text) return fail("empty token " + position(text.size() - 1) + " (at the end)");
  flush_literal();
  if (t.keys_needed_ == 0)
    return fail(
        "uses no key: without a placeholder such as {0} every partition would read the "
        "same subject");
  return t;
}

result<std::string> subject_template::render(const partition& p) const {
  const auto label = quote(partition_label(p.keys));
  if (p.keys.size() < keys_needed_)
    return failure{"partition " + label + " has " + std::to_string(p.keys.size()) +
                   " key(s), the subject template " + quote(text_) + " needs " +
                   std::to_string(keys_needed_)};
  std::string out;
  for (const auto& part : pieces_) {
    if (!part.key) {
      out += part.literal;
      continue;
    }
    const auto& key = p.keys[part.index];
    if (auto problem = key_problem(key); !problem.empty())
      return failure{"partition " + label + ": key " + std::to_string(part.index) + " (" +
                     quote(key) + ") " + problem + ", so it cannot fill the subject template " +
                     quote(text_)};
    out += key;
  }
  return out;
}

// -- all partitions ---------------------------------------------------------------------------

result<std::vector<partition_consumer>> check_partition_consumers(
    std::string_view prefix, const subject_template& subjects,
    const std::vector<partition>& partitions) {
  std::vector<partition_consumer> out;
  out.reserve(partitions.size());
  std::map<std::string, std::string> label_by_name, label_by_subject;
  for (const auto& p : partitions) {
    auto subject = subjects.render(p);
    if (!subject) return failure{subject.error()};
    const auto label = partition_label(p.keys);
    auto name = consumer_name(prefix, p);
    if (auto [it, fresh] = label_by_name.emplace(name, label); !fresh)
      return failure{"partitions " + quote(it->second) + " and " + quote(label) +
                     " would share the consumer name " + quote(name)};
    if (auto [it, fresh] = label_by_subject.emplace(*subject, label); !fresh)
      return failure{"partitions " + quote(it->second) + " and " + quote(label) +
                     " would share the filter subject " + quote(*subject)};
    out.push_back(partition_consumer{p, std::move(name), std::move(*subject)});
  }
  return out;
}

// -- names and labels -------------------------------------------------------------------------

bool is_valid_stream_name(std::string_view name) {
  if (name.empty()) return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '.' || is_wildcard(c) || c == '/' || c == '\\' || is_space_or_control(c);
  });
}

bool is_literal_subject(std::string_view subject) {
  if (subject.empty()) return false;
  bool token_has_text = false;
  for (char c : subject) {
    if (c == '.') {
      if (!token_has_text) return false;
      token_has_text = false;
    } else if (is_wildcard(c) || is_space_or_control(c)) {
      return false;
    } else {
      token_has_text = true;
    }
  }
  return token_has_text;
}

std::string partition_label(const std::vector<std::string>& keys) {
  std::string out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out.push_back('-');
    out += keys[i];
  }
  return out;
}

}  // namespace parti
