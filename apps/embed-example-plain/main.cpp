// embed-example-plain: a parti node inside a plain C++ program, through the synchronous facade
// (api/embedded_node.hpp). No actor system of the application's own: the facade runs one with
// two threads, and calls the application back on a thread of its own, in order.
// apps/embed-example shows the other way, a node inside an application's CAF actor system.
//
//   embed-example-plain                    starts a local nats-server for itself
//   embed-example-plain --nats-url=nats://127.0.0.1:4222 --partitions=8 --run-for=10s
//                       [--start-timeout=15s]
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "apps/lib/version_flag.hpp"
#include "parti/parti.hpp"  // the public API, as an application outside this tree includes it
// Not public: a nats-server child process, so that the example runs without one.
#include "parti/runtime/nats/local_server.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

struct example_options {
  std::string nats_url;  // empty: start a local nats-server
  std::string group = "embed";
  int partitions = 4;
  duration run_for = 5s;
  duration start_timeout = 15s;
};

const char* usage =
    "usage: embed-example-plain [--nats-url=URL] [--group=NAME] [--partitions=N] "
    "[--run-for=DURATION] [--start-timeout=DURATION] | --version\n";

/// --name=value arguments; an unknown or malformed one is an error (empty result).
result<example_options> parse_arguments(int argc, char** argv) {
  example_options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto eq = arg.find('=');
    auto name = arg.substr(0, eq);
    auto value = eq == std::string::npos ? std::string() : arg.substr(eq + 1);
    if (name == "--nats-url") {
      o.nats_url = value;
    } else if (name == "--group") {
      o.group = value;
    } else if (name == "--partitions") {
      try {
        o.partitions = std::stoi(value);
      } catch (const std::exception&) {
        return failure{"--partitions needs a number, got '" + value + "'"};
      }
      if (o.partitions < 1) return failure{"--partitions must be at least 1"};
    } else if (name == "--run-for" || name == "--start-timeout") {
      auto d = parse_duration(value);
      if (!d) return failure{name + ": " + d.error()};
      (name == "--run-for" ? o.run_for : o.start_timeout) = *d;
    } else {
      return failure{"unknown argument '" + arg + "'"};
    }
  }
  return o;
}

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

/// Writes one line to stdout whole. The callbacks run on the facade's executor thread and main()
/// on its own: a line written piece by piece from both could interleave mid-line.
void say(const std::ostringstream& line) {
  static std::mutex output;
  std::lock_guard<std::mutex> lock(output);
  std::cout << line.str() << std::endl;
}

/// The application's reactions. They run on the facade's executor thread, one at a time; the
/// node counts a revocation as acknowledged when on_assignment returns.
embedded_callbacks application_callbacks() {
  embedded_callbacks cb;
  cb.on_assignment = [](const assignment_update& u) {
    // This is where an application starts work on `added` and stops work on `removed`.
    std::ostringstream line;
    line << "assignment_update " << u.worker << " e" << u.epoch << " v" << u.version << " ("
         << u.reason << "): owns " << u.owned.size() << " " << keys_of(u.owned) << ", added "
         << keys_of(u.added) << ", removed " << keys_of(u.removed);
    say(line);
  };
  cb.on_state = [](const node_state_update& u) {
    std::ostringstream line;
    line << "node_state_update " << u.worker << ": " << u.from << " -> " << u.to;
    say(line);
  };
  cb.on_leadership = [](const leadership_update& u) {
    std::ostringstream line;
    line << "leadership_update " << u.worker << ": "
         << (u.leader              ? "leads with epoch " + std::to_string(u.epoch)
             : u.leader_id.empty() ? std::string("no leader known")
                                   : "follows " + u.leader_id);
    say(line);
  };
  cb.on_error = [](const embedded_error& e) {
    std::ostringstream line;
    line << "error " << to_string(e.kind) << ": " << e.message;
    say(line);
  };
  return cb;
}

}  // namespace

int main(int argc, char** argv) {
  if (node_app::print_version_if_asked("embed-example-plain", argc, argv)) return 0;
  auto args = parse_arguments(argc, argv);
  if (!args) {
    std::cerr << "embed-example-plain: " << args.error() << "\n" << usage;
    return 2;
  }
  std::unique_ptr<local_nats_server> server;
  if (args->nats_url.empty()) server = std::make_unique<local_nats_server>();
  embedded_options options;
  options.config = example_node_config(args->group);
  options.nats_url = server ? server->url() : args->nats_url;
  options.leader.partitions = count_source(static_cast<std::uint32_t>(args->partitions));
  options.callbacks = application_callbacks();
  // parti's own log: only warnings and errors, to stderr, through the application's sink.
  options.log = [](log_level level, const std::string& line) {
    if (level <= log_level::warning) std::cerr << "parti: " << line << std::endl;
  };
  embedded_node node(options);
  if (auto started = node.start(args->start_timeout); !started) {
    std::cerr << "embed-example-plain: " << started.error() << "\n";
    return 1;
  }
  auto a = node.current_assignment();
  std::ostringstream started_line;
  started_line << "embed-example-plain: started as " << a.worker << " on " << options.nats_url
               << ", owns " << a.owned.size() << " " << keys_of(a.owned)
               << (node.is_leader() ? ", leads" : "") << "; running for "
               << format_duration(args->run_for);
  say(started_line);
  std::this_thread::sleep_for(args->run_for);  // the application's own work would go here
  if (auto stopped = node.stop(shutdown_intent::drain, 10s); !stopped) {
    std::cerr << "embed-example-plain: " << stopped.error() << "\n";
    return 1;
  }
  say(std::ostringstream("embed-example-plain: stopped"));
  return 0;
}
