#include "actors/assignment_watch/assignment_watch_actor.hpp"

#include <caf/all.hpp>

#include "actors/assignment_watch/assignment_tracker.hpp"
#include "messages/wire.hpp"
#include "runtime/log.hpp"
#include "runtime/metrics/decode_errors.hpp"
#include "runtime/nats/watch.hpp"

namespace parti {

namespace {

struct watcher_state {
  std::string worker;
  caf::actor parent;
  assignment_tracker tracker;
  std::uint64_t undecodable = 0;
  std::shared_ptr<metrics> stats;

  watcher_state(std::string w, caf::actor p)
      : worker(w), parent(std::move(p)), tracker(std::move(w)) {}
};

using state_ptr = std::shared_ptr<watcher_state>;

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
void pump(caf::event_based_actor* self, const state_ptr& st) {
  if (st->tracker.awaiting_ack()) return;
  auto change = st->tracker.deliver();
  if (!change) return;
  log(log_level::info, st->worker, ": ", format_change(*change));
  self->request(st->parent, caf::infinite, to_update(st->worker, std::move(*change)))
      .then(
          [=](caf::ok_atom) {
            st->tracker.ack();
            pump(self, st);
          },
          [=](const caf::error& err) {
            // The parent is gone or failed: we end with it (we are linked).
            self->quit(err);
          });
}

void on_update(caf::event_based_actor* self, const state_ptr& st, const watch_update& u) {
  if (u.entry.key != st->worker) return;
  if (u.entry.op != kv_op::put) {
    st->tracker.on_delete();
  } else {
    auto record = decode_reported<assignment_record>(
        u.entry, {st->stats.get(), st->worker, bucket_role::assignments, st->worker},
        st->undecodable);
    if (!record) return;
    auto outcome = st->tracker.on_put(*record);
    if (outcome == offer_outcome::stale || outcome == offer_outcome::other_worker)
      log(log_level::info, st->worker, ": ignored assignment e", record->epoch, " v",
          record->version, " (", to_string(outcome), ")");
  }
  pump(self, st);
}

}  // namespace

caf::behavior assignment_watch(caf::event_based_actor* self, std::string worker,
                               caf::actor assignments_hub, caf::actor parent,
                               std::shared_ptr<metrics> stats) {
  auto st = std::make_shared<watcher_state>(worker, std::move(parent));
  st->stats = stats;
  // The process's shared watch of the assignments bucket sends us our key's changes.
  auto me = caf::actor_cast<caf::actor>(self);
  self->send(assignments_hub, caf::subscribe_atom::value, worker, me);
  return {
      [=](const watch_update& u) { on_update(self, st, u); },
      [=](const watch_ready&) {},
      [=](resync_atom) { self->send(assignments_hub, resync_atom::value, worker, me); },
  };
}

}  // namespace parti
