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
#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "parti/actors/election/lease_rules.hpp"
#include "parti/messages/interfaces.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/nats/kv_store.hpp"
#include "parti/runtime/wakeup.hpp"

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

struct election_state {
  election_settings settings;
  lease_timing timing;
  kv_actor kv;
  leadership_listener parent;
  std::optional<lease_follower> follower;  // from the start on
  std::optional<leader_term> term;
  std::string leader_id;          // as last seen in the watch
  std::uint64_t lease_epoch = 0;  // the newest lease epoch seen: older assignments are stale
  bool busy = false;              // one store operation at a time
  bool resigned = false;
  wakeup timer;
  std::uint64_t undecodable = 0;
  std::shared_ptr<metrics> stats;
  static inline const char* name = "parti.election";
};

/// Subscribes to the `leader` key at `election_hub` (the process's shared watch of the
/// election bucket).
election_actor::behavior_type election(election_actor::stateful_pointer<election_state> self,
                                       election_settings settings, kv_actor election_kv,
                                       watch_hub_actor election_hub, leadership_listener parent,
                                       std::shared_ptr<metrics> stats);

}  // namespace parti
