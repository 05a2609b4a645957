#include "actors/election/lease_rules.hpp"

#include <utility>

namespace parti {

status lease_timing::validate() const {
  if (ttl <= duration::zero()) return failure{"election_ttl: must be greater than 0"};
  if (operation_timeout <= duration::zero())
    return failure{"kv_operation_timeout: must be greater than 0"};
  if (operation_timeout > ttl / 3)
    return failure{
        "kv_operation_timeout: must not exceed election_ttl / 3, so that a renewal "
        "started on schedule is answered before the renew deadline"};
  return done{};
}

std::string_view to_string(leader_action x) {
  switch (x) {
    case leader_action::wait:
      return "wait";
    case leader_action::renew:
      return "renew";
    case leader_action::step_down:
      return "step_down";
  }
  return "unknown";
}

std::string_view to_string(follower_action x) {
  return x == follower_action::campaign ? "campaign" : "wait";
}

// -- leader_term ------------------------------------------------------------------------------

leader_term::leader_term(lease_timing timing, std::uint64_t epoch, time_point won_sent_at)
    : timing_(timing), epoch_(epoch), revision_(epoch), confirmed_at_(won_sent_at) {}

time_point leader_term::next_deadline() const {
  if (stepped_down_) return time_point::max();
  if (in_flight_) return renew_deadline();  // the answer may never come in time
  const time_point next_renewal =
      retry_at_ != time_point::max() ? retry_at_ : confirmed_at_ + timing_.renew_interval();
  return std::min(next_renewal, renew_deadline());
}

leader_action leader_term::due(time_point now) {
  if (stepped_down_) return leader_action::step_down;
  if (now >= renew_deadline()) {
    stepped_down_ = true;
    return leader_action::step_down;
  }
  // While a renewal is in flight next_deadline() is the renew deadline: one renewal at a time.
  if (now < next_deadline()) return leader_action::wait;
  in_flight_ = true;
  retry_at_ = time_point::max();
  return leader_action::renew;
}

leader_action leader_term::on_renew(lease_write outcome, std::uint64_t new_revision,
                                    time_point sent_at, time_point now) {
  in_flight_ = false;
  if (stepped_down_) return leader_action::step_down;  // a term never resumes
  switch (outcome) {
    case lease_write::ok:
      revision_ = new_revision;
      confirmed_at_ = std::max(confirmed_at_, sent_at);
      retry_at_ = time_point::max();
      break;
    case lease_write::conflict:
      // Someone else wrote or removed the lease: it is not ours, whatever the deadline says.
      stepped_down_ = true;
      return leader_action::step_down;
    case lease_write::unknown:
      // If it landed, the retry's compare-and-swap fails and the leader steps down: the safe
      // side. If it did not, the retry renews.
      retry_at_ = now + timing_.retry_interval();
      break;
  }
  if (now >= renew_deadline()) {
    stepped_down_ = true;
    return leader_action::step_down;
  }
  return leader_action::wait;
}

// -- lease_follower ---------------------------------------------------------------------------

lease_follower::lease_follower(lease_timing timing, std::string own_instance)
    : timing_(timing), own_instance_(std::move(own_instance)) {}

std::optional<time_point> lease_follower::must_have_expired_at() const {
  if (!last_seen_) return std::nullopt;
  return *last_seen_ + timing_.ttl;
}

time_point lease_follower::next_deadline() const {
  return in_flight_since_ ? time_point::max() : campaign_at_;
}

std::optional<election_win> lease_follower::on_lease_put(const leader_lease& lease,
                                                         std::uint64_t revision, time_point now) {
  const bool our_create = lease.instance == own_instance_ && lease.epoch == 0;
  if (our_create && (in_flight_since_ || unanswered_create_)) {
    // Our Create landed even though its answer is missing (or still on its way).
    election_win win{revision, in_flight_since_ ? *in_flight_since_ : *unanswered_create_};
    in_flight_since_.reset();
    unanswered_create_.reset();
    return win;
  }
  // Someone holds the lease as of now: it cannot outlive now + TTL without another put.
  last_seen_ = now;
  if (lease.instance != own_instance_) unanswered_create_.reset();
  campaign_at_ = now + timing_.ttl;
  return std::nullopt;
}

void lease_follower::on_lease_deleted(time_point now) {
  last_seen_.reset();
  campaign_at_ = now;
}

follower_action lease_follower::due(time_point now) {
  if (in_flight_since_ || now < campaign_at_) return follower_action::wait;
  in_flight_since_ = now;
  return follower_action::campaign;
}

std::optional<election_win> lease_follower::on_campaign(lease_write outcome, std::uint64_t revision,
                                                        time_point sent_at, time_point now) {
  if (!in_flight_since_) return std::nullopt;  // already settled by the watch
  in_flight_since_.reset();
  switch (outcome) {
    case lease_write::ok:
      unanswered_create_.reset();
      return election_win{revision, sent_at};
    case lease_write::conflict:
      schedule_after_failed_campaign(now);
      break;
    case lease_write::unknown:
      // The watch will show our Create if it landed; retry soon in case it did not.
      unanswered_create_ = sent_at;
      campaign_at_ = now + timing_.retry_interval();
      break;
  }
  return std::nullopt;
}

void lease_follower::schedule_after_failed_campaign(time_point now) {
  // The key exists. Wait for the last lease seen to expire; if that time has passed (a renewal
  // we did not see, or none seen at all), poll every TTL/3 so an expiry is caught within TTL/3.
  const time_point poll = now + timing_.poll_interval();
  campaign_at_ = last_seen_ ? std::max(*last_seen_ + timing_.ttl, poll) : poll;
}

}  // namespace parti
