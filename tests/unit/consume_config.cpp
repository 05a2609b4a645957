#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "parti/runtime/config.hpp"
#include "parti/runtime/consume/consume_config.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

const node_config node;  // heartbeat_ttl 3s, lease_margin 300ms, hand_off_timeout 10s

// The defaults, with the two settings that have none.
consume_config valid() {
  consume_config c;
  c.stream = "ORDERS";
  c.subject_template = "orders.{0}";
  return c;
}

std::vector<std::string> texts(const consume_config& c) {
  std::vector<std::string> out;
  for (const auto& v : c.violations(node)) out.push_back(v.text());
  return out;
}

// The single violation of `c`, or a description of what was found instead.
std::string only_violation(const consume_config& c) {
  auto all = texts(c);
  if (all.size() == 1) return all.front();
  std::string text = std::to_string(all.size()) + " violations:";
  for (auto& v : all) text += " [" + v + "]";
  return text;
}

bool has_violation(const consume_config& c, const std::string& text) {
  auto all = texts(c);
  return std::find(all.begin(), all.end(), text) != all.end();
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_defaults_are_valid_against_the_default_node) {
  BOOST_TEST(valid().violations(node).empty());
  BOOST_TEST(valid().validate(node).ok());
  consume_config c;
  BOOST_TEST((c.pull_expiry < node.heartbeat_ttl - node.lease_margin));
  BOOST_TEST(c.in_flight == 1);
  BOOST_TEST(c.consumer.max_ack_pending == 1);
}

BOOST_AUTO_TEST_CASE(validate_joins_every_violation) {
  consume_config c = valid();
  c.stream.clear();
  c.pull_batch = -1;
  auto s = c.validate(node);
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST(s.error() ==
             "invalid consume configuration: stream: must not be empty; pull_batch: must be at "
             "least 0 (is -1)");
}

BOOST_AUTO_TEST_CASE(stream_and_consumer_prefix_are_names) {
  consume_config c = valid();
  c.stream = "";
  BOOST_TEST(only_violation(c) == "stream: must not be empty");
  for (std::string bad : {"a.b", "a*", "a>", "a b", "a/b", "a\\b", "a\tb"}) {
    c.stream = bad;
    BOOST_TEST(only_violation(c) ==
               "stream: must not contain '.', '*', '>', '/', '\\', whitespace or control "
               "characters, is \"" +
                   bad + "\"");
  }
  c = valid();
  c.consumer_prefix = "my.group";
  BOOST_TEST(only_violation(c) ==
             "consumer_prefix: must not contain '.', '*', '>', '/', '\\', whitespace or control "
             "characters, is \"my.group\"");
  c.consumer_prefix = "my-group_2";
  BOOST_TEST(texts(c).empty());
}

BOOST_AUTO_TEST_CASE(the_subject_template_must_parse) {
  consume_config c = valid();
  c.subject_template = "orders.*.{0}";
  BOOST_TEST(only_violation(c) ==
             "subject_template: must be a subject with {0}, {1}, ... for the partition's keys: "
             "subject template \"orders.*.{0}\": wildcard '*' at position 8 (each partition's "
             "filter subject must be literal)");
  c.subject_template = "";
  BOOST_TEST(only_violation(c) ==
             "subject_template: must be a subject with {0}, {1}, ... for the partition's keys: "
             "subject template \"\": is empty");
}

BOOST_AUTO_TEST_CASE(the_consumer_s_settings) {
  consume_config c = valid();
  c.consumer.ack_wait = 0s;
  BOOST_TEST(has_violation(c, "consumer.ack_wait: must be greater than 0 (is 0s)"));
  c = valid();
  c.consumer.max_deliver = 0;
  BOOST_TEST(only_violation(c) ==
             "consumer.max_deliver: must be -1 (unlimited) or at least 1 (is 0)");
  c.consumer.max_deliver = -2;
  BOOST_TEST(only_violation(c) ==
             "consumer.max_deliver: must be -1 (unlimited) or at least 1 (is -2)");
  c.consumer.max_deliver = -1;  // unlimited
  BOOST_TEST(c.violations(node).empty());
  BOOST_TEST(consume_config{}.consumer.max_deliver == -1);  // the default
  c = valid();
  c.consumer.max_ack_pending = 0;
  BOOST_TEST(has_violation(c, "consumer.max_ack_pending: must be at least 1 (is 0)"));
  c = valid();
  c.consumer.replicas = 6;
  BOOST_TEST(only_violation(c) == "consumer.replicas: must be within [1, 5] (is 6)");
  c.consumer.replicas = 0;
  BOOST_TEST(only_violation(c) == "consumer.replicas: must be within [1, 5] (is 0)");
  c.consumer.replicas = 5;
  BOOST_TEST(texts(c).empty());
  c.consumer.start = consume_start::sequence;
  BOOST_TEST(only_violation(c) ==
             "consumer.start_sequence: must be at least 1 when consumer.start is sequence (is 0)");
  c.consumer.start_sequence = 1;
  BOOST_TEST(texts(c).empty());
  c.consumer.start = consume_start::all;
  c.consumer.start_sequence = 0;
  BOOST_TEST(texts(c).empty());  // only read with sequence
  c.consumer.inactive_threshold = -1s;
  BOOST_TEST(only_violation(c) == "consumer.inactive_threshold: must not be negative, is -1s");
}

