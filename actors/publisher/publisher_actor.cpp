#include "actors/publisher/publisher_actor.hpp"

#include <caf/all.hpp>

#include <optional>
#include <set>

#include "actors/leader/leader_messages.hpp"
#include "messages/codec.hpp"
#include "messages/wire.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"
#include "runtime/nats/kv_actor.hpp"
#include "runtime/wakeup.hpp"

namespace parti {

published_key published_key_of(const assignment_record& r) {
  published_key k{r.partitions, {r.epoch, r.version}};
  for (const auto& g : r.grants) k.granted[g.keys] = {g.epoch, g.version};
  return k;
}

namespace {

struct pub {
  publisher_settings settings;
  kv_actor kv;
  kv_actor heartbeats;
  std::map<std::string, heartbeat_seen> seen;  // from the monitor: what a fence needs
  std::set<std::string> fencing;               // fences in flight
  time_point started = std::chrono::steady_clock::now();
  caf::actor state_machine;
  caf::actor emergency_detector;
  handoff_planner planner;
  applied_map applied;
  std::uint64_t version = 0;  // the last version written under this epoch
  std::optional<target_ready> round;
  std::uint64_t partition_count = 0;
  bool busy = false;
  wakeup timer;

  pub(publisher_settings s, kv_actor k, kv_actor h, caf::actor sm, caf::actor ed)
      : settings(std::move(s)),
        kv(std::move(k)),
        heartbeats(std::move(h)),
        state_machine(std::move(sm)),
        emergency_detector(std::move(ed)),
        planner(settings.handoff, settings.published, std::chrono::steady_clock::now()) {
    version = settings.last_version;
    for (const auto& [worker, key] : settings.published)
      if (key.version.epoch == settings.epoch) version = std::max(version, key.version.version);
  }
};

using pub_ptr = std::shared_ptr<pub>;
using self_ptr = caf::event_based_actor*;

time_point now() {
  return std::chrono::steady_clock::now();
}

void step(self_ptr self, const pub_ptr& p);

using fence_retry_atom = caf::atom_constant<caf::atom("fenceretry")>;

std::vector<kv_write> writes_for(const pub& p, const handoff_step& s, std::uint64_t version) {
  std::vector<kv_write> writes;
  for (const auto& worker : s.changed) {
    assignment_record r;
    r.worker = worker;
    r.epoch = p.settings.epoch;
    r.version = version;
    r.reason = p.round ? p.round->reason : "";
    auto it = s.assignment.find(worker);
    if (it != s.assignment.end()) r.partitions = it->second;
    r.issued_at = unix_millis();
    for (const auto& [keys, stamp] :
         p.planner.grants_for(worker, r.partitions, {p.settings.epoch, version}))
      r.grants.push_back(partition_grant{keys, stamp.epoch, stamp.version});
    writes.push_back({worker, encode(r), false});
  }
  for (const auto& worker : s.deleted) writes.push_back({worker, "", true});
  return writes;
}

std::string manifest_for(const pub& p, const handoff_step& s, std::uint64_t version) {
  manifest_record m;
  m.epoch = p.settings.epoch;
  m.version = version;
  m.reason = p.round ? p.round->reason : "";
  for (const auto& [worker, partitions] : s.assignment) m.workers.push_back(worker);
  m.partition_count = p.partition_count;
  m.issued_at = unix_millis();
  return encode(m);
}

void tell_owners(self_ptr self, const pub& p, const handoff_step& s) {
  owners_notice o;
  std::size_t assigned = 0;
  for (const auto& [worker, key] : p.planner.current()) {
    if (!key.partitions.empty()) o.owners.push_back(worker);
    assigned += key.partitions.size();
  }
  self->send(p.emergency_detector, o);
  if (auto& m = p.settings.stats) {
    m->set_unassigned_partitions(p.settings.leader,
                                 p.partition_count > assigned ? p.partition_count - assigned : 0);
    m->set_handoff_partitions(p.settings.leader, s.in_handoff.size());
  }
}

void finish_round(self_ptr self, const pub_ptr& p, bool ok, const std::string& error) {
  if (!p->round) return;
  self->send(p->state_machine, round_done{p->round->round, ok, error});
  p->round.reset();
}

/// After a failed write the outcome is unknown: start over from what KV holds now.
void reread_and_fail(self_ptr self, const pub_ptr& p, const std::string& error) {
  log(log_level::warning, "publisher: ", error);
  self->request(p->kv, p->settings.request_timeout * 5, caf::get_atom::value, keys_atom::value)
      .then(
          [=](const std::vector<kv_entry>& entries) {
            published_map current;
            for (const auto& [worker, r] : decode_assignments(entries).workers) {
              current[worker] = published_key_of(r);
              if (r.epoch == p->settings.epoch) p->version = std::max(p->version, r.version);
            }
            p->planner.adopt(std::move(current), now());
            p->busy = false;
            finish_round(self, p, false, error);
          },
          [=](const caf::error& err) {
            p->busy = false;
            finish_round(self, p, false, error + "; re-read failed: " + describe(err));
          });
}

/// The leader's own lease still holds: checked before each write, so that a leader paused past
/// its term publishes nothing when it resumes (it steps down as soon as its election notices).
bool may_publish(const pub& p) {
  if (!p.settings.leading_until) return true;
  return now().time_since_epoch().count() < p.settings.leading_until->load();
}

void write(self_ptr self, const pub_ptr& p, handoff_step s) {
  if (!may_publish(*p)) {
    log(log_level::warning, "publisher: e", p->settings.epoch,
        ": not written, the leader's lease may have expired");
    return;  // the node ends the leader on step-down; a renewal re-arms through the next event
  }
  p->busy = true;
  auto version = p->version + 1;
  auto writes = writes_for(*p, s, version);
  auto manifest = manifest_for(*p, s, version);
  auto timeout = p->settings.request_timeout * 5;
  self->request(p->kv, timeout, write_atom::value, std::move(writes))
      .then(
          [=](const std::vector<std::uint64_t>&) {
            // The manifest last: a version is complete once its manifest is written.
            if (!may_publish(*p))
              return reread_and_fail(self, p, "the leader's lease may have expired");
            self->request(p->kv, timeout, caf::put_atom::value, std::string(manifest_key), manifest)
                .then(
                    [=](std::uint64_t) {
                      p->version = version;
                      p->planner.published(s, {p->settings.epoch, version}, now());
                      p->busy = false;
                      log(log_level::info, "publisher: e", p->settings.epoch, " v", version,
                          ": wrote ", s.changed.size(), " keys, deleted ", s.deleted.size(),
                          s.in_handoff.empty()
                              ? std::string()
                              : ", " + std::to_string(s.in_handoff.size()) + " in hand-off");
                      tell_owners(self, *p, s);
                      if (s.target_reached) finish_round(self, p, true, "");
                      step(self, p);
                    },
                    [=](const caf::error& err) {
                      p->version = version;  // the keys may have landed: never reuse it
                      reread_and_fail(self, p, "manifest: " + describe(err));
                    });
          },
          [=](const caf::error& err) {
            p->version = version;
            reread_and_fail(self, p, "write: " + describe(err));
          });
}

/// When the holder's lease must have lapsed once a fence on `revision` (0: the key was gone)
/// succeeded: it cannot have extended its lease past the heartbeat of that revision, which it
/// sent before the leader saw it (`seen`), or, when the leader did not see that revision, before
/// the leader read it (`read_at`). The larger of the two TTLs counts.
time_point lapse_after_fence(const pub& p, const std::string& worker, std::uint64_t revision,
                             std::uint64_t record_ttl_ms, time_point read_at) {
  auto ttl = std::max<duration>(p.settings.heartbeat_ttl, std::chrono::milliseconds(record_ttl_ms));
  auto it = p.seen.find(worker);
  if (it != p.seen.end())
    ttl = std::max<duration>(ttl, std::chrono::milliseconds(it->second.ttl_ms));
  bool seen = it != p.seen.end() && it->second.seen_ns != 0;
  if (revision == 0) {
    // The key is gone: no heartbeat newer than the last one the leader saw (or newer than the
    // leader's start) is in the bucket, and an older one would have expired only past its TTL.
    auto last = seen ? time_point{duration{it->second.seen_ns}} : p.started;
    return std::min(read_at, last) + ttl;
  }
  if (seen && it->second.revision == revision)
    return std::min(read_at, time_point{duration{it->second.seen_ns}}) + ttl;
  return read_at + ttl;
}

void fence_done(self_ptr self, const pub_ptr& p, const std::string& worker,
                std::optional<time_point> lapse, const std::string& why) {
  p->fencing.erase(worker);
  if (lapse) {
    log(log_level::info, "publisher: fenced ", worker, "; its lease lapses in ",
        std::chrono::duration_cast<std::chrono::milliseconds>(*lapse - now()).count(), " ms");
    p->planner.released(worker, *lapse);
    return step(self, p);
  }
  log(log_level::info, "publisher: fence of ", worker, " refused (", why, "); retrying later");
  // Later, not at once: a failing store is not hammered.
  self->delayed_send(self, p->settings.request_timeout, fence_retry_atom::value, worker);
}

/// Rewrites the holder's heartbeat key on its current revision, read first (created when the
/// key is gone): success proves that no newer heartbeat landed, and the holder cannot extend
/// its lease any more, even while it keeps heartbeating (a worker that is alive but never
/// applies its revocation: its next heartbeat fails).
void fence(self_ptr self, const pub_ptr& p, const std::string& worker) {
  if (!p->fencing.insert(worker).second) return;
  heartbeat_record r;
  r.worker = worker;
  r.fenced_by = p->settings.leader;
  r.sent_at = unix_millis();
  auto value = encode(r);
  auto timeout = p->settings.request_timeout;
  auto refused = [=](const caf::error& err) {
    fence_done(self, p, worker, std::nullopt, describe(err));
  };
  auto read_at = now();
  self->request(p->heartbeats, timeout, caf::get_atom::value, worker)
      .then(
          [=](const kv_entry& e) {
            auto held = decode<heartbeat_record>(e.value);
            auto ttl_ms = held ? held->ttl_ms : 0;
            auto lapse = lapse_after_fence(*p, worker, e.revision, ttl_ms, read_at);
            self->request(p->heartbeats, timeout, caf::update_atom::value, worker, value,
                          e.revision)
                .then([=](std::uint64_t) { fence_done(self, p, worker, lapse, ""); }, refused);
          },
          [=](const caf::error& err) {
            if (!is_kv_error(err, kv_errc::not_found)) return refused(err);
            // Gone: its heartbeats expired from the bucket (or it left). Create the fence.
            auto lapse = lapse_after_fence(*p, worker, 0, 0, read_at);
            self->request(p->heartbeats, timeout, create_atom::value, worker, value)
                .then([=](std::uint64_t) { fence_done(self, p, worker, lapse, ""); }, refused);
          });
}

void step(self_ptr self, const pub_ptr& p) {
  if (p->busy || !p->round) return;
  auto s = p->planner.plan(p->applied, now());
  for (const auto& worker : s.to_fence) fence(self, p, worker);
  if (s.has_writes()) return write(self, p, std::move(s));
  if (s.target_reached) return finish_round(self, p, true, "");
  if (s.next_deadline) p->timer.arm(self, *s.next_deadline);
}

}  // namespace

/// A new leader's first write: every key again under its epoch, same partitions and tokens.
void restamp(self_ptr self, const pub_ptr& p) {
  auto s = p->planner.restamp();
  if (!s.has_writes()) return;
  log(log_level::info, "publisher: re-stamping ", s.changed.size(), " keys under epoch ",
      p->settings.epoch);
  write(self, p, std::move(s));
}

caf::behavior publisher(caf::event_based_actor* self, publisher_settings settings,
                        kv_actor assignments, kv_actor heartbeats, caf::actor state_machine,
                        caf::actor emergency_detector) {
  auto p = std::make_shared<pub>(std::move(settings), std::move(assignments), std::move(heartbeats),
                                 std::move(state_machine), std::move(emergency_detector));
  restamp(self, p);
  return {
      [=](target_ready& t) {
        if (p->round && p->round->round != t.round) finish_round(self, p, false, "superseded");
        p->partition_count = t.partition_count;
        p->planner.set_target(t.target);
        p->round = std::move(t);
        step(self, p);
      },
      [=](const applied_snapshot& snap) {
        p->applied.clear();
        for (const auto& [worker, stamp] : snap.applied)
          if (stamp.size() == 2) p->applied[worker] = {stamp[0], stamp[1]};
        p->seen = snap.seen;
        step(self, p);
      },
      [=](fence_retry_atom, const std::string& worker) {
        p->planner.fence_failed(worker);
        step(self, p);
      },
      [=](caf::tick_atom, std::uint64_t token) {
        if (p->timer.fire(token)) step(self, p);
      },
  };
}

}  // namespace parti
