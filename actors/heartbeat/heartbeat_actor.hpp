#pragma once
// heartbeat: puts this worker's heartbeat record every interval, and at once when something the
// leader needs changes (an applied assignment, the state, leaving or restarting).
//
// Messages:
//   (caf::update_atom, applied_epoch, applied_version)  applied a new assignment: put now
//   (caf::put_atom, std::string state)                  the node's state changed
//   (leaving_atom, bool)                                draining: put now with `leaving`
//   (restart_atom)                                      a last heartbeat with `restarting`; -> ok
//   (caf::delete_atom)                                  delete the key and stop putting; -> ok
// To `observer` (the node), when set: store_write_health when puts start failing and when they
// work again.
#include <caf/fwd.hpp>

#include <string>

#include "messages/interfaces.hpp"
#include "runtime/clock.hpp"

namespace parti {

using leaving_atom = caf::atom_constant<caf::atom("leaving")>;

struct heartbeat_settings {
  std::string worker;
  std::string instance;
  duration interval = std::chrono::seconds(1);
  duration request_timeout = std::chrono::seconds(1);
};

caf::behavior heartbeat(caf::event_based_actor* self, heartbeat_settings settings,
                        kv_actor heartbeats, caf::actor observer = {});

}  // namespace parti
