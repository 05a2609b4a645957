#include "parti/actors/node/ownership_lease.hpp"

#include <algorithm>
#include <utility>

#include "parti/runtime/config.hpp"

namespace parti {

namespace {

constexpr const char* resumed_reason = "heartbeat acknowledged and assignment confirmed";
constexpr const char* fenced_reason = "heartbeat key rewritten by another writer";
constexpr const char* claim_reason = "id claim may have expired";

}  // namespace

const char* to_string(lease_state x) {
  switch (x) {
    case lease_state::unheld:
      return "unheld";
    case lease_state::valid:
      return "valid";
    case lease_state::suspended:
      return "suspended";
    case lease_state::confirming:
      return "confirming";
  }
  return "unknown";
}

const char* to_string(lease_event::kind x) {
  switch (x) {
    case lease_event::kind::suspended:
      return "suspended";
    case lease_event::kind::resumed:
      return "resumed";
  }
  return "unknown";
}

status lease_options::validate() const {
  if (ttl <= duration::zero())
    return failure{"lease: ttl must be greater than 0 (is " + format_duration(ttl) + ")"};
  if (margin < duration::zero())
    return failure{"lease: margin must not be negative (is " + format_duration(margin) + ")"};
  if (margin >= ttl)
    return failure{"lease: margin (" + format_duration(margin) + ") must be below ttl (" +
                   format_duration(ttl) + "): the lease would lapse as soon as it is extended"};
  return done{};
}

ownership_lease::ownership_lease(lease_options options) : options_(std::move(options)) {}

std::uint64_t ownership_lease::sending(time_point sent_at) {
  stopped_because_.reset();
  const std::uint64_t ticket = next_ticket_++;
  in_flight_.emplace(ticket, sent_at);
  return ticket;
}

void ownership_lease::acknowledged(std::uint64_t ticket, time_point now) {
  // The lapse comes first: an ack that arrives after the horizon, with no poll in between, must
  // still count as "acknowledged after the lapse" and go through the read-back.
  expire(now);
  const auto it = in_flight_.find(ticket);
  if (it == in_flight_.end()) return;  // unknown, already resolved, or sent before a fence
  const time_point sent_at = it->second;
  in_flight_.erase(it);
  const time_point until = sent_at + options_.ttl - options_.margin;
  if (!extended_until_ || until > *extended_until_) {
    extended_until_ = until;
    newest_acked_sent_at_ = sent_at;
  }
  // Judged by this write's own horizon: one whose horizon is past proves nothing about now.
  const time_point own = claim_until_ ? std::min(until, *claim_until_) : until;
  if (now >= own) return;
  if (state_ == lease_state::unheld) {
    state_ = lease_state::valid;  // a fresh start has nothing to confirm and nothing to report
    ever_held_ = true;
  } else if (state_ == lease_state::suspended) {
    state_ = lease_state::confirming;
  }
}

void ownership_lease::failed(std::uint64_t ticket, time_point now) {
  expire(now);
  in_flight_.erase(ticket);  // resolved for good: the lease never counts on a write given up on
}

void ownership_lease::fenced(time_point now) {
  expire(now);
  // Writes sent before the fence were compare-and-set on a revision that is no longer ours:
  // their acknowledgements, if any still come, prove nothing.
  in_flight_.clear();
  if (extended_until_ && *extended_until_ > now) extended_until_ = now;
  if (state_ == lease_state::valid)
    suspend(fenced_reason);
  else if (state_ == lease_state::confirming)
    state_ = lease_state::suspended;
}

void ownership_lease::stop_extending(std::string reason) {
  stopped_because_ = std::move(reason);
}

void ownership_lease::claim_safe_until(time_point until) {
  claim_until_ = until;
}

void ownership_lease::read_back(bool key_is_newer, time_point now) {
  expire(now);  // a read-back that comes after the horizon is too late to resume on
  if (state_ != lease_state::confirming || key_is_newer) return;
  state_ = lease_state::valid;
  pending_.push_back({lease_event::kind::resumed, resumed_reason});
}

std::vector<lease_event> ownership_lease::poll(time_point now) {
  expire(now);
  std::vector<lease_event> out;
  out.swap(pending_);
  if (options_.policy == lease_policy::keep) out.clear();  // the application is never told
  return out;
}

std::optional<time_point> ownership_lease::next_deadline() const {
  if (state_ != lease_state::valid && state_ != lease_state::confirming) return std::nullopt;
  return horizon();
}

bool ownership_lease::may_serve(time_point now) const {
  if (options_.policy == lease_policy::keep) return ever_held_;
  return state_ == lease_state::valid && live_at(now);
}

std::optional<time_point> ownership_lease::horizon() const {
  if (!extended_until_) return std::nullopt;
  if (claim_until_) return std::min(*extended_until_, *claim_until_);
  return extended_until_;
}

duration ownership_lease::remaining(time_point now) const {
  if (state_ != lease_state::valid) return duration::zero();
  const time_point until = *horizon();  // valid implies an acknowledged write
  return now < until ? until - now : duration::zero();
}

void ownership_lease::expire(time_point now) {
  if (state_ != lease_state::valid && state_ != lease_state::confirming) return;
  if (live_at(now)) return;
  if (state_ == lease_state::confirming) {
    state_ = lease_state::suspended;  // reported when it left valid; once is enough
    return;
  }
  suspend(lapse_reason(now));
}

void ownership_lease::suspend(std::string reason) {
  state_ = lease_state::suspended;
  ++suspensions_;
  pending_.push_back({lease_event::kind::suspended, std::move(reason)});
}

std::string ownership_lease::lapse_reason(time_point now) const {
  if (claim_binds()) return claim_reason;
  if (stopped_because_) return "stopped heartbeating: " + *stopped_because_;
  // Whole milliseconds: nanosecond digits of a real clock say nothing to a reader.
  const auto age =
      std::chrono::duration_cast<std::chrono::milliseconds>(now - *newest_acked_sent_at_);
  return "no heartbeat acknowledged for " + format_duration(age);
}

bool ownership_lease::live_at(time_point now) const {
  const auto until = horizon();
  return until && now < *until;
}

bool ownership_lease::claim_binds() const {
  return claim_until_ && extended_until_ && *claim_until_ < *extended_until_;
}

}  // namespace parti
