#pragma once
// When a missing worker becomes an emergency. Pure logic for the
// emergency_detector actor: no CAF, no NATS, time passed in.
//
// A worker that expired while it owned partitions is confirmed missing once it has stayed gone
// for the grace period; a heartbeat within the grace cancels it. Everything is decided per
// identity: another worker joining never cancels this one's emergency (one leaving while one
// joins is still an emergency), and each flapping worker has its own grace, restarted by each
// new expiry. Workers that own nothing never cause an emergency: there is nothing to rescue.
//
// Use from the actor: feed worker_monitor events and the owners of each published assignment;
// call poll(now) when next_deadline() is due and forward the confirmations to the state machine.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "messages/result.hpp"
#include "runtime/clock.hpp"

namespace parti {

struct emergency_options {
  duration grace = std::chrono::seconds(1);

  /// Checks the options; the failure names the field and the rule.
  status validate() const;
};

/// An owner that stayed gone for the grace: its partitions must move now.
struct confirmed_emergency {
  std::string worker;
  time_point expired_at;
};

class emergency_rules {
 public:
  explicit emergency_rules(emergency_options options = {});

  /// The workers owning at least one partition in the published assignment. A pending worker
  /// that no longer owns anything is dropped: the new assignment already moved its partitions.
  void set_owners(std::set<std::string> owners);

  /// The worker's heartbeat deadline passed. Returns true if a grace period started (it owns
  /// partitions and was not already pending; a second expiry keeps the first one's time).
  bool worker_expired(const std::string& worker, time_point now);

  /// The worker heartbeats again (joined or restarted). Returns true if it cancelled a pending
  /// emergency of this same worker.
  bool worker_returned(const std::string& worker);

  /// A graceful leave (drain, or restart grace ended): the state machine moves its partitions as
  /// a drain, so a pending emergency for it is dropped. Returns true if one was pending.
  bool worker_left(const std::string& worker);

  /// Emergencies whose grace has passed at `now` (now >= expired_at + grace), in order of
  /// expiry; each is reported once.
  std::vector<confirmed_emergency> poll(time_point now);

  /// When poll() next confirms something; nullopt if nothing is pending.
  std::optional<time_point> next_deadline() const;

  /// Workers currently within their grace, sorted.
  std::vector<std::string> pending() const;

 private:
  emergency_options options_;
  std::set<std::string> owners_;
  std::map<std::string, time_point> pending_;  // worker -> when it expired
};

}  // namespace parti
