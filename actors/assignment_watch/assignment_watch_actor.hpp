#pragma once
// assignment_watch: watches this worker's key in `<group>-assignments` and hands the changes to
// its parent one at a time, in order, latest wins (assignment_tracker decides): each change is a
// request carrying an assignment_update; the next one is sent once the parent has answered
// (applied it). A record whose (epoch, version) is not greater than the one held is ignored
// (fencing), a deleted key means "own nothing", a value that does not decode is counted, logged
// once and skipped.
#include <memory>
#include <optional>
#include <string>

#include "parti/actors/assignment_watch/assignment_tracker.hpp"
#include "parti/messages/interfaces.hpp"
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/nats/kv_store.hpp"

namespace parti {

struct assignment_watch_state {
  std::string worker;
  watch_hub_actor hub;
  assignment_listener parent;
  std::optional<assignment_tracker> tracker;  // from the start on
  std::uint64_t undecodable = 0;
  std::shared_ptr<metrics> stats;
  static inline const char* name = "parti.assignment_watch";
};

/// Subscribes to `worker`'s key at `assignments_hub` (the process's shared watch of the
/// assignments bucket).
assignment_watch_actor::behavior_type assignment_watch(
    assignment_watch_actor::stateful_pointer<assignment_watch_state> self, std::string worker,
    watch_hub_actor assignments_hub, assignment_listener parent, std::shared_ptr<metrics> stats);

}  // namespace parti
