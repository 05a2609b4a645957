#pragma once
// Retrying an operation that failed: whether to try again and after how long.
//
// The decision is pure (retrier::on_failure returns "retry after d" or "give up, because"), so
// an actor can carry it out with a timer; run() is a small synchronous helper for code that may
// block (start-up, tools), with the sleeping injected so tests never sleep.
//
// An attempt is given up when the operation was cancelled, when the error is not retryable
// (the predicate says so: e.g. "bucket does not exist" will not fix itself), or when
// max_attempts attempts have failed. Delays come from backoff (exponential, capped, jittered).
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/resilience/backoff.hpp"

namespace parti {

struct retry_policy {
  backoff_policy delays;           // initial, max, multiplier, jitter
  std::uint32_t max_attempts = 5;  // attempts in all, the first one included; at least 1

  status validate() const;
};

/// Shared cancellation flag: copies refer to the same flag, so one side cancels and the side
/// running the retries sees it. Thread-safe.
class cancel_token {
 public:
  cancel_token() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
  void cancel() { flag_->store(true, std::memory_order_release); }
  bool cancelled() const { return flag_->load(std::memory_order_acquire); }

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
};

/// Says whether an error may go away by trying again.
using retry_predicate = std::function<bool(const failure&)>;

/// Every error is retryable.
retry_predicate retry_all();

enum class give_up_reason { cancelled, not_retryable, attempts_exhausted };
std::string_view to_string(give_up_reason x);

struct retry_decision {
  bool retry = false;
  duration delay{};         // when retry: wait this long before the next attempt
  give_up_reason reason{};  // when !retry: why

  static retry_decision after(duration d) { return {true, d, {}}; }
  static retry_decision give_up(give_up_reason why) { return {false, {}, why}; }
};

/// Sleeps for the given time (or less, if it can tell the operation was cancelled).
using sleeper = std::function<void(duration)>;

class retrier {
 public:
  retrier(retry_policy policy, random_source random, retry_predicate retryable = retry_all(),
          cancel_token cancel = {});

  /// An attempt failed with `error`: retry after a delay, or give up.
  retry_decision on_failure(const failure& error);

  /// Starts over: attempts and delays from the beginning (after a success, or for a new run).
  void reset();

  /// Failed attempts since the last reset.
  std::uint32_t failed_attempts() const { return failed_; }
  bool cancelled() const { return cancel_.cancelled(); }
  const retry_policy& policy() const { return policy_; }

  /// Runs `op` (returning a result<T>) until it succeeds or the retrier gives up; sleeps with
  /// `sleep` between attempts. On giving up, the failure says why and repeats the last error.
  template <class Op>
  std::invoke_result_t<Op&> run(Op&& op, const sleeper& sleep) {
    using result_type = std::invoke_result_t<Op&>;
    reset();
    while (!cancelled()) {
      result_type r = op();
      if (r.ok()) return r;
      const failure error{r.error()};
      const retry_decision next = on_failure(error);
      if (!next.retry) return result_type(failure{give_up_message(next.reason, error)});
      sleep(next.delay);
    }
    return result_type(failure{cancelled_message()});
  }

 private:
  std::string give_up_message(give_up_reason why, const failure& last) const;
  std::string cancelled_message() const;

  retry_policy policy_;
  backoff delays_;
  retry_predicate retryable_;
  cancel_token cancel_;
  std::uint32_t failed_ = 0;
};

}  // namespace parti
