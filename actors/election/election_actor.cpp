#include "actors/election/election_actor.hpp"

#include <caf/all.hpp>

#include <optional>

#include "actors/election/lease_rules.hpp"
#include "messages/codec.hpp"
#include "messages/wire.hpp"
#include "runtime/log.hpp"
#include "runtime/metrics/decode_errors.hpp"
#include "runtime/nats/kv_actor.hpp"
#include "runtime/nats/watch.hpp"
#include "runtime/wakeup.hpp"

namespace parti {

namespace {

struct campaign {
  election_settings settings;
  lease_timing timing;
  kv_actor kv;
  caf::actor parent;
  lease_follower follower;
  std::optional<leader_term> term;
  std::string leader_id;          // as last seen in the watch
  std::uint64_t lease_epoch = 0;  // the newest lease epoch seen: older assignments are stale
  bool busy = false;              // one store operation at a time
  bool resigned = false;
  wakeup timer;
  std::uint64_t undecodable = 0;
  std::shared_ptr<metrics> stats;

  campaign(election_settings s, kv_actor k, caf::actor p)
      : settings(std::move(s)),
        timing{settings.ttl, settings.request_timeout},
        kv(std::move(k)),
        parent(std::move(p)),
        follower(timing, settings.instance) {}
};

using campaign_ptr = std::shared_ptr<campaign>;
using self_ptr = caf::event_based_actor*;

time_point now() {
  return std::chrono::steady_clock::now();
}

void on_tick(self_ptr self, const campaign_ptr& c);

void tell_parent(self_ptr self, const campaign_ptr& c) {
  leadership_update u;
  u.worker = c->settings.worker;
  u.leader = c->term.has_value();
  u.epoch = c->term ? c->term->epoch() : 0;
  u.leader_id = c->term ? c->settings.worker : c->leader_id;
  u.lease_epoch = std::max(c->lease_epoch, u.epoch);
  self->send(c->parent, u);
}

/// Shares the term's renew deadline with the leader's publisher (0: not leading).
void share_term(const campaign_ptr& c) {
  if (!c->settings.leading_until) return;
  c->settings.leading_until->store(c->term ? c->term->renew_deadline().time_since_epoch().count()
                                           : 0);
}

void arm(self_ptr self, const campaign_ptr& c) {
  if (c->resigned) return;
  c->timer.arm(self, c->term ? c->term->next_deadline() : c->follower.next_deadline());
}

void become_leader(self_ptr self, const campaign_ptr& c, const election_win& win) {
  c->term.emplace(c->timing, win);
  c->leader_id = c->settings.worker;
  share_term(c);
  log(log_level::info, c->settings.worker, ": leader with epoch ", win.epoch,
      win.revision != 0 ? " (reclaimed)" : "");
  tell_parent(self, c);
}

void step_down(self_ptr self, const campaign_ptr& c, const std::string& why) {
  if (!c->term) return;
  log(log_level::warning, c->settings.worker, ": steps down as leader (epoch ", c->term->epoch(),
      "): ", why);
  // A term that ended only for want of confirmation (the store did not take writes) may be
  // reclaimed: the lease it wrote may still be the latest (lease_rules.hpp, Store outages).
  c->follower = c->term->ended_unconfirmed()
                    ? lease_follower::incumbent(c->timing, c->settings.instance, c->term->epoch(),
                                                c->term->revision())
                    : lease_follower(c->timing, c->settings.instance);
  c->term.reset();
  share_term(c);
  c->timer.cancel();
  tell_parent(self, c);
}

lease_write write_outcome(const caf::error& err) {
  if (is_kv_error(err, kv_errc::key_exists) || is_kv_error(err, kv_errc::wrong_revision) ||
      is_kv_error(err, kv_errc::not_found))
    return lease_write::conflict;
  return lease_write::unknown;
}

std::string lease_value(const campaign_ptr& c, std::uint64_t epoch) {
  return encode(leader_lease{c->settings.worker, c->settings.instance, epoch, unix_millis()});
}

void campaign_now(self_ptr self, const campaign_ptr& c) {
  c->busy = true;
  auto sent_at = now();
  // A Create carries epoch 0: its revision (the epoch) is not known before it lands.
  self->request(c->kv, c->settings.request_timeout, create_atom::value, leader_key,
                lease_value(c, 0))
      .then(
          [=](std::uint64_t revision) {
            c->busy = false;
            if (auto win = c->follower.on_campaign(lease_write::ok, revision, sent_at, now()))
              become_leader(self, c, *win);
            on_tick(self, c);
          },
          [=](const caf::error& err) {
            c->busy = false;
            c->follower.on_campaign(write_outcome(err), 0, sent_at, now());
            on_tick(self, c);
          });
}

/// The incumbent's compare-and-swap on the lease it held (lease_rules.hpp, Store outages).
void reclaim_now(self_ptr self, const campaign_ptr& c) {
  c->busy = true;
  auto sent_at = now();
  auto epoch = c->follower.reclaim_epoch();
  self->request(c->kv, c->settings.request_timeout, caf::update_atom::value, leader_key,
                lease_value(c, epoch), c->follower.reclaim_revision())
      .then(
          [=](std::uint64_t revision) {
            c->busy = false;
            if (auto win = c->follower.on_reclaim(lease_write::ok, revision, sent_at, now()))
              become_leader(self, c, *win);
            on_tick(self, c);
          },
          [=](const caf::error& err) {
            c->busy = false;
            c->follower.on_reclaim(write_outcome(err), 0, sent_at, now());
            on_tick(self, c);
          });
}

/// Asks whether the store takes writes again, writing nothing: a compare-and-swap against a
/// revision no lease can have is refused at once by a stream that has a leader.
void probe_now(self_ptr self, const campaign_ptr& c) {
  c->busy = true;
  self->request(c->kv, c->settings.request_timeout, caf::update_atom::value, leader_key,
                std::string(), lease_follower::probe_revision)
      .then(
          [=](std::uint64_t) {
            c->busy = false;
            c->follower.on_probe(lease_write::ok, now());
            on_tick(self, c);
          },
          [=](const caf::error& err) {
            c->busy = false;
            c->follower.on_probe(write_outcome(err), now());
            on_tick(self, c);
          });
}

void renew_now(self_ptr self, const campaign_ptr& c) {
  c->busy = true;
  auto sent_at = now();
  auto epoch = c->term->epoch();
  self->request(c->kv, c->settings.request_timeout, caf::update_atom::value, leader_key,
                lease_value(c, epoch), c->term->revision())
      .then(
          [=](std::uint64_t revision) {
            c->busy = false;
            if (!c->term || c->term->epoch() != epoch) return on_tick(self, c);
            if (c->term->on_renew(lease_write::ok, revision, sent_at, now()) ==
                leader_action::step_down)
              step_down(self, c, "renewal answered after the renew deadline");
            on_tick(self, c);
          },
          [=](const caf::error& err) {
            c->busy = false;
            if (!c->term || c->term->epoch() != epoch) return on_tick(self, c);
            if (c->term->on_renew(write_outcome(err), 0, sent_at, now()) ==
                leader_action::step_down)
              step_down(self, c, describe(err));
            on_tick(self, c);
          });
}

void on_tick(self_ptr self, const campaign_ptr& c) {
  share_term(c);  // after every event: a renewal moved the deadline
  if (c->resigned) return;
  if (c->term) {
    // Checked even while a renewal is in flight: the deadline does not wait for the store.
    auto action = c->term->due(now());
    if (action == leader_action::step_down) {
      step_down(self, c, "no renewal confirmed before the renew deadline");
    } else if (action == leader_action::renew && !c->busy) {
      return renew_now(self, c);
    }
  }
  if (!c->term && !c->busy) {
    switch (c->follower.due(now())) {
      case follower_action::campaign:
        return campaign_now(self, c);
      case follower_action::reclaim:
        return reclaim_now(self, c);
      case follower_action::probe:
        return probe_now(self, c);
      case follower_action::wait:
        break;
    }
  }
  arm(self, c);
}

void on_watch(self_ptr self, const campaign_ptr& c, const watch_update& u) {
  if (u.entry.op != kv_op::put) {
    c->leader_id.clear();
    if (c->term) step_down(self, c, "the lease was deleted");
    c->follower.on_lease_deleted(now());
    tell_parent(self, c);
    return on_tick(self, c);
  }
  auto lease = decode_reported<leader_lease>(
      u.entry, {c->stats.get(), c->settings.worker, bucket_role::election, "election"},
      c->undecodable);
  if (!lease) return;
  if (c->term && lease->instance != c->settings.instance) {
    step_down(self, c, "another instance holds the lease (" + lease->worker + ")");
  }
  // A Create writes epoch 0: its revision is the epoch (WIRE.md).
  auto epoch = lease->epoch != 0 ? lease->epoch : u.entry.revision;
  bool changed = c->leader_id != lease->worker || epoch > c->lease_epoch;
  c->lease_epoch = std::max(c->lease_epoch, epoch);
  c->leader_id = lease->worker;
  if (!c->term) {
    if (auto win = c->follower.on_lease_put(*lease, u.entry.revision, now())) {
      become_leader(self, c, *win);
      changed = false;
    }
  }
  if (changed && !c->term) tell_parent(self, c);
  on_tick(self, c);
}

}  // namespace

caf::behavior election(caf::event_based_actor* self, election_settings settings,
                       kv_actor election_kv, caf::actor election_hub, caf::actor parent,
                       std::shared_ptr<metrics> stats) {
  auto c =
      std::make_shared<campaign>(std::move(settings), std::move(election_kv), std::move(parent));
  c->stats = stats;
  // The process's shared watch of the election bucket sends us the `leader` key's changes.
  self->send(election_hub, caf::subscribe_atom::value, leader_key,
             caf::actor_cast<caf::actor>(self));
  on_tick(self, c);
  return {
      [=](caf::tick_atom, std::uint64_t token) {
        if (c->timer.fire(token)) on_tick(self, c);
      },
      [=](const watch_update& u) { on_watch(self, c, u); },
      [=](const watch_ready&) {},
      [=](caf::delete_atom) -> caf::result<caf::ok_atom> {
        auto rp = self->make_response_promise<caf::ok_atom>();
        c->resigned = true;
        c->timer.cancel();
        if (!c->term) {
          rp.deliver(caf::ok_atom::value);
          return rp;
        }
        c->term->resign();
        c->term.reset();
        tell_parent(self, c);
        // Delete the lease so that a follower campaigns at once instead of waiting for expiry.
        self->request(c->kv, c->settings.request_timeout, caf::delete_atom::value, leader_key)
            .then([=](caf::ok_atom) mutable { rp.deliver(caf::ok_atom::value); },
                  [=](const caf::error&) mutable { rp.deliver(caf::ok_atom::value); });
        return rp;
      },
  };
}

}  // namespace parti
