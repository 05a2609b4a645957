#pragma once
// How a worker consumes its partitions' messages from one JetStream stream: one durable pull
// consumer per partition (named by consumer_naming.hpp), read only by the partition's current
// owner. See actors/consumer/consumer_actor.hpp for the actors and docs/CONSUMING.md for sizing.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/resilience/backoff.hpp"

namespace parti {

/// Where a partition's consumer starts when it is created (it never changes afterwards: an
/// existing consumer continues from its ack floor).
enum class consume_start : std::uint8_t {
  new_messages,  // only messages published after the consumer exists (JetStream DeliverNew)
  all,           // everything the stream holds (DeliverAll)
  sequence,      // from `start_sequence` (DeliverByStartSequence)
};

/// The settings of every partition's durable consumer. They are the consumer's JetStream
/// configuration: a consumer that exists with other values is reported, not changed.
struct consumer_settings {
  duration ack_wait = std::chrono::seconds(30);
  /// Deliveries before the server gives a message up (-1: unlimited, the default). The last one
  /// that ends in a nak is dead-lettered when a dead-letter subject is set.
  ///
  /// Unlimited by default because JetStream counts every delivery, also those the reader had to
  /// nak without handling them: a message that came while its partition was being handed over,
  /// or while the lease had lapsed. A finite max_deliver without a dead-letter subject can
  /// therefore drop a message whose handler never failed (a few hand-offs in a row use its
  /// deliveries up). With a finite one, set dead_letter_subject too: a last delivery that cannot
  /// be handled is then dead-lettered, not dropped.
  int max_deliver = -1;
  /// Unacknowledged messages the server lets one partition have. 1 keeps the partition's order
  /// even across crashes: nothing newer is delivered while a message is outstanding.
  int max_ack_pending = 1;
  int replicas = 1;  // 1..5
  consume_start start = consume_start::new_messages;
  std::uint64_t start_sequence = 0;  // with consume_start::sequence, >= 1
  /// A consumer unused this long is deleted by the server (0: never). Deleting one loses the
  /// partition's cursor: see docs/CONSUMING.md before setting it.
  duration inactive_threshold = duration::zero();
};

struct consume_config {
  std::string stream;  // the JetStream stream holding the partitions' messages
  /// The filter subject of a partition, over its keys: "orders.{0}" or "orders.{0}.{1}". Every
  /// rendered subject is literal (no wildcard) and no two partitions share one.
  std::string subject_template;
  /// Consumer names start with this (default: the group name).
  std::string consumer_prefix;
  consumer_settings consumer;

  /// Handlers running at once per partition. 1 (the default) keeps the partition's order;
  /// more trades order for throughput. At most consumer.max_ack_pending.
  int in_flight = 1;
  /// Messages asked for by one pull request; 0 (the default): consumer.max_ack_pending, the
  /// most the server sends unacknowledged. A larger batch keeps a pull open after the server
  /// delivered all it may: when its partition is released, every message the reader hands back
  /// (a nak) is delivered to that pull again, until the batch is used up or the pull expires.
  /// Each hand-off then waits for those round trips and adds them to the message's delivery
  /// count (docs/BENCHMARKS.md, "Partition consumption").
  int pull_batch = 0;
  /// A pull request's expiry. It is also cut to end before the owner's lease does, and must be
  /// below heartbeat_ttl - lease_margin (the longest a lease reaches ahead).
  duration pull_expiry = std::chrono::seconds(2);
  /// How long after its expiry an unanswered pull request is taken as lost (server restart,
  /// cut connection) and asked again.
  duration pull_grace = std::chrono::seconds(1);
  /// A message may be handled until its pull time + ack_wait - ack_margin.
  duration ack_margin = std::chrono::seconds(1);
  /// A handler running longer is taken as failed (a nak); its late answer is ignored.
  duration handler_timeout = std::chrono::seconds(5);
  /// On a hand-off, how long the releasing reader waits for running handlers.
  /// handler_timeout + release_timeout must stay below the node's hand_off_timeout.
  duration release_timeout = std::chrono::seconds(2);
  /// While a handler runs longer than this, the reader tells the server it is in progress
  /// (confirmed), which restarts the message's ack wait. 0: never.
  duration progress_interval = duration::zero();
  /// On the last allowed delivery a failed message is published here (and the publish
  /// acknowledged by a stream) before it is terminated. Empty: no dead-letter subject.
  std::string dead_letter_subject;

  /// Handler threads of the callback form (the actor form uses the application's actors).
  int handler_threads = 4;
  /// A failed reader (stream or consumer gone, server restart, stall) restarts after this.
  backoff_policy restart_backoff{std::chrono::milliseconds(200), std::chrono::seconds(10), 2.0,
                                 0.2};
  /// Every this long each reader reads its consumer's pending count (lag). 0: never.
  duration lag_interval = std::chrono::seconds(5);
  /// The largest lags shown per partition in metrics (the total is always shown).
  int lag_top_k = 5;
  /// Per-partition metric labels for every partition (unbounded cardinality; off by default).
  bool per_partition_metrics = false;

  /// Every rule broken, one violation each, checked also against the node's settings (the
  /// hand-off timeout and the lease). Fields are named as in this struct ("pull_expiry",
  /// "consumer.ack_wait") unless `names` names them otherwise.
  std::vector<violation> violations(const node_config& node, const field_namer& names = {}) const;
  /// ok, or a failure listing every violation (joined by "; ").
  status validate(const node_config& node) const;
  /// The pull batch in use: pull_batch, or consumer.max_ack_pending when it is 0.
  int pull_batch_in_use() const { return pull_batch > 0 ? pull_batch : consumer.max_ack_pending; }
  /// The consumer name prefix in use: consumer_prefix, or the group's name.
  std::string prefix_for(const node_config& node) const;
};

std::string to_string(consume_start s);
/// "new", "all" or "sequence".
std::optional<consume_start> parse_consume_start(std::string_view text);

}  // namespace parti
