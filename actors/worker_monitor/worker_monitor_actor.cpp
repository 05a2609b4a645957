#include "parti/actors/worker_monitor/worker_monitor_actor.hpp"

#include <caf/all.hpp>

#include "parti/messages/codec.hpp"
#include "parti/messages/leader_events.hpp"
#include "parti/messages/wire.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/metrics/decode_errors.hpp"
#include "parti/runtime/nats/watch.hpp"
#include "parti/runtime/wakeup.hpp"

namespace parti {

namespace {

using self_ptr = worker_monitor_actor::stateful_pointer<worker_monitor_state>;

applied_snapshot snapshot(const worker_monitor_state& m) {
  applied_snapshot s;
  auto wall = unix_millis();
  s.seen = m.seen;
  for (const auto& worker : m.tracker->heard_workers()) {
    const auto* hb = m.tracker->last_heartbeat(worker);
    if (!hb) {
      s.applied[worker] = {};
      continue;
    }
    s.applied[worker] = {hb->applied_epoch, hb->applied_version};
    auto age = wall > hb->sent_at ? wall - hb->sent_at : 0;
    s.heartbeat_age_max_ms = std::max(s.heartbeat_age_max_ms, age);
    if (m.peers.stats)
      m.peers.stats->set_heartbeat_age(m.peers.worker, worker, std::chrono::milliseconds(age));
  }
  return s;
}

void arm(self_ptr self) {
  auto& m = self->state;
  if (auto deadline = m.tracker->next_deadline()) m.timer.arm(self, *deadline);
}

/// Sends the events on, and the applied versions to the publisher.
void publish(self_ptr self, const std::vector<liveness_event>& events, bool applied_changed) {
  auto& m = self->state;
  for (const auto& e : events) {
    const bool alarming =
        e.change == liveness_change::expired || e.change == liveness_change::heartbeats_silent;
    log(alarming ? log_level::warning : log_level::info,
        "monitor: ", e.worker.empty() ? "" : e.worker + " ", to_string(e.change));
    if (m.peers.stats &&
        (e.change == liveness_change::left || e.change == liveness_change::expired ||
         e.change == liveness_change::restart_expired))
      m.peers.stats->forget_heartbeat(m.peers.worker, e.worker);
    liveness_notice n{e.change, e.worker, e.workers, e.since.time_since_epoch().count()};
    self->send(m.peers.state_machine, n);
    self->send(m.peers.emergency_detector, n);
  }
  if (applied_changed || !events.empty()) self->send(m.peers.publisher, snapshot(self->state));
  // Without an event, a heartbeat or a delete only moved deadlines later (its worker's, the
  // silence's) or removed one: a pending wake-up is early enough, and re-arms when it fires.
  // This spares the leader a walk over every worker (next_deadline()) on every heartbeat.
  if (events.empty() && m.timer.armed()) return;
  arm(self);
}

void on_put(self_ptr self, const watch_update& u) {
  auto& m = self->state;
  auto& seen = m.seen[u.entry.key];
  seen.revision = u.entry.revision;  // whatever it holds: a fence is written on this revision
  auto record = decode_reported<heartbeat_record>(
      u.entry, {m.peers.stats.get(), m.peers.worker, bucket_role::heartbeats, "monitor"},
      m.undecodable);
  if (!record) return;
  if (!record->fenced_by.empty()) return;  // a leader's fence, not a heartbeat of the worker
  seen.seen_ns = self->clock().now().time_since_epoch().count();
  seen.ttl_ms = std::max(seen.ttl_ms, record->ttl_ms);
  if (!m.ready) {
    m.initial.push_back({u.entry.key, *record});
    return;
  }
  const auto* before = m.tracker->last_heartbeat(u.entry.key);
  bool applied_changed = !before || before->applied_epoch != record->applied_epoch ||
                         before->applied_version != record->applied_version;
  publish(self, m.tracker->heartbeat_put(u.entry.key, *record, self->clock().now()),
          applied_changed);
}

void on_ready(self_ptr self, const watch_ready& r) {
  auto& m = self->state;
  if (m.ready) {
    if (r.resumed) m.tracker->store_outage_ended(self->clock().now());
    return;
  }
  m.ready = true;
  // Every record of the replay counts as heard now: no other host's clock is trusted.
  auto rebuilt = self->clock().now().time_since_epoch().count();
  for (auto& [worker, seen] : m.seen) seen.seen_ns = rebuilt;
  auto events = m.tracker->rebuild(m.initial, m.assigned, self->clock().now());
  m.initial.clear();
  // To the state machine directly: it must see this before the first liveness_notice.
  self->send(m.peers.state_machine, monitor_ready{m.tracker->live_workers()});
  publish(self, events, true);
}

void on_connection(self_ptr self, const connection_event& e) {
  auto& tracker = *self->state.tracker;
  if (e.state == connection_state::disconnected || e.state == connection_state::closed) {
    log(log_level::warning, "monitor: store unreachable; no worker expires meanwhile");
    tracker.store_outage_began(self->clock().now());
  } else if (e.state == connection_state::reconnected || e.state == connection_state::connected) {
    tracker.store_outage_ended(self->clock().now());
    arm(self);
  }
}

void on_removed(self_ptr self, const watch_update& u) {
  auto& m = self->state;
  m.seen[u.entry.key].revision = u.entry.revision;  // a fence updates on the marker
  if (m.ready) publish(self, m.tracker->heartbeat_deleted(u.entry.key, self->clock().now()), false);
}

/// Listens to the store's connection and watches its heartbeats, both for this actor's life.
void watch_store(self_ptr self, std::shared_ptr<kv_store> heartbeats) {
  auto& m = self->state;
  auto conn = heartbeats->conn();
  int token = conn->add_listener(caf::actor_cast<caf::actor>(self));
  self->attach_functor([conn, token] { conn->remove_listener(token); });
  if (!conn->connected()) m.tracker->store_outage_began(self->clock().now());
  auto bucket = heartbeats->bucket();
  auto failures = count_watch_failures(m.peers.stats, m.peers.worker, bucket);
  self->link_to(
      spawn_watch(self->system(), std::move(heartbeats), self, watch_options{}, failures));
}

}  // namespace

worker_monitor_actor::behavior_type worker_monitor(self_ptr self, liveness_options options,
                                                   std::shared_ptr<kv_store> heartbeats,
                                                   std::vector<std::string> assigned_workers,
                                                   worker_monitor_peers peers) {
  auto& m = self->state;
  m.tracker.emplace(options);
  m.assigned = std::move(assigned_workers);
  m.peers = std::move(peers);
  if (heartbeats) watch_store(self, std::move(heartbeats));
  return {
      [=](const watch_update& u) {
        if (u.entry.op == kv_op::put) return on_put(self, u);
        on_removed(self, u);
      },
      [=](const watch_ready& r) { on_ready(self, r); },
      [=](const connection_event& e) { on_connection(self, e); },
      [=](caf::get_atom) { return snapshot(self->state); },
      [=](caf::tick_atom, std::uint64_t tick) {
        auto& st = self->state;
        if (st.timer.fire(tick) && st.ready)
          publish(self, st.tracker->expire(self->clock().now()), false);
      },
  };
}

}  // namespace parti
