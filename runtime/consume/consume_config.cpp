#include "parti/runtime/consume/consume_config.hpp"

#include "parti/runtime/consume/consumer_naming.hpp"
#include "parti/runtime/violation_list.hpp"

namespace parti {

namespace {

using namespace std::chrono_literals;

// The shortest pull worth sending: below it a pull's round trip is most of its life.
constexpr duration shortest_pull_expiry = 100ms;
constexpr int most_handler_threads = 256;

const char* const stream_name_rule =
    "must not contain '.', '*', '>', '/', '\\', whitespace or control characters";

void check_names(const consume_config& c, violation_list& v) {
  if (c.stream.empty())
    v.add("stream", "must not be empty");
  else if (!is_valid_stream_name(c.stream))
    v.add("stream", std::string(stream_name_rule) + ", is \"" + c.stream + "\"");
  if (auto parsed = subject_template::parse(c.subject_template); !parsed)
    v.add("subject_template",
          "must be a subject with {0}, {1}, ... for the partition's keys: " + parsed.error());
  if (!c.consumer_prefix.empty() && !is_valid_stream_name(c.consumer_prefix))
    v.add("consumer_prefix", std::string(stream_name_rule) + ", is \"" + c.consumer_prefix + "\"");
  if (!c.dead_letter_subject.empty() && !is_literal_subject(c.dead_letter_subject))
    v.add("dead_letter_subject",
          "must be empty or one literal subject (no wildcard, no whitespace, no empty token), "
          "is \"" +
              c.dead_letter_subject + "\"");
}

void check_consumer(const consumer_settings& s, violation_list& v) {
  v.positive("consumer.ack_wait", s.ack_wait);
  if (s.max_deliver != -1 && s.max_deliver < 1)
    v.add("consumer.max_deliver",
          "must be -1 (unlimited) or at least 1 (is " + std::to_string(s.max_deliver) + ")");
  v.at_least("consumer.max_ack_pending", s.max_ack_pending, 1);
  v.within("consumer.replicas", s.replicas, 1, 5);
  if (s.start == consume_start::sequence && s.start_sequence < 1)
    v.add("consumer.start_sequence",
          "must be at least 1 when " + v.name("consumer.start") + " is sequence (is 0)");
  v.non_negative("consumer.inactive_threshold", s.inactive_threshold);
}

void check_reading(const consume_config& c, const node_config& node, violation_list& v) {
  v.at_least("in_flight", c.in_flight, 1);
  if (c.in_flight > c.consumer.max_ack_pending)
    v.add("in_flight", "must not exceed " + v.name("consumer.max_ack_pending") + " (" +
                           std::to_string(c.consumer.max_ack_pending) + "), is " +
                           std::to_string(c.in_flight));
  v.at_least("pull_batch", c.pull_batch, 0);  // 0: max_ack_pending
  if (c.pull_expiry < shortest_pull_expiry)
    v.add("pull_expiry", "must be at least " + format_duration(shortest_pull_expiry) + ", is " +
                             format_duration(c.pull_expiry));
  // The lease is at most heartbeat_ttl - lease_margin ahead: a longer pull could not end in it.
  v.below("pull_expiry", c.pull_expiry,
          v.quoted("heartbeat_ttl", node.heartbeat_ttl) + " - " +
              v.quoted("lease_margin", node.lease_margin),
          node.heartbeat_ttl - node.lease_margin);
  v.positive("pull_grace", c.pull_grace);
  v.non_negative("ack_margin", c.ack_margin);
  v.below("ack_margin", c.ack_margin, v.quoted("consumer.ack_wait", c.consumer.ack_wait),
          c.consumer.ack_wait);
}

void check_handling(const consume_config& c, const node_config& node, violation_list& v) {
  v.positive("handler_timeout", c.handler_timeout);
  v.positive("release_timeout", c.release_timeout);
  // The node waits hand_off_timeout for the application to let a revoked partition go.
  v.below("handler_timeout", c.handler_timeout,
          v.quoted("hand_off_timeout", node.hand_off_timeout) + " - " +
              v.quoted("release_timeout", c.release_timeout),
          node.hand_off_timeout - c.release_timeout);
  v.non_negative("progress_interval", c.progress_interval);
  if (c.progress_interval == duration::zero()) {
    // Without in-progress acks a message's deadline must outlast its handler.
    v.below("handler_timeout", c.handler_timeout,
            v.quoted("consumer.ack_wait", c.consumer.ack_wait) + " - " +
                v.quoted("ack_margin", c.ack_margin) + " without " + v.name("progress_interval"),
            c.consumer.ack_wait - c.ack_margin);
  } else if (c.progress_interval > duration::zero()) {
    v.below("progress_interval", c.progress_interval,
            v.quoted("consumer.ack_wait", c.consumer.ack_wait) + " - " +
                v.quoted("ack_margin", c.ack_margin),
            c.consumer.ack_wait - c.ack_margin);
  }
  v.within("handler_threads", c.handler_threads, 1, most_handler_threads);
}

void check_upkeep(const consume_config& c, violation_list& v) {
  if (auto ok = c.restart_backoff.validate(); !ok)
    v.add("restart_backoff", "must be a valid backoff (" + ok.error() + ")");
  v.non_negative("lag_interval", c.lag_interval);
  v.at_least("lag_top_k", c.lag_top_k, 0);
}

}  // namespace

std::vector<violation> consume_config::violations(const node_config& node,
                                                  const field_namer& names) const {
  violation_list v(names);
  check_names(*this, v);
  check_consumer(consumer, v);
  check_reading(*this, node, v);
  check_handling(*this, node, v);
  check_upkeep(*this, v);
  return v.take();
}

status consume_config::validate(const node_config& node) const {
  return violations_status("invalid consume configuration", violations(node));
}

std::string consume_config::prefix_for(const node_config& node) const {
  return consumer_prefix.empty() ? node.group : consumer_prefix;
}

std::string to_string(consume_start s) {
  switch (s) {
    case consume_start::new_messages:
      return "new";
    case consume_start::all:
      return "all";
    case consume_start::sequence:
      return "sequence";
  }
  return "new";
}

std::optional<consume_start> parse_consume_start(std::string_view text) {
  for (auto s : {consume_start::new_messages, consume_start::all, consume_start::sequence})
    if (text == to_string(s)) return s;
  return std::nullopt;
}

}  // namespace parti
