#pragma once
// A supervised KV watch that delivers changes to a consumer actor as messages:
//   watch_update {bucket, entry, initial}  for every current value, then every put/delete/purge
//   watch_ready  {bucket, resumed, ...}    once the replay of current values is complete
//
// Tree: watch supervisor (event-based) -> watcher (detached, owns the thread that blocks in
// kvWatcher_Next). When the watch fails (disconnect, stream deleted, server restart), the
// watcher dies with an error and the supervisor starts a new one after an exponential backoff
// with jitter. The new watch replays current values; the supervisor drops every revision the
// consumer already has (revision_filter), so nothing is delivered twice. A watch that stops
// delivering without failing (its consumer's server died) is detected by asking the store for
// its newest revision after a silence, and fails as "stalled" (watch_stall.hpp).
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <memory>
#include <string>

#include "runtime/metrics/metrics.hpp"
#include "runtime/nats/kv_store.hpp"
#include "runtime/resilience/backoff.hpp"
#include "runtime/watch_stall.hpp"

namespace parti {

struct watch_options {
  std::string key_filter = ">";  // a key or a wildcard pattern of keys
  backoff_policy restart_backoff{std::chrono::milliseconds(100), std::chrono::seconds(10), 2.0,
                                 0.2};
  std::uint64_t seed = 0;  // jitter; 0: derived from the clock
  /// How long one kvWatcher_Next waits before checking for a stop request (and for a stall).
  duration poll = std::chrono::milliseconds(500);
  /// A watch that delivers nothing while the store has newer entries is replaced
  /// (watch_stall.hpp); it counts as a failure. Zero silence: never checked.
  stall_options stall;
};

/// Counters of one supervised watch; reply to `stats_atom`.
struct watch_stats {
  std::uint64_t delivered = 0;
  std::uint64_t duplicates_dropped = 0;
  std::uint32_t failures = 0;
  std::uint32_t restarts = 0;
};

/// Starts a supervised watch. Send it `resync_atom` to replay current values through a new
/// watch (nothing already delivered is delivered again; watch_ready says `resumed`). It stops when
/// the consumer terminates, or on exit sent to it. `on_failure`, when set, is called (on an actor
/// thread) with the reason each time the watch fails; metrics hook in here.
caf::actor spawn_watch(caf::actor_system& sys, std::shared_ptr<kv_store> store, caf::actor consumer,
                       watch_options options = {},
                       std::function<void(const std::string&)> on_failure = {});

/// An on_failure hook that counts the failure and the restart that follows it.
std::function<void(const std::string&)> count_watch_failures(std::shared_ptr<metrics> m,
                                                             std::string worker,
                                                             std::string bucket);

}  // namespace parti
