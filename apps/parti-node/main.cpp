// parti-node: runs one or more parti nodes (workers) of a group as a CAF application.
//
//   parti-node --partitions=24                        local nats-server, one node
//   parti-node --nats-url=nats://a:4222,nats://b:4222 --group=orders --partitions-file=p.txt
//   parti-node --config-file=node.ini                 the same options in an INI [global] section
//
// Options come from CAF's option system (command line, `caf-application.ini` in the working
// directory, or --config-file); parti-node checks every value itself before anything starts and
// exits with code 2 and one message naming the option and the rule. SIGTERM / SIGINT stop every
// node gracefully and in parallel with the configured --shutdown intent (SIGUSR1: with the restart
// intent, for rolling restarts driven by a supervisor); a second signal exits
// at once. With --metrics-address it serves /metrics (Prometheus) and /status (JSON).
//
// main() is written out instead of CAF_MAIN() for the exit codes: CAF_MAIN exits with 1 on an
// option CAF cannot parse, and it would start the actor system before our validation.
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <ctime>
#include <iostream>
#include <thread>

#include "actors/leader/leader_actor.hpp"
#include "actors/node/node_actor.hpp"
#include "apps/parti-node/options.hpp"
#include "apps/parti-node/status_cache.hpp"
#include "messages/announce.hpp"
#include "runtime/log.hpp"
#include "runtime/metrics/http_endpoint.hpp"
#include "runtime/metrics/metrics.hpp"
#include "runtime/nats/group_buckets.hpp"
#include "runtime/nats/local_server.hpp"

using namespace parti;
using namespace parti::node_app;

namespace {

constexpr int exit_runtime_error = 1;
constexpr int exit_usage = 2;

struct app_config : caf::actor_system_config {
  app_options options;
  app_config() {
    add_options(custom_options_, options);
    load<caf::io::middleman>();  // only used with --publish-port
    announce_message_types(*this);
    set("scheduler.max-threads", 2);
    // Work sharing (one queue, threads sleep on a condition variable) instead of CAF's default
    // work stealing, whose idle threads poll every few milliseconds: an idle node used 2.8% of
    // a core with stealing and 0.1% with sharing (docs/BENCHMARKS.md). Nodes exchange few
    // messages, so the shared queue costs nothing measurable.
    set("scheduler.policy", caf::atom("sharing"));
  }
};

// -- signals: blocked in every thread, taken synchronously by the main thread -----------------

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);  // stop with restart intent, whatever --shutdown says
  return set;
}

/// Called before any thread starts, so that every thread inherits the blocked mask and only
/// sigtimedwait in the main thread ever sees these signals (no async handler at all).
void block_stop_signals() {
  auto set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

/// Waits for SIGINT/SIGTERM for at most `limit` (zero: without limit). Returns the signal, or 0
/// when the time is up.
int wait_for_signal(duration limit) {
  auto set = stop_signals();
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    auto slice = std::chrono::seconds(1);  // re-checks the deadline; EINTR-safe
    timespec ts{static_cast<std::time_t>(slice.count()), 0};
    if (limit > duration::zero()) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= duration::zero()) return 0;
      if (left < slice) ts = {0, static_cast<long>(left.count() % 1'000'000'000)};
    }
    int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig > 0) return sig;
  }
}

/// After the first signal a graceful stop may take up to the drain timeout; a second signal
/// means "now".
void exit_on_second_signal() {
  std::thread([] {
    auto set = stop_signals();
    int sig = 0;
    sigwait(&set, &sig);
    log(log_level::warning, "parti-node: second signal (", strsignal(sig), "): exiting at once");
    std::_Exit(exit_runtime_error);
  }).detach();
}

// -- the nodes ----------------------------------------------------------------------------------

leader_factory leader_for(const app_settings& s) {
  leader_settings ls;
  ls.partitions = s.partitions;
  ls.refresh_period = s.refresh_period;
  return make_leader_factory(std::move(ls));
}

