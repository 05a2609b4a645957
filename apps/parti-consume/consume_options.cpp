#include "apps/parti-consume/consume_options.hpp"

#include <caf/config_option_adder.hpp>

#include <algorithm>
#include <string_view>
#include <utility>

namespace parti::consume_app {

namespace {

std::string with_default(const std::string& text, const std::string& value) {
  return text + " (default: " + (value.empty() ? "none" : value) + ")";
}

std::string with_default(const std::string& text, std::int64_t value) {
  return with_default(text, std::to_string(value));
}

/// The consume_config fields that options set.
const std::vector<std::pair<std::string_view, std::string_view>>& consume_config_options() {
  static const std::vector<std::pair<std::string_view, std::string_view>> all{
      {"stream", "--stream"},
      {"subject_template", "--subject-template"},
      {"consumer_prefix", "--consumer-prefix"},
      {"consumer.ack_wait", "--ack-wait"},
      {"consumer.max_deliver", "--max-deliver"},
      {"consumer.max_ack_pending", "--max-ack-pending"},
      {"consumer.start", "--consume-start"},
      {"consumer.start_sequence", "--start-sequence"},
      {"in_flight", "--in-flight"},
      {"handler_timeout", "--handler-timeout"},
      {"release_timeout", "--release-timeout"},
      {"pull_expiry", "--pull-expiry"},
      {"dead_letter_subject", "--dead-letter-subject"},
  };
  return all;
}

/// Names consume_config's fields as parti-consume's options, and the node's it is checked
/// against as parti-node's ("node.heartbeat_ttl" or "heartbeat_ttl" -> "--heartbeat-ttl").
field_namer option_names() {
  return [node = node_app::node_option_names()](std::string_view field) {
    for (const auto& [f, option] : consume_config_options())
      if (f == field) return std::string(option);
    if (field.rfind("node.", 0) == 0) field.remove_prefix(5);
    return node(field);
  };
}

result<duration> duration_option(const std::string& name, const std::string& text) {
  if (text == "0") return duration::zero();  // a bare zero needs no unit
  auto d = parse_duration(text);
  if (!d) return failure{"--" + name + ": " + d.error()};
  if (*d < duration::zero()) return failure{"--" + name + ": must not be negative"};
  return d;
}

status read_durations(const consume_options& o, consume_settings& s) {
  std::pair<const char*, std::pair<const std::string*, duration*>> all[] = {
      {"handler-delay", {&o.handler_delay, &s.handler_delay}},
      {"ack-wait", {&o.ack_wait, &s.config.consumer.ack_wait}},
      {"handler-timeout", {&o.handler_timeout, &s.config.handler_timeout}},
      {"release-timeout", {&o.release_timeout, &s.config.release_timeout}},
  };
  for (auto& [name, slot] : all) {
    auto d = duration_option(name, *slot.first);
    if (!d) return failure{d.error()};
    *slot.second = *d;
  }
  return done{};
}

status read_pull_expiry(const consume_options& o, const node_config& node, consume_settings& s) {
  if (o.pull_expiry == "auto") {
    s.config.pull_expiry =
        std::min(consume_config{}.pull_expiry, (node.heartbeat_ttl - node.lease_margin) / 2);
    return done{};
  }
  auto d = duration_option("pull-expiry", o.pull_expiry);
  if (!d) return failure{d.error()};
  s.config.pull_expiry = *d;
  return done{};
}

status read_start(const consume_options& o, consume_settings& s) {
  auto start = parse_consume_start(o.consume_start);
  if (!start)
    return failure{"--consume-start: expected new|all|sequence, got \"" + o.consume_start + "\""};
  if (o.start_sequence < 0)
    return failure{"--start-sequence: must not be negative, is " +
                   std::to_string(o.start_sequence)};
  if (*start != consume_start::sequence && o.start_sequence != 0)
    return failure{"--start-sequence: only with --consume-start=sequence"};
  s.config.consumer.start = *start;
  s.config.consumer.start_sequence = static_cast<std::uint64_t>(o.start_sequence);
  return done{};
}

/// The partitions at start, named and filtered: collisions and overlaps stop the start.
status check_partitions(const node_app::app_settings& node, consume_settings& s) {
  auto subjects = subject_template::parse(s.config.subject_template);
  if (!subjects) return failure{"--subject-template: " + subjects.error()};
  auto partitions = node.partitions->load();
  if (!partitions) return failure{partitions.error()};
  auto consumers =
      check_partition_consumers(s.config.prefix_for(node.node), *subjects, *partitions);
  if (!consumers) return failure{"--subject-template: " + consumers.error()};
  s.consumers = std::move(*consumers);
  return done{};
}

}  // namespace

void add_consume_options(caf::config_option_set& set, consume_options& o) {
  const consume_options d;  // the defaults, for the help text
  caf::config_option_adder{set, "global"}
      .add(o.stream, "stream", "the JetStream stream to consume (required)")
      .add(o.subject_template, "subject-template",
           "each partition's subject, its keys as {0}, {1}, ...: e.g. orders.{0} (required)")
      .add(o.consumer_prefix, "consumer-prefix",
           "durable consumer names start with this (default: the group)")
      .add(o.record, "record",
           "append one JSON line per handled message to this file (partition, stream_seq, "
           "worker, started_ms, finished_ms, delivery) (default: none)")
      .add(o.handler_delay, "handler-delay",
           with_default("each message's handling sleeps this long (simulated work)",
                        d.handler_delay))
      .add(o.consume_start, "consume-start",
           with_default("where a new partition consumer starts: new|all|sequence", d.consume_start))
      .add(o.start_sequence, "start-sequence",
           with_default("with --consume-start=sequence: the first stream sequence",
                        d.start_sequence))
      .add(o.ack_wait, "ack-wait",
           with_default("a message not acknowledged this long is delivered again", d.ack_wait))
      .add(o.max_deliver, "max-deliver",
           with_default("deliveries before a message is given up", d.max_deliver))
      .add(o.max_ack_pending, "max-ack-pending",
           with_default("unacknowledged messages per partition (1 keeps the order)",
                        d.max_ack_pending))
      .add(o.in_flight, "in-flight",
           with_default("handlers running at once per partition (1 keeps the order)", d.in_flight))
      .add(o.handler_timeout, "handler-timeout",
           with_default("a handler running longer failed (a nak)", d.handler_timeout))
      .add(o.release_timeout, "release-timeout",
           with_default("at a hand-off, how long running handlers are waited for",
                        d.release_timeout))
      .add(o.pull_expiry, "pull-expiry",
           with_default(
               "a pull request's expiry; auto: " + format_duration(consume_config{}.pull_expiry) +
                   ", or (heartbeat-ttl - lease-margin) / 2 if shorter",
               d.pull_expiry))
      .add(o.dead_letter_subject, "dead-letter-subject",
           "a message failed on its last delivery is published here (default: none)")
      .add(o.create_stream, "create-stream",
           "create the stream if it is missing, on the template's subjects with each token "
           "holding a {i} as * (for demos and tests)");
}

result<consume_settings> to_consume_settings(const consume_options& o,
                                             const node_app::app_settings& node) {
  consume_settings s;
  if (o.stream.empty()) return failure{"--stream: give the stream to consume"};
  if (o.subject_template.empty())
    return failure{"--subject-template: give the partitions' subject, e.g. orders.{0}"};
  s.config.stream = o.stream;
  s.config.subject_template = o.subject_template;
  s.config.consumer_prefix = o.consumer_prefix;
  s.config.consumer.max_deliver = o.max_deliver;
  s.config.consumer.max_ack_pending = o.max_ack_pending;
  s.config.in_flight = o.in_flight;
  s.config.dead_letter_subject = o.dead_letter_subject;
  for (auto step : {read_durations, read_start})
    if (auto ok = step(o, s); !ok) return failure{ok.error()};
  if (auto ok = read_pull_expiry(o, node.node, s); !ok) return failure{ok.error()};
  auto violations = s.config.violations(node.node, option_names());
  if (!violations.empty()) return failure{violations.front().text()};
  if (s.handler_delay >= s.config.handler_timeout)
    return failure{"--handler-delay: must be shorter than --handler-timeout (" +
                   format_duration(s.config.handler_timeout) + "), is " +
                   format_duration(s.handler_delay)};
  if (auto ok = check_partitions(node, s); !ok) return failure{ok.error()};
  s.record_file = o.record;
  s.create_stream = o.create_stream;
  return s;
}

}  // namespace parti::consume_app
