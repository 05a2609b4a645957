#pragma once
// The live set of the fleet, from the heartbeat watch (docs/WIRE.md, heartbeats). Pure logic for
// the worker_monitor actor: no CAF, no NATS, time passed in.
//
// Bucket TTL produces no watch event, so the leader keeps its own deadline per worker:
// deadline = last heartbeat seen + heartbeat TTL, both on the leader's monotonic clock. A delete
// of the key, or a heartbeat with `leaving`, is a graceful leave; a heartbeat with `restarting`
// keeps the worker (and its partitions) for the restart grace.
//
// No decision here reads another host's clock: a record's `sent_at` (the worker's wall clock)
// is never compared with the leader's, not even at rebuild (see rebuild()).
//
// Heard and live (see heard_workers() and live_workers()): a `leaving` worker gave its
// partitions up for assignment but still holds them until it reports having applied their
// revocation, so it stays heard (not live) while it keeps heartbeating with `leaving`.
//
// Three guards keep a leader from declaring healthy workers dead (§3 Degraded):
//  - recovery grace: after rebuild() or store_outage_ended(), nobody expires before the grace
//    has passed, since heartbeats sent while the leader could not see them were lost to it;
//  - mass disappearance: if more than `mass_expiry_share` of the alive workers would expire in
//    one check, the store (or the watch) is suspected instead of the workers: their expiry is
//    held for `mass_expiry_hold`, and only if they are still silent after it are they expired;
//  - heartbeat silence: every live worker, the leader included, heartbeats every interval, so
//    when no heartbeat from anybody has been seen for `silence_threshold` the store (a stream
//    without a leader fails every write) or the watch is in trouble, not the workers. From the
//    start of the silence until the next heartbeat from anybody, nothing expires, as in a store
//    outage; that heartbeat starts the recovery grace. Deadlines that passed before the silence
//    began are not held: a worker that died while others were still heard expires on time.
//    The guard holds only while nothing at all is heard, and the leader's own heartbeat is
//    among what it hears, so it never holds a dead worker past the first heartbeat (plus grace).
//
// Use from the actor: feed every watch event, then call expire(now) when next_deadline() is due;
// forward the returned events in order.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "parti/messages/leader_events.hpp"
#include "parti/messages/records.hpp"
#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"

namespace parti {

struct liveness_options {
  duration heartbeat_ttl = std::chrono::seconds(3);
  duration restart_grace = std::chrono::seconds(30);
  /// After the end of a store outage, nobody expires before this has passed: the leader could
  /// not have seen heartbeats while the store was unreachable.
  duration recovery_grace = std::chrono::seconds(3);
  /// After a rebuild (a new leader, the store reachable all along), nobody expires before this
  /// has passed: a heartbeat written just before may still be on its way through the watch.
  /// Short (about one heartbeat interval), so a crashed leader's partitions move quickly.
  duration rebuild_grace = std::chrono::seconds(1);
  /// The mass-disappearance guard trips when more than this share (0, 1] of the alive workers
  /// would expire in one check, and at least `mass_expiry_min_workers` of them.
  double mass_expiry_share = 0.5;
  std::size_t mass_expiry_min_workers = 2;
  /// How long a suspected mass expiry is held before it is believed.
  duration mass_expiry_hold = std::chrono::seconds(3);
  /// No heartbeat from anybody for this long (while a worker is alive) is a heartbeat silence:
  /// the store or the watch is failing, so expiries are held until a heartbeat is heard again.
  /// Zero disables the guard. Keep it above the heartbeat interval (plus jitter), or the gap
  /// between two heartbeats of a small fleet reads as a silence, and below `heartbeat_ttl`: only
  /// workers whose last heartbeat is within `heartbeat_ttl - silence_threshold` of the newest
  /// one seen have their deadline inside the silence, so at or above the TTL the guard protects
  /// nobody who was heartbeating on time (allowed, merely useless).
  duration silence_threshold = std::chrono::seconds(2);

