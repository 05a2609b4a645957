#pragma once
// election: campaigns for the `leader` key by Create (the winner's epoch is that Create's
// revision), renews by Update every TTL/3, and steps down at once when it cannot renew within
// its renew deadline, before its lease can expire for anyone else (lease_rules.hpp decides).
// Followers watch the key, campaign when it is deleted, and poll often enough to take an
// expired lease within TTL/3 (expiry gives no watch event in NATS 2.9).
//
// Tells its parent a leadership_update on every change (this node leads or not, who leads).
// Ask it `delete_atom` to resign (graceful stop): it deletes the lease if it holds it, so a
// follower campaigns at once; it answers ok_atom.
#include <caf/fwd.hpp>

#include <atomic>
#include <memory>

#include <string>

#include "messages/interfaces.hpp"
#include "runtime/clock.hpp"
#include "runtime/metrics/metrics.hpp"
#include "runtime/nats/kv_store.hpp"

namespace parti {

struct election_settings {
  std::string worker;
  std::string instance;
  duration ttl = std::chrono::seconds(3);
  duration request_timeout = std::chrono::seconds(1);
  /// Set to the renew deadline of the current term (steady clock, ns; 0 while not leading) after
  /// every change: the leader's publisher writes nothing once it has passed, so a leader paused
  /// past its lease does not publish when it resumes, before it noticed it lost the lease.
  std::shared_ptr<std::atomic<std::int64_t>> leading_until;
};

caf::behavior election(caf::event_based_actor* self, election_settings settings,
                       kv_actor election_kv, caf::actor election_hub, caf::actor parent,
                       std::shared_ptr<metrics> stats);

}  // namespace parti
