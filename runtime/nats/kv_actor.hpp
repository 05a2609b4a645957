#pragma once
// kv_actor: a KV bucket as an actor. It runs detached (a thread of its own) because every call
// blocks on the network; other actors use request(...).then(...) and never block.
//
// Around every operation: a circuit breaker (an unreachable store fails fast instead of making
// each caller wait for its own timeout; only connectivity failures count against it), retries
// with backoff for reads (get, keys), which are idempotent, and metrics (duration and errors by
// operation, breaker state and calls by bucket and shard, retry attempts). The error, breaker and
// retry counters exist at 0 from the start.
#include <caf/actor_system.hpp>
#include <caf/error.hpp>

#include <memory>

#include "parti/messages/interfaces.hpp"
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/nats/kv_store.hpp"
#include "parti/runtime/resilience/circuit_breaker.hpp"
#include "parti/runtime/resilience/retry.hpp"

CAF_ERROR_CODE_ENUM(parti::kv_errc, "parti_kv")

namespace parti {

struct kv_actor_options {
  std::shared_ptr<parti::metrics> metrics;  // may be null
  std::string metrics_worker;  // the `worker` label of its series ("" for a shared one)
  circuit_breaker_policy breaker;
  retry_policy read_retry{{std::chrono::milliseconds(20), std::chrono::milliseconds(200), 2.0, 0.2},
                          3};
  /// Threads doing the blocking calls. Operations on one key always go to the same thread, so
  /// they stay in order; different keys proceed in parallel (a process with many nodes would
  /// otherwise queue every node's heartbeat and claim behind one thread).
  int shards = 4;
};

/// Spawns the bucket's actor: a router (non-blocking) in front of `options.shards` detached
/// actors that make the calls. Bucket-wide operations (keys, get_all, write_many) go to shard 0.
kv_actor spawn_kv_actor(caf::actor_system& sys, std::shared_ptr<kv_store> store,
                        kv_actor_options options = {});

/// True when `err` is the KV error `code`.
bool is_kv_error(const caf::error& err, kv_errc code);

/// True for the failures that say nothing reached the store (the breaker counts these).
bool is_connectivity_error(kv_errc code);

/// A readable one-line text for any error an actor got back (KV errors with their reason).
std::string describe(const caf::error& err);

}  // namespace parti
