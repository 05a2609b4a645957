#pragma once
// A parti node for programs that are not actor systems: a synchronous facade over spawn_node.
//
//   parti::embedded_options o;
//   o.config = parti::with_fitted_timings(my_config);
//   o.nats_url = "nats://127.0.0.1:4222";
//   o.leader.partitions = parti::count_source(16);
//   o.callbacks.on_assignment = [&](const parti::assignment_update& u) { start/stop work };
//   parti::embedded_node node(o);                      // its own actor system, 2 threads
//   if (auto ok = node.start(std::chrono::seconds(10)); !ok) die(ok.error());
//   ... node.current_assignment() ...
//   node.stop(parti::shutdown_intent::drain, std::chrono::seconds(30));
//
// The contract (docs/EMBEDDING.md):
//  - Callbacks run one at a time, in the order the node told the events, on one thread of the
//    facade's own (executor_thread_id()), never on an actor thread. A slow callback delays the
//    callbacks after it, never the node: heartbeats, the lease and the election go on.
//  - An assignment_update that removes partitions is acknowledged to the node when
//    on_assignment returns (without an on_assignment, when it is its turn). The node hands the
//    partitions on only then, or, when no acknowledgement arrives within the node's
//    hand_off_timeout, it stops heartbeating so that its lease lapses first: a slow callback
//    delays a hand-off and never makes a second owner.
//  - A callback that throws is caught and logged, on_error gets callback_failed, and the event
//    counts as handled (a revocation is acknowledged).
//  - The views (current_assignment, is_leader, state) follow the node as its messages arrive,
//    not as callbacks run: a revocation leaves current_assignment() before its callback runs.
//  - Do not call start() or stop() from an actor's handler (they block); from a callback they
//    work, but stop() then cannot wait for the executor (it ends after that callback).
#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "parti/actors/leader/leader_actor.hpp"
#include "parti/actors/node/lifecycle.hpp"
#include "parti/messages/node_events.hpp"
#include "parti/messages/result.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/nats/connection.hpp"
#include "parti/runtime/nats/group_buckets.hpp"

namespace parti {

class metrics;

/// What on_error tells.
enum class embedded_error_kind {
  configuration_rejected,  // the options or the node configuration break a rule: not started
  store_unreachable,       // the node entered Degraded: it cannot reach the store
  id_lost,                 // the node lost its worker id after holding it; it claims again
  node_failed,             // the node entered Failed, or ended without stop()
  callback_failed,         // an application callback threw (the event still counts as handled)
};

/// "configuration_rejected", "store_unreachable", ...
std::string_view to_string(embedded_error_kind kind);

struct embedded_error {
  embedded_error_kind kind = embedded_error_kind::node_failed;
  std::string message;
};

/// All optional; each runs on the facade's executor thread (see the contract above).
struct embedded_callbacks {
  std::function<void(const assignment_update&)> on_assignment;
  std::function<void(const node_state_update&)> on_state;
  std::function<void(const leadership_update&)> on_leadership;
  std::function<void(const ownership_suspended&)> on_suspended;
  std::function<void(const ownership_resumed&)> on_resumed;
  std::function<void(const embedded_error&)> on_error;
};

struct embedded_options {
  node_config config;
  /// The NATS server(s), comma-separated; empty: `connection.urls`. Not used with `group`.
  std::string nats_url = "nats://127.0.0.1:4222";
  /// Credentials, TLS and reconnect settings of the connection the facade opens. Its
  /// request_timeout is set to config.kv_operation_timeout, as parti-node does.
  connection_options connection;
  /// Buckets opened already (open_group), shared with other nodes of this process; when set,
  /// the facade opens no connection. They must stay open until stop() returns.
  std::shared_ptr<group_buckets> group;
  /// What a leading node assigns: `leader.partitions` is required.
  leader_settings leader;
  /// The registry for the group the facade opens (optional; with `group`, the group's).
  std::shared_ptr<parti::metrics> metrics;
  /// When set, installed process-wide by start() (set_log_sink) and removed by the destructor.
  log_sink log;
  embedded_callbacks callbacks;
  /// Scheduler threads of the facade's own actor system (not used when attached to one).
  int scheduler_threads = 2;
};

/// This node's assignment as it stands, for any thread.
struct embedded_assignment {
  std::string worker;                   // empty while no id is held
  std::vector<partition> owned;         // what may be served now (empty while suspended)
  std::vector<partition> suspended;     // assigned, but not to be served: the lease lapsed
  std::vector<partition_grant> grants;  // the fencing tokens of `owned`
  std::uint64_t epoch = 0;
  std::uint64_t version = 0;
  /// The lease: `owned` may be served while boot_now() is before this (boot clock; the
  /// epoch's start when not serving, time_point::max() with on_lease_loss = keep).
  time_point valid_until{};

  /// Whether the lease still allows serving at `boot_clock_now` (boot_now()).
  bool valid_at(time_point boot_clock_now) const { return boot_clock_now < valid_until; }
};

class embedded_node {
 public:
  /// A node with an actor system of its own (options.scheduler_threads threads).
  explicit embedded_node(embedded_options options);
  /// A node in an actor program's system, which must outlive this object.
  embedded_node(caf::actor_system& sys, embedded_options options);
  /// Stops (with config.shutdown, bounded by config.drain_timeout plus a few seconds) when
  /// still running, then waits a few seconds at most for the callbacks queued.
  ~embedded_node();
  embedded_node(const embedded_node&) = delete;
  embedded_node& operator=(const embedded_node&) = delete;

  /// Connects (unless given a group), spawns the node and returns once it holds an id, knows
  /// the leader and applied its first assignment (possibly empty). Fails at once, with
  /// on_error(configuration_rejected), on a configuration spawn_node rejects; on the deadline
  /// with a message naming what was missing (the node is stopped again then). Once per object.
  status start(std::chrono::steady_clock::time_point deadline);
  status start(duration timeout);

  /// Whether the node is in `state` now or enters it within `timeout`.
  bool wait_for(node_state state, duration timeout) const;

  /// Graceful stop through (caf::leave_atom, intent): drain hands the partitions on first,
  /// restart keeps them for the restart grace. Waits up to `timeout` for the node to end (past
  /// it the node is killed, and the failure says so), then drains the callback executor.
  status stop(shutdown_intent intent, duration timeout);

  embedded_assignment current_assignment() const;
  bool is_leader() const;
  node_state state() const;
  /// The node's actor (empty before start): actor programs may subscribe to it directly.
  caf::actor node() const;
  /// The thread every callback runs on.
  std::thread::id executor_thread_id() const;

  struct core;  // implementation detail: the state shared with the subscriber actor

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace parti
