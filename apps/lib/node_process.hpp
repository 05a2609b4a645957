#pragma once
// A program that runs parti nodes (parti-node, parti-consume), from its command line to its exit
// code: parti-node's options (node_options.hpp; checked before anything starts, exit code 2 and
// one message naming the option; an unknown INI key or flag too, with the nearest known one), a
// nats-server of its own with --nats-url=embedded, a start-up deadline for NATS, the stop
// signals (SIGTERM / SIGINT: the --shutdown intent, SIGUSR1: restart, a second one: exit at
// once), the connection and the group's buckets, the nodes with /metrics, /status and the probes
// /healthz and /readyz (the listener starts before NATS is reachable), and their graceful stop in
// parallel.
//
// A program adds its own actors beside each node with a node hook (parti-consume: a consumer
// per node); they are stopped with the nodes.
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apps/lib/node_options.hpp"
#include "apps/lib/status_cache.hpp"
#include "parti/messages/result.hpp"
#include "parti/runtime/config.hpp"

namespace parti {
class connection;
class metrics;
}  // namespace parti

namespace parti::node_app {

/// Exit codes of parti-node and parti-consume (docs/SECURITY.md, "Exit codes"). parti-ctl uses
/// the same numbers for the same causes (apps/parti-ctl/args.hpp).
constexpr int exit_runtime_error = 1;
constexpr int exit_usage = 2;
/// NATS refused the credentials ("Authorization Violation"), on the first connect or on a
/// reconnect after a successful start (revoked or changed): retrying the same ones cannot help.
constexpr int exit_authorization_failed = 4;
/// NATS refused a subject the group needs ("Permissions Violation"): the user's permissions lack
/// what docs/SECURITY.md lists for a worker.
constexpr int exit_permission_denied = 5;

/// CAF's configuration with parti-node's options under "global" (--name=value flags, [global]
/// lines of an INI file) and the scheduler parti-node runs with. A program with options of its
/// own derives from it and registers them in its constructor (custom_options_, "global").
struct node_app_config : caf::actor_system_config {
  app_options options;
  node_app_config();
  /// Every option CAF knows, parti-node's and CAF's own: what an INI file may set.
  const caf::config_option_set& option_set() const { return custom_options_; }
};

/// One node, as a program's hook sees it right after the node was spawned.
struct node_context {
  int index = 0;       // of the node in this process, 0..workers-1
  caf::actor node;     // spawn_node's handle
  node_config config;  // the node's own configuration (config_for_worker)
  std::shared_ptr<connection> conn;
  std::shared_ptr<metrics> stats;       // the process's one registry (/metrics)
  std::shared_ptr<status_cache> cache;  // what /status shows; knows the node's worker id
};

/// Starts a program's actors beside one node. They are stopped with the nodes: once every node
/// has ended, those still running get an exit message (user_shutdown), and are killed when they
/// do not end within the stop's time limit. A failure stops the program (exit code 1).
using node_hook =
    std::function<result<std::vector<caf::actor>>(caf::actor_system&, const node_context&)>;

struct node_program {
  std::string name;  // "parti-node": starts its messages, names its NATS connection
  /// The program's own options, checked after parti-node's; a failure is a usage error (exit
  /// code 2, the message as for parti-node's options). May be empty.
  std::function<status(const app_settings&)> check;
  /// Runs once NATS answers (the group is open), before any node starts; a failure ends the
  /// program with exit code 1. May be empty.
  std::function<status(const std::shared_ptr<connection>&)> prepare;
  node_hook on_node;  // may be empty
};

/// The whole program: parses argv and the INI file named by --config-file (only that one: a
/// caf-application.ini in the working directory is ignored, with one log line) into `cfg`,
/// checks the settings (--check-config: prints them and exits), runs the nodes until a signal
/// or --run-for, stops them; the exit code (0, 1: runtime error, 2: usage error, 4: NATS
/// refused the credentials, 5: NATS refused a subject).
int run_node_program(node_app_config& cfg, int argc, char** argv, const node_program& program);

}  // namespace parti::node_app
