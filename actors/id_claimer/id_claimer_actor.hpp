#pragma once
// id_claimer: claims the lowest free <prefix>-<n> (the preferred id first, blind, without a
// listing; after lost races a free id drawn near the bottom, see id_pool) by Create, keeps it by
// Update with the last revision every TTL/3 (claim_keeper decides), and tells its parent
// (id_claim_listener, messages/interfaces.hpp):
//   id_claimed {id, revision}   when it holds an id
//   claim_validity {id, until}  after the claim and each renewal: until when the claim is
//                               surely still ours (boot clock), which the node's lease respects
//   id_lost    {id, reason}     when the id is lost; it then claims again on its own, the
//                               lost id first (taken over by compare-and-swap if the key
//                               still holds this process's claim)
// An exhausted pool is logged and retried with backoff, never a crash or a hang.
// Ask it `delete_atom` to release the id (graceful stop); it answers ok_atom.
// Its timer is (tick_atom, claim generation): a tick of an older claim is ignored.
#include <memory>
#include <optional>
#include <string>

#include "parti/actors/id_claimer/id_pool.hpp"
#include "parti/messages/interfaces.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/resilience/backoff.hpp"

namespace parti {

struct id_claimer_settings {
  std::string prefix = "worker";
  std::uint32_t min = 0;
  std::uint32_t max = 999;
  std::optional<std::uint32_t> preferred;
  duration ttl = std::chrono::seconds(30);
  duration request_timeout = std::chrono::seconds(1);
  std::string instance;  // this process's random id
  std::string host;
  std::int64_t pid = 0;
  std::shared_ptr<const clock> lease_clock;  // of the claim validity it reports; null: boot clock
  backoff_policy retry{std::chrono::milliseconds(100), std::chrono::seconds(5), 2.0, 0.2};
};

struct claimer_state {
  id_claimer_settings settings;
  kv_actor ids;
  id_claim_listener parent;
  std::optional<id_pool> pool;   // from the start on
  std::optional<backoff> retry;  // from the start on
  random_source draw;            // spreads candidates after lost races (id_pool)
  std::string id;                // empty while no id is held
  std::string value;
  std::optional<claim_keeper> keeper;
  bool busy = false;  // one store operation at a time
  bool warned_exhausted = false;
  bool tried_preferred = false;  // the preferred id is tried once per claim, before any listing
  std::uint64_t generation = 0;  // a tick from an older claim is ignored
  static inline const char* name = "parti.id_claimer";
};

id_claimer_actor::behavior_type id_claimer(id_claimer_actor::stateful_pointer<claimer_state> self,
                                           id_claimer_settings settings, kv_actor ids,
                                           id_claim_listener parent);

}  // namespace parti
