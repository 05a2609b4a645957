#pragma once
// id_claimer: claims the lowest free <prefix>-<n> (the preferred id first) by Create, keeps it by
// Update with the last revision every TTL/3 (claim_keeper decides), and tells its parent:
//   id_claimed {id, revision}   when it holds an id
//   id_lost    {id, reason}     when the id is lost; it then claims again on its own, the
//                               lost id first (taken over by compare-and-swap if the key
//                               still holds this process's claim)
// An exhausted pool is logged and retried with backoff, never a crash or a hang.
// Ask it `delete_atom` to release the id (graceful stop); it answers ok_atom.
#include <caf/fwd.hpp>

#include <optional>
#include <string>

#include "messages/interfaces.hpp"
#include "runtime/clock.hpp"
#include "runtime/resilience/backoff.hpp"

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
  backoff_policy retry{std::chrono::milliseconds(100), std::chrono::seconds(5), 2.0, 0.2};
};

caf::behavior id_claimer(caf::event_based_actor* self, id_claimer_settings settings, kv_actor ids,
                         caf::actor parent);

}  // namespace parti
