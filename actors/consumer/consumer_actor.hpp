#pragma once
// The partition consumer: reads each owned partition's messages from its durable JetStream
// pull consumer and hands them to the application, in order, with no gap and no overlap
// across hand-offs.
//
//   consumer ── partition_reader (one per owned, serving partition)
//
// The consumer subscribes to its node (assignment_update, ownership_suspended/resumed,
// lease_update): added partitions start readers, removed ones are released, a suspension stops
// every reader until the lease is valid again. A revocation is acknowledged to the node only
// when every released reader reported its release (nothing running, nothing outstanding), so
// the next owner starts after this one finished. A reader that fails (stream or consumer gone,
// server restart, stall) is restarted with backoff and jitter.
//
// Pull requests of all readers share one subscription (pull_inbox.hpp), and their blocking NATS
// calls (attach, confirmed in-progress acks, dead letters, lag) run on two threads of the
// consumer's (blocking_runner_actor.hpp): the thread count does not grow with the partitions.
// Handlers are the application's: an actor (request/reply) or a callback run on the consumer's
// own fixed pool of threads (handler_pool.hpp), never on an actor's thread.
//
// The consumer answers only the node's revocation requests; its other notifications are plain
// messages. When the node ends, every reader is released (each within the hand-off timeout, or
// killed) and the consumer quits; an exit message ends it and its readers at once.
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <functional>
#include <memory>

#include "parti/messages/consume_events.hpp"
#include "parti/messages/result.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/consume/consume_config.hpp"

namespace parti {

class connection;
class metrics;

/// The callback form of a handler: runs on one of the consumer's handler threads. Throwing is a
/// nak. It should return before msg.valid_until_ns (boot clock) and pass msg.grant downstream.
using message_callback = std::function<consume_reply(const consumed_message& msg)>;

struct consumer_options {
  consume_config config;
  node_config node;  // the node's settings (group, hand-off timeout, lease)
  std::shared_ptr<connection> conn;
  caf::actor node_handle;  // the node to follow (spawn_node's handle)
  /// Exactly one of the two: an actor answering consumed_message with consume_reply, or a
  /// callback.
  caf::actor handler;
  message_callback callback;
  std::shared_ptr<metrics> stats;  // may be null
  /// The clock of the node's ownership lease (node_options::lease_clock; null: the boot clock):
  /// the readers compare the lease and the messages' deadlines with it.
  std::shared_ptr<const clock> lease_clock;
};

/// Validates the configuration (also against the node's), and spawns the consumer. It stops
/// when the node does, or on an exit message.
result<caf::actor> spawn_consumer(caf::actor_system& sys, consumer_options options);

}  // namespace parti