/// What one node tells the application: kept for /status, and logged where the node does not
/// log it already (the node logs its id, its state changes and its own leadership, its
/// assignment watch every change it receives; the node also keeps its own metrics).
node_callbacks observe_node(int index, std::shared_ptr<status_cache> cache) {
  auto last_leader = std::make_shared<std::string>();  // per node; used on its actor thread only
  node_callbacks cb;
  cb.on_state = [=](const node_state_update& u) { cache->on_state(index, u); };
  cb.on_leadership = [=](const leadership_update& u) {
    cache->on_leadership(index, u);
    if (!u.leader && u.leader_id != *last_leader)
      log(log_level::info, u.worker, ": ",
          u.leader_id.empty() ? "no leader known" : "leader is " + u.leader_id);
    *last_leader = u.leader_id;
  };
  cb.on_assignment = [=](const assignment_update& u) {
    cache->on_assignment(index, u);
    if (u.reason == "id_lost")  // dropped by the node itself, not received from the leader
      log(log_level::warning, u.worker, ": owns nothing now (its id was lost); ", u.removed.size(),
          " partitions released");
  };
  cb.on_lease = [=](const lease_update& u) { cache->on_lease(index, u); };
  return cb;
}

result<std::vector<caf::actor>> spawn_nodes(caf::actor_system& sys, const app_settings& s,
                                            const std::shared_ptr<group_buckets>& group,
                                            const std::shared_ptr<status_cache>& cache) {
  std::vector<caf::actor> nodes;
  auto leader = leader_for(s);
  for (int i = 0; i < s.workers; ++i) {
    node_options o;
    o.config = config_for_worker(s, i);
    o.group = group;
    o.callbacks = observe_node(i, cache);
    o.leader = leader;
    auto node = spawn_node(sys, std::move(o));
    if (!node) return failure{node.error()};
    nodes.push_back(*node);
  }
  return nodes;
}

/// Asks every node to leave with `intent`, all at once, and waits until all have ended (or
/// kills the rest after `limit`: a node has its own drain timeout, this is the backstop).
void stop_nodes(caf::actor_system& sys, const std::vector<caf::actor>& nodes,
                shutdown_intent intent, duration limit) {
  caf::scoped_actor self{sys};
  for (const auto& n : nodes) {
    self->monitor(n);
    self->send(n, caf::leave_atom::value, intent);
  }
  auto deadline = std::chrono::steady_clock::now() + limit;
  std::size_t running = nodes.size();
  bool late = false;
  while (running > 0 && !late) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    self->receive([&](const caf::down_msg&) { --running; }, [](caf::ok_atom) {},
                  caf::after(std::max(left, std::chrono::milliseconds(0))) >> [&] { late = true; });
  }
  if (!late) return;
  log(log_level::warning, "parti-node: ", running, " node(s) did not stop in time; killing them");
  for (const auto& n : nodes) caf::anon_send_exit(n, caf::exit_reason::kill);
}

// -- the process --------------------------------------------------------------------------------

/// Opens (creates or binds) the group's buckets; while NATS is not reachable yet it keeps
/// trying, with a growing pause, until it works or a signal asks us to stop.
std::shared_ptr<group_buckets> open_group_until_stopped(caf::actor_system& sys,
                                                        const std::shared_ptr<connection>& conn,
                                                        const node_config& cfg,
                                                        const std::shared_ptr<metrics>& m) {
  duration pause = std::chrono::milliseconds(250);
  while (true) {
    auto group = open_group(sys, conn, cfg, m);
    if (group) return *group;
    if (group.failure_value().code == kv_errc::bucket_mismatch ||
        group.failure_value().code == kv_errc::invalid_argument) {
      log(log_level::error, "parti-node: ", group.error());
      return nullptr;  // waiting will not help
    }
    log(log_level::warning, "parti-node: cannot open group ", cfg.group, " yet: ", group.error(),
        "; retrying in ", format_duration(pause));
    if (wait_for_signal(pause) != 0) return nullptr;
    pause = std::min<duration>(pause * 2, std::chrono::seconds(5));
  }
}

