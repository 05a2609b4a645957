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
#include <caf/actor_system.hpp>

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "parti/messages/interfaces.hpp"
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/nats/kv_store.hpp"
#include "parti/runtime/resilience/backoff.hpp"
#include "parti/runtime/revision_filter.hpp"
#include "parti/runtime/watch_stall.hpp"

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

class watch_loop;  // the thread that blocks in kvWatcher_Next (watch.cpp)

/// The watcher: the supervisor's detached child, which owns one watch_loop.
struct watcher_state {
  std::unique_ptr<watch_loop> loop;  // destroyed with the state: stops and joins the thread
  ~watcher_state();
  static inline const char* name = "parti.watcher";
};

/// The watch supervisor.
struct watch_state {
  std::shared_ptr<kv_store> store;
  watch_consumer consumer;
  watch_options options;
  std::function<void(const std::string&)> on_failure;
  std::unique_ptr<backoff> retry;
  watcher_actor child;
  revision_filter delivered;
  std::set<std::string> replayed;  // keys seen in the current replay
  bool replaying = true;
  watch_stats stats;
  /// Consumers usually keep no handle of their watch (only a link, which is weak), and a dead
  /// watcher no longer refers to us: without this, a supervisor waiting to restart its watcher
  /// would be destroyed as unreachable (and take its linked consumer with it). Released when
  /// the supervisor quits, which it does when the consumer goes down.
  watch_actor keep_alive;
  static inline const char* name = "parti.watch_supervisor";
};

/// Starts a supervised watch. Send it `resync_atom` to replay current values through a new
/// watch (nothing already delivered is delivered again; watch_ready says `resumed`); ask it
/// `stats_atom` for its watch_stats (messages/events.hpp). It stops when the consumer
/// terminates, or on exit sent to it. `on_failure`, when set, is called (on an actor thread)
/// with the reason each time the watch fails; metrics hook in here.
watch_actor spawn_watch(caf::actor_system& sys, std::shared_ptr<kv_store> store,
                        watch_consumer consumer, watch_options options = {},
                        std::function<void(const std::string&)> on_failure = {});

/// An on_failure hook that counts the failure and the restart that follows it (both counters
/// get a series at 0 at once).
std::function<void(const std::string&)> count_watch_failures(std::shared_ptr<metrics> m,
                                                             std::string worker,
                                                             std::string bucket);

}  // namespace parti
