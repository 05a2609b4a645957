#include "parti/actors/state_machine/rebalance_rules.hpp"

#include <algorithm>
#include <array>
#include <iterator>
#include <utility>

namespace parti {

status rebalance_options::validate() const {
  if (cold_start_window < duration::zero())
    return failure{"rebalance: cold_start_window must not be negative"};
  if (cold_start_settle < duration::zero())
    return failure{"rebalance: cold_start_settle must not be negative"};
  if (planned_scale_window < duration::zero())
    return failure{"rebalance: planned_scale_window must not be negative"};
  if (!(max_window_factor >= 1.0))
    return failure{"rebalance: max_window_factor must be at least 1"};
  if (cooldown < duration::zero()) return failure{"rebalance: cooldown must not be negative"};
  if (!(restart_ratio > 0.0 && restart_ratio <= 1.0))
    return failure{"rebalance: restart_ratio must be in (0, 1]"};
  if (drain_batch_delay < duration::zero())
    return failure{"rebalance: drain_batch_delay must not be negative"};
  if (failure_backoff < duration::zero())
    return failure{"rebalance: failure_backoff must not be negative"};
  return done{};
}

const char* to_string(machine_state state) {
  switch (state) {
    case machine_state::idle:
      return "idle";
    case machine_state::scaling:
      return "scaling";
    case machine_state::rebalancing:
      return "rebalancing";
    case machine_state::emergency:
      return "emergency";
    case machine_state::stopped:
      return "stopped";
  }
  return "unknown";
}

namespace {

// Most urgent first: the reason a round reports when it serves several.
constexpr std::array<rebalance_reason, 7> by_urgency{
    rebalance_reason::emergency, rebalance_reason::drain,      rebalance_reason::restart_expired,
    rebalance_reason::manual,    rebalance_reason::cold_start, rebalance_reason::planned_scale,
    rebalance_reason::refresh};

rebalance_reason most_urgent(const std::set<rebalance_reason>& reasons) {
  for (auto reason : by_urgency)
    if (reasons.count(reason) != 0) return reason;
  return rebalance_reason::manual;  // unreachable: a round always serves at least one reason
}

bool is_window_kind(rebalance_reason reason) {
  return reason == rebalance_reason::cold_start || reason == rebalance_reason::planned_scale;
}

bool is_leave_kind(rebalance_reason reason) {
  return reason == rebalance_reason::drain || reason == rebalance_reason::restart_expired;
}

duration scaled(duration length, double factor) {
  return std::chrono::duration_cast<duration>(std::chrono::duration<double, duration::period>(
      static_cast<double>(length.count()) * factor));
}

}  // namespace

rebalance_rules::rebalance_rules(rebalance_options options, std::set<std::string> assigned,
                                 std::set<std::string> live, time_point now)
    : options_(std::move(options)), assigned_(std::move(assigned)), live_(std::move(live)) {
  bool someone_new = std::any_of(live_.begin(), live_.end(),
                                 [this](const auto& w) { return assigned_.count(w) == 0; });
  if (someone_new) open_or_extend_window(now);
}

// -- events ---------------------------------------------------------------------------------

void rebalance_rules::worker_joined(const std::string& worker, time_point now) {
  if (stopped_) return;
  live_.insert(worker);
  // A worker the current (or running) assignment already includes needs no round.
  if (expected_members().count(worker) == 0) open_or_extend_window(now);
}

void rebalance_rules::worker_left(const std::string& worker, leave_kind kind, time_point now) {
  if (stopped_) return;
  live_.erase(worker);
  if (expected_members().count(worker) != 0) {
    add_leave(
        kind == leave_kind::drain ? rebalance_reason::drain : rebalance_reason::restart_expired,
        now);
  } else if (window_) {
    open_or_extend_window(now);  // the fleet is still changing: keep waiting
  }
}

void rebalance_rules::emergency_confirmed(const std::string& worker, time_point /*now*/) {
  if (stopped_) return;
  live_.erase(worker);
  if (expected_members().count(worker) != 0) reasons_.insert(rebalance_reason::emergency);
}

void rebalance_rules::worker_gone(const std::string& worker, time_point /*now*/) {
  if (!stopped_) live_.erase(worker);
}

void rebalance_rules::unowned_partitions_found(time_point /*now*/) {
  if (stopped_ || round_) return;
  // Nothing published: everything is unassigned, and the cold start window (opened for the live
  // workers, or by the first join) is the round that assigns it.
  if (assigned_.empty()) return;
  if (window_ && window_->kind == rebalance_reason::cold_start) return;
  reasons_.insert(rebalance_reason::emergency);
}

void rebalance_rules::manual_request(time_point /*now*/) {
  if (!stopped_) reasons_.insert(rebalance_reason::manual);
}

void rebalance_rules::partitions_refreshed(time_point /*now*/) {
  if (!stopped_) reasons_.insert(rebalance_reason::refresh);
}

void rebalance_rules::set_frozen(bool frozen, time_point /*now*/) {
  frozen_ = frozen;
}

bool rebalance_rules::round_completed(std::uint64_t round_id, bool ok, time_point now) {
  if (stopped_ || !round_ || round_->id != round_id) return false;
  if (ok) {
    assigned_ = round_->workers;
    last_success_ = now;
  } else {
    put_back(*round_, now);
    retry_at_ = now + options_.failure_backoff;
  }
  round_.reset();
  return true;
}

void rebalance_rules::stop(time_point /*now*/) {
  stopped_ = true;
  round_.reset();
  reasons_.clear();
  window_.reset();
  leave_due_.reset();
}

// -- decisions ------------------------------------------------------------------------------

std::vector<machine_output> rebalance_rules::poll(time_point now) {
  std::optional<start_rebalance> started;
  // An immediate cold start's window that ends with the fleet its first round assigned.
  if (window_due(now) && window_needs_no_round()) window_.reset();
  if (should_start(now)) {
    bool only_settle = settle_due(now) && !window_due(now) &&
                       !pending(rebalance_reason::emergency) &&
                       !pending(rebalance_reason::manual) && !(leave_due_ && now >= *leave_due_);
    started = only_settle ? start_first_cold_start_round() : start_round();
  }
  std::vector<machine_output> out;
  auto state = derived_state();
  if (state != reported_) out.emplace_back(state_changed{reported_, state});
  reported_ = state;
  if (started) out.emplace_back(std::move(*started));
  return out;
}

bool rebalance_rules::should_start(time_point now) const {
  if (stopped_ || round_ || frozen_) return false;
  if (retry_at_ && now < *retry_at_) return false;
  if (pending(rebalance_reason::emergency) || pending(rebalance_reason::manual)) return true;
  if (leave_due_ && now >= *leave_due_) return true;
  bool planned_due =
      window_ ? window_due(now) || settle_due(now) : pending(rebalance_reason::refresh);
  return planned_due && cooldown_over(now);
}

bool rebalance_rules::window_due(time_point now) const {
  return window_ && now >= window_->deadline;
}

bool rebalance_rules::settle_due(time_point now) const {
  return window_ && window_->settle_deadline && now >= *window_->settle_deadline;
}

bool rebalance_rules::window_needs_no_round() const {
  return window_->first_round_done && live_ == assigned_;
}

bool rebalance_rules::cooldown_over(time_point now) const {
  return !last_success_ || now >= *last_success_ + options_.cooldown;
}

start_rebalance rebalance_rules::start_round() {
  auto served = reasons_;
  if (window_) served.insert(window_->kind);
  round r{++last_round_id_, most_urgent(served), live_, served, false};
  reasons_.clear();
  window_.reset();
  leave_due_.reset();
  start_rebalance decision{r.reason, r.id, {live_.begin(), live_.end()}};
  round_ = std::move(r);
  return decision;
}

start_rebalance rebalance_rules::start_first_cold_start_round() {
  // Everything pending is served, as by any round; the window stays open for the late joiners.
  auto served = reasons_;
  served.insert(rebalance_reason::cold_start);
  round r{++last_round_id_, most_urgent(served), live_, served, true};
  reasons_.clear();
  leave_due_.reset();
  window_->settle_deadline.reset();
  window_->first_round_done = true;
  start_rebalance decision{r.reason, r.id, {live_.begin(), live_.end()}};
  round_ = std::move(r);
  return decision;
}

void rebalance_rules::put_back(const round& failed, time_point now) {
  for (auto reason : failed.served) {
    if (failed.first_of_cold_start && reason == rebalance_reason::cold_start && window_) {
      // Its window is still open: the first round is due again (after the retry delay).
      window_->first_round_done = false;
      window_->settle_deadline = now;
    } else if (is_window_kind(reason)) {
      // Its window already ran out: due at once (after the retry delay), newer joins included.
      if (!window_) window_ = window{reason, now, now, std::nullopt, false};
      if (reason == rebalance_reason::cold_start) window_->kind = reason;
      window_->deadline = std::min(window_->deadline, now);
    } else if (is_leave_kind(reason)) {
      reasons_.insert(reason);
      leave_due_ = now;
    } else {
      reasons_.insert(reason);
    }
  }
}

std::optional<time_point> rebalance_rules::next_deadline() const {
  if (stopped_ || round_ || frozen_) return std::nullopt;
  std::optional<time_point> next;
  auto consider = [&](time_point t) {
    if (retry_at_) t = std::max(t, *retry_at_);
    next = next ? std::min(*next, t) : t;
  };
  auto cooldown_end = last_success_ ? *last_success_ + options_.cooldown : time_point::min();
  if (pending(rebalance_reason::emergency) || pending(rebalance_reason::manual))
    consider(time_point::min());
  if (leave_due_) consider(*leave_due_);
  if (window_) {
    auto due = window_->deadline;
    if (window_->settle_deadline) due = std::min(due, *window_->settle_deadline);
    consider(std::max(due, cooldown_end));
  } else if (pending(rebalance_reason::refresh))
    consider(cooldown_end);
  return next;
}

std::optional<std::uint64_t> rebalance_rules::running_round() const {
  if (!round_) return std::nullopt;
  return round_->id;
}

// -- helpers --------------------------------------------------------------------------------

const std::set<std::string>& rebalance_rules::expected_members() const {
  // While a round runs, its snapshot is what the fleet is about to be told.
  return round_ ? round_->workers : assigned_;
}

bool rebalance_rules::cold_start_applies() const {
  const auto& base = expected_members();
  if (base.empty()) return true;  // no previous assignment
  if (live_.empty()) return false;
  auto fresh = std::count_if(live_.begin(), live_.end(),
                             [&base](const auto& w) { return base.count(w) == 0; });
  return static_cast<double>(fresh) >= options_.restart_ratio * static_cast<double>(live_.size());
}

void rebalance_rules::open_or_extend_window(time_point now) {
  auto kind = cold_start_applies() ? rebalance_reason::cold_start : rebalance_reason::planned_scale;
  if (window_ && window_->kind == rebalance_reason::cold_start) kind = window_->kind;  // keep long
  auto length = kind == rebalance_reason::cold_start ? options_.cold_start_window
                                                     : options_.planned_scale_window;
  auto opened = window_ ? window_->opened : now;
  auto deadline = std::min(now + length, opened + scaled(length, options_.max_window_factor));
  if (window_) deadline = std::max(deadline, window_->deadline);  // never closes earlier
  auto settle = window_ ? window_->settle_deadline : std::nullopt;
  bool first_round_done = window_ && window_->first_round_done;
  window_ = window{kind, opened, deadline, settle, first_round_done};
  if (kind == rebalance_reason::cold_start) open_settle(now);
}

void rebalance_rules::open_settle(time_point now) {
  if (options_.cold_start != cold_start_mode::immediate || window_->first_round_done) return;
  // Like a window: each join extends the settle, within a bound, to gather a burst of joiners.
  auto due =
      std::min(now + options_.cold_start_settle,
               window_->opened + scaled(options_.cold_start_settle, options_.max_window_factor));
  if (window_->settle_deadline) due = std::max(due, *window_->settle_deadline);
  window_->settle_deadline = due;
}

void rebalance_rules::add_leave(rebalance_reason reason, time_point now) {
  reasons_.insert(reason);
  // Batched from the first leave: later ones join it without delaying it.
  if (!leave_due_) leave_due_ = now + options_.drain_batch_delay;
}

machine_state rebalance_rules::derived_state() const {
  if (stopped_) return machine_state::stopped;
  if (round_)
    return round_->reason == rebalance_reason::emergency ? machine_state::emergency
                                                         : machine_state::rebalancing;
  return has_pending() ? machine_state::scaling : machine_state::idle;
}

std::vector<std::string> merged_drains(std::vector<std::string> earlier,
                                       const std::vector<std::string>& later) {
  for (const auto& w : later)
    if (std::find(earlier.begin(), earlier.end(), w) == earlier.end()) earlier.push_back(w);
  return earlier;
}

}  // namespace parti
