#pragma once
// The node: the root supervisor of one worker and its public handle.
//
//   node ── id_claimer ── (once an id is held) heartbeat, election, assignment_watch
//        └─ leader (while this node leads; see set_leader_factory)
//
// Lifecycle: Init -> ClaimingID -> Election -> WaitingAssignment -> Stable (lifecycle.hpp);
// a lost id drops the assignment at once and claims again. A failed child is restarted with
// backoff; a child that keeps failing takes the node to Failed (never a silent hang). These
// decisions, re-validation after a store outage and the order of a stop are node_rules.hpp's.
//
// The node tells its subscriber (an actor) and its callbacks, in order:
//   assignment_update, node_state_update, leadership_update, ownership_suspended,
//   ownership_resumed
// An assignment_update that removes partitions is sent as a request: the subscriber
// acknowledges the revocation by replying (a handler returning void does), and only then does
// the heartbeat report it applied. No reply within the hand-off timeout: the node stops
// heartbeating, so its lease lapses and the leader may move the partitions.
//
// Ownership is a lease (ownership_lease.hpp; what is served when is ownership_gate.hpp's): when
// heartbeats go unacknowledged for the TTL (minus a margin) or the leader fences the node, it
// tells ownership_suspended and serves nothing; it resumes (ownership_resumed) only after a
// heartbeat is acknowledged and its assignment key is read back unchanged. Changes that arrive
// meanwhile are applied at the resume, before it.
// It answers:
//   (caf::get_atom)                   -> node_status
//   (caf::leave_atom, shutdown_intent) graceful stop: drain or restart; -> ok_atom, then it quits
//   (caf::subscribe_atom, caf::actor) adds a subscriber; it gets the current leadership and
//                                     assignment (reason "snapshot") at once, then changes
//   (caf::subscribe_atom, caf::actor, lease_atom)
//                                     the same, and also every lease_update (the current one
//                                     first): for readers that must stop when the lease ends
//   (rebalance_atom) / (refresh_atom)  asks the leader (on any node) for a rebalance or a
//                                      re-read of the partitions, through `_control`; -> ok
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <atomic>
#include <functional>
#include <memory>

#include "parti/messages/node_events.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/nats/group_buckets.hpp"

namespace parti {

/// For code that is not an actor: called on the node's actor thread, in order. An assignment
/// counts as applied (and a revocation acknowledged) when on_assignment returns.
struct node_callbacks {
  std::function<void(const assignment_update&)> on_assignment;
  std::function<void(const ownership_suspended&)> on_suspended;
  std::function<void(const ownership_resumed&)> on_resumed;
  /// After each change of the lease (every acknowledged heartbeat extends it).
  std::function<void(const lease_update&)> on_lease;
  std::function<void(const node_state_update&)> on_state;
  std::function<void(const leadership_update&)> on_leadership;
};

/// What a leader subtree gets from its node.
struct leader_context {
  node_config config;
  std::shared_ptr<group_buckets> group;
  std::string worker;
  std::uint64_t epoch = 0;
  caf::actor node;
  /// The renew deadline of this node's leader term (steady clock, ns; 0 while not leading),
  /// kept current by the election: nothing is published past it.
  std::shared_ptr<const std::atomic<std::int64_t>> leading_until;
};

/// Spawns the leader subtree when this node becomes leader (linked to the node, which ends it
/// on step-down). Without a factory a leading node publishes nothing.
using leader_factory = std::function<caf::actor(caf::actor_system&, const leader_context&)>;

struct node_options {
  node_config config;
  std::shared_ptr<group_buckets> group;
  caf::actor subscriber;  // may be empty
  node_callbacks callbacks;
  leader_factory leader;
  /// A failed child is restarted; more failures than this within `failure_window` -> Failed.
  int max_child_failures = 5;
  duration failure_window = std::chrono::seconds(60);
  /// The clock of the ownership lease, here and in the heartbeat and id claimer; null: the boot
  /// clock (boot_now()), which keeps counting while the host is suspended. Actor tests give one
  /// that reads the test scheduler's virtual time.
  std::shared_ptr<const clock> lease_clock;
};

/// Validates the configuration (the failure names the field and rule) and spawns the node.
result<caf::actor> spawn_node(caf::actor_system& sys, node_options options);

/// A random id for this process instance (hex), written in claims, leases and heartbeats.
std::string random_instance_id();

}  // namespace parti
