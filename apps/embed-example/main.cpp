// embed-example: a parti node inside an application's own CAF actor system.
//
// The application has an actor of its own (`application` below) that spawns a node with
// spawn_node, subscribes to it and reacts to what it is told: here it prints every
// assignment_update (the partitions this worker must now serve), state change and leadership
// change. A real application would start and stop its consumers in the assignment handler;
// the node counts an assignment as applied once the handler returns.
// apps/embed-example-plain shows the other way: a plain program without an actor system, through
// the synchronous facade parti::embedded_node (docs/EMBEDDING.md).
//
//   embed-example                          starts a local nats-server for itself
//   embed-example --nats-url=nats://127.0.0.1:4222 --partitions=8 --run-for=10s
#include <caf/all.hpp>

#include <iostream>
#include <sstream>
#include <thread>

#include "apps/lib/version_flag.hpp"
#include "parti/parti.hpp"  // the public API, as an application outside this tree includes it
// Not public: a nats-server child process, so that the example runs without one.
#include "parti/runtime/nats/local_server.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

struct example_config : caf::actor_system_config {
  std::string nats_url;  // empty: start a local nats-server
  std::string group = "embed";
  int partitions = 4;
  std::string run_for = "5s";

  example_config() {
    opt_group{custom_options_, "global"}
        .add(nats_url, "nats-url", "NATS URL; empty: start a local nats-server")
        .add(group, "group", "group name (default: embed)")
        .add(partitions, "partitions", "partitions p-0 .. p-N-1 (default: 4)")
        .add(run_for, "run-for", "stop after this long (default: 5s)");
    set("scheduler.max-threads", 2);
  }
};

/// Short timings, so that the example gets its first assignment about a second after start. The
/// KV timeout and the recovery grace follow from them as parti-node derives them.
node_config example_node_config(const std::string& group) {
  node_config c;
  c.group = group;
  c.heartbeat_interval = 200ms;
  c.heartbeat_ttl = 600ms;
  c.emergency_grace = 200ms;
  c.election_ttl = 1500ms;
  c.lease_margin = 60ms;
  c.cold_start_window = 1s;
  c.planned_scale_window = 500ms;
  c.cooldown = 500ms;
  c.drain_timeout = 2s;  // alone in its group, nobody can take our partitions over
  return with_fitted_timings(c);
}

std::string keys_of(const std::vector<partition>& partitions) {
  std::ostringstream out;
  out << "[";
  for (std::size_t i = 0; i < partitions.size(); ++i) {
    if (i) out << " ";
    for (std::size_t k = 0; k < partitions[i].keys.size(); ++k)
      out << (k ? "," : "") << partitions[i].keys[k];
  }
  out << "]";
  return out.str();
}

struct application_state {
  caf::actor node;
  static inline const char* name = "example.application";
};

/// The application's actor: owns the node, hears everything it says, and stops it on request.
caf::behavior application(caf::stateful_actor<application_state>* self, node_options options) {
  options.subscriber = caf::actor_cast<caf::actor>(self);
  auto node = spawn_node(self->system(), std::move(options));
  if (!node) {
    caf::aout(self) << "cannot start the node: " << node.error() << std::endl;
    self->quit(caf::sec::invalid_argument);
    return {};
  }
  self->state.node = *node;
  self->monitor(*node);  // when the node ends, so do we
  self->set_down_handler([=](const caf::down_msg&) { self->quit(); });
  return {
      [=](const assignment_update& u) {
        // This is where an application starts work on `added` and stops work on `removed`.
        caf::aout(self) << "assignment_update " << u.worker << " e" << u.epoch << " v" << u.version
                        << " (" << u.reason << "): owns " << u.owned.size() << " "
                        << keys_of(u.owned) << ", added " << keys_of(u.added) << ", removed "
                        << keys_of(u.removed) << std::endl;
      },
      [=](const node_state_update& u) {
        caf::aout(self) << "node_state_update " << u.worker << ": " << u.from << " -> " << u.to
                        << std::endl;
      },
      [=](const leadership_update& u) {
        caf::aout(self) << "leadership_update " << u.worker << ": "
                        << (u.leader              ? "leads with epoch " + std::to_string(u.epoch)
                            : u.leader_id.empty() ? std::string("no leader known")
                                                  : "follows " + u.leader_id)
                        << std::endl;
      },
      [=](caf::leave_atom) {
        // Graceful stop: the node hands its partitions off and then ends (see the down handler).
        self->send(self->state.node, caf::leave_atom::value, shutdown_intent::drain);
      },
      [](caf::ok_atom) {},  // the node's answer to leave_atom
  };
}

void caf_main(caf::actor_system& sys, const example_config& cfg) {
  auto run_for = parse_duration(cfg.run_for);
  if (!run_for || cfg.partitions < 1) {
    std::cerr << "embed-example: --run-for needs a duration like 5s, --partitions at least 1\n";
    return;
  }
  set_log_level("warning");  // the example prints what the application sees, not parti's log
  std::unique_ptr<local_nats_server> server;
  connection_options copts;
  if (cfg.nats_url.empty()) {
    server = std::make_unique<local_nats_server>();
    copts.urls = {server->url()};
  } else {
    copts.urls = split_urls(cfg.nats_url);
  }
  copts.request_timeout = 500ms;
  auto conn = connection::open(copts);
  if (!conn) {
    std::cerr << "embed-example: " << conn.error() << "\n";
    return;
  }
  auto settings = example_node_config(cfg.group);
  auto group = open_group(sys, *conn, settings, std::make_shared<metrics>());
  if (!group) {
    std::cerr << "embed-example: " << group.error() << "\n";
    return;
  }
  node_options options;
  options.config = settings;
  options.group = *group;
  leader_settings leader;
  leader.partitions = count_source(static_cast<std::uint32_t>(cfg.partitions));
  options.leader = make_leader_factory(leader);
  auto app = sys.spawn(application, options);
  {
    // Through CAF's printer, as the actors print: a line from here and one of theirs cannot
    // interleave.
    caf::scoped_actor self{sys};
    caf::aout(self) << "embed-example: running for " << cfg.run_for << " on " << copts.urls.front()
                    << std::endl;
  }
  std::this_thread::sleep_for(*run_for);
  caf::anon_send(app, caf::leave_atom::value);
  {
    caf::scoped_actor self{sys};
    self->wait_for(app);
  }
  (*group)->close();
  sys.await_all_actors_done();  // before the connection and the server go away
  std::cout << "embed-example: stopped" << std::endl;
}

}  // namespace

// CAF_MAIN(), written out for --version: CAF's option parser rejects an option it does not know.
int main(int argc, char** argv) {
  if (parti::node_app::print_version_if_asked("embed-example", argc, argv)) return 0;
  return caf::exec_main<>(caf_main, argc, argv);
}