  /// Checks the options; the failure names the field and the rule.
  status validate() const;
};

struct liveness_event {
  liveness_change change;
  /// Empty for store_suspected, store_trusted, heartbeats_silent and heartbeats_resumed.
  std::string worker;
  /// store_suspected: the held workers; heartbeats_silent: the alive workers, whose expiry the
  /// silence holds. Sorted.
  std::vector<std::string> workers;
  /// expired: when the worker's deadline passed (last heartbeat + TTL; for a worker found by
  /// rebuild(), the rebuild + TTL, or the rebuild itself for an owner without a record). A
  /// deadline held by a guard passes late; the emergency grace counts from here, not from the
  /// noticing.
  /// heartbeats_silent: when the silence began (last heartbeat seen + silence threshold).
  time_point since{};
};

/// One initial value of the heartbeat watch.
struct observed_heartbeat {
  std::string worker;
  heartbeat_record record;
};

enum class worker_liveness { unknown, alive, leaving, restarting };

class liveness_tracker {
 public:
  explicit liveness_tracker(liveness_options options = {});

  /// Starts over from the watch's initial values (leader start, or watch restart); `now` is when
  /// the rebuilt watch became ready. Every worker with a record among them counts as heard at
  /// `now`: an alive one expires at `now + heartbeat_ttl` at the earliest, a `restarting` one's
  /// restart grace runs from `now`, a `leaving` one stays heard (see heard_workers()) until
  /// `now + heartbeat_ttl` unless it heartbeats again. Workers in `assigned_workers` with no
  /// record at all count as heard at `now` too (their keys may have expired while the store was
  /// down, and their clients reconnect a moment after ours), so they are reported expired at
  /// `now + heartbeat_ttl` unless they heartbeat (never before the rebuild grace has passed). Emits
  /// no `joined`: only `left` for records marked `leaving` and `restarting` for records marked
  /// `restarting`. Starts the rebuild grace.
  ///
  /// The record's `sent_at` is deliberately ignored. It is stamped by the worker's wall clock, and
  /// turning it into an age against the leader's wall clock made liveness depend on the skew
  /// between two hosts: a worker whose clock ran 10 s behind was declared dead at once by a new
  /// leader, one whose clock ran ahead was kept too long. The cost: a worker that died just before
  /// the leader change is declared dead a TTL after the rebuild, not a TTL after its last
  /// heartbeat, which adds up to one heartbeat TTL to leader-crash failover (the bucket's max age
  /// is the TTL, so no record in the initial values is older than that). It is chosen so that no
  /// safety or liveness decision depends on two hosts' wall clocks. The fencing of grants would
  /// make an early expiry harmless for ownership, but it would still move the partitions of a
  /// healthy worker without need.
  ///
  /// Counts as a heartbeat heard at `now`, even with no records: a fresh leader does not start
  /// silent, and the leader's own heartbeat is due within an interval, so hearing nothing at all
  /// for the silence threshold after a rebuild is the same trouble as at any other time. With no
  /// alive worker tracked there is no silence, whatever the clock says.
  std::vector<liveness_event> rebuild(const std::vector<observed_heartbeat>& initial,
                                      const std::vector<std::string>& assigned_workers,
                                      time_point now);

  /// A heartbeat put seen by the watch at `now`. Any put, from any worker, ends a heartbeat
  /// silence (heartbeats_resumed first, then the worker's own events). A `leaving` put from a
  /// worker not tracked (one forgotten after falling silent, or expired, while it drained) is
  /// tracked as leaving without an event: it has nothing of ours to hand back, but it is heard
  /// and may still hold partitions. A `restarting` put from a worker not tracked is ignored.
  std::vector<liveness_event> heartbeat_put(const std::string& worker,
                                            const heartbeat_record& record, time_point now);

  /// A delete or purge of the worker's heartbeat key: a graceful leave. A worker that announced
  /// `restarting` keeps its restart grace (a delete marker may follow its last heartbeat).
  std::vector<liveness_event> heartbeat_deleted(const std::string& worker, time_point now);

  /// Time advanced: reports expiries and ended restart graces due at `now`, and forgets leaving
  /// workers silent for the TTL (no event: their leave was reported). During a heartbeat
  /// silence, only what was due before it began; entering one reports heartbeats_silent.
  std::vector<liveness_event> expire(time_point now);

