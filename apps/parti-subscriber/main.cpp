// parti-subscriber: a separate CAF application that subscribes to a parti-node's messages over
// CAF's middleman (the node runs with --publish-port) and prints them, one line each:
//   assignment worker-0 e3 v7 (planned_scale): owns 12, +4 -0
//   state worker-0 WaitingAssignment -> Stable
//   leadership worker-0 leader=worker-2 (this node leads: no)
// parti-subscriber --port=N [--host=127.0.0.1] [--run-for=0s]
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <csignal>
#include <iostream>
#include <thread>

#include "apps/lib/version_flag.hpp"
#include "parti/messages/announce.hpp"
#include "parti/messages/atoms.hpp"
#include "parti/runtime/config.hpp"

using namespace parti;

namespace {

struct subscriber_config : caf::actor_system_config {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string run_for = "0s";
  subscriber_config() {
    opt_group{custom_options_, "global"}
        .add(host, "host", "host of the published node (default: 127.0.0.1)")
        .add(port, "port", "its --publish-port (required)")
        .add(run_for, "run-for", "stop after this long; 0s: until SIGINT/SIGTERM (default: 0s)");
    load<caf::io::middleman>();
    announce_message_types(*this);
    set("scheduler.max-threads", 2);
  }
};

caf::behavior printer(caf::event_based_actor*) {
  return {
      [](const assignment_update& u) {
        std::cout << "assignment " << u.worker << " e" << u.epoch << " v" << u.version << " ("
                  << u.reason << "): owns " << u.owned.size() << ", +" << u.added.size() << " -"
                  << u.removed.size() << std::endl;
      },
      [](const node_state_update& u) {
        std::cout << "state " << u.worker << " " << u.from << " -> " << u.to << std::endl;
      },
      [](const leadership_update& u) {
        std::cout << "leadership " << u.worker << " leader=" << u.leader_id
                  << " (this node leads: " << (u.leader ? "yes" : "no") << ")" << std::endl;
      },
  };
}

volatile std::sig_atomic_t stop = 0;
extern "C" void on_signal(int) {
  stop = 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (node_app::print_version_if_asked("parti-subscriber", argc, argv)) return 0;
  subscriber_config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "parti-subscriber: " << caf::actor_system_config::render(err) << "\n";
    return 2;
  }
  if (cfg.cli_helptext_printed) return 0;
  auto run_for = parse_duration(cfg.run_for);
  if (cfg.port < 1 || cfg.port > 65535 || !run_for) {
    std::cerr << "parti-subscriber: --port must be within 1..65535 and --run-for a duration\n";
    return 2;
  }
  caf::actor_system sys{cfg};
  auto node = sys.middleman().remote_actor(cfg.host, static_cast<std::uint16_t>(cfg.port));
  if (!node) {
    std::cerr << "parti-subscriber: cannot reach " << cfg.host << ":" << cfg.port << ": "
              << sys.render(node.error()) << "\n";
    return 1;
  }
  auto me = sys.spawn(printer);
  caf::anon_send(*node, caf::subscribe_atom::value, me);
  std::cout << "subscribed to " << cfg.host << ":" << cfg.port << std::endl;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  auto deadline = std::chrono::steady_clock::now() + *run_for;
  while (!stop && (*run_for == duration::zero() || std::chrono::steady_clock::now() < deadline))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  caf::anon_send_exit(me, caf::exit_reason::user_shutdown);
  return 0;
}
