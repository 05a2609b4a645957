#include "parti/actors/assignment_watch/assignment_watch_actor.hpp"

#include <caf/all.hpp>

#include "parti/actors/assignment_watch/assignment_tracker.hpp"
#include "parti/messages/wire.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/metrics/decode_errors.hpp"

namespace parti {

namespace {

using self_ptr = assignment_watch_actor::stateful_pointer<assignment_watch_state>;

assignment_update to_update(const std::string& worker, assignment_change&& change) {
  assignment_update u;
  u.worker = worker;
  u.owned = std::move(change.owned);
  u.added = std::move(change.added);
  u.removed = std::move(change.removed);
  u.epoch = change.stamp.epoch;
  u.version = change.stamp.version;
  u.reason = std::move(change.reason);
  u.grants = std::move(change.grants);
  return u;
}

/// Sends the next pending change unless one is still waiting for the parent's answer.
void pump(self_ptr self) {
  auto& st = self->state;
  if (st.tracker->awaiting_ack()) return;
  auto change = st.tracker->deliver();
  if (!change) return;
  log(log_level::info, st.worker, ": ", format_change(*change));
  self->request(st.parent, caf::infinite, to_update(st.worker, std::move(*change)))
      .then(
          [=](caf::ok_atom) {
            self->state.tracker->ack();
            pump(self);
          },
          [=](const caf::error& err) {
            // The parent is gone or failed: we end with it (we are linked).
            self->quit(err);
          });
}

void on_update(self_ptr self, const watch_update& u) {
  auto& st = self->state;
  if (u.entry.key != st.worker) return;
  if (u.entry.op != kv_op::put) {
    st.tracker->on_delete();
  } else {
    auto record = decode_reported<assignment_record>(
        u.entry, {st.stats.get(), st.worker, bucket_role::assignments, st.worker}, st.undecodable);
    if (!record) return;
    auto outcome = st.tracker->on_put(*record);
    if (outcome == offer_outcome::stale || outcome == offer_outcome::other_worker)
      log(log_level::info, st.worker, ": ignored assignment e", record->epoch, " v",
          record->version, " (", to_string(outcome), ")");
  }
  pump(self);
}

}  // namespace

assignment_watch_actor::behavior_type assignment_watch(self_ptr self, std::string worker,
                                                       watch_hub_actor assignments_hub,
                                                       assignment_listener parent,
                                                       std::shared_ptr<metrics> stats) {
  auto& st = self->state;
  st.worker = worker;
  st.hub = std::move(assignments_hub);
  st.parent = std::move(parent);
  st.tracker.emplace(std::move(worker));
  st.stats = std::move(stats);
  // The process's shared watch of the assignments bucket sends us our key's changes.
  self->send(st.hub, caf::subscribe_atom::value, st.worker, key_consumer{self});
  return {
      [=](const watch_update& u) { on_update(self, u); },
      [=](const watch_ready&) {},
      [=](resync_atom) {
        auto& s = self->state;
        self->send(s.hub, resync_atom::value, s.worker, key_consumer{self});
      },
  };
}

}  // namespace parti
