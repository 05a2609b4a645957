#pragma once
// A producer of sequence-numbered messages for the consume tests, the demo and chaos runs
// (parti-ctl produce): message n (1, 2, ...) carries "<n>" as its payload and goes to the
// subjects in turn (round robin), at a steady rate, on a thread of its own. Each publish waits
// for the stream's acknowledgement (js_Publish); a failed one (server restart, timeout) is
// retried with backoff until acknowledged or stopped, and counted. Retries cannot duplicate a
// message in the stream: each carries the message id "<run id>-<n>" (Nats-Msg-Id), which the
// stream de-duplicates within its duplicate window (2 minutes by default), acknowledging a
// retry of a message it already stored with that message's sequence.
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parti/runtime/clock.hpp"
#include "parti/runtime/resilience/backoff.hpp"

namespace parti {
class connection;
}

namespace parti::consume_app {

struct producer_options {
  std::vector<std::string> subjects;    // in turn, from the first
  double rate = 100;                    // messages per second, > 0
  duration run_for = duration::zero();  // zero: until stop()
  /// Message ids are "<run_id>-<n>"; empty: a random one, so that two runs do not collide.
  std::string run_id;
  /// How long one publish waits for the acknowledgement (0: the connection's request timeout).
  duration publish_timeout = duration::zero();
  backoff_policy retry{std::chrono::milliseconds(100), std::chrono::seconds(1), 2.0, 0.2};
};

struct producer_report {
  std::uint64_t published = 0;        // messages the stream acknowledged
  std::uint64_t failed_attempts = 0;  // publishes that failed (and were retried)
  std::uint64_t already_stored = 0;   // acknowledged as duplicates: a retry of a stored message
  /// Subject -> the stream sequences acknowledged for it, in publish order.
  std::map<std::string, std::vector<std::uint64_t>> acked;
  duration elapsed = duration::zero();
  std::string last_error;  // of the last failed attempt
};

class stream_producer {
 public:
  /// Starts publishing at once.
  stream_producer(std::shared_ptr<connection> conn, producer_options options);
  /// Stops (see stop()).
  ~stream_producer();
  stream_producer(const stream_producer&) = delete;
  stream_producer& operator=(const stream_producer&) = delete;

  /// Ends the run: a message being retried is given up (it may or may not be stored), the thread
  /// is joined.
  void stop();
  /// Waits until the run ends by itself (run_for) or is stopped, at most `limit`; true when it
  /// ended.
  bool wait(duration limit);
  bool finished() const;
  producer_report report() const;

 private:
  void run();
  bool publish(std::uint64_t n, const std::string& subject);
  /// Sleeps until `until` (steady clock) unless stopped; false when stopped.
  bool sleep_until(std::chrono::steady_clock::time_point until);

  std::shared_ptr<connection> conn_;
  producer_options options_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  bool finished_ = false;
  producer_report report_;
  std::thread thread_;
};

}  // namespace parti::consume_app