std::unique_ptr<http_endpoint> start_endpoint(const app_settings& s,
                                              const std::shared_ptr<metrics>& m,
                                              const std::shared_ptr<status_cache>& cache) {
  if (s.metrics_address.empty()) return nullptr;
  http_endpoint_options options;
  options.address = s.metrics_address;
  options.json_pages["/debug/ownership"] = [cache] { return cache->ownership_json(); };
  auto endpoint = http_endpoint::start(
      m, [cache] { return cache->json(); }, options);
  if (!endpoint) {
    log(log_level::error, "parti-node: --metrics-address: ", endpoint.error());
    return nullptr;
  }
  log(log_level::info, "parti-node: /metrics and /status on http://", (*endpoint)->host(), ":",
      (*endpoint)->port());
  return std::move(*endpoint);
}

/// With --publish-port, each node's handle is reachable by other CAF applications, which send it
/// (caf::subscribe_atom, their actor) to receive its assignment, state and leadership messages.
bool publish_nodes(caf::actor_system& sys, const app_settings& s,
                   const std::vector<caf::actor>& nodes) {
  if (s.publish_port == 0) return true;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    auto port = static_cast<std::uint16_t>(s.publish_port + static_cast<int>(i));
    auto published = sys.middleman().publish(nodes[i], port, s.publish_address.c_str(), true);
    if (!published) {
      log(log_level::error, "parti-node: --publish-port: cannot publish node ", i, " on ",
          s.publish_address, ":", port, ": ", sys.render(published.error()));
      return false;
    }
    log(log_level::info, "parti-node: node ", i, " published on ", s.publish_address, ":",
        *published);
  }
  return true;
}

std::string urls_text(const std::vector<std::string>& urls) {
  std::string text;
  for (const auto& u : urls) text += (text.empty() ? "" : ",") + u;
  return text;
}

int run(caf::actor_system& sys, const app_settings& s, bool embedded) {
  auto conn = connection::open(s.connection);
  if (!conn) {
    log(log_level::error, "parti-node: ", conn.error());
    return exit_runtime_error;
  }
  auto listener = (*conn)->add_listener([](const connection_event& e) {
    auto level = e.state == connection_state::error || e.state == connection_state::disconnected
                     ? log_level::warning
                     : log_level::info;
    log(level, "nats: ", to_string(e.state), " ", e.url, e.detail.empty() ? "" : " ", e.detail);
  });
  auto m = std::make_shared<metrics>();  // one registry for every node of this process
  auto group = open_group_until_stopped(sys, *conn, s.node, m);
  if (!group) return exit_runtime_error;
  auto cache = std::make_shared<status_cache>(
      status_cache::process_info{s.node.group, urls_text(s.connection.urls), embedded,
                                 s.partitions_text},
      s.workers);
  auto endpoint = start_endpoint(s, m, cache);
  int code = 0;
  if (!s.metrics_address.empty() && !endpoint) {
    code = exit_runtime_error;
  } else if (auto nodes = spawn_nodes(sys, s, group, cache); !nodes) {
    log(log_level::error, "parti-node: ", nodes.error());
    code = exit_runtime_error;
  } else if (!publish_nodes(sys, s, *nodes)) {
    code = exit_runtime_error;
    stop_nodes(sys, *nodes, shutdown_intent::restart, std::chrono::seconds(15));
  } else {
    log(log_level::info, "parti-node: group ", s.node.group, ", ", s.workers, " node(s), ",
        s.partitions_text,
        s.refresh_period > duration::zero()
            ? " (re-read every " + format_duration(s.refresh_period) + ")"
            : std::string(),
        ", strategy ", s.node.strategy, ", hand-off ", to_string(s.node.hand_off), ", NATS ",
        urls_text(s.connection.urls), embedded ? " (embedded)" : "");
    int sig = wait_for_signal(s.run_for);
    auto intent = sig == SIGUSR1 ? shutdown_intent::restart : s.node.shutdown;
    log(log_level::info, "parti-node: ", sig ? strsignal(sig) : "--run-for elapsed", "; stopping ",
        s.workers, " node(s) (", to_string(intent), ")");
    exit_on_second_signal();
    stop_nodes(sys, *nodes, intent, s.node.drain_timeout + std::chrono::seconds(15));
  }
  endpoint.reset();  // no more /status reads of the cache
  group->close();
  sys.await_all_actors_done();         // before the connection (and the server) go away
  (*conn)->remove_listener(listener);  // its closing is no news
  return code;
}

