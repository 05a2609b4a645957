#include "parti/actors/node/node_actor.hpp"

#include <caf/all.hpp>

#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <limits>
#include <random>

#include "parti/actors/assignment_watch/assignment_watch_actor.hpp"
#include "parti/actors/election/election_actor.hpp"
#include "parti/actors/heartbeat/heartbeat_actor.hpp"
#include "parti/actors/id_claimer/id_claimer_actor.hpp"
#include "parti/actors/node/node_rules.hpp"
#include "parti/actors/node/ownership_gate.hpp"
#include "parti/messages/codec.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/nats/group_inspect.hpp"
#include "parti/runtime/nats/kv_actor.hpp"
#include "parti/runtime/wakeup.hpp"

namespace parti {

std::string random_instance_id() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> dist;
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(dist(rd)));
  return buffer;
}

namespace {

/// The node's clock for its lifecycle rules: the actor clock (virtual under a test scheduler).
time_point now(caf::local_actor* self) {
  return self->clock().now();
}

struct node_state {
  node_options options;
  std::string instance = random_instance_id();
  std::string host;
  std::unique_ptr<node_rules> rules;  // every decision about state, children and stopping
  derived_timings timings;
  std::string worker;  // empty while no id is held
  std::map<child_kind, caf::actor> children;
  std::vector<caf::actor> subscribers;
  std::vector<caf::actor> lease_subscribers;  // also told every lease_update
  leadership_update leadership;
  std::uint64_t ids_lost = 0;
  std::optional<caf::response_promise> stop_promise;
  wakeup timer;  // for the rules' next deadline
  // The assignment held against the ownership lease of the id held now.
  std::unique_ptr<ownership_gate> gate;
  std::uint64_t lease_token = 0;  // of the pending lease wake-up
  lease_update told_lease;        // the last on_lease callback
  std::shared_ptr<std::atomic<std::int64_t>> leading_until =
      std::make_shared<std::atomic<std::int64_t>>(0);
  static inline const char* name = "parti.node";
};

using node_ptr = node_actor::stateful_pointer<node_state>;

/// The clock of the ownership lease (node_options::lease_clock).
time_point lease_now(node_ptr self) {
  return lease_now(self->state.options.lease_clock.get());
}

const node_config& cfg(node_ptr self) {
  return self->state.options.config;
}

metrics& stats(node_ptr self) {
  return *self->state.options.group->metrics;
}

/// The node's gauges, after any change of state, leadership or assignment.
void update_gauges(node_ptr self) {
  auto& st = self->state;
  if (st.worker.empty()) return;
  auto& m = stats(self);
  m.set_suspended_partitions(st.worker, st.gate->suspended().size());
  m.set_node_state(st.worker, to_string(st.rules->state()));
  m.set_degraded(st.worker, st.rules->state() == parti::node_state::degraded);
  m.set_leader(st.worker, st.leadership.leader);
  m.set_epoch(st.worker, st.leadership.leader ? st.leadership.epoch : 0);
  m.set_assignment_version(st.worker, st.gate->applied().version);
  m.set_owned_partitions(st.worker, st.gate->owned().size());
}

template <class Message>
void notify(node_ptr self, const Message& m) {
  // Subscribers are the application's actors, dynamically typed (CAF lets a typed actor reach
  // those only by anon_send; the node still goes as the sender, for their error replies).
  for (auto& s : self->state.subscribers) self->anon_send(s, m);
}

/// Sends the heartbeat child, when it runs, a message of its protocol.
template <class... Ts>
void tell_heartbeat(node_ptr self, Ts&&... xs) {
  auto& children = self->state.children;
  if (auto hb = children.find(child_kind::heartbeat); hb != children.end())
    self->send(caf::actor_cast<heartbeat_actor>(hb->second), std::forward<Ts>(xs)...);
}

/// A state change, told everywhere: the log, the subscribers, the callback and the heartbeat's
/// `state` field.
void tell_state(node_ptr self, const state_change& change) {
  auto& st = self->state;
  node_state_update u{st.worker, std::string(to_string(change.from)),
                      std::string(to_string(change.to)), change.reason, change.seq};
  log(log_level::info, st.worker.empty() ? "node" : st.worker, ": ", u.from, " -> ", u.to,
      change.reason.empty() ? "" : " (" + change.reason + ")");
  notify(self, u);
  if (st.options.callbacks.on_state) st.options.callbacks.on_state(u);
  tell_heartbeat(self, node_state_changed{u.to});
}

void carry_out(node_ptr self);

caf::actor spawn_child(node_ptr self, child_kind kind);

void stop_child(node_ptr self, child_kind kind) {
  auto& children = self->state.children;
  auto it = children.find(kind);
  if (it == children.end()) return;
  self->unlink_from(it->second);  // an exit we asked for is not a failure
  self->send_exit(it->second, caf::exit_reason::user_shutdown);
  children.erase(it);
}

void start_member_children(node_ptr self) {
  for (auto kind : {child_kind::heartbeat, child_kind::election, child_kind::assignment_watch})
    self->state.children[kind] = spawn_child(self, kind);
}

caf::actor spawn_child(node_ptr self, child_kind kind) {
  auto& st = self->state;
  const auto& c = cfg(self);
  auto me = caf::actor_cast<caf::actor>(self);
  auto& group = *st.options.group;
  switch (kind) {
    case child_kind::id_claimer: {
      id_claimer_settings s;
      s.prefix = c.id_prefix;
      s.min = c.id_min;
      s.max = c.id_max;
      s.preferred = c.preferred_id;
      s.ttl = c.id_ttl;
      s.request_timeout = c.kv_operation_timeout;
      s.instance = st.instance;
      s.host = st.host;
      s.pid = ::getpid();
      s.lease_clock = st.options.lease_clock;
      return caf::actor_cast<caf::actor>(self->spawn<caf::linked>(
          id_claimer, s, group.ids_kv, caf::actor_cast<id_claim_listener>(self)));
    }
    case child_kind::heartbeat: {
      heartbeat_settings s{
          st.worker,       st.instance,           c.heartbeat_interval, c.kv_operation_timeout,
          c.heartbeat_ttl, st.options.lease_clock};
      return caf::actor_cast<caf::actor>(self->spawn<caf::linked>(
          heartbeat, s, group.heartbeats_kv, caf::actor_cast<heartbeat_observer>(self)));
    }
    case child_kind::election:
      return caf::actor_cast<caf::actor>(
          self->spawn<caf::linked>(election,
                                   election_settings{st.worker, st.instance, c.election_ttl,
                                                     c.kv_operation_timeout, st.leading_until},
                                   group.election_kv, group.election_hub,
                                   caf::actor_cast<leadership_listener>(self), group.metrics));
    case child_kind::assignment_watch:
      return caf::actor_cast<caf::actor>(
          self->spawn<caf::linked>(assignment_watch, st.worker, group.assignments_hub,
                                   caf::actor_cast<assignment_listener>(self), group.metrics));
    case child_kind::leader: {
      if (!st.options.leader) return {};
      leader_context ctx{c, st.options.group, st.worker, st.leadership.epoch, me, st.leading_until};
      auto leader = st.options.leader(self->system(), ctx);
      if (leader) self->link_to(leader);
      return leader;
    }
  }
  return {};
}

// -- the ownership gate: what the application may serve ------------------------------------

bool lease_allows_serving(node_ptr self) {
  return self->state.gate->may_serve(lease_now(self));
}

lease_options lease_options_of(const node_config& c) {
  lease_options o;
  o.ttl = c.heartbeat_ttl;
  o.margin = c.lease_margin;
  o.policy =
      c.on_lease_loss == lease_loss_policy::keep ? lease_policy::keep : lease_policy::suspend;
  return o;
}

void carry_out_gate(node_ptr self);

/// What the rules count as held: the partitions owned, and revoked ones the application may
/// still serve (their revocation is not acknowledged, or went unacknowledged and the lease has
/// not lapsed yet). A drain ends only when nothing is held, so the heartbeat is deleted (and the
/// leader hands the partitions on) only after the application let them go.
void tell_rules_holdings(node_ptr self) {
  auto& st = self->state;
  st.rules->assignment_applied(st.gate->applied().version,
                               !st.gate->owned().empty() || st.gate->revocations_unacknowledged() ||
                                   st.gate->revocation_lapsing());
}

/// Tells the subscribers; returns how many acknowledgements are awaited. A change that revokes
/// partitions is a request: each subscriber acknowledges it by replying (any reply; a handler
/// returning void replies), and only then is the revocation reported applied in the heartbeat.
std::size_t tell_subscribers(node_ptr self, const assignment_update& u) {
  auto& st = self->state;
  if (u.removed.empty()) {
    notify(self, u);
    return 0;
  }
  for (auto& s : st.subscribers)
    self->request(s, cfg(self).hand_off_timeout, u)
        .then(
            [=](const caf::message&) {
              self->state.gate->revocation_acknowledged();
              carry_out_gate(self);
            },
            [=](const caf::error& err) {
              if (err == caf::sec::request_timeout) {
                log(log_level::error, self->state.worker,
                    ": the application did not acknowledge a revocation within the hand-off "
                    "timeout; heartbeats stop until the lease lapses");
                self->state.gate->revocation_unacknowledged();
              } else {
                self->state.gate->revocation_acknowledged();  // gone: it serves nothing now
              }
              carry_out_gate(self);
            });
  return st.subscribers.size();
}

/// Tells the application a change (the callback acknowledges by returning), then its
/// subscribers.
void apply(node_ptr self, apply_assignment a) {
  auto& st = self->state;
  a.update.worker = st.worker;
  st.rules->assignment_applied(a.update.version, !a.update.owned.empty());
  if (st.options.callbacks.on_assignment) st.options.callbacks.on_assignment(a.update);
  st.gate->applied_told(tell_subscribers(self, a.update));
  tell_rules_holdings(self);
  if (a.served) st.rules->assignment_served(now(self));
}

void on_suspended(node_ptr self, const suspend_ownership& s) {
  auto& st = self->state;
  stats(self).count_lease_suspension(st.worker);
  log(log_level::warning, st.worker, ": ownership suspended (", s.reason, "), ",
      s.partitions.size(), " partitions");
  ownership_suspended m{st.worker, s.partitions, s.reason};
  notify(self, m);
  if (st.options.callbacks.on_suspended) st.options.callbacks.on_suspended(m);
}

void on_resumed(node_ptr self, const resume_ownership& r) {
  auto& st = self->state;
  stats(self).observe_lease_suspension(st.worker, r.suspended_for);
  log(log_level::info, st.worker, ": ownership resumed, ", r.partitions.size(), " partitions");
  ownership_resumed m{st.worker, r.partitions};
  notify(self, m);
  if (st.options.callbacks.on_resumed) st.options.callbacks.on_resumed(m);
}

void read_assignment(node_ptr self, std::uint64_t token);

void arm_lease_timer(node_ptr self) {
  auto& st = self->state;
  auto deadline = st.gate->next_deadline();
  if (!deadline) return;
  auto delay = std::max(*deadline - lease_now(self), duration::zero());
  self->delayed_send(self, delay, lease_tick_atom::value, ++st.lease_token);
}

/// The lease for readers on other threads, when it changed.
void tell_lease(node_ptr self) {
  auto& st = self->state;
  const auto* lease = st.gate->lease();
  if ((!st.options.callbacks.on_lease && st.lease_subscribers.empty()) || !lease) return;
  lease_update u{st.worker, to_string(lease->state()), 0};
  if (lease->may_serve(lease_now(self))) {
    auto h = lease->horizon();
    u.serving_until_ns = cfg(self).on_lease_loss == lease_loss_policy::keep || !h
                             ? std::numeric_limits<std::int64_t>::max()
                             : h->time_since_epoch().count();
  }
  if (u.state == st.told_lease.state && u.serving_until_ns == st.told_lease.serving_until_ns &&
      u.worker == st.told_lease.worker)
    return;
  st.told_lease = u;
  for (auto& s : st.lease_subscribers) self->anon_send(s, u);
  if (st.options.callbacks.on_lease) st.options.callbacks.on_lease(u);
}

/// Carries out what the gate decided, in order, until nothing more is due; then the lease
/// wake-up, the lease readers and the node's own rules (an applied change may end a drain or
/// a wait for the first assignment).
void carry_out_gate(node_ptr self) {
  auto& st = self->state;
  for (auto outputs = st.gate->poll(lease_now(self)); !outputs.empty();
       outputs = st.gate->poll(lease_now(self))) {
    for (auto& out : outputs) {
      if (auto* a = std::get_if<apply_assignment>(&out))
        apply(self, std::move(*a));
      else if (auto* s = std::get_if<suspend_ownership>(&out))
        on_suspended(self, *s);
      else if (auto* r = std::get_if<resume_ownership>(&out))
        on_resumed(self, *r);
      else if (auto* h = std::get_if<hold_heartbeats>(&out))
        tell_heartbeat(self, hold_atom::value, h->hold);
      else if (auto* applied = std::get_if<report_applied>(&out))
        tell_heartbeat(self, caf::update_atom::value, applied->applied.epoch,
                       applied->applied.version);
      else if (auto* read = std::get_if<read_assignment_key>(&out))
        read->after > duration::zero()
            ? self->delayed_send(self, read->after, readback_atom::value, read->token)
            : read_assignment(self, read->token);
      else if (auto* stale = std::get_if<stale_assignment>(&out))
        log(log_level::warning, st.worker, ": ignored assignment e", stale->stamp.epoch, " v",
            stale->stamp.version, ": older than the newest leader epoch ", stale->lease_epoch);
    }
  }
  arm_lease_timer(self);
  tell_lease(self);
  tell_rules_holdings(self);
  carry_out(self);
}

/// After a heartbeat was acknowledged while suspended: is the assignment key still what we
/// hold? The gate decides from what the read shows.
void read_assignment(node_ptr self, std::uint64_t token) {
  auto& st = self->state;
  if (st.worker.empty()) return;
  self->request(st.options.group->assignments_kv, cfg(self).kv_operation_timeout,
                caf::get_atom::value, st.worker)
      .then(
          [=](const kv_entry& e) {
            auto& gate = *self->state.gate;
            auto t = lease_now(self);
            if (e.op != kv_op::put) {
              gate.read_back_absent(token, t);
            } else if (auto r = decode<assignment_record>(e.value)) {
              gate.read_back_found(token,
                                   assignment_update{self->state.worker,
                                                     r->partitions,
                                                     {},
                                                     {},
                                                     r->epoch,
                                                     r->version,
                                                     r->reason,
                                                     r->grants},
                                   t);
            } else {
              gate.read_back_undecodable(token, t);
            }
            carry_out_gate(self);
          },
          [=](const caf::error& err) {
            auto& gate = *self->state.gate;
            if (is_kv_error(err, kv_errc::not_found))
              gate.read_back_absent(token, lease_now(self));
            else
              gate.read_back_failed(token);
            carry_out_gate(self);
          });
}

void on_heartbeat_outcome(node_ptr self, const heartbeat_outcome& o) {
  auto& st = self->state;
  st.gate->heartbeat(o, lease_now(self));
  if (o.result == heartbeat_result::acknowledged) st.rules->heartbeat_acknowledged();
  carry_out_gate(self);
}

/// An assignment change from the watch (the gate applies it or keeps it for later).
void on_assignment(node_ptr self, assignment_update u) {
  auto& st = self->state;
  st.gate->assignment(std::move(u), st.leadership.lease_epoch, lease_now(self));
  carry_out_gate(self);
}

void on_leadership(node_ptr self, const leadership_update& u) {
  auto& st = self->state;
  bool was_leader = st.leadership.leader;
  st.leadership = u;
  notify(self, u);
  if (st.options.callbacks.on_leadership) st.options.callbacks.on_leadership(u);
  update_gauges(self);
  if (u.leader && !was_leader) {
    auto leader = spawn_child(self, child_kind::leader);
    if (leader) st.children[child_kind::leader] = leader;
  } else if (!u.leader && was_leader) {
    stop_child(self, child_kind::leader);  // stops all leader-only work at once
  }
  st.rules->leadership_changed(u.leader, u.leader_id, now(self));
  carry_out(self);
}

void on_id_claimed(node_ptr self, const id_claimed& c) {
  auto& st = self->state;
  st.worker = c.id;
  st.gate->id_claimed();
  log(log_level::info, "node ", st.instance, ": claimed ", c.id);
  st.rules->id_claimed(c.id, now(self));
  carry_out(self);
  start_member_children(self);
}

void on_id_lost(node_ptr self, const id_lost& l) {
  auto& st = self->state;
  ++st.ids_lost;
  stats(self).count_id_lost(l.id);
  // Own nothing at once: another process may hold this id now.
  for (auto kind : {child_kind::leader, child_kind::assignment_watch, child_kind::election,
                    child_kind::heartbeat})
    stop_child(self, kind);
  if (st.leadership.leader) {
    st.leadership.leader = false;
    notify(self, st.leadership);
  }
  st.gate->id_lost(lease_now(self));
  carry_out_gate(self);
  lease_update unheld{l.id, "unheld", 0};
  for (auto& s : st.lease_subscribers) self->anon_send(s, unheld);
  if (st.options.callbacks.on_lease) st.options.callbacks.on_lease(unheld);
  st.told_lease = {};
  st.rules->id_lost(l.id, l.reason, now(self));
  carry_out(self);
  st.worker.clear();
}

void on_child_exit(node_ptr self, const caf::exit_msg& em) {
  auto& st = self->state;
  auto it = std::find_if(st.children.begin(), st.children.end(),
                         [&](const auto& child) { return child.second.address() == em.source; });
  // Not a child: our own shutdown (we trap exits, so we must quit ourselves).
  if (it == st.children.end()) return self->quit(em.reason);
  auto kind = it->first;
  st.children.erase(it);
  if (!st.rules->stopping())
    log(log_level::warning, st.worker, ": ", to_string(kind),
        " failed: ", caf::to_string(em.reason));
  st.rules->child_failed(kind, now(self));
  carry_out(self);
}

void finish_stop(node_ptr self) {
  auto& st = self->state;
  if (st.stop_promise) st.stop_promise->deliver(caf::ok_atom::value);
  for (auto& [kind, child] : st.children) {
    self->unlink_from(child);
    self->send_exit(child, caf::exit_reason::user_shutdown);
  }
  st.children.clear();
  self->quit();
}

/// One step of the release (node_rules.hpp): a request to the child that holds what is released,
/// answered when done or given up. A child that is not running holds nothing.
void release(node_ptr self, release_step step, shutdown_intent intent) {
  auto ask = [=](child_kind holder, auto request) {
    auto& s = self->state;
    auto child = s.children.find(holder);
    if (child == s.children.end())
      return s.rules->released(step, now(self));  // the next poll goes on
    auto done = [=] {
      self->state.rules->released(step, now(self));
      carry_out(self);
    };
    self->request(child->second, s.timings.release_step, request)
        .then([=](caf::ok_atom) { done(); }, [=](const caf::error&) { done(); });
  };
  switch (step) {
    case release_step::leadership:
      stop_child(self, child_kind::leader);
      return ask(child_kind::election, caf::delete_atom::value);
    case release_step::heartbeat:
      if (intent == shutdown_intent::restart)
        return ask(child_kind::heartbeat, farewell_atom::value);
      return ask(child_kind::heartbeat, caf::delete_atom::value);
    case release_step::id:
      return ask(child_kind::id_claimer, caf::delete_atom::value);
  }
}

/// Drain: announce `leaving`; the leader hands our partitions to others at once. The rules end
/// the drain when we own nothing, or at the drain timeout.
void start_drain(node_ptr self) {
  tell_heartbeat(self, leaving_atom::value, true);
  self->delayed_send(self, cfg(self).drain_timeout, caf::timeout_atom::value);
}

/// Carries out what the rules decided, in order, until nothing more is due; sets the next
/// wake-up. Stops at the end of the shutdown: the node has quit.
void carry_out(node_ptr self) {
  auto& st = self->state;
  for (auto outputs = st.rules->poll(now(self)); !outputs.empty();
       outputs = st.rules->poll(now(self))) {
    for (auto& out : outputs) {
      if (auto* change = std::get_if<state_change>(&out)) {
        tell_state(self, *change);
      } else if (auto* refused = std::get_if<state_refused>(&out)) {
        log(log_level::debug, st.worker, ": ignored transition ", to_string(refused->from), " -> ",
            to_string(refused->to));
      } else if (std::holds_alternative<resync_assignment>(out)) {
        if (auto w = st.children.find(child_kind::assignment_watch); w != st.children.end())
          self->send(caf::actor_cast<assignment_watch_actor>(w->second), resync_atom::value);
      } else if (auto* restart = std::get_if<restart_child>(&out)) {
        self->delayed_send(self, restart->after, respawn_atom::value,
                           static_cast<int>(restart->kind));
      } else if (std::holds_alternative<drain_partitions>(out)) {
        start_drain(self);
      } else if (auto* step = std::get_if<release_held>(&out)) {
        release(self, step->step, step->intent);
      } else if (std::holds_alternative<stop_finished>(out)) {
        return finish_stop(self);
      }
    }
  }
  if (auto deadline = st.rules->next_deadline()) st.timer.arm(self, *deadline);
  update_gauges(self);
}

void start_stop(node_ptr self, shutdown_intent intent) {
  auto& st = self->state;
  log(log_level::info, st.worker.empty() ? "node" : st.worker, ": stopping (", to_string(intent),
      ")");
  st.rules->stop(intent, now(self));
  carry_out(self);
}

/// Asks the leader, wherever it runs, for a rebalance or a refresh: a compare-and-swap update
/// of `_control`, which the leader watches. The update blocks on the store, so it runs in a
/// one-shot detached actor; the answer comes back to the requester.
caf::result<caf::ok_atom> request_from_leader(node_ptr self,
                                              std::function<void(control_record&)> change) {
  auto rp = self->make_response_promise<caf::ok_atom>();
  auto store = self->state.options.group->assignments;
  self->spawn<caf::detached>([store, change, rp](caf::event_based_actor* worker) mutable {
    auto r = update_control(*store, change);
    if (r)
      rp.deliver(caf::ok_atom::value);
    else
      rp.deliver(caf::make_error(r.failure_value().code, r.error()));
    worker->quit();
  });
  return rp;
}

void on_connection(node_ptr self, const connection_event& e) {
  auto& rules = *self->state.rules;
  switch (e.state) {
    case connection_state::disconnected:
    case connection_state::closed:
      rules.store_unreachable(now(self));
      break;
    case connection_state::connected:
    case connection_state::reconnected:
      rules.store_reachable();
      break;
    default:
      return;  // asynchronous errors say nothing about reachability
  }
  carry_out(self);
}

/// The store stopped (or resumed) taking our heartbeats: an outage even while connected.
void on_store_writes(node_ptr self, const store_write_health& h) {
  auto& rules = *self->state.rules;
  if (h.ok) {
    rules.store_reachable();
  } else {
    log(log_level::warning, self->state.worker, ": the store does not take writes to ", h.bucket,
        " (", h.error, ")");
    rules.store_unreachable(now(self));
  }
  carry_out(self);
}

node_status status_of(node_ptr self) {
  auto& st = self->state;
  node_status s;
  s.worker = st.worker;
  s.instance = st.instance;
  s.state = std::string(to_string(st.rules->state()));
  s.leader = st.leadership.leader;
  s.epoch = st.leadership.leader ? st.leadership.epoch : 0;
  s.leader_id = st.leadership.leader_id;
  s.applied_epoch = st.gate->applied().epoch;
  s.applied_version = st.gate->applied().version;
  s.ids_lost = st.ids_lost;
  s.lease_enforced = cfg(self).on_lease_loss == lease_loss_policy::suspend;
  auto t = lease_now(self);
  if (const auto* lease = st.gate->lease()) {
    s.lease = to_string(lease->state());
    s.lease_remaining_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(lease->remaining(t)).count());
    if (auto h = lease->horizon()) s.lease_horizon_ns = h->time_since_epoch().count();
  }
  // Only what may be served at this moment, whatever the last poll said.
  if (lease_allows_serving(self)) {
    s.owned = st.gate->owned();
    s.grants = st.gate->grants();
  } else {
    s.suspended = st.gate->owned();
  }
  return s;
}

