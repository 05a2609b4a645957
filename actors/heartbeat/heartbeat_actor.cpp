#include "actors/heartbeat/heartbeat_actor.hpp"

#include <caf/all.hpp>

#include <functional>
#include <memory>
#include <vector>

#include "messages/codec.hpp"
#include "messages/inspect.hpp"
#include "runtime/config.hpp"
#include "runtime/log.hpp"
#include "runtime/nats/kv_actor.hpp"

namespace parti {

namespace {

struct beat_state {
  heartbeat_settings settings;
  kv_actor kv;
  caf::actor observer;
  std::string bucket;
  heartbeat_record record;
  std::uint64_t revision = 0;   // of our last write; 0: the key does not exist (create)
  bool revision_known = false;  // read the key first (start, and after a fence)
  bool stopped = false;         // restart or delete: no more regular writes
  bool held = false;            // hold_atom: the node stopped extending its lease
  bool in_flight = false;       // one write at a time: CAS on our own last revision
  bool dirty = false;           // something changed while a write was in flight
  std::vector<std::function<void(bool)>> waiting;  // callers of the next write's outcome
  std::vector<std::function<void(bool)>> current;  // callers of the write in flight
  std::uint64_t failures = 0;
};

using beat_ptr = std::shared_ptr<beat_state>;
using self_ptr = caf::event_based_actor*;

void write_next(self_ptr self, const beat_ptr& b);

void tell(self_ptr self, const beat_ptr& b, std::int64_t sent_at, heartbeat_result r,
          std::string detail = {}) {
  if (b->observer) self->send(b->observer, heartbeat_outcome{sent_at, r, std::move(detail)});
}

void report_health(self_ptr self, const beat_ptr& b, const caf::error* err) {
  if (!err) {
    if (b->failures > 0 && b->observer)
      self->send(b->observer, store_write_health{b->bucket, true, {}});
    b->failures = 0;
    return;
  }
  // Logged and reported on the first failure of a run only: an outage would flood.
  if (b->failures++ == 0) {
    log(log_level::warning, "heartbeat ", b->settings.worker, ": ", describe(*err));
    if (b->observer) self->send(b->observer, store_write_health{b->bucket, false, describe(*err)});
  }
}

/// Ends the write in flight: answers whoever waited for it, then writes again if asked to.
void finish(self_ptr self, const beat_ptr& b, bool ok) {
  b->in_flight = false;
  auto current = std::move(b->current);
  b->current.clear();
  for (auto& w : current) w(ok);
  if (b->dirty) write_next(self, b);
}

/// Reads the key to learn its revision. `ours` is true when it holds this process's own record
/// (then a refused write was our own earlier write that landed late, not a fence) or nothing
/// (the key expired from the bucket: nobody wrote it, and a fence would be a record).
void read_revision(self_ptr self, const beat_ptr& b, std::function<void(bool ours)> then) {
  self->request(b->kv, b->settings.request_timeout, caf::get_atom::value, b->settings.worker)
      .then(
          [=](const kv_entry& e) {
            b->revision = e.revision;
            b->revision_known = true;
            auto r = decode<heartbeat_record>(e.value);
            then(e.op == kv_op::put && r && r->instance == b->settings.instance &&
                 r->fenced_by.empty());
          },
          [=](const caf::error& err) {
            if (!is_kv_error(err, kv_errc::not_found)) return then(false);
            b->revision = 0;
            b->revision_known = true;
            then(true);
          });
}

/// A write was refused for its revision: ours landing late, or another writer (a fence).
void on_conflict(self_ptr self, const beat_ptr& b, std::int64_t sent_at) {
  read_revision(self, b, [=](bool ours) {
    if (ours) {
      tell(self, b, sent_at, heartbeat_result::failed, "own late write adopted, or key expired");
      b->dirty = true;  // write again at once on the adopted revision
    } else {
      log(log_level::warning, "heartbeat ", b->settings.worker,
          ": the heartbeat key was rewritten by another writer (fenced)");
      tell(self, b, sent_at, heartbeat_result::fenced, "heartbeat key rewritten");
      b->dirty = true;  // a new incarnation on the key's current revision
    }
    finish(self, b, false);
  });
}

void send_write(self_ptr self, const beat_ptr& b) {
  b->record.seq++;
  b->record.sent_at = unix_millis();
  const auto sent_at = boot_now().time_since_epoch().count();  // before the write
  auto value = encode(b->record);
  auto on_ok = [=](std::uint64_t revision) {
    b->revision = revision;
    report_health(self, b, nullptr);
    tell(self, b, sent_at, heartbeat_result::acknowledged);
    finish(self, b, true);
  };
  auto on_error = [=](const caf::error& err) {
    if (is_kv_error(err, kv_errc::wrong_revision) || is_kv_error(err, kv_errc::key_exists))
      return on_conflict(self, b, sent_at);
    report_health(self, b, &err);
    // A timeout may still land: learn the key's revision again before the next write.
    if (is_kv_error(err, kv_errc::outcome_unknown)) b->revision_known = false;
    tell(self, b, sent_at, heartbeat_result::failed, describe(err));
    finish(self, b, false);
  };
  const auto& key = b->settings.worker;
  auto timeout = b->settings.request_timeout;
  if (b->revision == 0)
    self->request(b->kv, timeout, create_atom::value, key, value).then(on_ok, on_error);
  else
    self->request(b->kv, timeout, caf::update_atom::value, key, value, b->revision)
        .then(on_ok, on_error);
}

/// Writes the record now, or right after the write in flight.
void write_next(self_ptr self, const beat_ptr& b) {
  if (b->in_flight) {
    b->dirty = true;
    return;
  }
  b->dirty = false;
  b->in_flight = true;
  b->current = std::move(b->waiting);
  b->waiting.clear();
  if (b->revision_known) return send_write(self, b);
  read_revision(self, b, [=](bool) {
    if (!b->revision_known) return finish(self, b, false);  // unreachable: next tick retries
    send_write(self, b);
  });
}

/// A regular write, unless stopped or held.
void beat(self_ptr self, const beat_ptr& b) {
  if (!b->stopped && !b->held) write_next(self, b);
}

}  // namespace

caf::behavior heartbeat(caf::event_based_actor* self, heartbeat_settings settings,
                        kv_actor heartbeats, caf::actor observer) {
  auto b = std::make_shared<beat_state>();
  b->settings = std::move(settings);
  b->kv = std::move(heartbeats);
  b->observer = std::move(observer);
  b->bucket = std::string(bucket_role::heartbeats);
  b->record.worker = b->settings.worker;
  b->record.instance = b->settings.instance;
  b->record.state = "Election";
  b->record.ttl_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(b->settings.ttl).count());
  self->send(self, caf::tick_atom::value);
  return {
      [=](caf::tick_atom) {
        beat(self, b);
        if (!b->stopped) self->delayed_send(self, b->settings.interval, caf::tick_atom::value);
      },
      [=](caf::update_atom, std::uint64_t epoch, std::uint64_t version) {
        b->record.applied_epoch = epoch;
        b->record.applied_version = version;
        beat(self, b);
      },
      [=](caf::put_atom, const std::string& state) {
        bool changed = b->record.state != state;
        b->record.state = state;
        if (changed) beat(self, b);
      },
      [=](leaving_atom, bool leaving) {
        b->record.leaving = leaving;
        beat(self, b);
      },
      [=](hold_atom, bool hold) {
        if (hold == b->held) return;
        b->held = hold;
        log(log_level::warning, "heartbeat ", b->settings.worker,
            hold ? ": held (the lease will lapse)" : ": resumed");
        beat(self, b);
      },
      [=](restart_atom) -> caf::result<caf::ok_atom> {
        auto rp = self->make_response_promise<caf::ok_atom>();
        b->record.restarting = true;
        b->stopped = true;
        b->waiting.push_back([=](bool) mutable { rp.deliver(caf::ok_atom::value); });
        write_next(self, b);
        return rp;
      },
      [=](caf::delete_atom) -> caf::result<caf::ok_atom> {
        auto rp = self->make_response_promise<caf::ok_atom>();
        b->stopped = true;
        self->request(b->kv, b->settings.request_timeout, caf::delete_atom::value,
                      b->settings.worker)
            .then([=](caf::ok_atom) mutable { rp.deliver(caf::ok_atom::value); },
                  [=](const caf::error&) mutable { rp.deliver(caf::ok_atom::value); });
        return rp;
      },
  };
}

}  // namespace parti
