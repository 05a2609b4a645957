// parti-node: runs one or more parti nodes (workers) of a group as a CAF application.
//
//   parti-node --nats-url=embedded --partitions=24    a nats-server of its own, one node
//   parti-node --nats-url=nats://a:4222,nats://b:4222 --group=orders --partitions-file=p.txt
//   parti-node --config-file=node.ini                 the same options in an INI [global] section
//
// Options come from CAF's option system (command line, or the INI file named by --config-file;
// docs/CONFIGURATION.md); parti-node checks every key and value itself before anything starts
// and exits with code 2 and one message naming the option and the rule. SIGTERM / SIGINT stop every
// node gracefully and in parallel with the configured --shutdown intent (SIGUSR1: with the restart
// intent, for rolling restarts driven by a supervisor); a second signal exits
// at once. With --metrics-address it serves /metrics (Prometheus) and /status (JSON).
//
// The process machinery is apps/lib/node_process.hpp, shared with parti-consume. main() is
// written out instead of CAF_MAIN() for the exit codes: CAF_MAIN exits with 1 on an option CAF
// cannot parse, and it would start the actor system before our validation.
#include "apps/lib/node_process.hpp"
#include "apps/lib/version_flag.hpp"

int main(int argc, char** argv) {
  if (parti::node_app::print_version_if_asked("parti-node", argc, argv)) return 0;
  parti::node_app::node_app_config cfg;
  parti::node_app::node_program program;
  program.name = "parti-node";
  return parti::node_app::run_node_program(cfg, argc, argv, program);
}
