#pragma once
// blocking_runner: the blocking NATS calls of a consumer's partition readers (messages/
// interfaces.hpp, blocking_runner_actor), one at a time, in order, on a thread of its own
// (spawn it detached): attaching a reader to its durable consumer, a confirmed in-progress ack,
// the acknowledged publish of a dead letter, and a consumer's pending count. Each waits up to
// the connection's request timeout, which must not hold an actor scheduler thread; a consumer
// runs a fixed number of these whatever its partition count, so the thread count stays bounded.
#include <memory>
#include <string>

#include "parti/messages/interfaces.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/consume/consume_config.hpp"

namespace parti {

class connection;

struct blocking_runner_settings {
  std::shared_ptr<connection> conn;
  std::string stream;
  consumer_settings consumer;  // of every partition's durable consumer (attach)
  /// How long a confirmed in-progress ack waits for the server's answer.
  duration confirm_timeout = std::chrono::seconds(2);
};

struct blocking_runner_state {
  blocking_runner_settings settings;
  static inline const char* name = "parti.blocking_runner";
};

blocking_runner_actor::behavior_type blocking_runner(
    blocking_runner_actor::stateful_pointer<blocking_runner_state> self,
    blocking_runner_settings settings);

}  // namespace parti
