#include "parti/actors/partition_reader/partition_reader_actor.hpp"

#include <caf/all.hpp>

#include <algorithm>

#include "parti/actors/consumer/handler_pool.hpp"
#include "parti/runtime/consume/consumer_naming.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/nats/connection.hpp"
#include "parti/runtime/nats/pull_inbox.hpp"

namespace parti {

namespace {

using self_ptr = partition_reader_actor::stateful_pointer<partition_reader_state>;
using std::chrono::steady_clock;

/// An actor-form handler's request times out a little after the rules gave it up.
constexpr duration handler_request_margin = std::chrono::milliseconds(100);
/// The longest single wake-up (a lease of "forever" under --on-lease-loss=keep).
constexpr duration longest_wakeup = std::chrono::hours(1);

/// Headers a dead letter does not copy: they would make its publish fail or rewrite the
/// dead-letter stream (JetStream's expectations and roll-ups).
bool dropped_in_dead_letter(const std::string& key) {
  return key.rfind("Nats-Expected", 0) == 0 || key.rfind("Nats-Rollup", 0) == 0;
}

/// Now on the lease's clock: every time the rules see.
time_point now(self_ptr self) {
  return lease_now(self->state.options.lease_clock.get());
}

std::string name_of(self_ptr self) {
  const auto& o = self->state.options;
  return "reader " + o.worker + "/" + partition_label(o.part.keys);
}

void count(self_ptr self, std::atomic<std::uint64_t> reader_counters::*counter,
           std::optional<consume_result> result) {
  auto& o = self->state.options;
  ++((*o.counters).*counter);
  if (result && o.stats) o.stats->count_consumed(o.worker, *result);
}

void carry_out(self_ptr self);
void try_finish(self_ptr self);

// -- the pull inbox -----------------------------------------------------------------------------

/// The route runs on nats.c's thread: it only hands the message on.
void add_route(self_ptr self) {
  auto me = caf::actor_cast<partition_reader_actor>(self);
  auto token =
      self->state.options.inbox->add([me](pulled_message m) { caf::anon_send(me, std::move(m)); },
                                     [me](pull_status s) { caf::anon_send(me, std::move(s)); });
  self->state.route->store(token);
}

void remove_route(self_ptr self) {
  if (auto token = self->state.route->exchange(0)) self->state.options.inbox->remove(token);
}

void on_pulled(self_ptr self, pulled_message m) {
  auto& st = self->state;
  auto meta = parse_ack_subject(m.reply);
  if (!meta) {
    log(log_level::warning, name_of(self), ": a message on ", m.subject,
        " without a JetStream reply subject (", m.reply, "): skipped");
    return;
  }
  if (st.end != partition_reader_state::ending::none || st.rules->finished()) {
    // Released or failed: nothing handles it here any more; the next reader gets it at once.
    if (auto ok = publish_ack(*st.options.conn, m.reply, ack_body::nak); !ok)
      log(log_level::warning, name_of(self), ": a late message was not nak'ed: ", ok.error());
    return;
  }
  const auto id = st.next_id++;
  const auto pull_id = m.pull_id;
  const auto deliveries = meta->delivery_count;
  st.messages.emplace(id, partition_reader_state::held_message{std::move(m), std::move(*meta)});
  st.rules->arrived(pull_id, id, deliveries, now(self));
  carry_out(self);
}

void on_pull_status(self_ptr self, const pull_status& s) {
  self->state.rules->pull_ended(s.pull_id, s.code, s.description);
  carry_out(self);
}

// -- handlers -------------------------------------------------------------------------------

void on_handler_result(self_ptr self, const handler_result& r);

consumed_message to_consumed(self_ptr self, const partition_reader_state::held_message& h,
                             time_point valid_until) {
  const auto& o = self->state.options;
  consumed_message m;
  m.partition = o.part.keys;
  m.subject = h.msg.subject;
  m.data = h.msg.data;
  m.headers = h.msg.headers;
  m.stream_seq = h.meta.stream_seq;
  m.delivery_count = h.meta.delivery_count;
  m.grant = o.grant;
  m.valid_until_ns = valid_until.time_since_epoch().count();
  return m;
}

/// The callback form: on a pool thread, unless its message is no longer valid by then.
void post_callback(self_ptr self, std::uint64_t id, consumed_message m,
                   std::shared_ptr<std::atomic<bool>> cancelled) {
  const auto& o = self->state.options;
  auto pool = o.pool.lock();
  if (!pool) {
    self->send(self, handler_result{id, false, {}});
    return;
  }
  auto me = caf::actor_cast<partition_reader_actor>(self);
  pool->post([me, id, m = std::move(m), cancelled, callback = o.callback,
              lease_clock = o.lease_clock, who = name_of(self)] {
    handler_result r{id, false, {}};
    const bool valid = lease_now(lease_clock.get()).time_since_epoch().count() < m.valid_until_ns;
    if (!cancelled->load() && valid) {
      try {
        r.reply = callback(m);
        r.ok = true;
      } catch (const std::exception& e) {
        log(log_level::warning, who, ": the handler threw on stream seq ", m.stream_seq, ": ",
            e.what());
      } catch (...) {
        log(log_level::warning, who, ": the handler threw on stream seq ", m.stream_seq);
      }
    }
    caf::anon_send(me, r);
  });
}

void run_handler_for(self_ptr self, const run_handler& run) {
  auto& st = self->state;
  auto held = st.messages.find(run.id);
  if (held == st.messages.end()) {  // cannot happen: the rules run only what arrived
    st.rules->handler_done(run.id, false, {}, now(self));
    return;
  }
  const auto& o = st.options;
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  st.calls[run.id] = {steady_clock::now(),
                      now(self) + o.rules.handler_timeout + handler_request_margin, cancelled};
  auto m = to_consumed(self, held->second, run.valid_until);
  if (o.handler) {
    const auto id = run.id;
    self->request(o.handler, o.rules.handler_timeout + handler_request_margin, std::move(m))
        .then(
            [=](const consume_reply& reply) {
              on_handler_result(self, {id, true, reply});
            },
            [=](const caf::error&) {
              on_handler_result(self, {id, false, {}});
            });
    return;
  }
  post_callback(self, run.id, std::move(m), std::move(cancelled));
}

/// A failed reader's late answer: settle as the handler said (nothing else will).
void settle_after_failure(self_ptr self, const handler_result& r);

void on_handler_result(self_ptr self, const handler_result& r) {
  auto& st = self->state;
  auto call = st.calls.find(r.id);
  if (call != st.calls.end()) {
    if (r.ok && st.options.stats)
      st.options.stats->observe_handler(st.options.worker,
                                        steady_clock::now() - call->second.started);
    st.calls.erase(call);
  }
  if (st.end == partition_reader_state::ending::failed) settle_after_failure(self, r);
  if (st.end != partition_reader_state::ending::none) return try_finish(self);
  st.rules->handler_done(r.id, r.ok, r.reply, now(self));
  carry_out(self);
}

// -- settling -------------------------------------------------------------------------------

std::string ack_text(consume_verdict verdict, duration delay) {
  switch (verdict) {
    case consume_verdict::ack:
      return std::string(ack_body::ack);
    case consume_verdict::nak:
      return ack_body::nak_with_delay(delay.count());
    case consume_verdict::in_progress:
      return std::string(ack_body::in_progress);
    case consume_verdict::term:
      return std::string(ack_body::term);
  }
  return std::string(ack_body::nak);
}

/// Publishes the acknowledgement; a failure leaves the message to the server's ack wait.
void publish(self_ptr self, const partition_reader_state::held_message& h, consume_verdict verdict,
             duration delay) {
  auto& o = self->state.options;
  if (auto ok = publish_ack(*o.conn, h.msg.reply, ack_text(verdict, delay)); !ok)
    log(log_level::warning, name_of(self), ": ", to_string(verdict), " of stream seq ",
        h.meta.stream_seq, " not sent (it is delivered again after the ack wait): ", ok.error());
  switch (verdict) {
    case consume_verdict::ack:
      return count(self, &reader_counters::acked, consume_result::acked);
    case consume_verdict::nak:
      return count(self, &reader_counters::naked, consume_result::naked);
    case consume_verdict::term:
      return count(self, &reader_counters::termed, consume_result::termed);
    case consume_verdict::in_progress:
      return;
  }
}

void settle(self_ptr self, const settle_message& s) {
  auto& st = self->state;
  auto held = st.messages.find(s.id);
  if (held == st.messages.end()) return;
  publish(self, held->second, s.verdict, s.delay);
  if (auto call = st.calls.find(s.id); call != st.calls.end()) call->second.cancelled->store(true);
  if (s.forget) st.messages.erase(held);
}

void settle_after_failure(self_ptr self, const handler_result& r) {
  auto& st = self->state;
  auto held = st.messages.find(r.id);
  if (held == st.messages.end()) return;
  auto verdict = r.ok ? r.reply.verdict : consume_verdict::nak;
  // It cannot run again here: an in-progress answer goes back to the server too.
  if (verdict == consume_verdict::in_progress) verdict = consume_verdict::nak;
  publish(self, held->second, verdict, duration::zero());
  st.messages.erase(held);
}

// -- the blocking runner ------------------------------------------------------------------------

void on_call_result(self_ptr self, const reader_call_result& r);

void call(self_ptr self, const blocking_runner_actor& runner, reader_call_request req) {
  const auto what = req.what;
  const auto id = req.id;
  const auto sent_at = req.sent_at;
  self->request(runner, caf::infinite, std::move(req))
      .then(
          [=](const reader_call_result& r) { on_call_result(self, r); },
          [=](const caf::error& err) {
            on_call_result(self, reader_call_result{what, id, false, caf::to_string(err), sent_at});
          });
}

void confirm(self_ptr self, const confirm_progress& p) {
  auto& st = self->state;
  auto held = st.messages.find(p.id);
  if (held == st.messages.end()) return st.rules->progress_failed(p.id);
  reader_call_request req;
  req.what = reader_call::progress;
  req.id = p.id;
  req.subject = held->second.msg.reply;
  req.sent_at = static_cast<std::uint64_t>(p.sent_at.time_since_epoch().count());
  call(self, st.options.acks, std::move(req));
}

void dead_letter(self_ptr self, const dead_letter_message& d) {
  auto& st = self->state;
  const auto& o = st.options;
  auto held = st.messages.find(d.id);
  if (held == st.messages.end()) return st.rules->dead_lettered(d.id, false);
  const auto& h = held->second;
  reader_call_request req;
  req.what = reader_call::dead_letter;
  req.id = d.id;
  req.subject = o.dead_letter_subject;
  req.data = h.msg.data;
  for (const auto& header : h.msg.headers)
    if (!dropped_in_dead_letter(header.first)) req.headers.push_back(header);
  req.headers.emplace_back("Parti-Partition", partition_label(o.part.keys));
  req.headers.emplace_back("Parti-Stream", o.stream);
  req.headers.emplace_back("Parti-Consumer", o.consumer);
  req.headers.emplace_back("Parti-Subject", h.msg.subject);
  req.headers.emplace_back("Parti-Stream-Seq", std::to_string(h.meta.stream_seq));
  req.headers.emplace_back("Parti-Delivery-Count", std::to_string(h.meta.delivery_count));
  req.headers.emplace_back("Parti-Reason", d.reason);
  st.dead_letters.insert(d.id);
  call(self, o.acks, std::move(req));
}

void request_lag(self_ptr self) {
  auto& st = self->state;
  if (st.lag_outstanding || st.end != partition_reader_state::ending::none) return;
  st.lag_outstanding = true;
  reader_call_request req;
  req.what = reader_call::lag;
  req.consumer = st.options.consumer;
  call(self, st.options.admin, std::move(req));
}

void on_call_result(self_ptr self, const reader_call_result& r) {
  auto& st = self->state;
  switch (r.what) {
    case reader_call::attach:
      return;  // answered to the request made at the start
    case reader_call::lag:
      st.lag_outstanding = false;
      if (r.ok) self->send(st.options.listener, partition_lag{st.options.part.keys, r.value});
      return;
    case reader_call::progress:
      if (!r.ok)
        log(log_level::warning, name_of(self), ": an in-progress ack was not confirmed: ", r.error);
      if (st.end != partition_reader_state::ending::none) return try_finish(self);
      if (r.ok)
        st.rules->progress_confirmed(r.id,
                                     time_point(duration(static_cast<std::int64_t>(r.value))));
      else
        st.rules->progress_failed(r.id);
      return carry_out(self);
    case reader_call::dead_letter:
      st.dead_letters.erase(r.id);
      if (r.ok) {
        count(self, &reader_counters::dead_lettered, consume_result::dead_lettered);
      } else {
        log(log_level::warning, name_of(self), ": dead letter not published: ", r.error);
      }
      if (st.end != partition_reader_state::ending::none) {
        // Failed meanwhile: settle it here, nothing else will.
        if (auto held = st.messages.find(r.id); held != st.messages.end()) {
          publish(self, held->second, r.ok ? consume_verdict::term : consume_verdict::nak,
                  duration::zero());
          st.messages.erase(held);
        }
        return try_finish(self);
      }
      st.rules->dead_lettered(r.id, r.ok);
      return carry_out(self);
  }
}

// -- notes, release and failure -----------------------------------------------------------------

void on_note(self_ptr self, const reader_note& n) {
  auto& st = self->state;
  switch (n.what) {
    case reader_note::kind::handled:
      return count(self, &reader_counters::handled, consume_result::handled);
    case reader_note::kind::handler_failed:
      // Still out: timed out (or given up at the release deadline). A callback still queued
      // must not start: its message goes back to the server.
      if (auto c = st.calls.find(n.id); c != st.calls.end()) {
        c->second.cancelled->store(true);
        auto held = st.messages.find(n.id);
        log(log_level::warning, name_of(self), ": the handler of stream seq ",
            held == st.messages.end() ? 0 : held->second.meta.stream_seq,
            " did not answer in time; the message goes back to the server");
      }
      return;
    case reader_note::kind::late_arrival:
      return;
    case reader_note::kind::lost_pull:
      log(log_level::info, name_of(self), ": pull ", n.id, " lost (no status within its expiry)");
      return;
    case reader_note::kind::redelivered:
      ++st.options.counters->redelivered;
      if (st.options.stats) st.options.stats->count_redelivered(st.options.worker);
      return;
    case reader_note::kind::exhausted: {
      count(self, &reader_counters::exhausted, consume_result::exhausted);
      auto held = st.messages.find(n.id);
      log(log_level::warning, name_of(self), ": stream seq ",
          held == st.messages.end() ? 0 : held->second.meta.stream_seq,
          " nak'ed on its last allowed delivery (max_deliver ", st.options.rules.max_deliver,
          ") without a dead-letter subject: the server gives it up");
      return;
    }
  }
}

void on_failed(self_ptr self, const reader_failed& f) {
  auto& st = self->state;
  log(log_level::warning, name_of(self), ": failed: ", f.reason);
  st.end = partition_reader_state::ending::failed;
  st.failure = f.reason;
  remove_route(self);  // the inbox naks what still comes
  // Nothing will handle the rest here: back to the server at once.
  for (auto it = st.messages.begin(); it != st.messages.end();) {
    if (st.calls.count(it->first) != 0 || st.dead_letters.count(it->first) != 0) {
      ++it;
      continue;
    }
    publish(self, it->second, consume_verdict::nak, duration::zero());
    it = st.messages.erase(it);
  }
  for (auto& [id, c] : st.calls) c.cancelled->store(true);
}

void on_released(self_ptr self) {
  auto& st = self->state;
  st.end = partition_reader_state::ending::released;
  ++st.options.counters->releases;
  remove_route(self);
}

/// Quits once no handler call is outstanding, or once those left ran past their own timeout
/// (abandoned: the application's handler does not answer).
void try_finish(self_ptr self) {
  auto& st = self->state;
  const auto t = now(self);
  for (auto it = st.calls.begin(); it != st.calls.end();) {
    if (t < it->second.wait_until) {
      ++it;
      continue;
    }
    log(log_level::warning, name_of(self), ": a handler runs past its timeout; not waited for");
    it = st.calls.erase(it);
  }
  if (!st.calls.empty() ||
      (st.end == partition_reader_state::ending::failed && !st.dead_letters.empty())) {
    time_point next = time_point::max();
    for (const auto& [id, c] : st.calls) next = std::min(next, c.wait_until);
    if (next != time_point::max())
      st.timer.arm(self, self->clock().now() + std::max(next - t, duration::zero()));
    return;
  }
  st.timer.cancel();
  if (st.end == partition_reader_state::ending::released) {
    for (auto& rp : st.leaving) rp.deliver(caf::ok_atom::value);
    st.leaving.clear();
    self->quit();
    return;
  }
  self->quit(caf::make_error(caf::sec::runtime_error, st.failure));
}

// -- the rules ------------------------------------------------------------------------------

void send_pull_for(self_ptr self, const send_pull& p) {
  auto& st = self->state;
  const auto& o = st.options;
  if (auto ok =
          o.inbox->pull(st.route->load(), p.pull_id, o.stream, o.consumer, p.batch, p.expires);
      !ok)
    st.rules->pull_not_sent(p.pull_id, ok.error());
}

/// Carries out one output; false once the reader ended (released or failed).
bool carry_out_one(self_ptr self, const reader_output& out) {
  if (auto* p = std::get_if<send_pull>(&out)) {
    send_pull_for(self, *p);
  } else if (auto* r = std::get_if<run_handler>(&out)) {
    run_handler_for(self, *r);
  } else if (auto* s = std::get_if<settle_message>(&out)) {
    settle(self, *s);
  } else if (auto* c = std::get_if<confirm_progress>(&out)) {
    confirm(self, *c);
  } else if (auto* d = std::get_if<dead_letter_message>(&out)) {
    dead_letter(self, *d);
  } else if (auto* n = std::get_if<reader_note>(&out)) {
    on_note(self, *n);
  } else if (std::holds_alternative<reader_released>(out)) {
    on_released(self);
    return false;
  } else if (auto* f = std::get_if<reader_failed>(&out)) {
    on_failed(self, *f);
    return false;
  }
  return true;
}

/// Carries out what the rules decided, in order, until nothing more is due; then the wake-up.
void carry_out(self_ptr self) {
  auto& st = self->state;
  if (st.end != partition_reader_state::ending::none) return try_finish(self);
  for (auto outputs = st.rules->poll(now(self)); !outputs.empty();
       outputs = st.rules->poll(now(self))) {
    for (const auto& out : outputs)
      if (!carry_out_one(self, out)) return try_finish(self);
  }
  if (auto deadline = st.rules->next_deadline()) {
    // The rules count on the lease's clock, the timer on the actor's: pass the delay over.
    const auto delay = std::clamp(*deadline - now(self), duration::zero(), longest_wakeup);
    st.timer.arm(self, self->clock().now() + delay);
  }
}

// -- start ----------------------------------------------------------------------------------

void on_attached(self_ptr self, const reader_call_result& r) {
  auto& st = self->state;
  if (st.end != partition_reader_state::ending::none || st.rules->finished()) return;
  if (!r.ok) {
    log(log_level::warning, name_of(self), ": cannot attach to consumer ", st.options.consumer,
        ": ", r.error);
    self->quit(caf::make_error(caf::sec::runtime_error, "attach: " + r.error));
    return;
  }
  log(log_level::debug, name_of(self), ": attached to ", st.options.consumer, " (", r.value,
      " pending)");
  st.attached->store(true);
  ++st.options.counters->attached;
  add_route(self);
  self->send(st.options.listener, partition_lag{st.options.part.keys, r.value});
  if (st.options.lag_interval > duration::zero())
    self->delayed_send(self, st.options.lag_interval, lag_atom::value);
  st.rules->start(now(self));
  carry_out(self);
}

void attach(self_ptr self) {
  auto& o = self->state.options;
  reader_call_request req;
  req.what = reader_call::attach;
  req.consumer = o.consumer;
  req.subject = o.filter_subject;
  self->request(o.admin, caf::infinite, std::move(req))
      .then([=](const reader_call_result& r) { on_attached(self, r); },
            [=](const caf::error& err) {
              on_attached(
                  self, reader_call_result{reader_call::attach, 0, false, caf::to_string(err), 0});
            });
}

void on_lease(self_ptr self, const reader_lease& l) {
  auto& st = self->state;
  st.rules->lease(l.until_ns > 0 ? std::optional<time_point>(time_point(duration(l.until_ns)))
                                 : std::nullopt);
  carry_out(self);
}

caf::result<caf::ok_atom> on_leave(self_ptr self) {
  auto& st = self->state;
  auto rp = self->make_response_promise<caf::ok_atom>();
  st.leaving.push_back(rp);
  if (st.end == partition_reader_state::ending::none) {
    st.rules->release(now(self));
    carry_out(self);
  }
  return rp;
}

}  // namespace

partition_reader_actor::behavior_type partition_reader(self_ptr self,
                                                       partition_reader_options options) {
  auto& st = self->state;
  st.options = std::move(options);
  st.rules = std::make_unique<reader_rules>(st.options.rules);
  if (st.options.lease_until_ns > 0)
    st.rules->lease(time_point(duration(st.options.lease_until_ns)));
  // Runs after the state is gone (also when killed): only what it captured.
  self->attach_functor([inbox = st.options.inbox, route = st.route, attached = st.attached,
                        counters = st.options.counters] {
    if (auto token = route->exchange(0)) inbox->remove(token);
    if (attached->exchange(false)) --counters->attached;
  });
  attach(self);
  return {
      [=](pulled_message& m) { on_pulled(self, std::move(m)); },
      [=](const pull_status& s) { on_pull_status(self, s); },
      [=](const reader_lease& l) { on_lease(self, l); },
      [=](const handler_result& r) { on_handler_result(self, r); },
      [=](const reader_call_result& r) { on_call_result(self, r); },
      [=](const partition_grant& g) { self->state.options.grant = g; },
      [=](caf::leave_atom) { return on_leave(self); },
      [=](caf::tick_atom, std::uint64_t token) {
        if (self->state.timer.fire(token)) carry_out(self);
      },
      [=](lag_atom) {
        auto& s = self->state;
        if (s.end != partition_reader_state::ending::none) return;
        request_lag(self);
        self->delayed_send(self, s.options.lag_interval, lag_atom::value);
      },
  };
}

}  // namespace parti
