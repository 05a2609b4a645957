#pragma once
// result<T>: the value of an operation that can fail with a message meant for a human.
// Used by decoders, configuration validation and strategies, none of which may depend on CAF.
// violation: a setting that breaks a rule, as data, for programs that name settings their own way.
#include <functional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace parti {

/// The text of a failure: what went wrong, naming the field, option or rule involved.
struct failure {
  std::string message;
};

/// A value of T, or an error E (by default a plain `failure`; E must have a `message` member).
template <class T, class E = failure>
class result {
 public:
  result(T value) : state_(std::move(value)) {}  // NOLINT: implicit on purpose, like expected<T>
  result(E error) : state_(std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return checked(); }
  const T& value() const& { return const_cast<result*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }
  T& operator*() & { return checked(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &value(); }

  /// The failure text; empty when ok().
  const std::string& error() const noexcept {
    static const std::string none;
    return ok() ? none : std::get<1>(state_).message;
  }

  /// The whole error value (code and message for kinds that have codes); requires !ok().
  const E& failure_value() const { return std::get<1>(state_); }

 private:
  T& checked() {
    if (!ok()) throw std::logic_error("result has no value: " + std::get<1>(state_).message);
    return std::get<0>(state_);
  }
  std::variant<T, E> state_;
};

/// For operations that return nothing but may fail.
struct done {};
using status = result<done>;

/// How a program names the settings of an options struct in messages: its name for a field
/// ("heartbeat_ttl" -> "--heartbeat-ttl"), or empty to keep the struct's own name.
using field_namer = std::function<std::string(std::string_view field)>;

/// A setting that breaks a rule, as data. `field` identifies the setting as its struct does
/// ("heartbeat_ttl", "tls.cert_file"), `name` is what the message calls it, and `rule` says what
/// it must be, naming other settings the same way ("must be at least 2 x --heartbeat-interval
/// (2s), is 1s"). So a program shows its own names without rewriting the text.
struct violation {
  std::string field;
  std::string name;
  std::string rule;
  std::string text() const { return name + ": " + rule; }
};
inline bool operator==(const violation& a, const violation& b) {
  return a.field == b.field && a.name == b.name && a.rule == b.rule;
}
inline std::ostream& operator<<(std::ostream& os, const violation& v) {
  return os << v.text();
}

/// Collects the violations of one options struct, each setting named by the caller's namer or,
/// where it has no name, by the struct's own (`own_name`; by default the field itself).
class violation_collector {
 public:
  using own_name_fn = std::string_view (*)(std::string_view field);

  explicit violation_collector(const field_namer& names, own_name_fn own_name = nullptr)
      : names_(names), own_name_(own_name) {}

  /// What the messages call `field` (in a rule, too).
  std::string name(std::string_view field) const {
    std::string given = names_ ? names_(field) : std::string();
    if (!given.empty()) return given;
    return std::string(own_name_ != nullptr ? own_name_(field) : field);
  }

  void add(std::string_view field, std::string rule) {
    items_.push_back(violation{std::string(field), name(field), std::move(rule)});
  }

  std::vector<violation> take() { return std::move(items_); }

 private:
  const field_namer& names_;
  own_name_fn own_name_;
  std::vector<violation> items_;
};

}  // namespace parti
