#include "parti/runtime/resilience/retry.hpp"

namespace parti {

status retry_policy::validate() const {
  if (max_attempts == 0) return failure{"retry.max_attempts: must be at least 1"};
  auto delays_ok = delays.validate();
  if (!delays_ok) return failure{"retry." + delays_ok.error()};
  return done{};
}

retry_predicate retry_all() {
  return [](const failure&) { return true; };
}

std::string_view to_string(give_up_reason x) {
  switch (x) {
    case give_up_reason::cancelled:
      return "cancelled";
    case give_up_reason::not_retryable:
      return "not retryable";
    case give_up_reason::attempts_exhausted:
      return "attempts exhausted";
  }
  return "unknown";
}

retrier::retrier(retry_policy policy, random_source random, retry_predicate retryable,
                 cancel_token cancel)
    : policy_(policy),
      delays_(policy.delays, std::move(random)),
      retryable_(retryable ? std::move(retryable) : retry_all()),
      cancel_(std::move(cancel)) {}

retry_decision retrier::on_failure(const failure& error) {
  if (failed_ < UINT32_MAX) ++failed_;
  // Order matters: a cancelled operation stops whatever the error; a permanent error stops
  // even with attempts left.
  if (cancel_.cancelled()) return retry_decision::give_up(give_up_reason::cancelled);
  if (!retryable_(error)) return retry_decision::give_up(give_up_reason::not_retryable);
  if (failed_ >= policy_.max_attempts)
    return retry_decision::give_up(give_up_reason::attempts_exhausted);
  return retry_decision::after(delays_.next());
}

void retrier::reset() {
  failed_ = 0;
  delays_.reset();
}

std::string retrier::give_up_message(give_up_reason why, const failure& last) const {
  return "gave up after " + std::to_string(failed_) + " attempt" + (failed_ == 1 ? "" : "s") +
         " (" + std::string(to_string(why)) + "): " + last.message;
}

std::string retrier::cancelled_message() const {
  return "cancelled after " + std::to_string(failed_) + " failed attempt" +
         (failed_ == 1 ? "" : "s");
}

}  // namespace parti
