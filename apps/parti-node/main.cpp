// parti-node: runs parti nodes as a CAF application.
//
// This first version is the foundation demo: with no --nats-url it starts a local nats-server
// (the Debian binary) on a free loopback port with a temporary store, then runs --workers demo
// nodes that each write their heartbeat record to the `<group>-heartbeats` bucket every
// --heartbeat-interval, and one observer that watches the bucket and prints what it sees.
// The membership and leader issues replace the demo nodes with real parti nodes.
#include <caf/all.hpp>

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <thread>

#include "messages/codec.hpp"
#include "messages/interfaces.hpp"
#include "runtime/clock.hpp"
#include "runtime/config.hpp"
#include "runtime/log.hpp"
#include "runtime/nats/connection.hpp"
#include "runtime/nats/kv_actor.hpp"
#include "runtime/nats/local_server.hpp"
#include "runtime/nats/watch.hpp"

using namespace parti;

namespace {

std::atomic<bool> stop_requested{false};

extern "C" void on_signal(int) {
  stop_requested = true;
}

struct app_config : caf::actor_system_config {
  std::string nats_url;
  std::string group = "parti";
  int workers = 3;
  std::string heartbeat_interval = "1s";
  std::string run_for = "0s";
  std::string log_level = "info";

  app_config() {
    opt_group{custom_options_, "global"}
        .add(nats_url, "nats-url", "comma-separated NATS URLs; empty: start a local nats-server")
        .add(group, "group", "group name: buckets are <group>-<role>")
        .add(workers, "workers", "nodes in this process")
        .add(heartbeat_interval, "heartbeat-interval", "time between heartbeats, e.g. 500ms")
        .add(run_for, "run-for", "stop after this long (0s: until SIGINT/SIGTERM)")
        .add(log_level, "log-level", "error|warning|info|debug");
    set("scheduler.max-threads", 2);
  }
};

/// Exits with code 2 after one message naming the option and the rule (nothing has started).
[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "parti-node: " << message << "\n";
  std::exit(2);
}

struct demo_worker_state {
  std::uint64_t seq = 0;
  static inline const char* name = "parti.demo_worker";
};

/// Puts this worker's heartbeat every interval (the request never blocks this actor).
caf::behavior demo_worker(caf::stateful_actor<demo_worker_state>* self, kv_actor kv, std::string id,
                          duration interval) {
  self->send(self, caf::tick_atom::value);
  return {
      [=](caf::tick_atom) {
        heartbeat_record hb;
        hb.worker = id;
        hb.instance = id + "-" + std::to_string(::getpid());
        hb.seq = ++self->state.seq;
        hb.sent_at = unix_millis();
        hb.state = "Stable";
        self->request(kv, std::chrono::seconds(5), caf::put_atom::value, id, encode(hb))
            .then([](std::uint64_t) {},
                  [=](const caf::error& e) { log(log_level::warning, id, ": ", describe(e)); });
        self->delayed_send(self, interval, caf::tick_atom::value);
      },
  };
}

struct observer_state {
  std::uint64_t undecodable = 0;
  static inline const char* name = "parti.demo_observer";
};

/// Prints every heartbeat it sees; an undecodable value is counted and logged once per key.
caf::behavior observer(caf::stateful_actor<observer_state>* self) {
  return {
      [=](const watch_update& u) {
        if (u.entry.op != kv_op::put) {
          log(log_level::info, "observer: ", u.entry.key, " left (", to_string(u.entry.op), ")");
          return;
        }
        auto hb = decode<heartbeat_record>(u.entry.value);
        if (!hb) {
          if (self->state.undecodable++ == 0)
            log(log_level::warning, "observer: skipping ", u.entry.key, ": ", hb.error());
          return;
        }
        log(log_level::info, "observer: ", hb->worker, " seq=", hb->seq, " state=", hb->state,
            " rev=", u.entry.revision, u.initial ? " (initial)" : "");
      },
      [=](const watch_ready& r) {
        log(log_level::info, "observer: watching ", r.bucket, r.resumed ? " (resumed)" : "");
      },
  };
}

duration parse_or_exit(const std::string& option, const std::string& text) {
  auto d = parse_duration(text);
  if (!d) usage_error("--" + option + ": " + d.error());
  return *d;
}

void caf_main(caf::actor_system& sys, const app_config& cfg) {
  if (!set_log_level(cfg.log_level)) usage_error("--log-level: expected error|warning|info|debug");
  if (cfg.workers < 1 || cfg.workers > 10000) usage_error("--workers: must be within 1..10000");
  auto interval = parse_or_exit("heartbeat-interval", cfg.heartbeat_interval);
  if (interval < std::chrono::milliseconds(10))
    usage_error("--heartbeat-interval: must be at least 10ms");
  auto run_for = parse_or_exit("run-for", cfg.run_for);

  std::unique_ptr<local_nats_server> embedded;
  connection_options options;
  if (cfg.nats_url.empty()) {
    embedded = std::make_unique<local_nats_server>();
    options.urls = {embedded->url()};
    log(log_level::info, "started a local nats-server at ", embedded->url(), " (store ",
        embedded->store_dir(), ")");
  } else {
    options.urls = split_urls(cfg.nats_url);
  }
  auto conn = connection::open(options);
  if (!conn) usage_error(conn.error());
  (*conn)->add_listener([](const connection_event& e) {
    log(log_level::info, "nats: ", to_string(e.state), " ", e.url, e.detail);
  });
  bucket_settings hb_bucket;
  hb_bucket.name = cfg.group + "-heartbeats";
  hb_bucket.ttl = 3 * interval;
  auto store = kv_store::ensure(*conn, hb_bucket);
  if (!store) {
    log(log_level::error, store.error());
    std::exit(1);
  }
  auto kv = spawn_kv_actor(sys, *store);
  auto watcher = spawn_watch(sys, *store, sys.spawn(observer));
  std::vector<caf::actor> workers;
  for (int i = 0; i < cfg.workers; ++i)
    workers.push_back(sys.spawn(demo_worker, kv, "worker-" + std::to_string(i), interval));

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  auto deadline = std::chrono::steady_clock::now() + run_for;
  while (!stop_requested &&
         (run_for == duration::zero() || std::chrono::steady_clock::now() < deadline))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));

  log(log_level::info, "stopping");
  for (auto& w : workers) caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(kv, caf::exit_reason::user_shutdown);
  sys.await_all_actors_done();  // before the connection and the server go away
}

}  // namespace

CAF_MAIN()
