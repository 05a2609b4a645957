// parti-consume: consumes a JetStream stream's partitions as part of a parti group and records
// every message it handled, for demos, tests and chaos runs that check the consumption has no
// gap and no overlap (parti-ctl consume-check).
//
//   parti-consume --nats-url=nats://127.0.0.1:4222 --partitions=6 --stream=ORDERS
//                 --subject-template='orders.{0}' --handler-delay=20ms --record=worker.jsonl
//
// It takes parti-node's options (NATS, group, partitions, timings, HTTP with /status, shutdown;
// apps/lib/node_options.hpp) and runs its nodes the same way (apps/lib/node_process.hpp: exit
// codes, signals, logs). Each node gets one partition consumer (actors/consumer), whose handler
// sleeps --handler-delay (simulated work), appends one JSON line to --record and acknowledges:
//   {"partition":"p-3","stream_seq":17,"worker":"worker-2","started_ms":..,"finished_ms":..,
//    "delivery":1}
// (wall clock ms; the partition's keys joined by "-"; the worker id the node holds; the server's
// delivery count).
#include <chrono>
#include <memory>
#include <thread>

#include "apps/lib/node_process.hpp"
#include "apps/lib/partition_stream.hpp"
#include "apps/lib/version_flag.hpp"
#include "apps/parti-consume/consume_options.hpp"
#include "apps/parti-consume/record_file.hpp"
#include "parti/actors/consumer/consumer_actor.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/nats/connection.hpp"

using namespace parti;
using namespace parti::consume_app;
using parti::node_app::node_context;

namespace {

constexpr const char* program_name = "parti-consume";

struct consume_app_config : node_app::node_app_config {
  consume_options consume;
  consume_app_config() { add_consume_options(custom_options_, consume); }
};

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// The handler of node `index`'s consumer: simulated work, then the record, then the ack. A
/// record that cannot be written is a nak: the message comes again rather than going unrecorded.
message_callback record_and_ack(int index, std::shared_ptr<node_app::status_cache> cache,
                                std::shared_ptr<record_file> records, duration delay) {
  return [=](const consumed_message& msg) {
    consume_check::record r;
    r.partition = partition_label(msg.partition);
    r.stream_seq = msg.stream_seq;
    r.delivery = msg.delivery_count;
    r.worker = cache->last_worker(index);  // the consumer only runs while its node holds an id
    r.started_ms = wall_ms();
    if (delay > duration::zero()) std::this_thread::sleep_for(delay);
    r.finished_ms = wall_ms();
    if (!records) return ack_reply();
    if (auto ok = records->write(r); !ok) {
      log(log_level::error, program_name, ": ", r.worker, ": ", r.partition, " seq ", r.stream_seq,
          ": ", ok.error(), "; not acknowledged");
      return nak_reply(std::chrono::nanoseconds(std::chrono::seconds(1)).count());
    }
    return ack_reply();
  };
}

/// Everything parti-consume adds to parti-node's program.
struct consume_program {
  const consume_app_config& cfg;
  consume_settings settings;
  node_config node;  // as every node's, but for its preferred id
  std::shared_ptr<record_file> records;

  status check(const node_app::app_settings& s_node) {
    node = s_node.node;
    auto s = to_consume_settings(cfg.consume, s_node);
    if (!s) return failure{s.error()};
    settings = std::move(*s);
    if (settings.record_file.empty()) return done{};
    auto file = record_file::open(settings.record_file);
    if (!file) return failure{"--record: " + file.error()};
    records = std::move(*file);
    return done{};
  }

  status prepare(const std::shared_ptr<connection>& conn) {
    const auto& stream = settings.config.stream;
    if (settings.create_stream) {
      auto subject = stream_subject(settings.config.subject_template);
      auto created = ensure_stream(*conn, stream, subject);
      if (!created) return failure{"--create-stream: " + created.error()};
      if (*created)
        log(log_level::info, program_name, ": created stream ", stream, " on ", subject);
    } else if (auto exists = stream_exists(*conn, stream); !exists) {
      // Not fatal: the stream may be created later; the consumer retries.
      log(log_level::warning, program_name, ": ", exists.error());
    }
    log(log_level::info, program_name, ": consuming stream ", stream, " (",
        settings.consumers.size(), " partitions on ", settings.config.subject_template,
        ", consumers ", settings.config.prefix_for(node), "_...)",
        records ? ", recording to " + settings.record_file : std::string());
    return done{};
  }

  result<std::vector<caf::actor>> start_consumer(caf::actor_system& sys, const node_context& n) {
    consumer_options o;
    o.config = settings.config;
    o.node = n.config;
    o.conn = n.conn;
    o.node_handle = n.node;
    o.callback = record_and_ack(n.index, n.cache, records, settings.handler_delay);
    o.stats = n.stats;
    auto consumer = spawn_consumer(sys, std::move(o));
    if (!consumer)
      return failure{"consumer of node " + std::to_string(n.index) + ": " + consumer.error()};
    return std::vector<caf::actor>{*consumer};
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (node_app::print_version_if_asked(program_name, argc, argv)) return 0;
  consume_app_config cfg;
  consume_program consume{cfg, {}, {}, nullptr};
  node_app::node_program program;
  program.name = program_name;
  program.check = [&](const node_app::app_settings& s) { return consume.check(s); };
  program.prepare = [&](const std::shared_ptr<connection>& c) { return consume.prepare(c); };
  program.on_node = [&](caf::actor_system& sys, const node_context& n) {
    return consume.start_consumer(sys, n);
  };
  return node_app::run_node_program(cfg, argc, argv, program);
}
