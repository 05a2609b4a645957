#pragma once
// Typed actor interfaces: what each actor accepts and answers, declared once. New actors add
// theirs here. Messages that an actor sends itself (timers) are part of its interface too:
// CAF 0.17 type-checks every message a typed actor receives.
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "parti/messages/atoms.hpp"
#include "parti/messages/events.hpp"
#include "parti/messages/inspect.hpp"

namespace parti {

/// One KV bucket, served on a thread of its own (the calls block on the network). Failures come
/// back as caf::error in the "parti_kv" category (kv_errc), with the reason as context.
using kv_actor = caf::typed_actor<
    caf::replies_to<caf::get_atom, std::string>::with<kv_entry>,
    caf::replies_to<caf::put_atom, std::string, std::string>::with<std::uint64_t>,
    caf::replies_to<create_atom, std::string, std::string>::with<std::uint64_t>,
    caf::replies_to<caf::update_atom, std::string, std::string, std::uint64_t>::with<std::uint64_t>,
    caf::replies_to<caf::delete_atom, std::string>::with<caf::ok_atom>,
    caf::replies_to<purge_atom, std::string>::with<caf::ok_atom>,
    caf::replies_to<keys_atom>::with<std::vector<std::string>>,
    caf::replies_to<caf::get_atom, keys_atom>::with<std::vector<kv_entry>>,
    caf::replies_to<write_atom, std::vector<kv_write>>::with<std::vector<std::uint64_t>>>;

// -- watches -----------------------------------------------------------------------------------
//
//   watch (supervisor) --watch_update, watch_ready--> worker_monitor, leader, watch_hub
//   watch_hub --watch_update, watch_ready (one key)--> election, assignment_watch
//   election --leadership_update--> node
//   assignment_watch --assignment_update?--> node (one at a time: the next once answered)

/// The consumer of a supervised watch (runtime/nats/watch.hpp): gets every current value
/// (`initial`), one watch_ready when they are replayed, then every change; answers nothing.
using watch_consumer = caf::typed_actor<caf::reacts_to<watch_update>, caf::reacts_to<watch_ready>>;

/// The detached child of a watch, which owns the thread blocked in kvWatcher_Next: gets that
/// thread's entries and its failure (failed, reason), forwards the entries to its supervisor and
/// dies with the failure (the supervisor traps the exit). Internal to runtime/nats/watch.cpp.
using watcher_actor = caf::typed_actor<caf::reacts_to<watch_update>, caf::reacts_to<watch_ready>,
                                       caf::reacts_to<failed_atom, std::string>>;

/// A supervised KV watch: entries from its current watcher go to its consumer, minus the
/// revisions already delivered; a failed watcher is replaced after a backoff (rewatch: its own
/// timer). `resync` replays the current values through a new watcher; `stats` answers counters.
using watch_actor = caf::typed_actor<caf::reacts_to<watch_update>, caf::reacts_to<watch_ready>,
                                     caf::reacts_to<resync_atom>, caf::reacts_to<rewatch_atom>,
                                     caf::replies_to<stats_atom>::with<watch_stats>>;

/// The subscriber of one key of a watch hub: the key's current value (`initial`, if any), a
/// watch_ready, then every change of that key; answers nothing.
using key_consumer = caf::typed_actor<caf::reacts_to<watch_update>, caf::reacts_to<watch_ready>>;

/// One watch of a whole bucket shared by per-key consumers (runtime/nats/watch_hub.hpp):
/// (subscribe, key, consumer) adds one, (resync, key, consumer) replays the key's current value
/// to it; as its watch's consumer it gets the bucket's entries. Answers nothing.
using watch_hub_actor =
    caf::typed_actor<caf::reacts_to<caf::subscribe_atom, std::string, key_consumer>,
                     caf::reacts_to<resync_atom, std::string, key_consumer>,
                     caf::reacts_to<watch_update>, caf::reacts_to<watch_ready>>;

/// The node, as its election addresses it: every change of the leadership.
using leadership_listener = caf::typed_actor<caf::reacts_to<leadership_update>>;

/// The node, as its assignment watch addresses it: one change at a time, answered (ok) once
/// applied.
using assignment_listener =
    caf::typed_actor<caf::replies_to<assignment_update>::with<caf::ok_atom>>;

/// Campaigns for, renews and watches the `leader` key (lease_rules); `delete` resigns (deletes
/// the lease if held) and answers ok. (tick, token) is its wake-up (wakeup_tick, below).
using election_actor = caf::typed_actor<caf::reacts_to<watch_update>, caf::reacts_to<watch_ready>,
                                        caf::replies_to<caf::delete_atom>::with<caf::ok_atom>,
                                        caf::reacts_to<caf::tick_atom, std::uint64_t>>;

/// Hands this worker's assignment key's changes to the node, in order, latest wins
/// (assignment_tracker); `resync` asks its hub to replay the key's current value.
using assignment_watch_actor =
    caf::typed_actor<caf::reacts_to<watch_update>, caf::reacts_to<watch_ready>,
                     caf::reacts_to<resync_atom>>;

/// The wake-up of an actor whose rules ask for one (runtime/wakeup.hpp): (tick, token).
using wakeup_tick = caf::reacts_to<caf::tick_atom, std::uint64_t>;

// -- a node's members --------------------------------------------------------------------------
//
//   id_claimer --id_claimed, id_lost, claim_validity--> node
//   heartbeat  --heartbeat_outcome, store_write_health--> node
//   node --node_state_changed, update, leaving, hold--> heartbeat
//   node --farewell?, delete?--> heartbeat;  node --delete?--> id_claimer

/// The node, as far as its id claimer addresses it: the id held or lost, and until when the
/// claim is surely still this process's.
using id_claim_listener = caf::typed_actor<caf::reacts_to<id_claimed>, caf::reacts_to<id_lost>,
                                           caf::reacts_to<claim_validity>>;

/// Claims the lowest free <prefix>-<n> (the preferred id first) and keeps it by renewal; claims
/// again on its own after a loss. `delete` releases the id (while it is still this process's)
/// and answers once done or given up. (tick, claim generation) is its own timer.
using id_claimer_actor =
    caf::typed_actor<wakeup_tick, caf::replies_to<caf::delete_atom>::with<caf::ok_atom>>;

/// The node, as far as its heartbeat addresses it: how each write ended, and whether the store
/// takes writes.
using heartbeat_observer =
    caf::typed_actor<caf::reacts_to<heartbeat_outcome>, caf::reacts_to<store_write_health>>;

/// Writes this worker's heartbeat record every interval (its own tick) and at once on a change:
/// (update, applied epoch, applied version), the node's state, (leaving, bool) while draining;
/// (hold, bool) stops or resumes writing. `farewell` writes a last record marked restarting,
/// `delete` deletes the key; both stop the writing and answer once done or given up.
using heartbeat_actor = caf::typed_actor<
    caf::reacts_to<caf::tick_atom>, caf::reacts_to<caf::update_atom, std::uint64_t, std::uint64_t>,
    caf::reacts_to<node_state_changed>, caf::reacts_to<leaving_atom, bool>,
    caf::reacts_to<hold_atom, bool>, caf::replies_to<farewell_atom>::with<caf::ok_atom>,
    caf::replies_to<caf::delete_atom>::with<caf::ok_atom>>;

// -- the leader subtree ------------------------------------------------------------------------
//
//   worker_monitor --liveness_notice--> state_machine, emergency_detector
//                  --monitor_ready----> state_machine
//                  --applied_snapshot-> publisher
//   emergency_detector --emergency_notice--> state_machine
//   state_machine --rebalance_order--> calculator --target_ready--> publisher
//                 --group_state_update--> node
//   calculator, publisher --round_done--> state_machine
//   publisher --owners_notice--> emergency_detector
//   leader --control_notice--> state_machine;  leader --refresh?--> calculator
//   leader, calculator --load?--> partition_loader (its load's thread --source_loaded--> it)

/// The node, as far as its leader's state machine addresses it: the group's phase to mirror.
using group_phase_listener = caf::typed_actor<caf::reacts_to<group_state_update>>;

/// Owners whose heartbeats expired, confirmed after a grace (emergency_rules).
using emergency_detector_actor =
    caf::typed_actor<caf::reacts_to<liveness_notice>, caf::reacts_to<owners_notice>, wakeup_tick>;

/// Versioned, epoch-stamped, fenced writes toward each round's target (handoff_planner).
using publisher_actor =
    caf::typed_actor<caf::reacts_to<target_ready>, caf::reacts_to<applied_snapshot>,
                     caf::reacts_to<fence_retry_atom, std::string>, wakeup_tick>;

/// Runs partition_source::load() on a thread of its own, one load at a time, with a timeout
/// (loader_rules): `load` answers the partitions, fresh or the last good set with the problem.
/// The load's thread sends it source_loaded; (tick, token) is its wake-up (timeout, retry).
using partition_loader_actor = caf::typed_actor<caf::replies_to<load_atom>::with<partition_load>,
                                                caf::reacts_to<source_loaded>, wakeup_tick>;

/// Partition source + strategy -> a round's target. `refresh` answers whether the source
/// changed since the last load.
using calculator_actor =
    caf::typed_actor<caf::reacts_to<rebalance_order>, caf::replies_to<refresh_atom>::with<bool>>;

/// When to rebalance (rebalance_rules). Spawned before the calculator, which it learns through
/// (peers, calculator) before anything else; (timeout, round) is a round's own deadline.
using state_machine_actor =
    caf::typed_actor<caf::reacts_to<peers_atom, calculator_actor>, caf::reacts_to<monitor_ready>,
                     caf::reacts_to<liveness_notice>, caf::reacts_to<control_notice>,
                     caf::reacts_to<emergency_notice>, caf::reacts_to<round_done>,
                     caf::reacts_to<caf::timeout_atom, std::uint64_t>, wakeup_tick>;

/// Who is alive, from the heartbeat watch (liveness_tracker); `get` answers the applied
/// versions now. Connection events pause its deadlines while the store is unreachable.
using worker_monitor_actor =
    caf::typed_actor<caf::reacts_to<watch_update>, caf::reacts_to<watch_ready>,
                     caf::reacts_to<connection_event>,
                     caf::replies_to<caf::get_atom>::with<applied_snapshot>, wakeup_tick>;

/// The root of the subtree: reads what earlier leaders published, spawns the others, watches
/// `_control`, and re-reads the partition source every refresh period.
using leader_actor = caf::typed_actor<caf::reacts_to<watch_update>, caf::reacts_to<watch_ready>,
                                      caf::reacts_to<refresh_atom>>;

// -- the node ---------------------------------------------------------------------------------

/// The root of one worker (actors/node/node_actor.hpp): what its children and its connection
/// tell it (each child sees it through one of the views above), what the application asks, and
/// its own timers. spawn_node() hands out a dynamically typed handle, for CAF applications that
/// talk to it untyped; caf::actor_cast<node_actor> gives the checked one.
using node_actor = caf::typed_actor<
    // from its children and its connection
    caf::reacts_to<id_claimed>, caf::reacts_to<id_lost>, caf::reacts_to<claim_validity>,
    caf::reacts_to<leadership_update>, caf::reacts_to<group_state_update>,
    caf::replies_to<assignment_update>::with<caf::ok_atom>, caf::reacts_to<heartbeat_outcome>,
    caf::reacts_to<store_write_health>, caf::reacts_to<connection_event>,
    // from the application
    caf::replies_to<caf::get_atom>::with<node_status>,
    caf::replies_to<rebalance_atom>::with<caf::ok_atom>,
    caf::replies_to<refresh_atom>::with<caf::ok_atom>,
    caf::reacts_to<caf::subscribe_atom, caf::actor>,
    caf::reacts_to<caf::subscribe_atom, caf::actor, lease_atom>,
    caf::replies_to<caf::leave_atom, shutdown_intent>::with<caf::ok_atom>,
    // its own timers: the rules' wake-up, the lease's, a read-back retry, a child's restart,
    // the drain timeout
    wakeup_tick, caf::reacts_to<lease_tick_atom, std::uint64_t>,
    caf::reacts_to<readback_atom, std::uint64_t>, caf::reacts_to<respawn_atom, int>,
    caf::reacts_to<caf::timeout_atom>>;

// -- partition consumption -----------------------------------------------------------------------
//
//   node --assignment_update?, ownership_*, lease_update--> consumer
//   consumer --reader_lease, partition_grant, (leave)?--> partition_reader (one per owned
//            partition)
//   pull inbox (nats.c thread) --pulled_message, pull_status--> partition_reader
//   partition_reader --reader_call_request?--> blocking runner (the consumer's NATS calls)
//   partition_reader --consumed_message?--> the application's handler (actor form)
//   partition_reader --partition_lag--> consumer

/// The application's handler in the actor form: answers each message with how to settle it. A
/// reply later than the handler timeout, or an error, counts as a nak.
using message_handler_actor =
    caf::typed_actor<caf::replies_to<consumed_message>::with<consume_reply>>;

/// The blocking NATS calls of a consumer's readers (attach, confirmed in-progress acks, dead
/// letters, lag), run one at a time on a thread of its own, each answered when done.
using blocking_runner_actor =
    caf::typed_actor<caf::replies_to<reader_call_request>::with<reader_call_result>>;

/// One owned partition's reader (actors/partition_reader): attaches to the partition's durable
/// consumer, pulls, hands messages to the handler and settles them. (leave) releases the
/// partition and is answered once nothing runs and no pull is outstanding; then it quits. A
/// partition_grant is a new fencing token of its partition (the same owner granted it again).
/// Its own timers are the wake-up of its rules and the lag reading (lag).
using partition_reader_actor =
    caf::typed_actor<caf::reacts_to<pulled_message>, caf::reacts_to<pull_status>,
                     caf::reacts_to<reader_lease>, caf::reacts_to<handler_result>,
                     caf::reacts_to<reader_call_result>, caf::reacts_to<partition_grant>,
                     caf::replies_to<caf::leave_atom>::with<caf::ok_atom>, wakeup_tick,
                     caf::reacts_to<lag_atom>>;

/// What a reader tells its consumer.
using reader_listener = caf::typed_actor<caf::reacts_to<partition_lag>>;

/// The consumer (actors/consumer): a subscriber of its node (with the lease) and the supervisor
/// of the readers. It answers a revoking assignment_update once the revoked partitions' readers
/// are released. Its timers: a reader's restart after backoff (respawn, the restart's ticket)
/// and the lag report to metrics (lag).
using consumer_actor =
    caf::typed_actor<caf::replies_to<assignment_update>::with<caf::ok_atom>,
                     caf::reacts_to<ownership_suspended>, caf::reacts_to<ownership_resumed>,
                     caf::reacts_to<lease_update>, caf::reacts_to<leadership_update>,
                     caf::reacts_to<node_state_update>, caf::reacts_to<partition_lag>,
                     caf::reacts_to<respawn_atom, std::uint64_t>, caf::reacts_to<lag_atom>,
                     caf::replies_to<caf::get_atom>::with<consumer_stats>>;

}  // namespace parti
