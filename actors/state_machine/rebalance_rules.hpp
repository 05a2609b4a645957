#pragma once
// When the leader rebalances. Pure logic for the state_machine actor: no CAF, no
// NATS, time passed in.
//
// States: idle (nothing to do), scaling (a rebalance is pending and waiting: a window, the
// cooldown, the drain batch delay, a freeze or the retry delay after a failed round),
// rebalancing (a round is running), emergency (an emergency round is running), stopped.
//
// Rules:
//  - Cold start (no previous assignment, or at least `restart_ratio` of the live workers are not
//    in it) waits `cold_start_window`; other joins wait `planned_scale_window`.
//    In `immediate` cold-start mode (the default) a first round for the workers seen so far
//    starts `cold_start_settle` after the window opened (each join within the settle extends it,
//    up to `max_window_factor` settles), so nothing waits for the whole window unowned. The
//    window keeps running; when it closes, a second round serves whoever joined or left since
//    (none is started when the live set is still the one the first round assigned). In `wait`
//    mode the window's one round is the first. Each further
//    change restarts the window from that change, but a window never closes later than
//    `max_window_factor` x its length after it opened, so a steady trickle of joins cannot
//    starve the rebalance. Everything that arrived by then is served by one round.
//  - Graceful leaves of assigned workers (drain, restart grace ended) need no window: they are
//    served `drain_batch_delay` after the first of them (default 0: at the next poll, so leaves
//    delivered together are batched).
//  - A confirmed emergency pre-empts any window and ignores the cooldown. A manual request does
//    too (an operator asked for it now). A refresh of the partition source is planned work.
//  - Partitions that the published assignment gives to nobody (or to several workers), found
//    when a leader takes over, are an emergency too: a hand-off cut short between its revocation
//    and its grant points at no missing worker, so nothing else would ever start the round that
//    assigns them. Without a published assignment they are the cold start's, and an open cold
//    start window serves them as well (a fleet that is mostly new gathers first).
//  - Cooldown: a planned round (cold start, planned scale, refresh) starts no earlier than
//    `cooldown` after the last successful round completed; at exactly that instant it may start.
//  - One round at a time. A round serves everything pending when it starts (its workers are the
//    live set at that moment) and carries the most urgent reason: emergency > drain >
//    restart_expired > manual > cold_start > planned_scale > refresh. Changes that arrive while
//    it runs are kept for the next round; a failed round puts back what it served, to be retried
//    after `failure_backoff`. A completion for any other round id is ignored.
//  - While frozen no round starts; pending work is kept. stop() ends everything: a running
//    round's completion is ignored and no further decision is made.
//
// Use from the actor: feed events, then call poll(now) and carry out its outputs in order; set
// a timer for next_deadline(). Decisions are only made in poll(), so events handled before the
// same poll (e.g. when polling from a zero-delay self message) are batched together.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "parti/messages/leader_events.hpp"
#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/config.hpp"

namespace parti {

enum class machine_state { idle, scaling, rebalancing, emergency, stopped };
const char* to_string(machine_state state);

/// Why a worker left gracefully (see liveness_change::left / restart_expired).
enum class leave_kind { drain, restart_expired };

struct rebalance_options {
  duration cold_start_window = std::chrono::seconds(30);
  /// immediate: a first round `cold_start_settle` into a cold start; wait: only at its end.
  cold_start_mode cold_start = cold_start_mode::immediate;
  /// How long an immediate cold start gathers the burst of joiners before its first round.
  duration cold_start_settle = std::chrono::seconds(1);
  duration planned_scale_window = std::chrono::seconds(10);
  /// A window closes at most this many window lengths after it opened, however many changes
  /// keep extending it. Must be >= 1 (1: changes never extend a window).
  double max_window_factor = 3.0;
  duration cooldown = std::chrono::seconds(10);
  /// Share (0, 1] of live workers that are new to the assignment at which a join is a cold start.
  double restart_ratio = 0.5;
  duration drain_batch_delay = duration::zero();
  duration failure_backoff = std::chrono::seconds(1);

