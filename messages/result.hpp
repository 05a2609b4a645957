#pragma once
// result<T>: the value of an operation that can fail with a message meant for a human.
// Used by decoders, configuration validation and strategies, none of which may depend on CAF.
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

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

}  // namespace parti
