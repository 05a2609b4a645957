#pragma once
// partition_loader: the one caller of partition_source::load() in the leader subtree. The leader
// (its coverage check at start) and the calculator (each round, each periodic refresh) ask it
// (load) instead of calling load() on a scheduler thread themselves, where a source that hangs
// would stop a scheduler thread and the leader, and one that throws would end the node.
//
//  - Each load runs on a thread of its own (detached): a load() that never returns costs that
//    thread, never a scheduler thread, and never holds up the actor system's shutdown. An
//    exception thrown by load() is caught on that thread and becomes a failed load.
//  - The thread sends its result back (source_loaded). A load still running at the partition
//    source timeout is reported as timed out (an actor-clock timer), and everyone waiting is
//    answered from the last good set, or without a set when none loaded yet.
//  - loader_rules decides the rest: one load at a time (a hung load is not started again; a new
//    one starts only once it returned), retries with backoff after a failure or a timeout,
//    the last good set kept.
//  - The leader factory shares one load_slot among the loaders of successive leaders of a node,
//    so a load that hangs past a leader's end is not started again by the next leader; its
//    result goes to the current loader.
//  - Every failure and timeout is logged once (one attempt per backoff step), and a recovery
//    once; parti_partition_source_* metrics count failures by reason, time the loads and keep
//    the time of the last good load.
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "parti/actors/partition_loader/loader_rules.hpp"
#include "parti/messages/interfaces.hpp"
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/partition_source.hpp"
#include "parti/runtime/wakeup.hpp"

namespace parti {

/// The load of one partition source that may be running, shared by the loaders of that source
/// (thread-safe): at most one runs, and its result goes to the loader attached now.
class load_slot {
 public:
  /// Makes `loader` the one that gets results; true when a load (an earlier loader's) runs.
  bool attach(partition_loader_actor loader);
  /// Stops sending results to `loader` (if it is still the attached one).
  void detach(const caf::actor_addr& loader);
  /// Marks a load as running; false when one already is (its result will do).
  bool begin();
  /// The running load ended: `outcome` goes to the attached loader, if any.
  void finish(source_loaded outcome);

 private:
  std::mutex mutex_;
  bool running_ = false;
  partition_loader_actor loader_;
};

/// Runs a job (a whole load, result sent included) somewhere. Default: a detached thread of
/// its own. Actor tests under the deterministic scheduler run it in place (a source that
/// cannot block only).
using load_runner = std::function<void(std::function<void()> job)>;

struct partition_loader_settings {
  std::shared_ptr<const partition_source> source;  // required
  loader_options options;
  std::shared_ptr<load_slot> slot;  // empty: one of its own
  load_runner run;                  // empty: a detached thread per load
  std::shared_ptr<metrics> stats;   // optional
  std::string worker;               // the leader's id, for logs and metrics
};

struct partition_loader_state {
  partition_loader_settings settings;
  std::optional<loader_rules> rules;
  std::unordered_map<std::uint64_t, caf::typed_response_promise<partition_load>> waiting;
  std::uint64_t next_request = 0;
  wakeup timer;
  caf::actor_addr self;  // to detach from the slot when this state ends

  ~partition_loader_state();
  static inline const char* name = "parti.partition_loader";
};

partition_loader_actor::behavior_type partition_loader(
    partition_loader_actor::stateful_pointer<partition_loader_state> self,
    partition_loader_settings settings);

}  // namespace parti
