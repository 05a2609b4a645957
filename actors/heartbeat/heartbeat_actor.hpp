#pragma once
// heartbeat: puts this worker's heartbeat record every interval, and at once when something the
// leader needs changes (an applied assignment, the state, leaving or restarting).
//
// Every write is a compare-and-set on the revision of this worker's own last write (a create
// when the key does not exist), one write at a time. So a leader can fence the worker by
// rewriting the key (the worker's next write fails and its ownership lease cannot be extended),
// and a process whose id was taken over while it was paused cannot go on under the new holder's
// name. A write refused for its revision is checked before it counts as a fence: when the key
// holds this process's own record (a write that timed out and landed later), its revision is
// adopted and nothing happened. After a fence the key is read again and the next write goes on
// from there: a new incarnation, which the node trusts only after it re-read its assignment.
//
// Messages:
//   (caf::update_atom, applied_epoch, applied_version)  applied a new assignment: put now
//   (caf::put_atom, std::string state)                  the node's state changed
//   (leaving_atom, bool)                                draining: put now with `leaving`
//   (hold_atom, bool)                                   stop (true) or resume (false) writing
//   (restart_atom)                                      a last heartbeat with `restarting`; -> ok
//   (caf::delete_atom)                                  delete the key and stop putting; -> ok
// To `observer` (the node), when set: a heartbeat_outcome for every write, in order, and
// store_write_health when writes start failing and when they work again.
#include <caf/fwd.hpp>

#include <string>

#include "messages/interfaces.hpp"
#include "runtime/clock.hpp"

namespace parti {

using leaving_atom = caf::atom_constant<caf::atom("leaving")>;
using hold_atom = caf::atom_constant<caf::atom("hold")>;

struct heartbeat_settings {
  std::string worker;
  std::string instance;
  duration interval = std::chrono::seconds(1);
  duration request_timeout = std::chrono::seconds(1);
  duration ttl = std::chrono::seconds(3);  // written in each record (ttl_ms) for the leader
};

caf::behavior heartbeat(caf::event_based_actor* self, heartbeat_settings settings,
                        kv_actor heartbeats, caf::actor observer = {});

}  // namespace parti