  /// Checks the options; the failure names the field and the rule.
  status validate() const;
};

/// The state changed (reported in poll(), in order with the decisions).
struct state_changed {
  machine_state from;
  machine_state to;
};

/// Compute and publish an assignment for `workers`; report back with round_completed(round).
struct start_rebalance {
  rebalance_reason reason;
  std::uint64_t round;
  std::vector<std::string> workers;  // the live workers when the round started, sorted
};

using machine_output = std::variant<state_changed, start_rebalance>;

/// Drain requests kept until the machine can act on them (before it knows who is live) add up:
/// `earlier`, then the workers of `later` not in it. A drain cannot be taken back, so a later
/// list without a worker (e.g. a periodic refresh, which carries none) does not drop its drain.
std::vector<std::string> merged_drains(std::vector<std::string> earlier,
                                       const std::vector<std::string>& later);

class rebalance_rules {
 public:
  /// `assigned`: the workers of the assignment published before this leader started (empty if
  /// none); `live`: the live workers now. Live workers missing from `assigned` open a window
  /// (cold start or planned scale by the restart ratio); assigned workers missing from `live`
  /// come as emergencies or leaves from the detectors.
  rebalance_rules(rebalance_options options, std::set<std::string> assigned,
                  std::set<std::string> live, time_point now);

  void worker_joined(const std::string& worker, time_point now);
  void worker_left(const std::string& worker, leave_kind kind, time_point now);
  void emergency_confirmed(const std::string& worker, time_point now);
  /// The worker stayed gone past the grace while it owned nothing: it leaves the live set, so
  /// that no later round gives it partitions, and nothing else happens.
  void worker_gone(const std::string& worker, time_point now);
  /// Some partitions of the source are in no worker's key, or in several (see the rules above).
  /// A running round serves them: its target holds every partition once.
  void unowned_partitions_found(time_point now);
  void manual_request(time_point now);
  void partitions_refreshed(time_point now);
  void set_frozen(bool frozen, time_point now);

  /// The outcome of a round. Returns false (and changes nothing) unless `round` is the running
  /// round: a stale or repeated completion, or one after stop(), is ignored.
  bool round_completed(std::uint64_t round, bool ok, time_point now);

  /// Ends the machine: the last poll() reports the change to `stopped`; nothing after that.
  void stop(time_point now);

  /// Starts a round if one is due, and reports the state changes and decisions, in order.
  std::vector<machine_output> poll(time_point now);

  /// When poll() may next start a round; nullopt while a round runs, frozen, stopped or idle.
  std::optional<time_point> next_deadline() const;

  machine_state state() const { return reported_; }  // as last reported by poll()
  std::optional<std::uint64_t> running_round() const;
  const std::set<std::string>& live_workers() const { return live_; }
  const std::set<std::string>& assigned_workers() const { return assigned_; }
  bool frozen() const { return frozen_; }

 private:
  struct window {
    rebalance_reason kind;  // cold_start or planned_scale
    time_point opened;
    time_point deadline;
    /// Immediate cold start: when its first round is due; reset once that round succeeded.
    std::optional<time_point> settle_deadline;
    bool first_round_done = false;  // immediate cold start: its first round succeeded or runs
  };
  struct round {
    std::uint64_t id;
    rebalance_reason reason;
    std::set<std::string> workers;
    std::set<rebalance_reason> served;
    bool first_of_cold_start = false;  // left the window open
  };

  const std::set<std::string>& expected_members() const;
  bool cold_start_applies() const;
  void open_or_extend_window(time_point now);
  void add_leave(rebalance_reason reason, time_point now);
  bool should_start(time_point now) const;
  bool cooldown_over(time_point now) const;
  start_rebalance start_round();
  start_rebalance start_first_cold_start_round();
  bool settle_due(time_point now) const;
  bool window_due(time_point now) const;
  bool window_needs_no_round() const;
  void open_settle(time_point now);
  void put_back(const round& failed, time_point now);
  bool pending(rebalance_reason reason) const { return reasons_.count(reason) != 0; }
  bool has_pending() const { return !reasons_.empty() || window_.has_value(); }
  machine_state derived_state() const;

  rebalance_options options_;
  std::set<std::string> assigned_;  // workers of the last published assignment
  std::set<std::string> live_;
  std::set<rebalance_reason> reasons_;  // pending, besides the window
  std::optional<window> window_;
  std::optional<time_point> leave_due_;  // when pending leaves are served
  std::optional<round> round_;
  std::uint64_t last_round_id_ = 0;
  std::optional<time_point> last_success_;
  std::optional<time_point> retry_at_;
  bool frozen_ = false;
  bool stopped_ = false;
  machine_state reported_ = machine_state::idle;
};

}  // namespace parti