BOOST_AUTO_TEST_CASE(in_flight_and_pull_batch) {
  consume_config c = valid();
  c.in_flight = 0;
  BOOST_TEST(only_violation(c) == "in_flight: must be at least 1 (is 0)");
  c.in_flight = 2;
  BOOST_TEST(only_violation(c) == "in_flight: must not exceed consumer.max_ack_pending (1), is 2");
  c.consumer.max_ack_pending = 2;
  BOOST_TEST(texts(c).empty());
  c.pull_batch = 0;
  BOOST_TEST(texts(c).empty());
  c.pull_batch = -1;
  BOOST_TEST(only_violation(c) == "pull_batch: must be at least 0 (is -1)");
}

BOOST_AUTO_TEST_CASE(a_pull_asks_for_max_ack_pending_unless_told_otherwise) {
  consume_config c = valid();
  BOOST_TEST(c.pull_batch == 0);
  BOOST_TEST(c.pull_batch_in_use() == 1);
  c.consumer.max_ack_pending = 64;
  BOOST_TEST(c.pull_batch_in_use() == 64);
  c.pull_batch = 8;
  BOOST_TEST(c.pull_batch_in_use() == 8);
}

BOOST_AUTO_TEST_CASE(a_pull_must_be_able_to_end_before_the_lease) {
  consume_config c = valid();
  c.pull_expiry = 99ms;
  BOOST_TEST(only_violation(c) == "pull_expiry: must be at least 100ms, is 99ms");
  c.pull_expiry = 100ms;
  BOOST_TEST(texts(c).empty());
  c.pull_expiry = 2700ms;  // heartbeat_ttl - lease_margin
  BOOST_TEST(only_violation(c) ==
             "pull_expiry: must be below heartbeat_ttl (3s) - lease_margin (300ms), is 2.7s");
  c.pull_expiry = 2700ms - 1ns;
  BOOST_TEST(texts(c).empty());
  c.pull_grace = 0s;
  BOOST_TEST(only_violation(c) == "pull_grace: must be greater than 0 (is 0s)");
}

BOOST_AUTO_TEST_CASE(the_ack_margin_lies_within_the_ack_wait) {
  consume_config c = valid();
  c.ack_margin = -1ms;
  BOOST_TEST(only_violation(c) == "ack_margin: must not be negative, is -1ms");
  c.ack_margin = 0s;
  BOOST_TEST(texts(c).empty());
  c.ack_margin = 30s;
  BOOST_TEST(has_violation(c, "ack_margin: must be below consumer.ack_wait (30s), is 30s"));
}

BOOST_AUTO_TEST_CASE(handlers_and_the_release_fit_in_the_node_s_hand_off_timeout) {
  consume_config c = valid();
  c.handler_timeout = 0s;
  BOOST_TEST(only_violation(c) == "handler_timeout: must be greater than 0 (is 0s)");
  c = valid();
  c.release_timeout = 0s;
  BOOST_TEST(only_violation(c) == "release_timeout: must be greater than 0 (is 0s)");
  c = valid();
  c.handler_timeout = 8s;  // 8s + 2s is not below 10s
  BOOST_TEST(only_violation(c) ==
             "handler_timeout: must be below hand_off_timeout (10s) - release_timeout (2s), is 8s");
  c.handler_timeout = 8s - 1ns;
  BOOST_TEST(texts(c).empty());
}

