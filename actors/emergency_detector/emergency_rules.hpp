#pragma once
// When a missing worker becomes an emergency. Pure logic for the
// emergency_detector actor: no CAF, no NATS, time passed in.
//
// A worker that expired while it owned partitions is confirmed missing once it has stayed gone
// for the grace period; a heartbeat within the grace cancels it. Everything is decided per
// identity: another worker joining never cancels this one's emergency (one leaving while one
// joins is still an emergency), and each flapping worker has its own grace, restarted by each
// new expiry.
//
// A worker that owned nothing is confirmed too, after the same grace, but as gone rather than
// as an emergency: nothing has to be rescued, yet it must leave the live set, or a later round
// would give partitions to a dead worker. Ownership is judged when the grace ends, and again
// whenever a new assignment names owners: a worker given partitions after it expired (by a
// round that started while it still counted as live) is confirmed as an emergency at once.
//
// Use from the actor: feed worker_monitor events and the owners of each published assignment;
// call poll(now) when next_deadline() is due and forward the confirmations to the state machine.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"

namespace parti {

struct emergency_options {
  duration grace = std::chrono::seconds(1);

  /// Checks the options; the failure names the field and the rule.
  status validate() const;
};

/// A worker that stayed gone for the grace. `owned`: it owns partitions, which must move now (an
/// emergency); otherwise it only leaves the live set.
struct confirmed_emergency {
  std::string worker;
  time_point expired_at;
  bool owned = true;
};

class emergency_rules {
 public:
  explicit emergency_rules(emergency_options options = {});

  /// The workers owning at least one partition in the published assignment. A worker confirmed
  /// gone while it owned nothing, and now named as an owner, is confirmed again at the next
  /// poll, as an emergency.
  void set_owners(std::set<std::string> owners);

  /// The worker's heartbeat deadline passed. Returns true if a grace period started (it was
  /// not already pending or gone; a second expiry keeps the first one's time).
  bool worker_expired(const std::string& worker, time_point now);

  /// The worker heartbeats again (joined or restarted). Returns true if it cancelled a pending
  /// emergency of this same worker.
  bool worker_returned(const std::string& worker);

  /// A graceful leave (drain, or restart grace ended): the state machine moves its partitions as
  /// a drain, so a pending emergency for it is dropped. Returns true if one was pending.
  bool worker_left(const std::string& worker);

  /// Workers whose grace has passed at `now` (now >= expired_at + grace), in order of expiry,
  /// owners flagged; each is reported once (and once more if it later gains partitions).
  std::vector<confirmed_emergency> poll(time_point now);

  /// When poll() next confirms something; nullopt if nothing is pending.
  std::optional<time_point> next_deadline() const;

  /// Workers currently within their grace, sorted.
  std::vector<std::string> pending() const;

 private:
  emergency_options options_;
  std::set<std::string> owners_;
  std::map<std::string, time_point> pending_;  // worker -> when it expired, within the grace
  std::map<std::string, time_point> gone_;     // confirmed while owning nothing, not back yet
};

}  // namespace parti
