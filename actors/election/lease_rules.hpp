#pragma once
// The timing rules of the leader lease (docs/WIRE.md): when the leader renews, when it
// must step down, and when a follower campaigns. Pure: the election actor feeds it watch events
// and operation outcomes, and arms one timer at next_deadline().
//
// Time points called `sent_at` are when a request was sent. The store stored it no earlier, so
// a lease written at sent_at cannot expire for anyone else before sent_at + TTL (the bucket's
// max age counts from the store's timestamp; clock rates are assumed equal).
//
// Leader side. Renew every TTL/3 after the last confirmed write. The renew deadline is
//   last confirmed sent_at + TTL - margin,   margin = max(TTL/3, KV operation timeout).
// Past it the leader steps down and stops leader-only work. The margin is why that is safe:
// a leader-only write sent just before the deadline is answered or times out (operation
// timeout) before the lease can expire, and TTL/3 leaves room for the actor to tear the leader
// subtree down. Writes that outlive their timeout (nats.c's reconnect buffer) are fenced by
// epoch. With the defaults (TTL 3 s, timeout 1 s): renew at +1 s, deadline at +2 s, retries of
// a failed renewal every TTL/12 (250 ms) in between.
//
// Follower side. Campaign (Create `leader`) when the key is seen deleted, when no lease was ever
// seen, and when the last lease seen must have expired: a put seen at local time t was stored
// no later than t, so it expires no later than t + TTL. Expiry gives no watch event (NATS 2.9),
// so this deadline is the only signal. A campaign that finds the key taken is repeated every
// TTL/3 while the last lease seen is older than TTL, so an expired lease is taken within TTL/3
// of its expiry even when watch events are missed. The epoch is the revision of the winning
// Create.
//
// Store outages. When the election stream cannot take writes for longer than the renew
// deadline (a JetStream cluster elects a new stream leader in 4-8 s after a server dies), the
// leader steps down although nobody else can have taken the lease. Two rules let the same node
// lead again when the store is back, instead of whoever writes first:
//  - the incumbent: a node whose term ended only because its renewals went unconfirmed first
//    tries to reclaim the lease: Update(leader, same epoch, last revision). The compare-and-swap
//    succeeds only if the lease it wrote is still the key's latest value, so nobody held it in
//    between: the term resumes with the same epoch. If the lease expired meanwhile, it campaigns
//    (Create) at once and every TTL/12 after.
//  - the others: a campaign answered "unknown" means the store is not taking writes. The
//    follower then probes (an Update against a revision that cannot exist: it writes nothing
//    and is refused at once when the stream has a leader) every TTL/12, and campaigns only a
//    yield (operation timeout + TTL/3) after the store answered, which leaves the incumbent time
//    to reclaim or win even when its last request only fails at the timeout.
// A follower that sees another holder, or a refused Create, goes back to the normal rules.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "parti/messages/records.hpp"
#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"

namespace parti {

/// The intervals derived from the election TTL and the KV operation timeout.
struct lease_timing {
  duration ttl = std::chrono::seconds(3);
  duration operation_timeout = std::chrono::seconds(1);

  duration renew_interval() const { return ttl / 3; }
  duration renew_margin() const { return std::max(ttl / 3, operation_timeout); }
  /// From the last confirmed renewal's sent_at to the renew deadline.
  duration renew_deadline_after() const { return ttl - renew_margin(); }
  duration retry_interval() const { return ttl / 12; }
  duration poll_interval() const { return ttl / 3; }
  /// How long a follower waits after a store outage before it campaigns: the incumbent's turn.
  /// Its request sent just before the store came back may only fail at the operation timeout,
  /// and it retries TTL/12 later; TTL/3 on top of the timeout covers that with room to spare.
  duration yield_after_outage() const { return operation_timeout + ttl / 3; }

  /// Fails unless ttl > 0 and operation_timeout <= ttl / 3 (so a renewal started on schedule
  /// is answered before the deadline).
  status validate() const;
};

/// The outcome of a lease write: the leader's renewal (Update) or a campaign (Create).
enum class lease_write {
  ok,        // written; carries the new revision
  conflict,  // Update: wrong revision / not found. Create: the key exists
  unknown,   // timeout or connection error: it may or may not have landed
};

enum class leader_action {
  wait,       // nothing before next_deadline()
  renew,      // Update(leader, lease, revision())
  step_down,  // stop leader-only work now; the term is over
};
std::string_view to_string(leader_action x);

/// A won election: the epoch and the sent_at to start the leader_term with.
struct election_win {
  std::uint64_t epoch = 0;
  time_point sent_at{};
  /// The lease's revision when it differs from the epoch (a reclaimed term); 0: the epoch.
  std::uint64_t revision = 0;
};

/// One leadership term, from the winning Create to the step-down.
class leader_term {
 public:
  leader_term(lease_timing timing, std::uint64_t epoch, time_point won_sent_at);
  leader_term(lease_timing timing, const election_win& win);

  std::uint64_t epoch() const { return epoch_; }
  /// The revision to renew against (the epoch at first).
  std::uint64_t revision() const { return revision_; }
  bool stepped_down() const { return stepped_down_; }

