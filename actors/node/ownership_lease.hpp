#pragma once
// The ownership lease of a worker: whether it may serve its partitions right now. Pure: the
// heartbeat side feeds it the outcome of each heartbeat write, the node polls it and arms one
// timer at next_deadline().
//
// The leader declares a worker dead when it has seen no heartbeat for the heartbeat TTL, and
// then gives its partitions to others. The worker's own view must therefore lapse first. A
// heartbeat sent at `sent_at` was stored no earlier, so the leader cannot declare the worker
// dead before sent_at + TTL; the worker serves until
//   (sent_at of its newest acknowledged heartbeat) + TTL - margin,
// and never beyond the time its id claim is safe until. The margin covers clock-rate
// differences and the delay of the leader's watch. Heartbeats are compare-and-set on the
// worker's own last revision, so an acknowledged one also proves nobody rewrote the key.
//
// On lapse the node suspends: it stops serving and tells the application. Meanwhile the leader
// may have reassigned its partitions, so it resumes them only after
//  1. a heartbeat write is acknowledged after the lapse (the leader sees it alive again), and
//  2. a read of its assignment key, done after that write, shows a stamp not newer than the one
//     it holds (when it is newer, the node applies that record first and reads back again).
//
// All time points must come from one clock, boot_now() in production: it keeps counting while
// the host is suspended, so a paused node finds its lease lapsed when it wakes.
//
// The caller resolves every ticket with acknowledged() or failed() (fenced() drops those still
// open), and calls poll() after each input and at next_deadline().
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/config.hpp"

namespace parti {

/// What the node does while its lease is not valid (suspend, or keep: serve the last
/// assignment while cut off, which gives up the single-owner guarantee: the leader may have
/// handed the partitions to another worker, and both serve them until this one sees the new
/// assignment). The setting is node_config::on_lease_loss.
using lease_policy = lease_loss_policy;

struct lease_options {
  /// The heartbeat TTL: how long the leader waits for a heartbeat before declaring us dead.
  duration ttl = std::chrono::seconds(3);
  /// Subtracted from the horizon: covers clock-rate differences and the leader's watch delivery.
  duration margin = std::chrono::milliseconds(300);
  lease_policy policy = lease_policy::suspend;

  /// ttl > 0, margin >= 0 and margin < ttl; the failure names the field and the rule.
  status validate() const;
};

// node_config::validate() checks heartbeat_interval + kv_operation_timeout + lease_margin <
// heartbeat_ttl: a heartbeat that times out must leave time for the next one before the lease
// lapses.

enum class lease_state {
  unheld,      // no heartbeat acknowledged yet (fresh start): nothing may be served, no
               // suspension is reported
  valid,       // serving
  suspended,   // lapsed (or fenced): nothing may be served
  confirming,  // suspended, a heartbeat was acknowledged since: waiting for the assignment
               // read-back
};
const char* to_string(lease_state x);

/// What the application is told. Events alternate: suspended, resumed, suspended, ...
struct lease_event {
  enum class kind { suspended, resumed } what;
  /// suspended: why ("no heartbeat acknowledged for 2.7s", "heartbeat key rewritten by another
  /// writer", "id claim may have expired", "stopped heartbeating: <reason>");
  /// resumed: "heartbeat acknowledged and assignment confirmed".
  std::string reason;
};
const char* to_string(lease_event::kind x);

class ownership_lease {
 public:
  /// `options` must pass validate().
  explicit ownership_lease(lease_options options);

  /// A heartbeat write is about to be sent; `sent_at` is read BEFORE the write. Returns the
  /// ticket that acknowledged() or failed() resolves. Ends a stop_extending().
  std::uint64_t sending(time_point sent_at);

  /// The store acknowledged write `ticket`. Extends the horizon to its sent_at + ttl - margin
  /// when that is later (late or out-of-order acks never shorten it; an unknown or resolved
  /// ticket, or one sent before the last fence, is ignored). In `suspended`, an ack whose
  /// horizon is still ahead moves to `confirming`; one whose horizon is already past changes
  /// nothing. In `unheld`, a live ack moves to `valid` with no event.
  void acknowledged(std::uint64_t ticket, time_point now);

  /// The write failed or timed out. It may still land later, but that never extends the lease:
  /// the ticket is resolved, and a later acknowledged() for it is ignored.
  void failed(std::uint64_t ticket, time_point now);

  /// The heartbeat key had another revision than ours: the leader fenced us or another process
  /// took over the id. The lease ends now (the horizon is cut to `now`); only a write sent
  /// after this call re-establishes it. Valid -> suspended, with an event at the next poll;
  /// confirming -> suspended silently (the application already sees it suspended).
  void fenced(time_point now);

  /// The node stops heartbeating on purpose (e.g. "revocation not acknowledged"): the lease runs
  /// out at its horizon with the reason "stopped heartbeating: <reason>". Until the next
  /// sending().
  void stop_extending(std::string reason);

  /// The id claim is safe until `until` (replaces the previous value); the horizon never goes
  /// beyond it.
  void claim_safe_until(time_point until);

  /// While confirming: the assignment key was read after the acknowledged write. `key_is_newer`
  /// true: the node must apply that record first (stays confirming; call again after the next
  /// read). false: -> valid, with a `resumed` event at the next poll. Ignored in other states.
  void read_back(bool key_is_newer, time_point now);

  /// Brings the state up to `now` and returns the events since the last poll (none with policy
  /// keep). Only valid -> suspended reports a suspension: confirming already counts as
  /// suspended for the application, so its horizon passing before the read-back falls back to
  /// suspended silently.
  std::vector<lease_event> poll(time_point now);

  /// The horizon while valid or confirming: when poll() would change the state if nothing else
  /// happens.
  std::optional<time_point> next_deadline() const;

  lease_state state() const { return state_; }

  /// Whether the partitions may be served at `now`. Correct even when poll() has not been called
  /// since time passed: the horizon is compared with `now`, not with the last poll. Policy keep:
  /// true once a heartbeat was ever acknowledged in time, whatever happened since.
  bool may_serve(time_point now) const;

  /// When the lease ends or ended: the newest acknowledged sent_at + ttl - margin, capped by the
  /// claim and by the last fence. Nothing before the first acknowledgement.
  std::optional<time_point> horizon() const;

  /// horizon - now, floored at 0; 0 when not valid.
  duration remaining(time_point now) const;

  /// Confirming: the node must read its assignment key back.
  bool needs_readback() const { return state_ == lease_state::confirming; }

  /// How many times the lease went from valid to suspended (counted with policy keep too).
  std::uint64_t suspensions() const { return suspensions_; }

 private:
  /// Moves valid or confirming to suspended once `now` reached the horizon.
  void expire(time_point now);
  void suspend(std::string reason);
  /// Why the lease lapsed at its horizon.
  std::string lapse_reason(time_point now) const;
  bool live_at(time_point now) const;
  bool claim_binds() const;

  lease_options options_;
  lease_state state_ = lease_state::unheld;
  std::uint64_t next_ticket_ = 1;
  std::map<std::uint64_t, time_point> in_flight_;  // ticket -> sent_at, unresolved writes
  std::optional<time_point> extended_until_;       // newest acked sent_at + ttl - margin
  std::optional<time_point> newest_acked_sent_at_;
  std::optional<time_point> claim_until_;
  std::optional<std::string> stopped_because_;
  bool ever_held_ = false;
  std::uint64_t suspensions_ = 0;
  std::vector<lease_event> pending_;  // for the next poll()
};

}  // namespace parti
