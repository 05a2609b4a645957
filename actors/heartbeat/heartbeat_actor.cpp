#include "actors/heartbeat/heartbeat_actor.hpp"

#include <caf/all.hpp>

#include <memory>

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
  bool stopped = false;
  std::uint64_t failures = 0;
};

using beat_ptr = std::shared_ptr<beat_state>;

/// Puts the record with the next sequence number; `done` runs with the outcome.
template <class Done>
void put_now(caf::event_based_actor* self, const beat_ptr& b, Done done) {
  b->record.seq++;
  b->record.sent_at = unix_millis();
  self->request(b->kv, b->settings.request_timeout, caf::put_atom::value, b->settings.worker,
                encode(b->record))
      .then(
          [=](std::uint64_t) mutable {
            if (b->failures > 0 && b->observer)
              self->send(b->observer, store_write_health{b->bucket, true, {}});
            b->failures = 0;
            done(true);
          },
          [=](const caf::error& err) mutable {
            // Logged and reported on the first failure of a run only: an outage would flood.
            if (b->failures++ == 0) {
              log(log_level::warning, "heartbeat ", b->settings.worker, ": ", describe(err));
              if (b->observer)
                self->send(b->observer, store_write_health{b->bucket, false, describe(err)});
            }
            done(false);
          });
}

void put_now(caf::event_based_actor* self, const beat_ptr& b) {
  put_now(self, b, [](bool) {});
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
  self->send(self, caf::tick_atom::value);
  return {
      [=](caf::tick_atom) {
        if (b->stopped) return;
        put_now(self, b);
        self->delayed_send(self, b->settings.interval, caf::tick_atom::value);
      },
      [=](caf::update_atom, std::uint64_t epoch, std::uint64_t version) {
        b->record.applied_epoch = epoch;
        b->record.applied_version = version;
        if (!b->stopped) put_now(self, b);
      },
      [=](caf::put_atom, const std::string& state) {
        bool changed = b->record.state != state;
        b->record.state = state;
        if (changed && !b->stopped) put_now(self, b);
      },
      [=](leaving_atom, bool leaving) {
        b->record.leaving = leaving;
        if (!b->stopped) put_now(self, b);
      },
      [=](restart_atom) -> caf::result<caf::ok_atom> {
        auto rp = self->make_response_promise<caf::ok_atom>();
        b->record.restarting = true;
        b->stopped = true;
        put_now(self, b, [=](bool) mutable { rp.deliver(caf::ok_atom::value); });
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