  /// True while leader-only work (publishing, deciding) is allowed.
  bool may_lead(time_point now) const { return !stepped_down_ && now < renew_deadline(); }

  time_point renew_deadline() const { return confirmed_at_ + timing_.renew_deadline_after(); }
  time_point next_deadline() const;

  /// What to do now: step_down once the deadline passed (and stays stepped down).
  leader_action due(time_point now);

  /// The outcome of a renewal sent at `sent_at`. A conflict ends the term at once (someone else
  /// holds or removed the lease); an unknown outcome is retried until the deadline.
  leader_action on_renew(lease_write outcome, std::uint64_t new_revision, time_point sent_at,
                         time_point now);

  /// The leader gives up on its own (shutdown, lost id).
  void resign() {
    stepped_down_ = true;
    lost_ = true;
  }

  /// True when the term ended only because no renewal was confirmed in time (timeouts, a store
  /// that could not take writes), not because the lease was seen taken or refused.
  bool ended_unconfirmed() const { return stepped_down_ && !lost_; }

 private:
  lease_timing timing_;
  std::uint64_t epoch_;
  std::uint64_t revision_;
  time_point confirmed_at_;
  time_point retry_at_ = time_point::max();  // set while a failed renewal waits to be retried
  bool in_flight_ = false;
  bool stepped_down_ = false;
  bool lost_ = false;  // a conflict or a resignation ended the term
};

enum class follower_action {
  wait,      // nothing before next_deadline()
  campaign,  // Create(leader, lease); one at a time
  reclaim,   // Update(leader, lease with reclaim_epoch(), reclaim_revision())
  probe,     // Update(leader, anything, probe_revision): refused if the store takes writes
};
std::string_view to_string(follower_action x);

/// A node that does not lead: watches the `leader` key and decides when to campaign.
class lease_follower {
 public:
  /// `own_instance` is this process's instance id, to recognise its own Create in the watch.
  lease_follower(lease_timing timing, std::string own_instance);

  /// The follower of a node whose term just ended unconfirmed (leader_term::ended_unconfirmed):
  /// it reclaims the lease (epoch, last revision) before anything else.
  static lease_follower incumbent(lease_timing timing, std::string own_instance,
                                  std::uint64_t epoch, std::uint64_t revision);

  /// A revision no lease can have: a probe's compare-and-swap always fails when it is answered.
  static constexpr std::uint64_t probe_revision = std::uint64_t{1} << 62;

  /// The watch saw a put of the lease at `revision`. A Create writes epoch 0 (its revision is
  /// not known before it lands) and renewals carry the epoch, so a put with our instance and
  /// epoch 0 while our Create is unanswered or timed out is our win: it is returned. (A late
  /// renewal from our own former term carries an epoch and is not mistaken for a win.)
  std::optional<election_win> on_lease_put(const leader_lease& lease, std::uint64_t revision,
                                           time_point now);

  /// The watch saw the lease deleted (a resignation, or a purge): campaign at once.
  void on_lease_deleted(time_point now);

  /// When due() has something to do; time_point::max() while a campaign is in flight.
  time_point next_deadline() const;

  /// campaign when it is time (and no campaign is in flight), otherwise wait.
  follower_action due(time_point now);

  /// The outcome of the campaign that due() asked for, sent at `sent_at`; `revision` is the
  /// Create's revision when ok. An answer when no campaign is in flight (a late one, after the
  /// watch already showed our win) is ignored.
  std::optional<election_win> on_campaign(lease_write outcome, std::uint64_t revision,
                                          time_point sent_at, time_point now);

  /// The outcome of the reclaim that due() asked for (an incumbent's Update).
  std::optional<election_win> on_reclaim(lease_write outcome, std::uint64_t revision,
                                         time_point sent_at, time_point now);

  /// The outcome of the probe that due() asked for: ok or conflict mean the store answered.
  void on_probe(lease_write outcome, time_point now);

  /// Local time by which the last lease seen must have expired; empty before any was seen.
  std::optional<time_point> must_have_expired_at() const;

  bool is_incumbent() const { return incumbent_.has_value(); }
  /// True while campaigns wait for the store to take writes again.
  bool store_troubled() const { return troubled_; }
  std::uint64_t reclaim_epoch() const { return incumbent_ ? incumbent_->epoch : 0; }
  std::uint64_t reclaim_revision() const { return incumbent_ ? incumbent_->revision : 0; }

 private:
  struct former_term {
    std::uint64_t epoch;
    std::uint64_t revision;
    bool reclaimable = true;  // false once the lease was found expired or taken
  };

  void schedule_after_failed_campaign(time_point now);
  void back_to_normal();

  lease_timing timing_;
  std::string own_instance_;
  std::optional<time_point> last_seen_;                // local time of the last lease put seen
  time_point campaign_at_ = time_point::min();         // no lease seen yet: campaign at once
  std::optional<time_point> in_flight_since_;          // a request sent, no answer yet
  follower_action in_flight_ = follower_action::wait;  // which request
  std::optional<time_point> unanswered_create_;        // sent_at of a Create with unknown outcome
  std::optional<former_term> incumbent_;               // set for an incumbent (see incumbent())
  bool troubled_ = false;                              // a campaign went unanswered: probe first
};

}  // namespace parti
