#include "apps/lib/node_process.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "apps/lib/node_probes.hpp"
#include "apps/lib/service_notify.hpp"
#include "parti/actors/leader/leader_actor.hpp"
#include "parti/actors/node/node_actor.hpp"
#include "parti/messages/announce.hpp"
#include "parti/messages/atoms.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/metrics/http_endpoint.hpp"
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/nats/connection.hpp"
#include "parti/runtime/nats/connection_metrics.hpp"
#include "parti/runtime/nats/group_buckets.hpp"
#include "parti/runtime/nats/local_server.hpp"
#include "parti/runtime/secrets.hpp"

namespace parti::node_app {

node_app_config::node_app_config() {
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

namespace {

// -- signals: blocked in every thread, taken synchronously by the main thread -----------------

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);  // stop with restart intent, whatever --shutdown says
  sigaddset(&set, SIGHUP);   // no stop: the leader re-reads the partitions (see run_nodes)
  return set;
}

/// Called before any thread starts, so that every thread inherits the blocked mask and only
/// sigtimedwait in the main thread ever sees these signals (no async handler at all).
void block_stop_signals() {
  auto set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

/// Waits for SIGINT/SIGTERM/SIGUSR1/SIGHUP for at most `limit` (zero: without limit). Returns the
/// signal, or 0 when the time is up.
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
/// (SIGHUP included) means "now".
void exit_on_second_signal(const std::string& program) {
  std::thread([program] {
    auto set = stop_signals();
    int sig = 0;
    sigwait(&set, &sig);
    log(log_level::warning, program, ": second signal (", strsignal(sig), "): exiting at once");
    std::_Exit(exit_runtime_error);
  }).detach();
}

// -- the nodes ----------------------------------------------------------------------------------

leader_factory leader_for(const app_settings& s) {
  leader_settings ls;
  ls.partitions = s.partitions;
  ls.refresh_period = s.refresh_period;
  ls.strategy = s.strategy;
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

/// What runs: the nodes, and the actors the program's hook started beside them.
struct running {
  std::vector<caf::actor> nodes;
  std::vector<caf::actor> companions;
};

/// Spawns every node, and after each one the program's actors beside it. On a failure `out`
/// holds what did start, for the caller to stop.
status spawn_nodes(caf::actor_system& sys, const app_settings& s, const node_program& program,
                   const std::shared_ptr<connection>& conn,
                   const std::shared_ptr<group_buckets>& group, const std::shared_ptr<metrics>& m,
                   const std::shared_ptr<status_cache>& cache, running& out) {
  auto leader = leader_for(s);
  for (int i = 0; i < s.workers; ++i) {
    node_options o;
    o.config = config_for_worker(s, i);
    o.group = group;
    o.callbacks = observe_node(i, cache);
    o.leader = leader;
    auto config = o.config;
    auto node = spawn_node(sys, std::move(o));
    if (!node) return failure{node.error()};
    out.nodes.push_back(*node);
    if (!program.on_node) continue;
    auto started = program.on_node(sys, node_context{i, *node, config, conn, m, cache});
    if (!started) return failure{started.error()};
    out.companions.insert(out.companions.end(), started->begin(), started->end());
  }
  return done{};
}

/// Waits (on `self`) for `count` down messages until `deadline`; returns how many are missing.
std::size_t await_down(caf::scoped_actor& self, std::size_t count,
                       std::chrono::steady_clock::time_point deadline) {
  bool late = false;
  while (count > 0 && !late) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    self->receive([&](const caf::down_msg&) { --count; }, [](caf::ok_atom) {},
                  caf::after(std::max(left, std::chrono::milliseconds(0))) >> [&] { late = true; });
  }
  return count;
}

/// Asks every node to leave with `intent`, all at once, and waits until all have ended; then
/// asks the program's actors that still run to stop. What has not ended after `limit` is
/// killed (a node has its own drain timeout, this is the backstop). The program's actors stay
/// up while the nodes drain: a consumer must release its partitions before its node hands them
/// over.
void stop_all(caf::actor_system& sys, const std::string& program, const running& r,
              shutdown_intent intent, duration limit) {
  caf::scoped_actor self{sys};
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (const auto& n : r.nodes) {
    self->monitor(n);
    self->send(n, caf::leave_atom::value, intent);
  }
  auto nodes_left = await_down(self, r.nodes.size(), deadline);
  if (nodes_left > 0) {
    log(log_level::warning, program, ": ", nodes_left,
        " node(s) did not stop in time; killing them");
    for (const auto& n : r.nodes) caf::anon_send_exit(n, caf::exit_reason::kill);
  }
  for (const auto& c : r.companions) {
    self->monitor(c);  // a down message at once for one that already ended
    self->send_exit(c, caf::exit_reason::user_shutdown);
  }
  auto others_left = await_down(self, r.companions.size(), deadline);
  if (others_left == 0) return;
  log(log_level::warning, program, ": ", others_left,
      " actor(s) did not stop in time; killing them");
  for (const auto& c : r.companions) caf::anon_send_exit(c, caf::exit_reason::kill);
}

// -- the process --------------------------------------------------------------------------------

/// Why start-up gave up after --nats-startup-timeout: nothing answered, or the group's buckets
/// could not be opened on the server that did.
std::string startup_failure(const std::shared_ptr<connection>& conn, const app_settings& s,
                            const std::string& last_error) {
  const auto within =
      " within " + format_duration(s.nats_startup_timeout) + " (--nats-startup-timeout)";
  if (!conn->connected())
    return "no NATS server answered at " + redacted_urls(s.connection.urls) + within +
           "; start one there, name another with --nats-url or NATS_URL, or run one of this "
           "process's own with --nats-url=embedded";
  return "cannot open group " + s.node.group + within + ": " + last_error;
}

/// Why NATS will not let this process work, when it said so: the credentials were refused
/// (exit_authorization_failed) or a subject the group needs was (exit_permission_denied). Zero
/// when neither; then `why` is untouched.
int nats_refusal_code(const connection& conn, std::string& why) {
  if (auto refused = conn.authorization_failure(); !refused.empty()) {
    why = "NATS refused the credentials at " + redacted_urls(conn.options().urls) +
          " (authorization violation: " + refused + "); check --nats-user/--nats-password, " +
          "--nats-token or --nats-creds";
    return exit_authorization_failed;
  }
  if (auto denied = conn.last_permission_violation(); !denied.empty()) {
    why = "NATS denied a subject the group needs (permission denied: " + denied +
          "); see docs/SECURITY.md for a worker's permissions";
    return exit_permission_denied;
  }
  return 0;
}

/// Opens (creates or binds) the group's buckets; while NATS is not reachable yet it keeps
/// trying, with a growing pause, until it works, --nats-startup-timeout has passed, or a signal
/// asks us to stop. On failure `exit_code` says why: a refusal of the credentials or of a
/// subject (the same request would be refused again) gets its own code, a bucket with other
/// settings is a configuration error (exit_usage: restarting cannot fix it), the rest
/// exit_runtime_error.
std::shared_ptr<group_buckets> open_group_until_stopped(
    caf::actor_system& sys, const std::string& program, const std::shared_ptr<connection>& conn,
    const app_settings& s, const std::shared_ptr<metrics>& m, int& exit_code) {
  const auto& cfg = s.node;
  const bool limited = s.nats_startup_timeout > duration::zero();
  const auto deadline = std::chrono::steady_clock::now() + s.nats_startup_timeout;
  exit_code = exit_runtime_error;
  duration pause = std::chrono::milliseconds(250);
  while (true) {
    auto group = open_group(sys, conn, cfg, m, node_option_names());
    if (group) return *group;
    const auto error = redact_text(group.error(), conn->options().secrets());
    std::string why;
    if (int refusal = nats_refusal_code(*conn, why); refusal != 0) {
      log(log_level::error, program, ": ", redact_text(why, conn->options().secrets()));
      exit_code = refusal;
      return nullptr;
    }
    const auto code = group.failure_value().code;
    if (code == kv_errc::bucket_mismatch || code == kv_errc::invalid_argument) {
      log(log_level::error, program, ": ", error);
      exit_code = exit_usage;  // settings the store refuses: restarting cannot fix them
      return nullptr;          // waiting will not help
    }
    auto left = deadline - std::chrono::steady_clock::now();
    if (limited && left <= duration::zero()) {
      log(log_level::error, program, ": ", startup_failure(conn, s, error));
      return nullptr;
    }
    auto wait = limited ? std::min<duration>(pause, left) : pause;
    log(log_level::warning, program, ": cannot open group ", cfg.group, " yet: ", error,
        "; retrying in ", format_duration(wait));
    if (auto sig = wait_for_signal(wait); sig != 0 && sig != SIGHUP) return nullptr;
    pause = std::min<duration>(pause * 2, std::chrono::seconds(5));
  }
}

http_page readiness_page(const status_cache::readiness_page& r) {
  return http_page{r.ready ? 200 : 503, r.json};
}

/// /metrics, /status, /debug/ownership and the probes: /healthz (liveness), /readyz (every
/// node ready) and /readyz/<i> (node i of --workers only).
std::unique_ptr<http_endpoint> start_endpoint(caf::actor_system& sys, const std::string& program,
                                              const app_settings& s,
                                              const std::shared_ptr<metrics>& m,
                                              const std::shared_ptr<status_cache>& cache,
                                              const std::shared_ptr<const node_handles>& nodes) {
  if (s.metrics_address.empty()) return nullptr;
  http_endpoint_options options;
  options.address = s.metrics_address;
  options.json_pages["/debug/ownership"] = [cache] { return cache->ownership_json(); };
  options.json_pages["/healthz"] = [&sys, nodes] { return liveness(sys, *nodes); };
  options.json_pages["/readyz"] = [cache] { return readiness_page(cache->readiness_report()); };
  for (int i = 0; i < s.workers; ++i)
    options.json_pages["/readyz/" + std::to_string(i)] = [cache, i] {
      return readiness_page(cache->readiness_report(i));
    };
  auto endpoint = http_endpoint::start(
      m, [cache] { return cache->json(); }, options);
  if (!endpoint) {
    log(log_level::error, program, ": --metrics-address: ", endpoint.error());
    return nullptr;
  }
  // Tests and scripts read the port from this line ("/status on http://...").
  log(log_level::info, program, ": /metrics, /healthz, /readyz and /status on http://",
      (*endpoint)->host(), ":", (*endpoint)->port());
  return std::move(*endpoint);
}

/// With --publish-port, each node's handle is reachable by other CAF applications, which send it
/// (caf::subscribe_atom, their actor) to receive its assignment, state and leadership messages.
bool publish_nodes(caf::actor_system& sys, const std::string& program, const app_settings& s,
                   const std::vector<caf::actor>& nodes) {
  if (s.publish_port == 0) return true;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    auto port = static_cast<std::uint16_t>(s.publish_port + static_cast<int>(i));
    auto published = sys.middleman().publish(nodes[i], port, s.publish_address.c_str(), true);
    if (!published) {
      log(log_level::error, program, ": --publish-port: cannot publish node ", i, " on ",
          s.publish_address, ":", port, ": ", sys.render(published.error()));
      return false;
    }
    log(log_level::info, program, ": node ", i, " published on ", s.publish_address, ":",
        *published);
  }
  return true;
}

void log_started(const std::string& program, const app_settings& s, bool embedded) {
  log(log_level::info, program, ": group ", s.node.group, ", ", s.workers, " node(s), ",
      s.partitions_text,
      s.refresh_period > duration::zero()
          ? " (re-read every " + format_duration(s.refresh_period) + ")"
          : std::string(),
      ", strategy ", s.node.strategy, ", hand-off ", to_string(s.node.hand_off), ", NATS ",
      redacted_urls(s.connection.urls), embedded ? " (embedded)" : "");
}

/// What ended wait_for_stop when no signal did: the credentials were refused on a reconnect.
constexpr int stopped_by_refusal = -1;

/// Waits for a signal that stops the nodes, or for `run_for` (zero: without limit); returns the
/// signal, 0 when the time is up, stopped_by_refusal when NATS refused the credentials on a
/// reconnect (revoked or changed since the start: nats.c then closes the connection, and
/// waiting for it would leave the nodes without a store forever) or denied a subject (the
/// user lacks a permission a node needs: it would fail the same way on every retry). SIGHUP does
/// not stop: like `parti-ctl refresh`, it asks the leader (through any node) to re-read the
/// partition source and rebalance if it changed.
int wait_for_stop(const std::string& name, duration run_for, const running& r,
                  const connection& conn) {
  const auto deadline = std::chrono::steady_clock::now() + run_for;
  const auto check_every = std::chrono::milliseconds(250);
  while (true) {
    duration slice = check_every;
    if (run_for > duration::zero()) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= duration::zero()) return 0;
      slice = std::min<duration>(slice, left);
    }
    int sig = wait_for_signal(slice);
    if (sig == 0) {
      if (!conn.authorization_failure().empty() || !conn.last_permission_violation().empty())
        return stopped_by_refusal;
      continue;
    }
    if (sig != SIGHUP) return sig;
    log(log_level::info, name, ": SIGHUP: asking the leader to re-read the partitions");
    if (!r.nodes.empty()) caf::anon_send(r.nodes.front(), refresh_atom::value);
  }
}