/// A late subscriber first gets where things stand, then every change.
void subscribe(node_ptr self, const caf::actor& subscriber) {
  auto& s = self->state;
  s.subscribers.push_back(subscriber);
  self->anon_send(subscriber, s.leadership);
  const auto& gate = *s.gate;
  if (gate.has_applied())
    self->anon_send(subscriber, assignment_update{s.worker,
                                                  gate.owned(),
                                                  gate.owned(),
                                                  {},
                                                  gate.applied().epoch,
                                                  gate.applied().version,
                                                  "snapshot",
                                                  gate.grants()});
  if (!gate.suspended().empty() || (!gate.owned().empty() && !lease_allows_serving(self)))
    self->anon_send(subscriber, ownership_suspended{s.worker, gate.owned(), "lease not valid"});
}

node_actor::behavior_type node(node_ptr self, node_options options) {
  auto& st = self->state;
  st.options = std::move(options);
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  st.host = host;
  node_rules_options policy;
  policy.supervision.max_failures = st.options.max_child_failures;
  policy.supervision.failure_window = st.options.failure_window;
  policy.degraded.threshold = cfg(self).degraded.threshold;
  st.rules = std::make_unique<node_rules>(
      policy, seeded_random(std::hash<std::string>{}(st.instance)), now(self));
  // A failed read-back is tried again after one heartbeat interval.
  st.gate =
      std::make_unique<ownership_gate>(lease_options_of(cfg(self)), cfg(self).heartbeat_interval);
  st.timings = derive_timings(cfg(self));
  if (st.options.subscriber) st.subscribers.push_back(st.options.subscriber);
  // Without a connection (buckets played by scheduled fakes in actor tests) the connection's
  // events are sent to the node directly.
  if (auto conn = st.options.group->conn) {
    int token = conn->add_listener(caf::actor_cast<caf::actor>(self));
    self->attach_functor([conn, token] { conn->remove_listener(token); });
  }
  self->set_exit_handler([=](caf::exit_msg& em) { on_child_exit(self, em); });
  // A subscriber without a handler for one of our notifications answers it with an error
  // (CAF's default handlers reply sec::unexpected_message, also to a plain send). CAF's default
  // error handler would end the node on it, silently: say so and go on.
  self->set_error_handler([=](caf::error& err) {
    log(log_level::warning, self->state.worker.empty() ? "node" : self->state.worker,
        ": ignored an error message (a subscriber that does not handle a notification?): ",
        caf::to_string(err));
  });
  carry_out(self);  // Init -> ClaimingID
  st.children[child_kind::id_claimer] = spawn_child(self, child_kind::id_claimer);
  return {
      [=](const id_claimed& c) { on_id_claimed(self, c); },
      [=](const id_lost& l) { on_id_lost(self, l); },
      [=](const leadership_update& u) { on_leadership(self, u); },
      [=](const group_state_update& g) {
        // The leader's view of the group, mirrored while this node leads.
        self->state.rules->group_state(g.state, now(self));
        carry_out(self);
      },
      [=](assignment_update& u) -> caf::ok_atom {
        if (u.worker == self->state.worker)  // else from the watch of a lost id
          on_assignment(self, std::move(u));
        return caf::ok_atom::value;
      },
      [=](const heartbeat_outcome& o) { on_heartbeat_outcome(self, o); },
      [=](const claim_validity& v) {
        auto& s = self->state;
        if (v.id != s.worker) return;
        s.gate->claim_safe_until(time_point{duration{v.safe_until_ns}});
        carry_out_gate(self);
      },
      [=](lease_tick_atom, std::uint64_t tick) {
        if (tick == self->state.lease_token) carry_out_gate(self);
      },
      [=](readback_atom, std::uint64_t series) { read_assignment(self, series); },
      [=](respawn_atom, int kind) {
        auto k = static_cast<child_kind>(kind);
        auto& s = self->state;
        if (s.children.count(k) || !s.rules->may_restart(k)) return;
        if (auto child = spawn_child(self, k)) s.children[k] = child;
      },
      [=](caf::get_atom) { return status_of(self); },
      [=](const connection_event& e) { on_connection(self, e); },
      [=](const store_write_health& h) { on_store_writes(self, h); },
      [=](caf::tick_atom, std::uint64_t tick) {
        if (self->state.timer.fire(tick)) carry_out(self);
      },
      [=](rebalance_atom) {
        return request_from_leader(self, [](control_record& c) { ++c.rebalance_seq; });
      },
      [=](refresh_atom) {
        return request_from_leader(self, [](control_record& c) { ++c.refresh_seq; });
      },
      [=](caf::subscribe_atom, const caf::actor& subscriber) { subscribe(self, subscriber); },
      [=](caf::subscribe_atom, const caf::actor& subscriber, lease_atom) {
        auto& s = self->state;
        s.lease_subscribers.push_back(subscriber);
        if (!s.told_lease.worker.empty()) self->anon_send(subscriber, s.told_lease);
        subscribe(self, subscriber);
      },
      [=](caf::leave_atom, shutdown_intent intent) -> caf::result<caf::ok_atom> {
        auto& s = self->state;
        auto rp = self->make_response_promise<caf::ok_atom>();
        if (s.rules->stopping()) {
          rp.deliver(caf::ok_atom::value);
          return rp;
        }
        s.stop_promise = rp;
        start_stop(self, intent);
        return rp;
      },
      [=](caf::timeout_atom) {  // the drain timeout
        auto& rules = *self->state.rules;
        if (!rules.draining()) return;
        log(log_level::warning, self->state.worker, ": drain timeout; leaving anyway");
        rules.drain_timed_out(now(self));
        carry_out(self);
      },
  };
}

}  // namespace

result<caf::actor> spawn_node(caf::actor_system& sys, node_options options) {
  if (auto ok = options.config.validate(); !ok) return failure{ok.error()};
  if (!options.group) return failure{"spawn_node: no group buckets given"};
  return caf::actor_cast<caf::actor>(sys.spawn(node, std::move(options)));
}

}  // namespace parti