  /// The store cannot be reached: no deadline is acted on until it is back.
  void store_outage_began(time_point now);
  /// The store is back: the recovery grace starts at `now`. Nothing could be heard during the
  /// outage, so the silence clock restarts at `now` too (unless a silence was already reported:
  /// that one still needs a heartbeat to end).
  void store_outage_ended(time_point now);

  /// When expire() next has something to do; nullopt if nothing is tracked, or if everything
  /// left is held by a store outage or a reported heartbeat silence (a heartbeat or the end of
  /// the outage changes that, and the actor re-arms then). Includes the start of a silence.
  std::optional<time_point> next_deadline() const;

  /// Workers that keep their partitions: alive or restarting, sorted. Includes owners known only
  /// from rebuild()'s `assigned_workers` until they expire.
  std::vector<std::string> live_workers() const;
  /// Workers whose heartbeat the leader hears now, sorted: alive, restarting and leaving, each
  /// with a heartbeat seen (last_heartbeat() is not null), so an owner known only from
  /// rebuild()'s `assigned_workers` is not heard until it heartbeats. A worker stays heard as
  /// long as the tracker keeps it, under the same guards as an expiry:
  ///  - alive: until it expires (reported `expired`), or its key is deleted (`left`);
  ///  - restarting: until it is back (`restarted`, then alive) or its restart grace ended
  ///    (`restart_expired`); a delete of its key does not end it;
  ///  - leaving (a draining worker heartbeats with `leaving` until it deleted its key): until its
  ///    key is deleted, or it was silent for `heartbeat_ttl` since its last heartbeat (or since
  ///    the rebuild that found it). That forgetting is held exactly like an expiry: not during a
  ///    store outage, not during a heartbeat silence (unless the TTL ran out before the silence
  ///    began), and not before the rebuild or recovery grace or a mass-expiry hold has passed,
  ///    since then the leader, not the worker, may be the one that could not hear. A forgotten
  ///    leaver that heartbeats again with `leaving` is heard again.
  /// A plain heartbeat from a leaving worker makes it alive again (`joined`).
  std::vector<std::string> heard_workers() const;
  worker_liveness state_of(const std::string& worker) const;
  /// The last heartbeat seen from a tracked worker (its applied epoch/version), or nullptr.
  const heartbeat_record* last_heartbeat(const std::string& worker) const;
  bool store_suspected() const { return !held_.empty(); }
  bool in_outage() const { return outage_; }
  /// A heartbeat silence was reported (heartbeats_silent) and no heartbeat has ended it yet.
  bool heartbeats_silent() const { return silence_since_.has_value(); }

 private:
  struct entry {
    worker_liveness state = worker_liveness::alive;
    time_point last_seen;
    time_point restart_deadline;  // only while restarting
    heartbeat_record last;
    bool has_record = false;  // false for overdue workers known only from the assignment
  };

  std::vector<liveness_event> on_heartbeat_from_alive(entry& e, const std::string& worker,
                                                      const heartbeat_record& record,
                                                      time_point now);
  std::vector<liveness_event> expire_restarts(time_point now);
  void forget_silent_leavers(time_point due);
  std::vector<liveness_event> expire_alive(time_point due, time_point now);
  std::optional<time_point> silence_start() const;
  void hear(time_point now, std::vector<liveness_event>& events);
  liveness_event silence_event(time_point start) const;
  bool looks_like_mass_disappearance(std::size_t newly_overdue) const;
  std::size_t alive_count() const;
  /// alive_count() > 0, stopping at the first: asked on every heartbeat.
  bool any_alive() const;
  time_point heard_deadline(const entry& e) const;
  time_point not_before(time_point deadline) const;
  void start_grace(time_point now, duration grace);
  void release_from_hold(const std::string& worker, std::vector<liveness_event>& events);

  liveness_options options_;
  std::map<std::string, entry> workers_;
  std::optional<time_point> expiry_floor_;  // no expiry before this (recovery grace, guard hold)
  bool outage_ = false;
  std::set<std::string> held_;            // workers whose expiry the mass-disappearance guard held
  std::optional<time_point> last_heard_;  // the latest heartbeat put from anybody (or rebuild)
  std::optional<time_point> silence_since_;  // set once a silence is reported, until a heartbeat
};

}  // namespace parti