/// Starts the nodes (and the program's actors), waits for a signal or --run-for, stops them.
int run_nodes(caf::actor_system& sys, const node_program& program, const app_settings& s,
              bool embedded, const std::shared_ptr<connection>& conn,
              const std::shared_ptr<group_buckets>& group, const std::shared_ptr<metrics>& m,
              const std::shared_ptr<status_cache>& cache, node_handles& handles,
              service_notifier& notifier) {
  const auto& name = program.name;
  const auto stop_limit = s.node.drain_timeout + std::chrono::seconds(15);
  if (program.prepare) {
    if (auto ok = program.prepare(conn); !ok) {
      log(log_level::error, name, ": ", ok.error());
      return exit_runtime_error;
    }
  }
  running r;
  auto spawned = spawn_nodes(sys, s, program, conn, group, m, cache, r);
  handles.set(r.nodes);
  if (!spawned) {
    log(log_level::error, name, ": ", spawned.error());
    stop_all(sys, name, r, shutdown_intent::restart, stop_limit);
    return exit_runtime_error;
  }
  if (!publish_nodes(sys, name, s, r.nodes)) {
    stop_all(sys, name, r, shutdown_intent::restart, stop_limit);
    return exit_runtime_error;
  }
  log_started(name, s, embedded);
  int sig = wait_for_stop(name, s.run_for, r, *conn);
  if (sig == stopped_by_refusal) {
    std::string why;
    int code = nats_refusal_code(*conn, why);
    log(log_level::error, name, ": ", redact_text(why, conn->options().secrets()), "; stopping ",
        s.workers, " node(s)");
    notifier.stopping(code == exit_permission_denied ? "NATS denied a subject"
                                                     : "NATS refused the credentials");
    // Nothing reaches the store any more: no hand-off, the leases lapse as after a crash.
    stop_all(sys, name, r, shutdown_intent::restart, stop_limit);
    return code;
  }
  auto intent = sig == SIGUSR1 ? shutdown_intent::restart : s.node.shutdown;
  notifier.stopping(std::string(sig ? strsignal(sig) : "--run-for elapsed") + ", " +
                    std::string(to_string(intent)));
  log(log_level::info, name, ": ", sig ? strsignal(sig) : "--run-for elapsed", "; stopping ",
      s.workers, " node(s) (", to_string(intent), ")");
  exit_on_second_signal(name);
  stop_all(sys, name, r, intent, stop_limit);
  return 0;
}

