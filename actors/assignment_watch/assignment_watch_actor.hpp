#pragma once
// assignment_watch: watches this worker's key in `<group>-assignments` and hands the changes to
// its parent one at a time, in order, latest wins (assignment_tracker decides): each change is a
// request carrying an assignment_update; the next one is sent once the parent has answered
// (applied it). A record whose (epoch, version) is not greater than the one held is ignored
// (fencing), a deleted key means "own nothing", a value that does not decode is counted, logged
// once and skipped.
#include <caf/fwd.hpp>

#include <memory>
#include <string>

#include "messages/interfaces.hpp"
#include "runtime/metrics/metrics.hpp"
#include "runtime/nats/kv_store.hpp"

namespace parti {

caf::behavior assignment_watch(caf::event_based_actor* self, std::string worker,
                               caf::actor assignments_hub, caf::actor parent,
                               std::shared_ptr<metrics> stats);

}  // namespace parti