/// CAF's option errors carry their data: a file it cannot open its path (sec); a command-line
/// parser error (pec) the argument, an INI syntax error its line and column. Named plainly, not
/// as CAF renders them (`parser_error(unexpected_character, ({"argument" = "--workers=abc"}))`).
std::string describe_parse_error(const caf::error& err, const std::string& config_file) {
  const auto& context = err.context();
  if (err.category() == caf::atom("system") &&
      static_cast<caf::sec>(err.code()) == caf::sec::cannot_open_file &&
      context.match_elements<std::string>())
    return "--config-file: cannot open \"" + context.get_as<std::string>(0) + "\"";
  if (err.category() != caf::atom("parser") || !context.match_elements<caf::settings>())
    return caf::actor_system_config::render(err);
  const auto code = static_cast<caf::pec>(err.code());
  const auto& where = context.get_as<caf::settings>(0);
  if (auto argument = caf::get_if<std::string>(&where, "argument")) {
    if (code == caf::pec::not_an_option) return *argument + ": unknown option";
    if (code == caf::pec::missing_argument) return *argument + ": missing value";
    return *argument + ": invalid value (" + caf::to_string(code) + ")";
  }
  auto line = caf::get_if<int64_t>(&where, "line");
  auto column = caf::get_if<int64_t>(&where, "column");
  if (line && column)
    return "config file " + config_file + ": line " + std::to_string(*line) + ", column " +
           std::to_string(*column) + ": " + caf::to_string(code);
  return caf::actor_system_config::render(err);
}

int usage_error(const std::string& message) {
  std::cerr << "parti-node: " << message << " (see parti-node --help)\n";
  return exit_usage;
}

std::unique_ptr<local_nats_server> start_local_server() {
  try {
    auto server = std::make_unique<local_nats_server>();
    log(log_level::info, "parti-node: started a local nats-server at ", server->url(), " (store ",
        server->store_dir(), ")");
    return server;
  } catch (const std::exception& e) {
    log(log_level::error, "parti-node: cannot start a local nats-server: ", e.what());
    return nullptr;
  }
}

}  // namespace

int main(int argc, char** argv) {
  app_config cfg;
  if (auto err = cfg.parse(argc, argv, "caf-application.ini"))
    return usage_error(describe_parse_error(err, cfg.config_file_path));
  if (cfg.cli_helptext_printed) return 0;
  if (!cfg.remainder.empty())
    return usage_error("unexpected argument \"" + cfg.remainder[0] + "\"");
  auto settings = to_settings(cfg.options);
  if (!settings) return usage_error(settings.error());
  set_log_level(settings->log_level);
  for (const auto& caution : settings->node.cautions())
    log(log_level::warning, "parti-node: ", caution);
  if (settings->refresh_period > duration::zero() && cfg.options.partitions_file.empty())
    log(log_level::warning, "parti-node: --refresh-period has no effect with --partitions (a ",
        "count never changes); it re-reads --partitions-file");
  // The server is a child process: start it before the signals are blocked, or it would
  // inherit the blocked mask and not stop on SIGTERM.
  std::unique_ptr<local_nats_server> server;
  bool embedded = settings->connection.urls.empty();
  if (embedded) {
    if (!(server = start_local_server())) return exit_runtime_error;
    settings->connection.urls = {server->url()};
  }
  block_stop_signals();
  int code = 0;
  {
    caf::actor_system sys{cfg};
    code = run(sys, *settings, embedded);
  }
  server.reset();
  return code;
}