int run(caf::actor_system& sys, const node_program& program, const app_settings& s, bool embedded) {
  auto conn = connection::open(s.connection);
  if (!conn) {
    log(log_level::error, program.name, ": ", conn.error());
    return refusal_in(conn.error()) == nats_refusal::authorization ? exit_authorization_failed
                                                                   : exit_runtime_error;
  }
  auto listener = (*conn)->add_listener([](const connection_event& e) {
    auto level = e.state == connection_state::error || e.state == connection_state::disconnected
                     ? log_level::warning
                     : log_level::info;
    log(level, "nats: ", to_string(e.state), " ", e.url, e.detail.empty() ? "" : " ", e.detail);
  });
  // One registry for every node of this process, its series labelled with the group.
  auto m = std::make_shared<metrics>(s.node.group);
  auto connection_metrics = report_connection_metrics(**conn, m);
  // The endpoint starts before the store is reachable: /readyz then tells that no node holds
  // an id yet (a Kubernetes readiness probe sees why), /healthz that the process is waiting.
  auto cache = std::make_shared<status_cache>(
      status_cache::process_info{s.node.group, redacted_urls(s.connection.urls), embedded,
                                 s.partitions_text},
      s.workers);
  auto handles = std::make_shared<node_handles>();
  auto endpoint = start_endpoint(sys, program.name, s, m, cache, handles);
  if (!s.metrics_address.empty() && !endpoint) return exit_runtime_error;
  // Under systemd (Type=notify): READY=1 once every node is ready, as /readyz says.
  service_notifier notifier(sys, cache, handles);
  int open_failure = exit_runtime_error;
  auto group = open_group_until_stopped(sys, program.name, *conn, s, m, open_failure);
  if (!group) return open_failure;
  int code = run_nodes(sys, program, s, embedded, *conn, group, m, cache, *handles, notifier);
  endpoint.reset();  // no more reads of the cache, nor requests to the nodes
  group->close();
  sys.await_all_actors_done();         // before the connection (and the server) go away
  (*conn)->remove_listener(listener);  // its closing is no news
  (*conn)->remove_listener(connection_metrics);
  return code;
}

