#pragma once
// What the partition consumer gives the application's message handler, and what the handler
// answers. Plain structs; their CAF inspectors are in inspect.hpp.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "messages/records.hpp"

namespace parti {

/// One JetStream message of an owned partition, handed to the application's handler.
struct consumed_message {
  std::vector<std::string> partition;  // the partition's keys
  std::string subject;
  std::string data;  // the payload, as bytes
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

inline consume_reply ack_reply() { return {consume_verdict::ack, 0}; }
inline consume_reply nak_reply(std::int64_t delay_ns = 0) {
  return {consume_verdict::nak, delay_ns};
}

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
