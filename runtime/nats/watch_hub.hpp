#pragma once
// One supervised watch of a whole bucket, shared by every consumer in the process that watches
// single keys of it (each node's election and assignment watches). Without it, a process with
// N nodes holds 2N watches (2N consumers on the server, 2N threads polling); with it, one per
// bucket.
//
// A consumer sends (caf::subscribe_atom, key, actor). It gets the key's current value (if any)
// as a watch_update marked `initial`, then a watch_ready, then every change of that key, in
// order. (resync_atom, key, actor) replays the current value again. A consumer that terminates
// is dropped.
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <memory>

#include "runtime/metrics/metrics.hpp"
#include "runtime/nats/kv_store.hpp"

namespace parti {

caf::actor spawn_watch_hub(caf::actor_system& sys, std::shared_ptr<kv_store> store,
                           std::shared_ptr<metrics> stats = nullptr);

}  // namespace parti