/// "--heartbeat-tll: unknown option; did you mean --heartbeat-ttl?" (without the value: a
/// mistyped --nats-pasword=... must not print the password).
std::string unknown_flag(const std::string& argument, const caf::config_option_set& options) {
  auto flag = argument.substr(0, argument.find('='));
  std::vector<std::string> known;
  auto text = [](caf::string_view v) { return std::string(v.data(), v.size()); };
  for (const auto& option : options) {
    auto name = text(option.long_name()), category = text(option.category());
    if (name == "dump-config") continue;
    known.push_back("--" + (category == "global" ? name : category + "." + name));
  }
  auto near = nearest_name(flag, known);
  return flag + ": unknown option" + (near.empty() ? "" : "; did you mean " + near + "?");
}

/// CAF's option errors carry their data: a file it cannot open its path (sec); a command-line
/// parser error (pec) the argument, an INI syntax error its line and column. Named plainly, not
/// as CAF renders them (`parser_error(unexpected_character, ({"argument" = "--workers=abc"}))`).
std::string describe_parse_error(const caf::error& err, const std::string& config_file,
                                 const caf::config_option_set& options) {
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
    if (code == caf::pec::not_an_option) return unknown_flag(*argument, options);
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

int usage_error(const std::string& program, const std::string& message) {
  std::cerr << program << ": " << message << " (see " << program << " --help)\n";
  return exit_usage;
}

/// CAF's built-in --dump-config prints every option with its value, the NATS password and
/// token included; it is refused before CAF sees it.
bool asks_for_config_dump(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]).rfind("--dump-config", 0) == 0) return true;
  return false;
}

