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
// Messages (heartbeat_actor, messages/interfaces.hpp):
//   (caf::update_atom, applied_epoch, applied_version)  applied a new assignment: put now
//   node_state_changed {state}                          the node's state changed
//   (leaving_atom, bool)                                draining: put now with `leaving`
//   (hold_atom, bool)                                   stop (true) or resume (false) writing
//   (farewell_atom)                                     a last heartbeat with `restarting`; -> ok
//   (caf::delete_atom)                                  delete the key and stop putting; -> ok
//   (caf::tick_atom)                                    its own timer: a regular put
// To `observer` (the node, heartbeat_observer), when set: a heartbeat_outcome for every write,
// in order, and store_write_health when writes start failing and when they work again.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "parti/messages/interfaces.hpp"
#include "parti/messages/records.hpp"
#include "parti/runtime/clock.hpp"

namespace parti {

struct heartbeat_settings {
  std::string worker;
  std::string instance;
  duration interval = std::chrono::seconds(1);
  duration request_timeout = std::chrono::seconds(1);
  duration ttl = std::chrono::seconds(3);    // written in each record (ttl_ms) for the leader
  std::shared_ptr<const clock> lease_clock;  // of the sent_at it reports; null: boot clock
};

struct heartbeat_state {
  heartbeat_settings settings;
  kv_actor kv;
  heartbeat_observer observer;
  std::string bucket;
  heartbeat_record record;
  std::uint64_t revision = 0;   // of our last write; 0: the key does not exist (create)
  bool revision_known = false;  // read the key first (start, and after a fence)
  bool stopped = false;         // farewell or delete: no more regular writes
  bool held = false;            // hold_atom: the node stopped extending its lease
  bool in_flight = false;       // one write at a time: CAS on our own last revision
  bool dirty = false;           // something changed while a write was in flight
  std::vector<std::function<void(bool)>> waiting;  // callers of the next write's outcome
  std::vector<std::function<void(bool)>> current;  // callers of the write in flight
  std::uint64_t failures = 0;
  static inline const char* name = "parti.heartbeat";
};

heartbeat_actor::behavior_type heartbeat(heartbeat_actor::stateful_pointer<heartbeat_state> self,
                                         heartbeat_settings settings, kv_actor heartbeats,
                                         heartbeat_observer observer = {});

}  // namespace parti
