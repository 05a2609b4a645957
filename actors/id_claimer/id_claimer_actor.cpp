#include "parti/actors/id_claimer/id_claimer_actor.hpp"

#include <caf/all.hpp>

#include <set>

#include "parti/messages/codec.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/nats/kv_actor.hpp"

namespace parti {

namespace {

using self_ptr = id_claimer_actor::stateful_pointer<claimer_state>;

void claim(self_ptr self);
void on_tick(self_ptr self);

void schedule(self_ptr self, duration after) {
  self->delayed_send(self, std::max(after, duration::zero()), caf::tick_atom::value,
                     self->state.generation);
}

/// Tells the node until when the claim is surely ours, on the clock of its lease.
void tell_validity(self_ptr self) {
  auto& c = self->state;
  auto left = c.keeper->safe_until() - self->clock().now();
  self->send(
      c.parent,
      claim_validity{c.id,
                     (lease_now(c.settings.lease_clock.get()) + left).time_since_epoch().count()});
}

void schedule_keeper(self_ptr self) {
  schedule(self, self->state.keeper->next_deadline() - self->clock().now());
}

void retry_claim_later(self_ptr self) {
  schedule(self, self->state.retry->next());
}

std::string encode_claim(const claimer_state& c) {
  return encode(id_claim{c.settings.instance, c.settings.host, c.settings.pid, unix_millis()});
}

/// `id` is ours from `revision` on (a write sent at `sent_at`).
void hold(self_ptr self, const std::string& id, const std::string& value, std::uint64_t revision,
          time_point sent_at) {
  auto& c = self->state;
  c.busy = false;
  c.id = id;
  c.value = value;
  c.keeper.emplace(c.settings.ttl, revision, sent_at);
  c.retry->reset();
  c.warned_exhausted = false;
  ++c.generation;
  self->send(c.parent, id_claimed{c.id, revision});
  tell_validity(self);
  schedule_keeper(self);
}

/// Gives up the blind attempt: list the ids and take the best free one.
void list_instead(self_ptr self) {
  self->state.busy = false;
  claim(self);
}

/// The preferred id is taken. It may be our own claim, given up because a renewal could not be
/// confirmed before it could expire while the key is still there (an outage): take it over by
/// compare-and-swap on the revision read, which fails if anyone wrote the key meanwhile.
/// Anything else: list the ids and take another.
void adopt_or_list(self_ptr self, std::string id) {
  auto timeout = self->state.settings.request_timeout;
  self->request(self->state.ids, timeout, caf::get_atom::value, id)
      .then(
          [=](const kv_entry& entry) {
            auto held = decode<id_claim>(entry.value);
            if (!held || held->instance != self->state.settings.instance) return list_instead(self);
            auto sent_at = self->clock().now();
            auto value = encode_claim(self->state);
            self->request(self->state.ids, timeout, caf::update_atom::value, id, value,
                          entry.revision)
                .then([=](std::uint64_t revision) { hold(self, id, value, revision, sent_at); },
                      [=](const caf::error&) { list_instead(self); });
          },
          [=](const caf::error&) { list_instead(self); });
}

/// Tries the next candidate given what is known to be taken. `listed`: `taken` comes from a
/// listing of the bucket (otherwise only the preferred id was tried, blind). `races_lost`: how
/// many candidates since the listing turned out taken (id_pool spreads the next one).
void try_candidate(self_ptr self, std::set<std::string> taken, bool listed,
                   std::uint32_t races_lost = 0) {
  auto& c = self->state;
  auto candidate = c.pool->next_candidate(taken, races_lost, c.draw());
  if (!candidate) {
    if (!c.warned_exhausted) log(log_level::error, "id_claimer: ", candidate.error());
    c.warned_exhausted = true;
    c.busy = false;
    retry_claim_later(self);
    return;
  }
  auto sent_at = self->clock().now();
  auto value = encode_claim(c);
  self->request(c.ids, c.settings.request_timeout, create_atom::value, *candidate, value)
      .then([=](std::uint64_t revision) { hold(self, *candidate, value, revision, sent_at); },
            [=](const caf::error& err) mutable {
              if (is_kv_error(err, kv_errc::key_exists)) {
                if (!listed) return adopt_or_list(self, *candidate);
                taken.insert(*candidate);  // lost a race: try another one
                try_candidate(self, std::move(taken), true, races_lost + 1);
                return;
              }
              // Unknown outcome or no store: our Create may have landed. Try the same id first,
              // blind, next time: if it did land, the key holds our claim and is adopted by
              // compare-and-swap (adopt_or_list) rather than left blocking the id for a TTL.
              log(log_level::warning, "id_claimer: claim ", *candidate, ": ", describe(err));
              auto& state = self->state;
              state.pool->prefer(*candidate);
              state.tried_preferred = false;
              state.busy = false;
              retry_claim_later(self);
            });
}

void claim(self_ptr self) {
  auto& c = self->state;
  if (c.busy) return;
  c.busy = true;
  if (c.pool->preferred() && !c.tried_preferred) {
    // Straight to the preferred id: no listing, which costs O(ids) for every claimer.
    c.tried_preferred = true;
    try_candidate(self, {}, false);
    return;
  }
  self->request(c.ids, c.settings.request_timeout, keys_atom::value)
      .then(
          [=](const std::vector<std::string>& keys) {
            try_candidate(self, std::set<std::string>(keys.begin(), keys.end()), true);
          },
          [=](const caf::error& err) {
            log(log_level::warning, "id_claimer: listing ids: ", describe(err));
            self->state.busy = false;
            retry_claim_later(self);
          });
}

void lose(self_ptr self, const std::string& reason) {
  auto& c = self->state;
  log(log_level::warning, "id_claimer: lost ", c.id, ": ", reason);
  self->send(c.parent, id_lost{c.id, reason});
  c.pool->prefer(c.id);  // tried first, blind: free again once the lapsed claim expired
  c.id.clear();
  c.keeper.reset();
  ++c.generation;
  c.tried_preferred = false;
  claim(self);
}

renew_outcome renew_outcome_of(const caf::error& err) {
  if (is_kv_error(err, kv_errc::wrong_revision)) return renew_outcome::wrong_revision;
  if (is_kv_error(err, kv_errc::not_found)) return renew_outcome::not_found;
  return renew_outcome::unknown;
}

void after_keeper_update(self_ptr self, claim_health health, const std::string& reason) {
  self->state.busy = false;
  if (health == claim_health::lost) return lose(self, reason);
  tell_validity(self);
  on_tick(self);  // maybe something is due right away (renew after a read-back)
}

void renew(self_ptr self) {
  auto& c = self->state;
  c.busy = true;
  auto sent_at = self->clock().now();
  auto value = encode_claim(c);
  self->request(c.ids, c.settings.request_timeout, caf::update_atom::value, c.id, value,
                c.keeper->revision())
      .then(
          [=](std::uint64_t revision) {
            auto h = self->state.keeper->on_renew(renew_outcome::renewed, revision, sent_at,
                                                  self->clock().now());
            after_keeper_update(self, h, "");
          },
          [=](const caf::error& err) {
            auto h = self->state.keeper->on_renew(renew_outcome_of(err), 0, sent_at,
                                                  self->clock().now());
            after_keeper_update(self, h, "renewal failed: " + describe(err));
          });
}

void read_back(self_ptr self) {
  auto& c = self->state;
  c.busy = true;
  self->request(c.ids, c.settings.request_timeout, caf::get_atom::value, c.id)
      .then(
          [=](const kv_entry& entry) {
            auto claim = decode<id_claim>(entry.value);
            bool ours = claim && claim->instance == self->state.settings.instance;
            auto h = self->state.keeper->on_read(ours ? read_outcome::ours : read_outcome::not_ours,
                                                 entry.revision, self->clock().now());
            after_keeper_update(self, h, "another instance holds the id");
          },
          [=](const caf::error& err) {
            auto outcome = is_kv_error(err, kv_errc::not_found) ? read_outcome::not_found
                                                                : read_outcome::unknown;
            auto h = self->state.keeper->on_read(outcome, 0, self->clock().now());
            after_keeper_update(self, h, "read-back: " + describe(err));
          });
}

void on_tick(self_ptr self) {
  auto& c = self->state;
  if (c.busy) return;
  if (!c.keeper) return claim(self);
  switch (c.keeper->due(self->clock().now())) {
    case claim_action::wait:
      return schedule_keeper(self);
    case claim_action::renew:
      return renew(self);
    case claim_action::read_back:
      return read_back(self);
    case claim_action::stop_using:
      return lose(self, "the claim could have expired");
  }
}

/// Release: delete the key only while it is still ours, then stop renewing.
caf::result<caf::ok_atom> release(self_ptr self) {
  auto& c = self->state;
  auto rp = self->make_response_promise<caf::ok_atom>();
  ++c.generation;
  auto id = c.id;
  c.id.clear();
  c.keeper.reset();
  c.busy = true;  // no new claim
  if (id.empty()) {
    rp.deliver(caf::ok_atom::value);
    return rp;
  }
  auto timeout = c.settings.request_timeout;
  self->request(c.ids, timeout, caf::get_atom::value, id)
      .then(
          [=](const kv_entry& entry) mutable {
            auto claim = decode<id_claim>(entry.value);
            if (!claim || claim->instance != self->state.settings.instance) {
              rp.deliver(caf::ok_atom::value);
              return;
            }
            self->request(self->state.ids, timeout, caf::delete_atom::value, id)
                .then([=](caf::ok_atom) mutable { rp.deliver(caf::ok_atom::value); },
                      [=](const caf::error&) mutable { rp.deliver(caf::ok_atom::value); });
          },
          [=](const caf::error&) mutable { rp.deliver(caf::ok_atom::value); });
  return rp;
}

}  // namespace

id_claimer_actor::behavior_type id_claimer(self_ptr self, id_claimer_settings settings,
                                           kv_actor ids, id_claim_listener parent) {
  auto& c = self->state;
  c.pool.emplace(settings.prefix, settings.min, settings.max, settings.preferred);
  auto seed = std::hash<std::string>{}(settings.instance);
  c.retry.emplace(settings.retry, seeded_random(seed));
  c.draw = seeded_random(~seed);
  c.settings = std::move(settings);
  c.ids = std::move(ids);
  c.parent = std::move(parent);
  claim(self);
  return {
      [=](caf::tick_atom, std::uint64_t generation) {
        if (generation == self->state.generation) on_tick(self);
      },
      [=](caf::delete_atom) { return release(self); },
  };
}

}  // namespace parti