std::unique_ptr<local_nats_server> start_local_server(const std::string& program) {
  try {
    auto server = std::make_unique<local_nats_server>();
    log(log_level::info, program, ": started a local nats-server at ", server->url(), " (store ",
        server->store_dir(), ")");
    return server;
  } catch (const std::exception& e) {
    log(log_level::error, program, ": cannot start a local nats-server: ", e.what());
    return nullptr;
  }
}

/// --help, -h or -?: answered before anything is parsed, like --version.
bool asks_for_help(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    if (arg == "--help" || arg == "-h" || arg == "-?") return true;
  }
  return false;
}

/// The value of the last --config-file=... argument; empty when none names a file.
std::string config_file_argument(int argc, char** argv) {
  constexpr std::string_view flag = "--config-file=";
  std::string path;
  for (int i = 1; i < argc; ++i)
    if (std::string_view arg(argv[i]); arg.rfind(flag, 0) == 0) path = arg.substr(flag.size());
  return path;
}

/// The content of the INI file named by --config-file, checked for keys no option takes (CAF
/// would ignore them: a typo would silently leave a default in place). Empty without a file.
result<std::string> read_config_file(const std::string& path, const node_app_config& cfg) {
  if (path.empty()) return std::string();
  std::ifstream file(path);
  if (!file) return failure{"--config-file: cannot open \"" + path + "\""};
  std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  std::istringstream in(text);
  auto parsed = caf::actor_system_config::parse_config(in);
  if (!parsed) return failure{describe_parse_error(parsed.error(), path, cfg.option_set())};
  auto unknown = unknown_keys(*parsed, cfg.option_set());
  if (!unknown.empty())
    return failure{"config file " + path + ": " + unknown.front() +
                   (unknown.size() > 1
                        ? " (and " + std::to_string(unknown.size() - 1) + " more unknown keys)"
                        : std::string())};
  return text;
}

