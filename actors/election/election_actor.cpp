#include "parti/actors/election/election_actor.hpp"

#include <caf/all.hpp>

#include <optional>

#include "parti/actors/election/lease_rules.hpp"
#include "parti/messages/codec.hpp"
#include "parti/messages/wire.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/metrics/decode_errors.hpp"
#include "parti/runtime/nats/kv_actor.hpp"
#include "parti/runtime/wakeup.hpp"

namespace parti {

namespace {

using self_ptr = election_actor::stateful_pointer<election_state>;

time_point now(self_ptr self) {
  return self->clock().now();
}

void on_tick(self_ptr self);

void tell_parent(self_ptr self) {
  const auto& st = self->state;
  leadership_update u;
  u.worker = st.settings.worker;
  u.leader = st.term.has_value();
  u.epoch = st.term ? st.term->epoch() : 0;
  u.leader_id = st.term ? st.settings.worker : st.leader_id;
  u.lease_epoch = std::max(st.lease_epoch, u.epoch);
  self->send(st.parent, u);
}

/// Shares the term's renew deadline with the leader's publisher (0: not leading).
void share_term(const election_state& st) {
  if (!st.settings.leading_until) return;
  st.settings.leading_until->store(st.term ? st.term->renew_deadline().time_since_epoch().count()
                                           : 0);
}

void arm(self_ptr self) {
  auto& st = self->state;
  if (st.resigned) return;
  st.timer.arm(self, st.term ? st.term->next_deadline() : st.follower->next_deadline());
}

void become_leader(self_ptr self, const election_win& win) {
  auto& st = self->state;
  st.term.emplace(st.timing, win);
  st.leader_id = st.settings.worker;
  share_term(st);
  log(log_level::info, st.settings.worker, ": leader with epoch ", win.epoch,
      win.revision != 0 ? " (reclaimed)" : "");
  tell_parent(self);
}

void step_down(self_ptr self, const std::string& why) {
  auto& st = self->state;
  if (!st.term) return;
  log(log_level::warning, st.settings.worker, ": steps down as leader (epoch ", st.term->epoch(),
      "): ", why);
  // A term that ended only for want of confirmation (the store did not take writes) may be
  // reclaimed: the lease it wrote may still be the latest (lease_rules.hpp, Store outages).
  st.follower = st.term->ended_unconfirmed()
                    ? lease_follower::incumbent(st.timing, st.settings.instance, st.term->epoch(),
                                                st.term->revision())
                    : lease_follower(st.timing, st.settings.instance);
  st.term.reset();
  share_term(st);
  st.timer.cancel();
  tell_parent(self);
}

lease_write write_outcome(const caf::error& err) {
  if (is_kv_error(err, kv_errc::key_exists) || is_kv_error(err, kv_errc::wrong_revision) ||
      is_kv_error(err, kv_errc::not_found))
    return lease_write::conflict;
  return lease_write::unknown;
}

std::string lease_value(const election_state& st, std::uint64_t epoch) {
  return encode(leader_lease{st.settings.worker, st.settings.instance, epoch, unix_millis()});
}

void campaign_now(self_ptr self) {
  auto& st = self->state;
  st.busy = true;
  auto sent_at = now(self);
  // A Create carries epoch 0: its revision (the epoch) is not known before it lands.
  self->request(st.kv, st.settings.request_timeout, create_atom::value, leader_key,
                lease_value(st, 0))
      .then(
          [=](std::uint64_t revision) {
            auto& s = self->state;
            s.busy = false;
            if (auto win = s.follower->on_campaign(lease_write::ok, revision, sent_at, now(self)))
              become_leader(self, *win);
            on_tick(self);
          },
          [=](const caf::error& err) {
            auto& s = self->state;
            s.busy = false;
            s.follower->on_campaign(write_outcome(err), 0, sent_at, now(self));
            on_tick(self);
          });
}

/// The incumbent's compare-and-swap on the lease it held (lease_rules.hpp, Store outages).
void reclaim_now(self_ptr self) {
  auto& st = self->state;
  st.busy = true;
  auto sent_at = now(self);
  auto epoch = st.follower->reclaim_epoch();
  self->request(st.kv, st.settings.request_timeout, caf::update_atom::value, leader_key,
                lease_value(st, epoch), st.follower->reclaim_revision())
      .then(
          [=](std::uint64_t revision) {
            auto& s = self->state;
            s.busy = false;
            if (auto win = s.follower->on_reclaim(lease_write::ok, revision, sent_at, now(self)))
              become_leader(self, *win);
            on_tick(self);
          },
          [=](const caf::error& err) {
            auto& s = self->state;
            s.busy = false;
            s.follower->on_reclaim(write_outcome(err), 0, sent_at, now(self));
            on_tick(self);
          });
}

/// Asks whether the store takes writes again, writing nothing: a compare-and-swap against a
/// revision no lease can have is refused at once by a stream that has a leader.
void probe_now(self_ptr self) {
  auto& st = self->state;
  st.busy = true;
  self->request(st.kv, st.settings.request_timeout, caf::update_atom::value, leader_key,
                std::string(), lease_follower::probe_revision)
      .then(
          [=](std::uint64_t) {
            auto& s = self->state;
            s.busy = false;
            s.follower->on_probe(lease_write::ok, now(self));
            on_tick(self);
          },
          [=](const caf::error& err) {
            auto& s = self->state;
            s.busy = false;
            s.follower->on_probe(write_outcome(err), now(self));
            on_tick(self);
          });
}

void renew_now(self_ptr self) {
  auto& st = self->state;
  st.busy = true;
  auto sent_at = now(self);
  auto epoch = st.term->epoch();
  self->request(st.kv, st.settings.request_timeout, caf::update_atom::value, leader_key,
                lease_value(st, epoch), st.term->revision())
      .then(
          [=](std::uint64_t revision) {
            auto& s = self->state;
            s.busy = false;
            if (!s.term || s.term->epoch() != epoch) return on_tick(self);
            if (s.term->on_renew(lease_write::ok, revision, sent_at, now(self)) ==
                leader_action::step_down)
              step_down(self, "renewal answered after the renew deadline");
            on_tick(self);
          },
          [=](const caf::error& err) {
            auto& s = self->state;
            s.busy = false;
            if (!s.term || s.term->epoch() != epoch) return on_tick(self);
            if (s.term->on_renew(write_outcome(err), 0, sent_at, now(self)) ==
                leader_action::step_down)
              step_down(self, describe(err));
            on_tick(self);
          });
}

void on_tick(self_ptr self) {
  auto& st = self->state;
  share_term(st);  // after every event: a renewal moved the deadline
  if (st.resigned) return;
  if (st.term) {
    // Checked even while a renewal is in flight: the deadline does not wait for the store.
    auto action = st.term->due(now(self));
    if (action == leader_action::step_down) {
      step_down(self, "no renewal confirmed before the renew deadline");
    } else if (action == leader_action::renew && !st.busy) {
      return renew_now(self);
    }
  }
  if (!st.term && !st.busy) {
    switch (st.follower->due(now(self))) {
      case follower_action::campaign:
        return campaign_now(self);
      case follower_action::reclaim:
        return reclaim_now(self);
      case follower_action::probe:
        return probe_now(self);
      case follower_action::wait:
        break;
    }
  }
  arm(self);
}

void on_watch(self_ptr self, const watch_update& u) {
  auto& st = self->state;
  if (u.entry.op != kv_op::put) {
    st.leader_id.clear();
    if (st.term) step_down(self, "the lease was deleted");
    st.follower->on_lease_deleted(now(self));
    tell_parent(self);
    return on_tick(self);
  }
  auto lease = decode_reported<leader_lease>(
      u.entry, {st.stats.get(), st.settings.worker, bucket_role::election, "election"},
      st.undecodable);
  if (!lease) return;
  if (st.term && lease->instance != st.settings.instance) {
    step_down(self, "another instance holds the lease (" + lease->worker + ")");
  }
  // A Create writes epoch 0: its revision is the epoch (WIRE.md).
  auto epoch = lease->epoch != 0 ? lease->epoch : u.entry.revision;
  bool changed = st.leader_id != lease->worker || epoch > st.lease_epoch;
  st.lease_epoch = std::max(st.lease_epoch, epoch);
  st.leader_id = lease->worker;
  if (!st.term) {
    if (auto win = st.follower->on_lease_put(*lease, u.entry.revision, now(self))) {
      become_leader(self, *win);
      changed = false;
    }
  }
  if (changed && !st.term) tell_parent(self);
  on_tick(self);
}

/// Resigns (graceful stop): deletes the lease if held, so a follower campaigns at once.
caf::result<caf::ok_atom> resign(self_ptr self) {
  auto& st = self->state;
  auto rp = self->make_response_promise<caf::ok_atom>();
  st.resigned = true;
  st.timer.cancel();
  if (!st.term) {
    rp.deliver(caf::ok_atom::value);
    return rp;
  }
  st.term->resign();
  st.term.reset();
  tell_parent(self);
  // Delete the lease so that a follower campaigns at once instead of waiting for expiry.
  self->request(st.kv, st.settings.request_timeout, caf::delete_atom::value, leader_key)
      .then([=](caf::ok_atom) mutable { rp.deliver(caf::ok_atom::value); },
            [=](const caf::error&) mutable { rp.deliver(caf::ok_atom::value); });
  return rp;
}

}  // namespace

election_actor::behavior_type election(self_ptr self, election_settings settings,
                                       kv_actor election_kv, watch_hub_actor election_hub,
                                       leadership_listener parent, std::shared_ptr<metrics> stats) {
  auto& st = self->state;
  st.settings = std::move(settings);
  st.timing = lease_timing{st.settings.ttl, st.settings.request_timeout};
  st.kv = std::move(election_kv);
  st.parent = std::move(parent);
  st.follower.emplace(st.timing, st.settings.instance);
  st.stats = std::move(stats);
  // The process's shared watch of the election bucket sends us the `leader` key's changes.
  self->send(election_hub, caf::subscribe_atom::value, leader_key, key_consumer{self});
  on_tick(self);
  return {
      [=](caf::tick_atom, std::uint64_t token) {
        if (self->state.timer.fire(token)) on_tick(self);
      },
      [=](const watch_update& u) { on_watch(self, u); },
      [=](const watch_ready&) {},
      [=](caf::delete_atom) { return resign(self); },
  };
}

}  // namespace parti
