#include "parti/actors/publisher/publisher_actor.hpp"

#include <caf/all.hpp>

#include <optional>
#include <set>

#include "parti/messages/codec.hpp"
#include "parti/messages/leader_events.hpp"
#include "parti/messages/wire.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/nats/kv_actor.hpp"
#include "parti/runtime/wakeup.hpp"

namespace parti {

published_key published_key_of(const assignment_record& r) {
  published_key k{r.partitions, {r.epoch, r.version}};
  for (const auto& g : r.grants) k.granted[g.keys] = {g.epoch, g.version};
  return k;
}

namespace {

using self_ptr = publisher_actor::stateful_pointer<publisher_state>;

void step(self_ptr self);

std::vector<kv_write> writes_for(const publisher_state& p, const handoff_step& s,
                                 std::uint64_t version) {
  std::vector<kv_write> writes;
  for (const auto& worker : s.changed) {
    assignment_record r;
    r.worker = worker;
    r.epoch = p.settings.epoch;
    r.version = version;
    r.reason = p.round ? to_string(p.round->reason) : "";
    auto it = s.assignment.find(worker);
    if (it != s.assignment.end()) r.partitions = it->second;
    r.issued_at = unix_millis();
    for (const auto& [keys, stamp] :
         p.planner->grants_for(worker, r.partitions, {p.settings.epoch, version}))
      r.grants.push_back(partition_grant{keys, stamp.epoch, stamp.version});
    writes.push_back({worker, encode(r), false});
  }
  for (const auto& worker : s.deleted) writes.push_back({worker, "", true});
  return writes;
}

std::string manifest_for(const publisher_state& p, const handoff_step& s, std::uint64_t version) {
  manifest_record m;
  m.epoch = p.settings.epoch;
  m.version = version;
  m.reason = p.round ? to_string(p.round->reason) : "";
  for (const auto& [worker, partitions] : s.assignment) m.workers.push_back(worker);
  m.partition_count = p.partition_count;
  m.issued_at = unix_millis();
  return encode(m);
}

void tell_owners(self_ptr self, const handoff_step& s) {
  const auto& p = self->state;
  owners_notice o;
  std::size_t assigned = 0;
  for (const auto& [worker, key] : p.planner->current()) {
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

void finish_round(self_ptr self, bool ok, const std::string& error) {
  if (!self->state.round) return;
  self->send(self->state.state_machine, round_done{self->state.round->round, ok, error});
  self->state.round.reset();
}

/// After a failed write the outcome is unknown: start over from what KV holds now.
void reread_and_fail(self_ptr self, const std::string& error) {
  log(log_level::warning, "publisher: ", error);
  self->request(self->state.kv, bulk_timeout(self->state.settings.request_timeout),
                caf::get_atom::value, keys_atom::value)
      .then(
          [=](const std::vector<kv_entry>& entries) {
            published_map current;
            for (const auto& [worker, r] : decode_assignments(entries).workers) {
              current[worker] = published_key_of(r);
              if (r.epoch == self->state.settings.epoch)
                self->state.version = std::max(self->state.version, r.version);
            }
            self->state.planner->adopt(std::move(current), self->clock().now());
            self->state.busy = false;
            finish_round(self, false, error);
          },
          [=](const caf::error& err) {
            self->state.busy = false;
            finish_round(self, false, error + "; re-read failed: " + describe(err));
          });
}

/// The leader's own lease still holds: checked before each write, so that a leader paused past
/// its term publishes nothing when it resumes (it steps down as soon as its election notices).
bool may_publish(self_ptr self) {
  const auto& until = self->state.settings.leading_until;
  if (!until) return true;
  return self->clock().now().time_since_epoch().count() < until->load();
}

void write(self_ptr self, handoff_step s) {
  if (!may_publish(self)) {
    log(log_level::warning, "publisher: e", self->state.settings.epoch,
        ": not written, the leader's lease may have expired");
    return;  // the node ends the leader on step-down; a renewal re-arms through the next event
  }
  self->state.busy = true;
  auto version = self->state.version + 1;
  auto writes = writes_for(self->state, s, version);
  auto manifest = manifest_for(self->state, s, version);
  auto timeout = bulk_timeout(self->state.settings.request_timeout);
  self->request(self->state.kv, timeout, write_atom::value, std::move(writes))
      .then(
          [=](const std::vector<std::uint64_t>&) {
            // The manifest last: a version is complete once its manifest is written.
            if (!may_publish(self))
              return reread_and_fail(self, "the leader's lease may have expired");
            self->request(self->state.kv, timeout, caf::put_atom::value, std::string(manifest_key),
                          manifest)
                .then(
                    [=](std::uint64_t) {
                      self->state.version = version;
                      self->state.planner->published(s, {self->state.settings.epoch, version},
                                                     self->clock().now());
                      self->state.busy = false;
                      log(log_level::info, "publisher: e", self->state.settings.epoch, " v",
                          version, ": wrote ", s.changed.size(), " keys, deleted ",
                          s.deleted.size(),
                          s.in_handoff.empty()
                              ? std::string()
                              : ", " + std::to_string(s.in_handoff.size()) + " in hand-off");
                      tell_owners(self, s);
                      if (s.target_reached) finish_round(self, true, "");
                      step(self);
                    },
                    [=](const caf::error& err) {
                      self->state.version = version;  // the keys may have landed: never reuse it
                      reread_and_fail(self, "manifest: " + describe(err));
                    });
          },
          [=](const caf::error& err) {
            self->state.version = version;
            reread_and_fail(self, "write: " + describe(err));
          });
}

/// When the holder's lease must have lapsed once a fence on `revision` (0: the key was gone)
/// succeeded: it cannot have extended its lease past the heartbeat of that revision, which it
/// sent before the leader saw it (`seen`), or, when the leader did not see that revision, before
/// the leader read it (`read_at`). The larger of the two TTLs counts.
time_point lapse_after_fence(const publisher_state& p, const std::string& worker,
                             std::uint64_t revision, std::uint64_t record_ttl_ms,
                             time_point read_at) {
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

void fence_done(self_ptr self, const std::string& worker, std::optional<time_point> lapse,
                const std::string& why) {
  self->state.fencing.erase(worker);
  if (lapse) {
    log(log_level::info, "publisher: fenced ", worker, "; its lease lapses in ",
        std::chrono::duration_cast<std::chrono::milliseconds>(*lapse - self->clock().now()).count(),
        " ms");
    self->state.planner->released(worker, *lapse);
    return step(self);
  }
  log(log_level::info, "publisher: fence of ", worker, " refused (", why, "); retrying later");
  // Later, not at once: a failing store is not hammered.
  self->delayed_send(self, self->state.settings.request_timeout, fence_retry_atom::value, worker);
}

/// Rewrites the holder's heartbeat key on its current revision, read first (created when the
/// key is gone): success proves that no newer heartbeat landed, and the holder cannot extend
/// its lease any more, even while it keeps heartbeating (a worker that is alive but never
/// applies its revocation: its next heartbeat fails).
void fence(self_ptr self, const std::string& worker) {
  if (!self->state.fencing.insert(worker).second) return;
  heartbeat_record r;
  r.worker = worker;
  r.fenced_by = self->state.settings.leader;
  r.sent_at = unix_millis();
  auto value = encode(r);
  auto timeout = self->state.settings.request_timeout;
  auto refused = [=](const caf::error& err) {
    fence_done(self, worker, std::nullopt, describe(err));
  };
  auto read_at = self->clock().now();
  self->request(self->state.heartbeats, timeout, caf::get_atom::value, worker)
      .then(
          [=](const kv_entry& e) {
            auto held = decode<heartbeat_record>(e.value);
            auto ttl_ms = held ? held->ttl_ms : 0;
            auto lapse = lapse_after_fence(self->state, worker, e.revision, ttl_ms, read_at);
            self->request(self->state.heartbeats, timeout, caf::update_atom::value, worker, value,
                          e.revision)
                .then([=](std::uint64_t) { fence_done(self, worker, lapse, ""); }, refused);
          },
          [=](const caf::error& err) {
            if (!is_kv_error(err, kv_errc::not_found)) return refused(err);
            // Gone: its heartbeats expired from the bucket (or it left). Create the fence.
            auto lapse = lapse_after_fence(self->state, worker, 0, 0, read_at);
            self->request(self->state.heartbeats, timeout, create_atom::value, worker, value)
                .then([=](std::uint64_t) { fence_done(self, worker, lapse, ""); }, refused);
          });
}

void step(self_ptr self) {
  if (self->state.busy || !self->state.round) return;
  auto s = self->state.planner->plan(self->state.applied, self->clock().now());
  for (const auto& worker : s.to_fence) fence(self, worker);
  if (s.has_writes()) return write(self, std::move(s));
  if (s.target_reached) return finish_round(self, true, "");
  if (s.next_deadline) self->state.timer.arm(self, *s.next_deadline);
}

/// A new leader's first write: every key again under its epoch, same partitions and tokens.
void restamp(self_ptr self) {
  auto s = self->state.planner->restamp();
  if (!s.has_writes()) return;
  log(log_level::info, "publisher: re-stamping ", s.changed.size(), " keys under epoch ",
      self->state.settings.epoch);
  write(self, std::move(s));
}

void on_target(self_ptr self, target_ready& t) {
  auto& p = self->state;
  if (p.round && p.round->round != t.round) finish_round(self, false, "superseded");
  p.partition_count = t.partition_count;
  p.planner->set_target(t.target);
  p.round = std::move(t);
  step(self);
}

}  // namespace

publisher_actor::behavior_type publisher(self_ptr self, publisher_settings settings,
                                         kv_actor assignments, kv_actor heartbeats,
                                         state_machine_actor state_machine,
                                         emergency_detector_actor emergency_detector) {
  auto& p = self->state;
  p.started = self->clock().now();
  p.planner.emplace(settings.handoff, settings.published, p.started);
  p.version = settings.last_version;
  p.partition_count = settings.partition_count;
  for (const auto& [worker, key] : settings.published)
    if (key.version.epoch == settings.epoch) p.version = std::max(p.version, key.version.version);
  p.settings = std::move(settings);
  p.kv = std::move(assignments);
  p.heartbeats = std::move(heartbeats);
  p.state_machine = std::move(state_machine);
  p.emergency_detector = std::move(emergency_detector);
  restamp(self);
  return {
      [=](target_ready& t) { on_target(self, t); },
      [=](const applied_snapshot& snap) {
        self->state.applied = snap.applied;
        self->state.seen = snap.seen;
        step(self);
      },
      [=](fence_retry_atom, const std::string& worker) {
        self->state.planner->fence_failed(worker);
        step(self);
      },
      [=](caf::tick_atom, std::uint64_t token) {
        if (self->state.timer.fire(token)) step(self);
      },
  };
}

}  // namespace parti
