#include "actors/id_claimer/id_claimer_actor.hpp"

#include <caf/all.hpp>

#include <memory>
#include <set>

#include "actors/id_claimer/id_pool.hpp"
#include "messages/codec.hpp"
#include "runtime/log.hpp"
#include "runtime/nats/kv_actor.hpp"

namespace parti {

namespace {

/// The actor's mutable state, shared by its handlers (function-based actor, one thread at a time).
struct claimer {
  id_claimer_settings settings;
  kv_actor ids;
  caf::actor parent;
  id_pool pool;
  backoff retry;
  std::string id;  // empty while no id is held
  std::string value;
  std::optional<claim_keeper> keeper;
  bool busy = false;  // one store operation at a time
  bool warned_exhausted = false;
  bool tried_preferred = false;  // the preferred id is tried once per claim, before any listing
  std::uint64_t generation = 0;  // a tick from an older claim is ignored

  explicit claimer(id_claimer_settings s, kv_actor kv, caf::actor p)
      : settings(std::move(s)),
        ids(std::move(kv)),
        parent(std::move(p)),
        pool(settings.prefix, settings.min, settings.max, settings.preferred),
        retry(settings.retry, seeded_random(std::hash<std::string>{}(settings.instance))) {}
};

using claimer_ptr = std::shared_ptr<claimer>;

time_point now() {
  return std::chrono::steady_clock::now();
}

void claim(caf::event_based_actor* self, claimer_ptr c);
void on_tick(caf::event_based_actor* self, claimer_ptr c);

void schedule(caf::event_based_actor* self, const claimer_ptr& c, duration after) {
  self->delayed_send(self, std::max(after, duration::zero()), caf::tick_atom::value, c->generation);
}

/// Tells the node until when the claim is surely ours, on the boot clock of its lease.
void tell_validity(caf::event_based_actor* self, const claimer_ptr& c) {
  auto left = c->keeper->safe_until() - now();
  self->send(c->parent, claim_validity{c->id, (boot_now() + left).time_since_epoch().count()});
}

void schedule_keeper(caf::event_based_actor* self, const claimer_ptr& c) {
  schedule(self, c, c->keeper->next_deadline() - now());
}

void retry_claim_later(caf::event_based_actor* self, const claimer_ptr& c) {
  schedule(self, c, c->retry.next());
}

std::string encode_claim(const claimer& c) {
  return encode(id_claim{c.settings.instance, c.settings.host, c.settings.pid, unix_millis()});
}

/// `id` is ours from `revision` on (a write sent at `sent_at`).
void hold(caf::event_based_actor* self, const claimer_ptr& c, const std::string& id,
          const std::string& value, std::uint64_t revision, time_point sent_at) {
  c->busy = false;
  c->id = id;
  c->value = value;
  c->keeper.emplace(c->settings.ttl, revision, sent_at);
  c->retry.reset();
  c->warned_exhausted = false;
  ++c->generation;
  self->send(c->parent, id_claimed{c->id, revision});
  tell_validity(self, c);
  schedule_keeper(self, c);
}

/// Gives up the blind attempt: list the ids and take the best free one.
void list_instead(caf::event_based_actor* self, const claimer_ptr& c) {
  c->busy = false;
  claim(self, c);
}

/// The preferred id is taken. It may be our own claim, given up because a renewal could not be
/// confirmed before it could expire while the key is still there (an outage): take it over by
/// compare-and-swap on the revision read, which fails if anyone wrote the key meanwhile.
/// Anything else: list the ids and take another.
void adopt_or_list(caf::event_based_actor* self, claimer_ptr c, std::string id) {
  self->request(c->ids, c->settings.request_timeout, caf::get_atom::value, id)
      .then(
          [=](const kv_entry& entry) {
            auto held = decode<id_claim>(entry.value);
            if (!held || held->instance != c->settings.instance) return list_instead(self, c);
            auto sent_at = now();
            auto value = encode_claim(*c);
            self->request(c->ids, c->settings.request_timeout, caf::update_atom::value, id, value,
                          entry.revision)
                .then([=](std::uint64_t revision) { hold(self, c, id, value, revision, sent_at); },
                      [=](const caf::error&) { list_instead(self, c); });
          },
          [=](const caf::error&) { list_instead(self, c); });
}

/// Tries the next candidate given what is known to be taken. `listed`: `taken` comes from a
/// listing of the bucket (otherwise only the preferred id was tried, blind).
void try_candidate(caf::event_based_actor* self, claimer_ptr c, std::set<std::string> taken,
                   bool listed) {
  auto candidate = c->pool.next_candidate(taken);
  if (!candidate) {
    if (!c->warned_exhausted) log(log_level::error, "id_claimer: ", candidate.error());
    c->warned_exhausted = true;
    c->busy = false;
    retry_claim_later(self, c);
    return;
  }
  auto sent_at = now();
  auto value = encode_claim(*c);
  self->request(c->ids, c->settings.request_timeout, create_atom::value, *candidate, value)
      .then([=](std::uint64_t revision) { hold(self, c, *candidate, value, revision, sent_at); },
            [=](const caf::error& err) mutable {
              if (is_kv_error(err, kv_errc::key_exists)) {
                if (!listed) return adopt_or_list(self, c, *candidate);
                taken.insert(*candidate);  // lost a race: try the next one
                try_candidate(self, c, std::move(taken), true);
                return;
              }
              // Unknown outcome or no store: our Create may have landed; the key then expires
              // after the id TTL since we never renew it. Start over later.
              log(log_level::warning, "id_claimer: claim ", *candidate, ": ", describe(err));
              c->busy = false;
              retry_claim_later(self, c);
            });
}

void claim(caf::event_based_actor* self, claimer_ptr c) {
  if (c->busy) return;
  c->busy = true;
  if (c->pool.preferred() && !c->tried_preferred) {
    // Straight to the preferred id: no listing, which costs O(ids) for every claimer.
    c->tried_preferred = true;
    try_candidate(self, c, {}, false);
    return;
  }
  self->request(c->ids, c->settings.request_timeout, keys_atom::value)
      .then(
          [=](const std::vector<std::string>& keys) {
            try_candidate(self, c, std::set<std::string>(keys.begin(), keys.end()), true);
          },
          [=](const caf::error& err) {
            log(log_level::warning, "id_claimer: listing ids: ", describe(err));
            c->busy = false;
            retry_claim_later(self, c);
          });
}

void lose(caf::event_based_actor* self, const claimer_ptr& c, const std::string& reason) {
  log(log_level::warning, "id_claimer: lost ", c->id, ": ", reason);
  self->send(c->parent, id_lost{c->id, reason});
  c->pool.prefer(c->id);  // tried first, blind: free again once the lapsed claim expired
  c->id.clear();
  c->keeper.reset();
  ++c->generation;
  c->tried_preferred = false;
  claim(self, c);
}

renew_outcome renew_outcome_of(const caf::error& err) {
  if (is_kv_error(err, kv_errc::wrong_revision)) return renew_outcome::wrong_revision;
  if (is_kv_error(err, kv_errc::not_found)) return renew_outcome::not_found;
  return renew_outcome::unknown;
}

void after_keeper_update(caf::event_based_actor* self, const claimer_ptr& c, claim_health health,
                         const std::string& reason) {
  c->busy = false;
  if (health == claim_health::lost) return lose(self, c, reason);
  tell_validity(self, c);
  on_tick(self, c);  // maybe something is due right away (renew after a read-back)
}

void renew(caf::event_based_actor* self, claimer_ptr c) {
  c->busy = true;
  auto sent_at = now();
  auto value = encode_claim(*c);
  self->request(c->ids, c->settings.request_timeout, caf::update_atom::value, c->id, value,
                c->keeper->revision())
      .then(
          [=](std::uint64_t revision) {
            auto h = c->keeper->on_renew(renew_outcome::renewed, revision, sent_at, now());
            after_keeper_update(self, c, h, "");
          },
          [=](const caf::error& err) {
            auto h = c->keeper->on_renew(renew_outcome_of(err), 0, sent_at, now());
            after_keeper_update(self, c, h, "renewal failed: " + describe(err));
          });
}

void read_back(caf::event_based_actor* self, claimer_ptr c) {
  c->busy = true;
  self->request(c->ids, c->settings.request_timeout, caf::get_atom::value, c->id)
      .then(
          [=](const kv_entry& entry) {
            auto claim = decode<id_claim>(entry.value);
            bool ours = claim && claim->instance == c->settings.instance;
            auto h = c->keeper->on_read(ours ? read_outcome::ours : read_outcome::not_ours,
                                        entry.revision, now());
            after_keeper_update(self, c, h, "another instance holds the id");
          },
          [=](const caf::error& err) {
            auto outcome = is_kv_error(err, kv_errc::not_found) ? read_outcome::not_found
                                                                : read_outcome::unknown;
            auto h = c->keeper->on_read(outcome, 0, now());
            after_keeper_update(self, c, h, "read-back: " + describe(err));
          });
}

void on_tick(caf::event_based_actor* self, claimer_ptr c) {
  if (c->busy) return;
  if (!c->keeper) return claim(self, c);
  switch (c->keeper->due(now())) {
    case claim_action::wait:
      return schedule_keeper(self, c);
    case claim_action::renew:
      return renew(self, c);
    case claim_action::read_back:
      return read_back(self, c);
    case claim_action::stop_using:
      return lose(self, c, "the claim could have expired");
  }
}

}  // namespace

caf::behavior id_claimer(caf::event_based_actor* self, id_claimer_settings settings, kv_actor ids,
                         caf::actor parent) {
  auto c = std::make_shared<claimer>(std::move(settings), std::move(ids), std::move(parent));
  claim(self, c);
  return {
      [=](caf::tick_atom, std::uint64_t generation) {
        if (generation == c->generation) on_tick(self, c);
      },
      [=](caf::delete_atom) -> caf::result<caf::ok_atom> {
        // Release: delete the key only while it is still ours, then stop renewing.
        auto rp = self->make_response_promise<caf::ok_atom>();
        ++c->generation;
        auto id = c->id;
        c->id.clear();
        c->keeper.reset();
        c->busy = true;  // no new claim
        if (id.empty()) {
          rp.deliver(caf::ok_atom::value);
          return rp;
        }
        self->request(c->ids, c->settings.request_timeout, caf::get_atom::value, id)
            .then(
                [=](const kv_entry& entry) mutable {
                  auto claim = decode<id_claim>(entry.value);
                  if (!claim || claim->instance != c->settings.instance) {
                    rp.deliver(caf::ok_atom::value);
                    return;
                  }
                  self->request(c->ids, c->settings.request_timeout, caf::delete_atom::value, id)
                      .then([=](caf::ok_atom) mutable { rp.deliver(caf::ok_atom::value); },
                            [=](const caf::error&) mutable { rp.deliver(caf::ok_atom::value); });
                },
                [=](const caf::error&) mutable { rp.deliver(caf::ok_atom::value); });
        return rp;
      },
  };
}

}  // namespace parti