/// CAF would read caf-application.ini from the working directory by itself; we read only the
/// file --config-file names, so that no file changes a node's settings unseen.
bool ignored_default_config_file(const std::string& named) {
  return named.empty() && std::filesystem::exists("caf-application.ini");
}

}  // namespace

int run_node_program(node_app_config& cfg, int argc, char** argv, const node_program& program) {
  const auto& name = program.name;
  if (asks_for_config_dump(argc, argv))
    return usage_error(name, "--dump-config: not supported (it would print the NATS secrets)");
  if (asks_for_help(argc, argv)) {
    std::cout << help_text(cfg.option_set(), name) << std::flush;
    return 0;
  }
  const auto config_file = config_file_argument(argc, argv);
  auto ini = read_config_file(config_file, cfg);
  if (!ini) return usage_error(name, ini.error());
  std::istringstream ini_stream(*ini);
  if (auto err = cfg.parse(argc, argv, ini_stream))
    return usage_error(name, describe_parse_error(err, config_file, cfg.option_set()));
  if (cfg.cli_helptext_printed) return 0;
  if (!cfg.remainder.empty())
    return usage_error(name, "unexpected argument \"" + cfg.remainder[0] + "\"");
  apply_environment(cfg.options, read_nats_environment(process_environment()));
  auto settings = to_settings(cfg.options);
  if (!settings) return usage_error(name, settings.error());
  settings->connection.name = name;
  if (program.check) {
    if (auto ok = program.check(*settings); !ok) return usage_error(name, ok.error());
  }
  set_log_level(settings->log_level);
  set_log_format(settings->log_format);
  if (ignored_default_config_file(config_file))
    log(log_level::info, name, ": ignoring caf-application.ini in the working directory; only ",
        "the file named by --config-file is read");
  if (cfg.options.check_config) {  // on stdout: the log lines go to stderr
    std::cout << effective_ini(cfg.options, *settings) << std::flush;
    return 0;
  }
  for (const auto& caution : settings->node.cautions())
    log(log_level::warning, name, ": ", caution);
  if (settings->refresh_period > duration::zero() && cfg.options.partitions_file.empty())
    log(log_level::warning, name, ": --refresh-period has no effect with --partitions (a ",
        "count never changes); it re-reads --partitions-file");
  // The server is a child process: start it before the signals are blocked, or it would
  // inherit the blocked mask and not stop on SIGTERM.
  std::unique_ptr<local_nats_server> server;
  bool embedded = settings->embedded_nats;
  if (embedded) {
    if (!(server = start_local_server(name))) return exit_runtime_error;
    settings->connection.urls = {server->url()};
  }
  block_stop_signals();
  int code = 0;
  {
    caf::actor_system sys{cfg};
    code = run(sys, program, *settings, embedded);
  }
  server.reset();
  return code;
}

}  // namespace parti::node_app
