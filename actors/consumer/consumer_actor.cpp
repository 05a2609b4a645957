#include "parti/actors/consumer/consumer_actor.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <random>

#include "parti/actors/consumer/blocking_runner_actor.hpp"
#include "parti/actors/consumer/handler_pool.hpp"
#include "parti/actors/consumer/reader_supervision.hpp"
#include "parti/actors/partition_reader/partition_reader_actor.hpp"
#include "parti/messages/interfaces.hpp"
#include "parti/runtime/consume/consumer_naming.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/nats/connection.hpp"
#include "parti/runtime/nats/pull_inbox.hpp"

namespace parti {

namespace {

struct consumer_state {
  consumer_options options;
  std::shared_ptr<pull_inbox> inbox;
  std::shared_ptr<reader_counters> counters = std::make_shared<reader_counters>();
  // Destroyed after the pool (members go in reverse order): the revocations still open when the
  // consumer ends are answered only once no callback runs any more (finish()).
  std::map<std::uint64_t, caf::typed_response_promise<caf::ok_atom>> revocations;
  std::uint64_t next_revocation = 1;
  std::shared_ptr<handler_pool> pool;  // the callback form's threads; null for the actor form
  std::unique_ptr<reader_supervision> supervision;
  std::optional<subject_template> subjects;
  reader_settings rules;
  std::string prefix;
  std::string worker;           // from the node's assignments: the metrics label
  blocking_runner_actor admin;  // attach, lag
  blocking_runner_actor acks;   // in-progress confirmations, dead letters
  std::map<partition_keys, partition_reader_actor> readers;
  std::map<caf::actor_addr, partition_keys> reader_at;
  std::int64_t lease_until_ns = 0;  // what the readers were told (boot clock; 0: not serving)
  std::map<partition_keys, std::uint64_t> lags;
  bool stopping = false;  // the node is gone: release everything, then quit
  static inline const char* name = "parti.consumer";
};

using self_ptr = consumer_actor::stateful_pointer<consumer_state>;

/// The supervision's clock: the actor clock, which its restart timers run on.
time_point now(self_ptr self) {
  return self->clock().now();
}

reader_settings reader_settings_of(const consume_config& c) {
  reader_settings s;
  s.pull_batch = c.pull_batch_in_use();
  s.pull_expiry = c.pull_expiry;
  s.pull_grace = c.pull_grace;
  s.ack_wait = c.consumer.ack_wait;
  s.ack_margin = c.ack_margin;
  s.handler_timeout = c.handler_timeout;
  s.release_timeout = c.release_timeout;
  s.progress_interval = c.progress_interval;
  s.in_flight = c.in_flight;
  s.max_deliver = c.consumer.max_deliver;
  s.dead_letter = !c.dead_letter_subject.empty();
  return s;
}

std::string name_of(self_ptr self) {
  return "consumer " + (self->state.worker.empty() ? std::string("-") : self->state.worker);
}

// -- metrics --------------------------------------------------------------------------------

/// The partitions whose lags are shown one by one: the largest lag_top_k, or every one.
std::vector<std::pair<std::string, std::uint64_t>> shown_lags(self_ptr self) {
  auto& st = self->state;
  std::vector<std::pair<std::string, std::uint64_t>> all;
  for (const auto& [keys, pending] : st.lags) all.emplace_back(partition_label(keys), pending);
  if (st.options.config.per_partition_metrics) return all;
  const auto k =
      std::min(all.size(), static_cast<std::size_t>(std::max(st.options.config.lag_top_k, 0)));
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(),
                    [](const auto& a, const auto& b) {
                      return a.second > b.second || (a.second == b.second && a.first < b.first);
                    });
  all.resize(k);
  return all;
}

void update_gauges(self_ptr self) {
  auto& st = self->state;
  if (!st.options.stats || st.worker.empty()) return;
  st.options.stats->set_consumers_attached(st.worker, st.counters->attached.load());
  std::uint64_t total = 0;
  for (const auto& [keys, pending] : st.lags) total += pending;
  st.options.stats->set_consume_lag(st.worker, total, shown_lags(self));
}

consumer_stats stats_of(self_ptr self) {
  auto& st = self->state;
  const auto& c = *st.counters;
  consumer_stats s;
  s.readers = st.supervision->readers();
  s.attached = c.attached;
  s.handled = c.handled;
  s.acked = c.acked;
  s.naked = c.naked;
  s.termed = c.termed;
  s.redelivered = c.redelivered;
  s.dead_lettered = c.dead_lettered;
  s.reader_restarts = st.supervision->restarts();
  s.releases = c.releases;
  s.exhausted = c.exhausted;
  return s;
}

// -- readers --------------------------------------------------------------------------------

void start(self_ptr self, const start_reader& s) {
  auto& st = self->state;
  const auto& c = st.options.config;
  auto subject = st.subjects->render(s.part);
  if (!subject) {
    log(log_level::error, name_of(self), ": partition ", partition_label(s.part.keys),
        " cannot be read: ", subject.error());
    st.supervision->refused(s.part.keys);
    return;
  }
  if (s.restart && st.options.stats) st.options.stats->count_reader_restart(st.worker);
  partition_reader_options o;
  o.part = s.part;
  o.grant = s.grant;
  o.stream = c.stream;
  o.consumer = consumer_name(st.prefix, s.part);
  o.filter_subject = *subject;
  o.dead_letter_subject = c.dead_letter_subject;
  o.worker = st.worker;
  o.rules = st.rules;
  o.lag_interval = c.lag_interval;
  o.lease_until_ns = st.lease_until_ns;
  o.conn = st.options.conn;
  o.inbox = st.inbox;
  o.admin = st.admin;
  o.acks = st.acks;
  if (st.options.handler) o.handler = caf::actor_cast<message_handler_actor>(st.options.handler);
  o.pool = st.pool;
  o.callback = st.options.callback;
  o.listener = caf::actor_cast<reader_listener>(self);
  o.counters = st.counters;
  o.stats = st.options.stats;
  o.lease_clock = st.options.lease_clock;
  auto reader = self->spawn<caf::linked>(partition_reader, std::move(o));
  st.readers[s.part.keys] = reader;
  st.reader_at[reader.address()] = s.part.keys;
}

/// Asks the reader to release; one that does not end within the node's hand-off timeout is
/// killed (the node stops heartbeating by then anyway).
void release(self_ptr self, const partition_keys& keys) {
  auto& st = self->state;
  auto it = st.readers.find(keys);
  if (it == st.readers.end()) return;
  auto reader = it->second;
  self->request(reader, st.options.node.hand_off_timeout, caf::leave_atom::value)
      .then([](caf::ok_atom) {},
            [=](const caf::error& err) {
              if (err != caf::sec::request_timeout) return;  // it ended: its exit tells
              log(log_level::error, name_of(self), ": the reader of ", partition_label(keys),
                  " did not release within the hand-off timeout; killed");
              self->send_exit(reader, caf::exit_reason::kill);
            });
}

void finish(self_ptr self, const caf::error& reason);

/// Carries out what the supervision decided, in order, until nothing more is due.
void carry_out(self_ptr self) {
  auto& st = self->state;
  for (auto outputs = st.supervision->take(); !outputs.empty(); outputs = st.supervision->take()) {
    for (const auto& out : outputs) {
      if (auto* s = std::get_if<start_reader>(&out)) {
        start(self, *s);
      } else if (auto* r = std::get_if<release_reader>(&out)) {
        release(self, r->keys);
      } else if (auto* later = std::get_if<restart_later>(&out)) {
        self->delayed_send(self, later->after, respawn_atom::value, later->ticket);
      } else if (auto* g = std::get_if<regrant_reader>(&out)) {
        if (auto it = st.readers.find(g->grant.keys); it != st.readers.end())
          self->send(it->second, g->grant);
      } else if (auto* ack = std::get_if<acknowledge_revocation>(&out)) {
        if (auto it = st.revocations.find(ack->ticket); it != st.revocations.end()) {
          it->second.deliver(caf::ok_atom::value);
          st.revocations.erase(it);
        }
      }
    }
  }
  if (st.stopping && st.supervision->readers() == 0) finish(self, caf::error{});
}

void on_reader_exit(self_ptr self, const partition_keys& keys, const caf::error& reason) {
  auto& st = self->state;
  st.readers.erase(keys);
  st.lags.erase(keys);
  if (!reason) {
    st.supervision->released(keys, now(self));
  } else {
    if (!st.stopping)
      log(log_level::warning, name_of(self), ": the reader of ", partition_label(keys),
          " ended: ", caf::to_string(reason));
    st.supervision->failed(keys, now(self));
  }
  carry_out(self);
  update_gauges(self);
}

/// Ends the consumer: the callbacks still running are waited for (the pool stops), then the
/// revocations still open are answered (nothing here serves their partitions any more).
void finish(self_ptr self, const caf::error& reason) {
  auto& st = self->state;
  st.pool.reset();
  for (auto& [ticket, rp] : st.revocations) rp.deliver(caf::ok_atom::value);
  st.revocations.clear();
  if (reason)
    self->quit(reason);
  else
    self->quit();
}

// -- the node's notifications ---------------------------------------------------------------

caf::result<caf::ok_atom> on_assignment(self_ptr self, const assignment_update& u) {
  auto& st = self->state;
  if (!u.worker.empty()) st.worker = u.worker;
  // The node sends a change that takes partitions away as a request, answered once their
  // readers are gone (so the next owner starts after this one finished), and every other one as
  // a plain message with itself as the sender: that one gets no answer (CAF would send it as a
  // message the node does not expect), so its promise is never delivered.
  auto rp = self->make_response_promise<caf::ok_atom>();
  const bool request = self->current_mailbox_element()->mid.is_request();
  std::optional<std::uint64_t> ticket;
  if (request && !u.removed.empty() && !st.stopping) {
    ticket = st.next_revocation++;
    st.revocations.emplace(*ticket, rp);
  } else if (request) {
    rp.deliver(caf::ok_atom::value);
  }
  st.supervision->assignment(u, ticket, now(self));
  carry_out(self);
  update_gauges(self);
  return rp;
}

/// The lease every reader serves under (0: none).
void set_lease(self_ptr self, std::int64_t until_ns) {
  auto& st = self->state;
  if (until_ns == st.lease_until_ns) return;
  st.lease_until_ns = until_ns;
  for (auto& [keys, reader] : st.readers) self->send(reader, reader_lease{until_ns});
}

void on_node_down(self_ptr self) {
  auto& st = self->state;
  if (st.stopping) return;
  log(log_level::info, name_of(self), ": the node ended; releasing every partition");
  st.stopping = true;
  st.supervision->release_all();
  carry_out(self);
}

void on_exit(self_ptr self, const caf::exit_msg& em) {
  auto& st = self->state;
  if (auto it = st.reader_at.find(em.source); it != st.reader_at.end()) {
    auto keys = it->second;
    st.reader_at.erase(it);
    return on_reader_exit(self, keys, em.reason);
  }
  if (em.source == st.admin.address() || em.source == st.acks.address())
    log(log_level::error, name_of(self),
        ": its blocking runner ended: ", caf::to_string(em.reason));
  // Our own shutdown (we trap exits, so we must quit ourselves), or a runner gone.
  finish(self, em.reason);
}

consumer_actor::behavior_type consumer(self_ptr self, consumer_options options,
                                       std::shared_ptr<pull_inbox> inbox) {
  auto& st = self->state;
  st.options = std::move(options);
  st.inbox = std::move(inbox);
  const auto& c = st.options.config;
  st.rules = reader_settings_of(c);
  st.prefix = c.prefix_for(st.options.node);
  st.subjects = *subject_template::parse(c.subject_template);  // validated by spawn_consumer
  std::random_device seed;
  st.supervision = std::make_unique<reader_supervision>(c.restart_backoff, seeded_random(seed()));
  if (st.options.callback) st.pool = std::make_shared<handler_pool>(c.handler_threads);
  blocking_runner_settings runner{st.options.conn, c.stream, c.consumer,
                                  st.options.conn->options().request_timeout};
  st.admin = self->spawn<caf::linked + caf::detached>(blocking_runner, runner);
  st.acks = self->spawn<caf::linked + caf::detached>(blocking_runner, runner);
  self->set_exit_handler([=](caf::exit_msg& em) { on_exit(self, em); });
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source == self->state.options.node_handle.address()) on_node_down(self);
  });
  self->monitor(st.options.node_handle);
  // Every notification, the lease too; the current assignment comes at once as a snapshot.
  self->anon_send(st.options.node_handle, caf::subscribe_atom::value,
                  caf::actor_cast<caf::actor>(self), lease_atom::value);
  if (c.lag_interval > duration::zero()) self->delayed_send(self, c.lag_interval, lag_atom::value);
  return {
      [=](const assignment_update& u) { return on_assignment(self, u); },
      [=](const ownership_suspended&) { set_lease(self, 0); },
      // Serving again comes with the next lease_update, which the node sends right after.
      [=](const ownership_resumed&) {},
      [=](const lease_update& u) { set_lease(self, u.serving_until_ns); },
      [=](const leadership_update&) {},
      [=](const node_state_update&) {},
      [=](const partition_lag& l) {
        auto& s = self->state;
        if (s.readers.count(l.partition) != 0) s.lags[l.partition] = l.pending;
      },
      [=](respawn_atom, std::uint64_t ticket) {
        self->state.supervision->restart_due(ticket, now(self));
        carry_out(self);
      },
      [=](lag_atom) {
        update_gauges(self);
        self->delayed_send(self, self->state.options.config.lag_interval, lag_atom::value);
      },
      [=](caf::get_atom) { return stats_of(self); },
  };
}

}  // namespace

result<caf::actor> spawn_consumer(caf::actor_system& sys, consumer_options options) {
  if (auto ok = options.config.validate(options.node); !ok) return failure{ok.error()};
  if (static_cast<bool>(options.handler) == static_cast<bool>(options.callback))
    return failure{"spawn_consumer: give exactly one handler, an actor or a callback"};
  if (!options.conn) return failure{"spawn_consumer: no connection"};
  if (!options.node_handle) return failure{"spawn_consumer: no node to follow"};
  auto inbox = pull_inbox::open(options.conn);
  if (!inbox) return failure{"spawn_consumer: " + inbox.error()};
  return caf::actor_cast<caf::actor>(sys.spawn(consumer, std::move(options), std::move(*inbox)));
}

}  // namespace parti