BOOST_AUTO_TEST_CASE(without_progress_a_handler_ends_before_its_message_s_deadline) {
  consume_config c = valid();
  c.consumer.ack_wait = 6s;  // 6s - 1s is not above the 5s handler timeout
  BOOST_TEST(only_violation(c) ==
             "handler_timeout: must be below consumer.ack_wait (6s) - ack_margin (1s) without "
             "progress_interval, is 5s");
  c.consumer.ack_wait = 6s + 1ns;
  BOOST_TEST(texts(c).empty());
  c.consumer.ack_wait = 3s;
  c.progress_interval = 1s;  // in-progress acks keep the message: the handler may run longer
  BOOST_TEST(texts(c).empty());
  c.progress_interval = 2s;
  BOOST_TEST(only_violation(c) ==
             "progress_interval: must be below consumer.ack_wait (3s) - ack_margin (1s), is 2s");
  c.progress_interval = -1s;
  BOOST_TEST(only_violation(c) == "progress_interval: must not be negative, is -1s");
}

BOOST_AUTO_TEST_CASE(the_dead_letter_subject_is_empty_or_literal) {
  consume_config c = valid();
  for (std::string good : {"", "dead", "orders.dead.letters"}) {
    c.dead_letter_subject = good;
    BOOST_TEST(texts(c).empty(), good);
  }
  for (std::string bad : {"dead.*", "dead.>", "dead letters", ".dead", "dead.", "dead..x"}) {
    c.dead_letter_subject = bad;
    BOOST_TEST(only_violation(c) ==
               "dead_letter_subject: must be empty or one literal subject (no wildcard, no "
               "whitespace, no empty token), is \"" +
                   bad + "\"");
  }
}

BOOST_AUTO_TEST_CASE(threads_backoff_and_lag) {
  consume_config c = valid();
  c.handler_threads = 0;
  BOOST_TEST(only_violation(c) == "handler_threads: must be within [1, 256] (is 0)");
  c.handler_threads = 257;
  BOOST_TEST(only_violation(c) == "handler_threads: must be within [1, 256] (is 257)");
  c.handler_threads = 256;
  BOOST_TEST(texts(c).empty());
  c.restart_backoff.initial = 0s;
  BOOST_TEST(only_violation(c) ==
             "restart_backoff: must be a valid backoff (backoff.initial: must be greater than 0)");
  c = valid();
  c.lag_interval = -1s;
  BOOST_TEST(only_violation(c) == "lag_interval: must not be negative, is -1s");
  c.lag_interval = 0s;  // never
  BOOST_TEST(texts(c).empty());
  c.lag_top_k = -1;
  BOOST_TEST(only_violation(c) == "lag_top_k: must be at least 0 (is -1)");
}

BOOST_AUTO_TEST_CASE(a_program_names_the_settings_its_own_way) {
  consume_config c = valid();
  c.pull_expiry = 5s;
  field_namer flags = [](std::string_view field) {
    std::string name = "--" + std::string(field);
    std::replace(name.begin(), name.end(), '_', '-');
    std::replace(name.begin(), name.end(), '.', '-');
    return name;
  };
  auto all = c.violations(node, flags);
  BOOST_REQUIRE(all.size() == 1u);
  BOOST_TEST(all[0].field == "pull_expiry");
  BOOST_TEST(all[0].text() ==
             "--pull-expiry: must be below --heartbeat-ttl (3s) - --lease-margin (300ms), is 5s");
}

BOOST_AUTO_TEST_CASE(rules_follow_the_node_s_settings) {
  node_config slow = node;
  slow.heartbeat_interval = 3s;
  slow.heartbeat_ttl = 10s;
  slow.hand_off_timeout = 30s;
  consume_config c = valid();
  c.pull_expiry = 5s;
  c.handler_timeout = 20s;
  c.consumer.ack_wait = 60s;
  BOOST_TEST(c.violations(slow).empty());
  BOOST_TEST(c.violations(node).size() == 2u);
}

BOOST_AUTO_TEST_CASE(the_consumer_prefix_defaults_to_the_group) {
  node_config n = node;
  n.group = "billing";
  consume_config c = valid();
  BOOST_TEST(c.prefix_for(n) == "billing");
  c.consumer_prefix = "billing-v2";
  BOOST_TEST(c.prefix_for(n) == "billing-v2");
}

BOOST_AUTO_TEST_CASE(start_positions_as_text) {
  for (auto s : {consume_start::new_messages, consume_start::all, consume_start::sequence})
    BOOST_TEST((parse_consume_start(to_string(s)) == s));
  BOOST_TEST(to_string(consume_start::new_messages) == "new");
  BOOST_TEST(to_string(consume_start::all) == "all");
  BOOST_TEST(to_string(consume_start::sequence) == "sequence");
  BOOST_TEST(!parse_consume_start("New").has_value());
  BOOST_TEST(!parse_consume_start("").has_value());
  BOOST_TEST(!parse_consume_start("new_messages").has_value());
}
