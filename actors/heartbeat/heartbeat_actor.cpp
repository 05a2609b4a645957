#include "parti/actors/heartbeat/heartbeat_actor.hpp"

#include <caf/all.hpp>

#include "parti/messages/codec.hpp"
#include "parti/messages/inspect.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/nats/kv_actor.hpp"

namespace parti {

namespace {

using self_ptr = heartbeat_actor::stateful_pointer<heartbeat_state>;

void write_next(self_ptr self);

void tell(self_ptr self, std::int64_t sent_at, heartbeat_result r, std::string detail = {}) {
  auto& b = self->state;
  if (b.observer) self->send(b.observer, heartbeat_outcome{sent_at, r, std::move(detail)});
}

void report_health(self_ptr self, const caf::error* err) {
  auto& b = self->state;
  if (!err) {
    if (b.failures > 0 && b.observer)
      self->send(b.observer, store_write_health{b.bucket, true, {}});
    b.failures = 0;
    return;
  }
  // Logged and reported on the first failure of a run only: an outage would flood.
  if (b.failures++ == 0) {
    log(log_level::warning, "heartbeat ", b.settings.worker, ": ", describe(*err));
    if (b.observer) self->send(b.observer, store_write_health{b.bucket, false, describe(*err)});
  }
}

/// Ends the write in flight: answers whoever waited for it, then writes again if asked to.
void finish(self_ptr self, bool ok) {
  auto& b = self->state;
  b.in_flight = false;
  auto current = std::move(b.current);
  b.current.clear();
  for (auto& w : current) w(ok);
  if (b.dirty) write_next(self);
}

/// Reads the key to learn its revision. `ours` is true when it holds this process's own record
/// (then a refused write was our own earlier write that landed late, not a fence) or nothing
/// (the key expired from the bucket: nobody wrote it, and a fence would be a record).
void read_revision(self_ptr self, std::function<void(bool ours)> then) {
  const auto& settings = self->state.settings;
  self->request(self->state.kv, settings.request_timeout, caf::get_atom::value, settings.worker)
      .then(
          [=](const kv_entry& e) {
            auto& b = self->state;
            b.revision = e.revision;
            b.revision_known = true;
            auto r = decode<heartbeat_record>(e.value);
            then(e.op == kv_op::put && r && r->instance == b.settings.instance &&
                 r->fenced_by.empty());
          },
          [=](const caf::error& err) {
            if (!is_kv_error(err, kv_errc::not_found)) return then(false);
            self->state.revision = 0;
            self->state.revision_known = true;
            then(true);
          });
}

/// A write was refused for its revision: ours landing late, or another writer (a fence).
void on_conflict(self_ptr self, std::int64_t sent_at) {
  read_revision(self, [=](bool ours) {
    auto& b = self->state;
    if (ours) {
      tell(self, sent_at, heartbeat_result::failed, "own late write adopted, or key expired");
      b.dirty = true;  // write again at once on the adopted revision
    } else {
      log(log_level::warning, "heartbeat ", b.settings.worker,
          ": the heartbeat key was rewritten by another writer (fenced)");
      tell(self, sent_at, heartbeat_result::fenced, "heartbeat key rewritten");
      b.dirty = true;  // a new incarnation on the key's current revision
    }
    finish(self, false);
  });
}

void send_write(self_ptr self) {
  auto& b = self->state;
  b.record.seq++;
  b.record.sent_at = unix_millis();
  // Before the write, on the lease's clock.
  const auto sent_at = lease_now(b.settings.lease_clock.get()).time_since_epoch().count();
  auto value = encode(b.record);
  auto on_ok = [=](std::uint64_t revision) {
    self->state.revision = revision;
    report_health(self, nullptr);
    tell(self, sent_at, heartbeat_result::acknowledged);
    finish(self, true);
  };
  auto on_error = [=](const caf::error& err) {
    if (is_kv_error(err, kv_errc::wrong_revision) || is_kv_error(err, kv_errc::key_exists))
      return on_conflict(self, sent_at);
    report_health(self, &err);
    // A timeout may still land: learn the key's revision again before the next write.
    if (is_kv_error(err, kv_errc::outcome_unknown)) self->state.revision_known = false;
    tell(self, sent_at, heartbeat_result::failed, describe(err));
    finish(self, false);
  };
  const auto& key = b.settings.worker;
  auto timeout = b.settings.request_timeout;
  if (b.revision == 0)
    self->request(b.kv, timeout, create_atom::value, key, value).then(on_ok, on_error);
  else
    self->request(b.kv, timeout, caf::update_atom::value, key, value, b.revision)
        .then(on_ok, on_error);
}

/// Writes the record now, or right after the write in flight.
void write_next(self_ptr self) {
  auto& b = self->state;
  if (b.in_flight) {
    b.dirty = true;
    return;
  }
  b.dirty = false;
  b.in_flight = true;
  b.current = std::move(b.waiting);
  b.waiting.clear();
  if (b.revision_known) return send_write(self);
  read_revision(self, [=](bool) {
    if (!self->state.revision_known) return finish(self, false);  // unreachable: next tick retries
    send_write(self);
  });
}

/// A regular write, unless stopped or held.
void beat(self_ptr self) {
  if (!self->state.stopped && !self->state.held) write_next(self);
}

void on_tick(self_ptr self) {
  beat(self);
  if (!self->state.stopped)
    self->delayed_send(self, self->state.settings.interval, caf::tick_atom::value);
}

void on_applied(self_ptr self, std::uint64_t epoch, std::uint64_t version) {
  self->state.record.applied_epoch = epoch;
  self->state.record.applied_version = version;
  beat(self);
}

void on_node_state(self_ptr self, const node_state_changed& s) {
  auto& record = self->state.record;
  bool changed = record.state != s.state;
  record.state = s.state;
  if (changed) beat(self);
}

void on_leaving(self_ptr self, bool leaving) {
  self->state.record.leaving = leaving;
  beat(self);
}

void on_hold(self_ptr self, bool hold) {
  auto& b = self->state;
  if (hold == b.held) return;
  b.held = hold;
  log(log_level::warning, "heartbeat ", b.settings.worker,
      hold ? ": held (the lease will lapse)" : ": resumed");
  beat(self);
}

/// A last heartbeat marked `restarting`, answered once written or failed; no more writes.
caf::result<caf::ok_atom> farewell(self_ptr self) {
  auto& b = self->state;
  auto rp = self->make_response_promise<caf::ok_atom>();
  b.record.restarting = true;
  b.stopped = true;
  b.waiting.push_back([=](bool) mutable { rp.deliver(caf::ok_atom::value); });
  write_next(self);
  return rp;
}

/// Deletes the key and stops writing; answered once deleted or failed.
caf::result<caf::ok_atom> delete_key(self_ptr self) {
  auto& b = self->state;
  auto rp = self->make_response_promise<caf::ok_atom>();
  b.stopped = true;
  self->request(b.kv, b.settings.request_timeout, caf::delete_atom::value, b.settings.worker)
      .then([=](caf::ok_atom) mutable { rp.deliver(caf::ok_atom::value); },
            [=](const caf::error&) mutable { rp.deliver(caf::ok_atom::value); });
  return rp;
}

}  // namespace

heartbeat_actor::behavior_type heartbeat(self_ptr self, heartbeat_settings settings,
                                         kv_actor heartbeats, heartbeat_observer observer) {
  auto& b = self->state;
  b.settings = std::move(settings);
  b.kv = std::move(heartbeats);
  b.observer = std::move(observer);
  b.bucket = std::string(bucket_role::heartbeats);
  b.record.worker = b.settings.worker;
  b.record.instance = b.settings.instance;
  b.record.state = "Election";
  b.record.ttl_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(b.settings.ttl).count());
  self->send(self, caf::tick_atom::value);
  return {
      [=](caf::tick_atom) { on_tick(self); },
      [=](caf::update_atom, std::uint64_t epoch, std::uint64_t version) {
        on_applied(self, epoch, version);
      },
      [=](const node_state_changed& s) { on_node_state(self, s); },
      [=](leaving_atom, bool leaving) { on_leaving(self, leaving); },
      [=](hold_atom, bool hold) { on_hold(self, hold); },
      [=](farewell_atom) { return farewell(self); },
      [=](caf::delete_atom) { return delete_key(self); },
  };
}

}  // namespace parti
