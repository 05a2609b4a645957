#pragma once
// One supervised watch of a whole bucket, shared by every consumer in the process that watches
// single keys of it (each node's election and assignment watches). Without it, a process with
// N nodes holds 2N watches (2N consumers on the server, 2N threads polling); with it, one per
// bucket.
//
// A consumer sends (caf::subscribe_atom, key, key_consumer). It gets the key's current value (if
// any) as a watch_update marked `initial`, then a watch_ready, then every change of that key, in
// order. (resync_atom, key, key_consumer) replays the current value again. A consumer that
// terminates is dropped.
#include <caf/actor_system.hpp>

#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "parti/messages/interfaces.hpp"
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/nats/kv_store.hpp"

namespace parti {

struct watch_hub_state {
  std::string bucket;
  std::unordered_map<std::string, kv_entry> current;   // the latest entry of every key seen
  std::multimap<std::string, key_consumer> consumers;  // key -> consumer
  bool ready = false;                                  // the first replay is complete
  static inline const char* name = "parti.watch_hub";
};

watch_hub_actor spawn_watch_hub(caf::actor_system& sys, std::shared_ptr<kv_store> store,
                                std::shared_ptr<metrics> stats = nullptr);

}  // namespace parti
