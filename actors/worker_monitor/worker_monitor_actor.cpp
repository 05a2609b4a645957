#include "actors/worker_monitor/worker_monitor_actor.hpp"

#include <caf/all.hpp>

#include "actors/leader/leader_messages.hpp"
#include "messages/wire.hpp"
#include "runtime/log.hpp"
#include "runtime/metrics/decode_errors.hpp"
#include "runtime/nats/watch.hpp"
#include "runtime/wakeup.hpp"

namespace parti {

namespace {

struct monitor {
  liveness_tracker tracker;
  std::vector<std::string> assigned;
  worker_monitor_peers peers;
  std::vector<observed_heartbeat> initial;
  bool ready = false;
  wakeup timer;
  std::uint64_t undecodable = 0;
  std::map<std::string, heartbeat_seen> seen;  // every worker's key, for fences

  monitor(liveness_options o, std::vector<std::string> a, worker_monitor_peers p)
      : tracker(o), assigned(std::move(a)), peers(std::move(p)) {}
};

using monitor_ptr = std::shared_ptr<monitor>;
using self_ptr = caf::event_based_actor*;

time_point now() {
  return std::chrono::steady_clock::now();
}

applied_snapshot snapshot(const monitor& m) {
  applied_snapshot s;
  auto wall = unix_millis();
  s.seen = m.seen;
  for (const auto& worker : m.tracker.heard_workers()) {
    const auto* hb = m.tracker.last_heartbeat(worker);
    if (!hb) {
      s.applied[worker] = {0, 0};
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

void arm(self_ptr self, const monitor_ptr& m) {
  if (auto deadline = m->tracker.next_deadline()) m->timer.arm(self, *deadline);
}

/// Sends the events on, and the applied versions to the publisher.
void publish(self_ptr self, const monitor_ptr& m, const std::vector<liveness_event>& events,
             bool applied_changed) {
  for (const auto& e : events) {
    const bool alarming =
        e.change == liveness_change::expired || e.change == liveness_change::heartbeats_silent;
    log(alarming ? log_level::warning : log_level::info,
        "monitor: ", e.worker.empty() ? "" : e.worker + " ", to_string(e.change));
    if (m->peers.stats &&
        (e.change == liveness_change::left || e.change == liveness_change::expired ||
         e.change == liveness_change::restart_expired))
      m->peers.stats->forget_heartbeat(m->peers.worker, e.worker);
    liveness_notice n{e.change, e.worker, e.workers, e.since.time_since_epoch().count()};
    self->send(m->peers.state_machine, n);
    self->send(m->peers.emergency_detector, n);
  }
  if (applied_changed || !events.empty()) self->send(m->peers.publisher, snapshot(*m));
  arm(self, m);
}

void on_put(self_ptr self, const monitor_ptr& m, const watch_update& u) {
  auto& seen = m->seen[u.entry.key];
  seen.revision = u.entry.revision;  // whatever it holds: a fence is written on this revision
  auto record = decode_reported<heartbeat_record>(
      u.entry, {m->peers.stats.get(), m->peers.worker, bucket_role::heartbeats, "monitor"},
      m->undecodable);
  if (!record) return;
  if (!record->fenced_by.empty()) return;  // a leader's fence, not a heartbeat of the worker
  seen.seen_ns = now().time_since_epoch().count();
  seen.ttl_ms = std::max(seen.ttl_ms, record->ttl_ms);
  if (!m->ready) {
    m->initial.push_back({u.entry.key, *record});
    return;
  }
  const auto* before = m->tracker.last_heartbeat(u.entry.key);
  bool applied_changed = !before || before->applied_epoch != record->applied_epoch ||
                         before->applied_version != record->applied_version;
  publish(self, m, m->tracker.heartbeat_put(u.entry.key, *record, now()), applied_changed);
}

void on_ready(self_ptr self, const monitor_ptr& m, const watch_ready& r) {
  if (m->ready) {
    if (r.resumed) m->tracker.store_outage_ended(now());
    return;
  }
  m->ready = true;
  // Every record of the replay counts as heard now: no other host's clock is trusted.
  auto rebuilt = now().time_since_epoch().count();
  for (auto& [worker, seen] : m->seen) seen.seen_ns = rebuilt;
  auto events = m->tracker.rebuild(m->initial, m->assigned, now());
  m->initial.clear();
  // To the state machine directly: it must see this before the first liveness_notice.
  self->send(m->peers.state_machine, monitor_ready{m->tracker.live_workers()});
  publish(self, m, events, true);
}

}  // namespace

caf::behavior worker_monitor(caf::event_based_actor* self, liveness_options options,
                             std::shared_ptr<kv_store> heartbeats,
                             std::vector<std::string> assigned_workers,
                             worker_monitor_peers peers) {
  auto m = std::make_shared<monitor>(options, std::move(assigned_workers), std::move(peers));
  auto conn = heartbeats->conn();
  int token = conn->add_listener(caf::actor_cast<caf::actor>(self));
  self->attach_functor([conn, token] { conn->remove_listener(token); });
  if (!conn->connected()) m->tracker.store_outage_began(now());
  auto bucket = heartbeats->bucket();
  auto watch =
      spawn_watch(self->system(), std::move(heartbeats), caf::actor_cast<caf::actor>(self),
                  watch_options{}, count_watch_failures(m->peers.stats, m->peers.worker, bucket));
  self->link_to(watch);
  return {
      [=](const watch_update& u) {
        if (u.entry.op == kv_op::put) return on_put(self, m, u);
        m->seen[u.entry.key].revision = u.entry.revision;  // a fence updates on the marker
        if (m->ready) publish(self, m, m->tracker.heartbeat_deleted(u.entry.key, now()), false);
      },
      [=](const watch_ready& r) { on_ready(self, m, r); },
      [=](caf::tick_atom, std::uint64_t tick) {
        if (m->timer.fire(tick) && m->ready) publish(self, m, m->tracker.expire(now()), false);
      },
      [=](caf::get_atom) { return snapshot(*m); },
      [=](const connection_event& e) {
        if (e.state == connection_state::disconnected || e.state == connection_state::closed) {
          log(log_level::warning, "monitor: store unreachable; no worker expires meanwhile");
          m->tracker.store_outage_began(now());
        } else if (e.state == connection_state::reconnected ||
                   e.state == connection_state::connected) {
          m->tracker.store_outage_ended(now());
          arm(self, m);
        }
      },
  };
}

}  // namespace parti
