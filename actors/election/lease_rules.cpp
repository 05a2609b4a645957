#include "parti/actors/election/lease_rules.hpp"

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
  switch (x) {
    case follower_action::wait:
      return "wait";
    case follower_action::campaign:
      return "campaign";
    case follower_action::reclaim:
      return "reclaim";
    case follower_action::probe:
      return "probe";
  }
  return "unknown";
}

// -- leader_term ------------------------------------------------------------------------------

leader_term::leader_term(lease_timing timing, std::uint64_t epoch, time_point won_sent_at)
    : timing_(timing), epoch_(epoch), revision_(epoch), confirmed_at_(won_sent_at) {}

leader_term::leader_term(lease_timing timing, const election_win& win)
    : leader_term(timing, win.epoch, win.sent_at) {
  if (win.revision != 0) revision_ = win.revision;
}

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
      lost_ = true;
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

lease_follower lease_follower::incumbent(lease_timing timing, std::string own_instance,
                                         std::uint64_t epoch, std::uint64_t revision) {
  lease_follower f(timing, std::move(own_instance));
  f.incumbent_ = former_term{epoch, revision};
  return f;  // campaign_at_ is min: reclaim at once
}

void lease_follower::back_to_normal() {
  incumbent_.reset();
  troubled_ = false;
}

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
  const bool create_in_flight = in_flight_since_ && in_flight_ == follower_action::campaign;
  if (our_create && (create_in_flight || unanswered_create_)) {
    // Our Create landed even though its answer is missing (or still on its way). Dated from
    // the earliest Create that may have landed: the lease is no younger than that.
    election_win win{revision, unanswered_create_ ? *unanswered_create_ : *in_flight_since_};
    in_flight_since_.reset();
    unanswered_create_.reset();
    back_to_normal();
    return win;
  }
  if (incumbent_ && lease.instance == own_instance_ && lease.epoch == incumbent_->epoch) {
    // Our own lease (a late renewal, or our reclaim): reclaim against it at once; the
    // compare-and-swap confirms that it is still the latest.
    incumbent_->revision = revision;
    incumbent_->reclaimable = true;
    if (!in_flight_since_) campaign_at_ = now;
    return std::nullopt;
  }
  // Someone holds the lease as of now: it cannot outlive now + TTL without another put.
  last_seen_ = now;
  if (lease.instance != own_instance_) {
    unanswered_create_.reset();
    back_to_normal();
  }
  campaign_at_ = now + timing_.ttl;
  return std::nullopt;
}

void lease_follower::on_lease_deleted(time_point now) {
  last_seen_.reset();
  back_to_normal();  // a resignation or a purge: the store takes writes, the lease is free
  campaign_at_ = now;
}

follower_action lease_follower::due(time_point now) {
  if (in_flight_since_ || now < campaign_at_) return follower_action::wait;
  in_flight_since_ = now;
  if (incumbent_ && incumbent_->reclaimable)
    in_flight_ = follower_action::reclaim;
  else if (troubled_)
    in_flight_ = follower_action::probe;
  else
    in_flight_ = follower_action::campaign;
  return in_flight_;
}

std::optional<election_win> lease_follower::on_reclaim(lease_write outcome, std::uint64_t revision,
                                                       time_point sent_at, time_point now) {
  if (!in_flight_since_ || in_flight_ != follower_action::reclaim || !incumbent_)
    return std::nullopt;
  in_flight_since_.reset();
  switch (outcome) {
    case lease_write::ok: {
      // Our lease was still the latest value: nobody held it in between.
      election_win win{incumbent_->epoch, sent_at, revision};
      back_to_normal();
      return win;
    }
    case lease_write::conflict:
      // Expired (or taken): campaign at once; the others yield to us after an outage.
      incumbent_->reclaimable = false;
      campaign_at_ = now;
      break;
    case lease_write::unknown:
      campaign_at_ = now + timing_.retry_interval();
      break;
  }
  return std::nullopt;
}

void lease_follower::on_probe(lease_write outcome, time_point now) {
  if (!in_flight_since_ || in_flight_ != follower_action::probe) return;
  in_flight_since_.reset();
  if (outcome == lease_write::unknown) {
    campaign_at_ = now + timing_.retry_interval();
    return;
  }
  troubled_ = false;
  campaign_at_ = std::max(campaign_at_, now + timing_.yield_after_outage());
}

std::optional<election_win> lease_follower::on_campaign(lease_write outcome, std::uint64_t revision,
                                                        time_point sent_at, time_point now) {
  // Already settled by the watch (or not a campaign's answer).
  if (!in_flight_since_ || in_flight_ != follower_action::campaign) return std::nullopt;
  in_flight_since_.reset();
  switch (outcome) {
    case lease_write::ok:
      unanswered_create_.reset();
      back_to_normal();
      return election_win{revision, sent_at};
    case lease_write::conflict:
      back_to_normal();  // the store answered, and somebody holds the lease
      schedule_after_failed_campaign(now);
      break;
    case lease_write::unknown:
      // The watch will show our Create if it landed; retry soon in case it did not. The store
      // is not taking writes: unless we are the incumbent, probe before campaigning again.
      unanswered_create_ = sent_at;
      if (!incumbent_) troubled_ = true;
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
