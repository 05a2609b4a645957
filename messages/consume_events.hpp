#pragma once
// What the partition consumer gives the application's message handler, and what the handler
// answers. Plain structs; their CAF inspectors are in inspect.hpp.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "parti/messages/records.hpp"

namespace parti {

/// One JetStream message of an owned partition, handed to the application's handler.
struct consumed_message {
  std::vector<std::string> partition;  // the partition's keys
  std::string subject;
  std::string data;                                          // the payload, as bytes
  std::vector<std::pair<std::string, std::string>> headers;  // in message order, repeats kept
  std::uint64_t stream_seq = 0;
  std::uint64_t delivery_count = 1;  // 1 on the first delivery
  /// The partition's fencing token: pass it with every downstream write, so a store can refuse
  /// the writes of an owner that lost the partition while it was paused.
  partition_grant grant;
  /// Until when (boot clock, ns) this worker may still act on the message: the earlier of its
  /// ownership lease and the message's own ack deadline. Check it before a commit.
  std::int64_t valid_until_ns = 0;
};

/// How a handler settles a message.
enum class consume_verdict : std::uint8_t {
  ack,          // done: the partition's cursor moves past it
  nak,          // failed: redeliver after `delay` (the last allowed delivery is dead-lettered)
  in_progress,  // not done yet: tell the server (the ack deadline restarts) and call the
                // handler again with the same message after `delay`
  term,         // never redeliver
};

struct consume_reply {
  consume_verdict verdict = consume_verdict::ack;
  std::int64_t delay_ns = 0;  // for nak and in_progress
};

inline consume_reply ack_reply() {
  return {consume_verdict::ack, 0};
}
inline consume_reply nak_reply(std::int64_t delay_ns = 0) {
  return {consume_verdict::nak, delay_ns};
}

/// A JetStream message as a reader gets it (copied out of the natsMsg by
/// runtime/nats/pull_inbox.hpp).
struct pulled_message {
  std::uint64_t pull_id = 0;  // the latest pull of the message's consumer (pull_inbox.hpp)
  std::string subject;
  std::string reply;  // the $JS.ACK subject: acks go there
  std::string data;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// How a pull request ended, or a status on its way (the server's status message).
struct pull_status {
  std::uint64_t pull_id = 0;
  int code = 0;  // 404 no messages, 408 request expired, 409 conflict (consumer deleted, ...),
                 // 503 no responders (not sent by nats-server 2.9.10 for a missing consumer:
                 // such a pull gets no answer at all), 100 idle heartbeat
  std::string description;
};

// -- inside the consumer subtree (actors/consumer, actors/partition_reader) -------------------

/// consumer -> reader: the node's lease (boot clock, ns): serving allowed before `until_ns`;
/// 0: not serving (suspended, no id).
struct reader_lease {
  std::int64_t until_ns = 0;
};

/// What settled one handler call: the handler's answer (`ok`) or a failure (threw, timed out,
/// the handler actor is gone), for message `id` of a reader.
struct handler_result {
  std::uint64_t id = 0;
  bool ok = false;
  consume_reply reply;
};

/// How a blocking call made for a reader ended (in-progress confirmation, dead-letter publish):
/// `what` names it, `ok` its success.
enum class reader_call : std::uint8_t { attach, progress, dead_letter, lag };
struct reader_call_result {
  reader_call what = reader_call::attach;
  std::uint64_t id = 0;  // the message, for progress and dead_letter
  bool ok = false;
  std::string error;
  std::uint64_t value = 0;  // lag: the consumer's pending count; progress: sent_at (ns)
};

/// reader -> its consumer's blocking runner: one blocking NATS call (they wait up to the
/// connection's request timeout, so they run on a thread of their own), answered with a
/// reader_call_result.
struct reader_call_request {
  reader_call what = reader_call::attach;
  std::uint64_t id = 0;  // progress, dead_letter: the message
  std::string consumer;  // attach, lag: the durable consumer's name
  /// attach: the consumer's filter subject; progress: the message's ack (reply) subject;
  /// dead_letter: the dead-letter subject.
  std::string subject;
  std::string data;                                          // dead_letter: the payload
  std::vector<std::pair<std::string, std::string>> headers;  // dead_letter
  std::uint64_t sent_at = 0;  // progress: handed back in reader_call_result::value
};

/// reader -> consumer: the partition's lag (pending messages), read from consumer info.
struct partition_lag {
  std::vector<std::string> partition;
  std::uint64_t pending = 0;
};

/// A consumer's counters, for tests and /status.
struct consumer_stats {
  std::uint64_t readers = 0;   // running now
  std::uint64_t attached = 0;  // consumers attached now
  std::uint64_t handled = 0;
  std::uint64_t acked = 0;
  std::uint64_t naked = 0;
  std::uint64_t termed = 0;
  std::uint64_t redelivered = 0;
  std::uint64_t dead_lettered = 0;
  std::uint64_t reader_restarts = 0;
  std::uint64_t releases = 0;  // readers that reported a release
  /// Nak'ed on their last allowed delivery without a dead-letter subject: the server gives them
  /// up (reader_rules.hpp).
  std::uint64_t exhausted = 0;
};

inline const char* to_string(consume_verdict v) {
  switch (v) {
    case consume_verdict::ack:
      return "ack";
    case consume_verdict::nak:
      return "nak";
    case consume_verdict::in_progress:
      return "in_progress";
    case consume_verdict::term:
      return "term";
  }
  return "nak";
}

}  // namespace parti
