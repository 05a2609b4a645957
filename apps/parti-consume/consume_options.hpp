#pragma once
// parti-consume's own options, beside parti-node's (apps/lib/node_options.hpp): the stream and
// its subject template, the consumers' settings, the simulated work and the record file. As
// for parti-node, the values stay text until checked, so that every mistake ends in one
// message naming the option (exit code 2).
#include <caf/config_option_set.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "apps/lib/node_options.hpp"
#include "parti/messages/result.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/consume/consume_config.hpp"
#include "parti/runtime/consume/consumer_naming.hpp"

namespace parti::consume_app {

/// Options as given; every member holds its default, which --help shows.
struct consume_options {
  std::string stream;
  std::string subject_template;
  std::string consumer_prefix;  // empty: the group's name
  std::string record;           // empty: nothing recorded
  std::string handler_delay = "0s";
  std::string consume_start = "new";
  std::int64_t start_sequence = 0;
  std::string ack_wait = format_duration(consumer_settings{}.ack_wait);
  int max_deliver = consumer_settings{}.max_deliver;
  int max_ack_pending = consumer_settings{}.max_ack_pending;
  int in_flight = consume_config{}.in_flight;
  std::string handler_timeout = format_duration(consume_config{}.handler_timeout);
  std::string release_timeout = format_duration(consume_config{}.release_timeout);
  /// "auto": the library's default, or half of what the node's lease reaches ahead
  /// (heartbeat TTL - lease margin) when that is shorter (scaled-down timings).
  std::string pull_expiry = "auto";
  std::string dead_letter_subject;
  bool create_stream = false;
};

/// Registers the options under "global", beside parti-node's.
void add_consume_options(caf::config_option_set& set, consume_options& o);

/// What parti-consume runs with.
struct consume_settings {
  consume_config config;
  std::string record_file;
  duration handler_delay = duration::zero();
  bool create_stream = false;
  /// The partitions' consumers at start (the partitions may change later with
  /// --refresh-period; the consumer checks those itself).
  std::vector<partition_consumer> consumers;
};

/// Checks the options, also against the node's settings (consume_config::violations) and over
/// the partitions at start (check_partition_consumers: names, overlapping subjects). The
/// failure is one line naming the option.
result<consume_settings> to_consume_settings(const consume_options& o,
                                             const node_app::app_settings& node);

}  // namespace parti::consume_app
