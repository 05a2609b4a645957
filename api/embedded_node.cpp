#include "parti/api/embedded_node.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <utility>

#include "parti/api/callback_executor.hpp"
#include "parti/messages/inspect.hpp"
#include "parti/runtime/nats/kv_store.hpp"

namespace parti {

namespace {

/// executor -> subscriber: the revocation `id` was handled; deliver its promise.
using revoke_ack_atom = caf::atom_constant<caf::atom("revokeack")>;
/// facade -> subscriber: the node to watch (its end ends the subscriber).
using watch_node_atom = caf::atom_constant<caf::atom("watchnode")>;

constexpr std::size_t state_count = static_cast<std::size_t>(node_state::failed) + 1;

std::size_t index_of(node_state s) {
  return static_cast<std::size_t>(s);
}

/// Lease times arrive as boot-clock nanoseconds; 0 means not serving.
time_point lease_time(std::int64_t ns) {
  return time_point{duration{ns}};
}

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : separator) + p;
  return out;
}

}  // namespace

std::string_view to_string(embedded_error_kind kind) {
  switch (kind) {
    case embedded_error_kind::configuration_rejected:
      return "configuration_rejected";
    case embedded_error_kind::store_unreachable:
      return "store_unreachable";
    case embedded_error_kind::id_lost:
      return "id_lost";
    case embedded_error_kind::node_failed:
      return "node_failed";
    case embedded_error_kind::callback_failed:
      return "callback_failed";
  }
  return "node_failed";
}

// -- the state shared by the facade and its subscriber actor -------------------------------------

struct embedded_node::core {
  embedded_callbacks callbacks;
  callback_executor executor;

  mutable std::mutex mutex;
  mutable std::condition_variable changed;  // after every change below
  // Guarded by `mutex`; written by the subscriber actor as the node's messages arrive.
  node_state state = node_state::init;
  std::array<std::uint64_t, state_count> entered{};  // per state: how often it was entered
  std::string worker;
  bool id_held = false;
  bool leader_known = false;
  bool assignment_applied = false;
  bool leader = false;
  bool suspended = false;
  std::vector<partition> assigned;
  std::vector<partition_grant> grants;
  std::uint64_t epoch = 0;
  std::uint64_t version = 0;
  time_point valid_until{};
  bool stopping = false;  // stop() asked: the node's end is expected
  /// False once the facade's own actor system is going away: no more messages into it.
  std::shared_ptr<std::atomic<bool>> actors_alive = std::make_shared<std::atomic<bool>>(true);
  bool node_ended = false;
  std::string end_reason;

  explicit core(embedded_callbacks cbs)
      : callbacks(std::move(cbs)),
        executor([on_error = callbacks.on_error](const std::string& what) {
          // A throwing callback: logged and reported; the event counts as handled.
          log(log_level::error, "embedded node: a callback threw: ", what);
          if (on_error)
            on_error(
                embedded_error{embedded_error_kind::callback_failed, "a callback threw: " + what});
        }) {}

  /// Queues `cb(event)` on the executor (nothing without a callback).
  template <class Event>
  void post(const std::function<void(const Event&)>& cb, Event event) {
    if (cb) executor.post([cb, e = std::move(event)] { cb(e); });
  }

  /// Logs `message` and queues on_error.
  void report(embedded_error_kind kind, std::string message) {
    log(kind == embedded_error_kind::configuration_rejected ? log_level::error : log_level::warning,
        "embedded node: ", to_string(kind), ": ", message);
    post(callbacks.on_error, embedded_error{kind, std::move(message)});
  }

  /// start() is done: an id held, a leader known, an assignment applied. Requires `mutex`.
  bool ready() const { return id_held && leader_known && assignment_applied; }

  /// What start() still waits for, for its failure. Requires `mutex`.
  std::string missing() const {
    std::vector<std::string> parts;
    if (!id_held) parts.emplace_back("no worker id held");
    if (!leader_known) parts.emplace_back("no leader known");
    if (!assignment_applied) parts.emplace_back("no assignment applied");
    return join(parts, ", ") + " (state " + std::string(to_string(state)) + ")";
  }
};

// -- the subscriber actor: the node's messages -> views and the executor -------------------------

namespace {

using core_ptr = std::shared_ptr<embedded_node::core>;

struct subscriber_state {
  core_ptr core;
  caf::actor node;
  std::map<std::uint64_t, caf::response_promise> revocations;  // awaiting their callback
  std::uint64_t next_revocation = 0;
  static inline const char* name = "parti.embedded_subscriber";
};

using subscriber_ptr = caf::stateful_actor<subscriber_state>*;

/// The view, then the callback. A revocation is answered only after its callback returned.
caf::result<void> on_assignment(subscriber_ptr self, const assignment_update& u) {
  auto& c = *self->state.core;
  {
    std::lock_guard<std::mutex> guard(c.mutex);
    c.worker = u.worker;
    c.assigned = u.owned;
    c.grants = u.grants;
    c.epoch = u.epoch;
    c.version = u.version;
    c.assignment_applied = true;
  }
  c.changed.notify_all();
  if (u.removed.empty()) {
    c.post(c.callbacks.on_assignment, u);
    return caf::unit;  // a plain send: nobody waits for it
  }
  auto id = ++self->state.next_revocation;
  auto rp = self->make_response_promise();
  auto me = caf::actor_cast<caf::actor>(self);
  auto cb = c.callbacks.on_assignment;
  bool queued = c.executor.post([cb, u, me, id, alive = c.actors_alive] {
    // Acknowledged also when the callback throws (the executor catches it outside this task),
    // and never into an actor system that is gone (a callback that outlived the facade).
    struct acknowledge {
      caf::actor me;
      std::uint64_t id;
      std::shared_ptr<std::atomic<bool>> alive;
      ~acknowledge() {
        if (*alive) caf::anon_send(me, revoke_ack_atom::value, id);
      }
    } ack{me, id, alive};
    if (cb) cb(u);
  });
  if (!queued) {  // stopping: nobody runs callbacks any more
    rp.deliver(caf::unit);
    return rp;
  }
  self->state.revocations.emplace(id, rp);
  return rp;
}

void on_state(subscriber_ptr self, const node_state_update& u) {
  auto& c = *self->state.core;
  auto to = node_state_from_string(u.to);
  {
    std::lock_guard<std::mutex> guard(c.mutex);
    if (to) {
      c.state = *to;
      ++c.entered[index_of(*to)];
      c.id_held = !u.worker.empty() && *to != node_state::init && *to != node_state::claiming_id;
      if (*to == node_state::claiming_id) {
        // A lost id drops the assignment at once; the next id's starts afresh (unsuspended:
        // its lease, not a resume, says when it may be served).
        c.suspended = false;
        c.assigned.clear();
        c.grants.clear();
        c.valid_until = {};
      }
    }
    if (!u.worker.empty()) c.worker = u.worker;
  }
  c.changed.notify_all();
  c.post(c.callbacks.on_state, u);
  if (!to) return;
  // The errors that a state change means, after the change itself.
  auto because = u.reason.empty() ? std::string() : " (" + u.reason + ")";
  if (*to == node_state::claiming_id && u.from != to_string(node_state::init))
    c.report(embedded_error_kind::id_lost, "the node lost its worker id" + because);
  else if (*to == node_state::degraded)
    c.report(embedded_error_kind::store_unreachable, "the node cannot reach the store" + because);
  else if (*to == node_state::failed)
    c.report(embedded_error_kind::node_failed, "the node failed" + because);
}

void on_node_ended(subscriber_ptr self, const caf::error& reason) {
  auto& c = *self->state.core;
  bool expected;
  {
    std::lock_guard<std::mutex> guard(c.mutex);
    c.node_ended = true;
    c.leader = false;
    c.end_reason = reason ? caf::to_string(reason) : "normal exit";
    expected = c.stopping;
  }
  c.changed.notify_all();
  if (!expected) c.report(embedded_error_kind::node_failed, "the node ended without stop()");
  self->state.revocations.clear();  // nobody waits for them any more
  self->quit();
}

caf::behavior subscriber(caf::stateful_actor<subscriber_state>* self, core_ptr c) {
  self->state.core = std::move(c);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source == self->state.node.address()) on_node_ended(self, dm.reason);
  });
  return {
      [=](watch_node_atom, const caf::actor& node) {
        self->state.node = node;
        self->monitor(node);
      },
      [=](const assignment_update& u) -> caf::result<void> { return on_assignment(self, u); },
      [=](revoke_ack_atom, std::uint64_t id) {
        auto& pending = self->state.revocations;
        if (auto it = pending.find(id); it != pending.end()) {
          it->second.deliver(caf::unit);
          pending.erase(it);
        }
      },
      [=](const node_state_update& u) { on_state(self, u); },
      [=](const leadership_update& u) {
        auto& core = *self->state.core;
        {
          std::lock_guard<std::mutex> guard(core.mutex);
          core.leader = u.leader;
          core.leader_known = u.leader || !u.leader_id.empty();
        }
        core.changed.notify_all();
        core.post(core.callbacks.on_leadership, u);
      },
      [=](const ownership_suspended& m) {
        auto& core = *self->state.core;
        {
          std::lock_guard<std::mutex> guard(core.mutex);
          core.suspended = true;
          core.assigned = m.partitions;
        }
        core.changed.notify_all();
        core.post(core.callbacks.on_suspended, m);
      },
      [=](const ownership_resumed& m) {
        auto& core = *self->state.core;
        {
          std::lock_guard<std::mutex> guard(core.mutex);
          core.suspended = false;
          core.assigned = m.partitions;
        }
        core.changed.notify_all();
        core.post(core.callbacks.on_resumed, m);
      },
      [=](const lease_update& u) {  // from the node's on_lease callback: no application callback
        auto& core = *self->state.core;
        std::lock_guard<std::mutex> guard(core.mutex);
        core.valid_until = lease_time(u.serving_until_ns);
      },
  };
}

/// The facade's own actor system: few scheduler threads.
struct facade_system_config : caf::actor_system_config {
  explicit facade_system_config(int threads) { set("scheduler.max-threads", std::max(threads, 1)); }
};

/// Why the group could not be opened: a setting (final) or the store (it may come back).
struct group_failure {
  std::string message;
  bool rejected = false;
};

}  // namespace

// -- the facade -----------------------------------------------------------------------------------

struct embedded_node::impl {
  embedded_options options;
  std::unique_ptr<facade_system_config> own_config;
  std::unique_ptr<caf::actor_system> own_system;
  caf::actor_system* sys = nullptr;
  std::shared_ptr<connection> conn;
  std::shared_ptr<group_buckets> group;
  bool opened_group = false;
  std::shared_ptr<core> shared;
  caf::actor subscriber;
  caf::actor node;
  bool started = false;
  bool finished = false;  // the executor is stopped and our group closed
  bool installed_sink = false;

  explicit impl(embedded_options o)
      : options(std::move(o)), shared(std::make_shared<core>(options.callbacks)) {}

  /// The settings start() checks before it touches the network.
  status check() const {
    if (auto ok = options.config.validate(); !ok) return ok;
    if (!options.leader.partitions)
      return failure{"leader.partitions: a partition source is required"};
    if (!options.group) {
      if (options.nats_url.empty() && options.connection.urls.empty())
        return failure{"nats_url: no NATS URL and no group given"};
      if (auto ok = connection_settings(time_point::max()).validate(); !ok) return ok;
    }
    return done{};
  }

  connection_options connection_settings(std::chrono::steady_clock::time_point deadline) const {
    auto c = options.connection;
    if (!options.nats_url.empty()) c.urls = split_urls(options.nats_url);
    c.request_timeout = options.config.kv_operation_timeout;
    c.retry_on_failed_connect = true;  // a server that comes up before the deadline is fine
    auto now = std::chrono::steady_clock::now();
    if (deadline != time_point::max())
      c.connect_timeout =
          std::clamp<duration>(deadline - now, std::chrono::milliseconds(1), c.connect_timeout);
    return c;
  }

  /// The given group, or a connection and the group opened on it; tries again until the deadline
  /// while the store is not reachable.
  result<std::shared_ptr<group_buckets>, group_failure> obtain_group(
      std::chrono::steady_clock::time_point deadline) {
    if (options.group) return options.group;
    auto settings = connection_settings(deadline);
    auto opened = connection::open(settings);
    if (!opened) return group_failure{"cannot connect to NATS: " + opened.error(), false};
    conn = *opened;
    duration pause = std::chrono::milliseconds(100);
    while (true) {
      auto g = open_group(*sys, conn, options.config, options.metrics);
      if (g) {
        opened_group = true;
        return *g;
      }
      auto code = g.failure_value().code;
      if (code == kv_errc::bucket_mismatch || code == kv_errc::invalid_argument)
        return group_failure{"the group's buckets: " + g.error(), true};
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline)
        return group_failure{
            "the store at " + join(settings.urls, ",") + " is not reachable: " + g.error(), false};
      std::this_thread::sleep_for(std::min<duration>(pause, deadline - now));
      pause = std::min<duration>(pause * 2, std::chrono::seconds(1));
    }
  }

  /// A configuration failure: reported through on_error, and start() fails at once.
  status reject(const std::string& message) {
    shared->report(embedded_error_kind::configuration_rejected, message);
    return failure{"configuration rejected: " + message};
  }

  /// Waits until the node ended or `deadline`; true when it ended.
  bool wait_ended(std::chrono::steady_clock::time_point deadline) const {
    std::unique_lock<std::mutex> lock(shared->mutex);
    return shared->changed.wait_until(lock, deadline, [this] { return shared->node_ended; });
  }

  /// Stops the executor (draining it, bounded) and closes the group we opened. Once.
  bool finish(duration drain_bound) {
    if (finished) return true;
    finished = true;
    bool drained = shared->executor.stop(drain_bound);
    if (opened_group && group) group->close();
    return drained;
  }
};

embedded_node::embedded_node(embedded_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {
  impl_->own_config = std::make_unique<facade_system_config>(impl_->options.scheduler_threads);
  impl_->own_system = std::make_unique<caf::actor_system>(*impl_->own_config);
  impl_->sys = impl_->own_system.get();
}

embedded_node::embedded_node(caf::actor_system& sys, embedded_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {
  impl_->sys = &sys;
}

embedded_node::~embedded_node() {
  auto& m = *impl_;
  if (m.node && !m.finished) {
    auto bound = m.options.config.drain_timeout + std::chrono::seconds(5);
    if (auto ok = stop(m.options.config.shutdown, bound); !ok)
      log(log_level::warning, "embedded node: ", ok.error());
  }
  m.finish(std::chrono::seconds(5));
  m.subscriber = nullptr;
  m.node = nullptr;
  if (m.own_system) *m.shared->actors_alive = false;
  m.own_system.reset();  // waits for our actors (the KV actors of the closed group among them)
  m.group.reset();
  m.conn.reset();
  if (m.installed_sink) set_log_sink(nullptr);
}

status embedded_node::start(duration timeout) {
  return start(std::chrono::steady_clock::now() + timeout);
}

status embedded_node::start(std::chrono::steady_clock::time_point deadline) {
  auto& m = *impl_;
  auto began = std::chrono::steady_clock::now();
  if (m.started) return failure{"start: this embedded_node was started before (it starts once)"};
  m.started = true;
  if (m.options.log) {
    set_log_sink(m.options.log);
    m.installed_sink = true;
  }
  if (auto ok = m.check(); !ok) return m.reject(ok.error());
  auto group = m.obtain_group(deadline);
  if (!group) {
    if (group.failure_value().rejected) return m.reject(group.error());
    return failure{"start: not ready within " + format_duration(deadline - began) +
                   ": no worker id held, no leader known, no assignment applied: " + group.error()};
  }
  m.group = *group;
  m.subscriber = m.sys->spawn(subscriber, m.shared);
  node_options o;
  o.config = m.options.config;
  o.group = m.group;
  o.subscriber = m.subscriber;
  o.leader = make_leader_factory(m.options.leader);
  // The lease reaches the subscriber after the messages sent before it (one sender, in order).
  o.callbacks.on_lease = [sub = m.subscriber](const lease_update& u) { caf::anon_send(sub, u); };
  auto node = spawn_node(*m.sys, std::move(o));
  if (!node) {
    caf::anon_send_exit(m.subscriber, caf::exit_reason::user_shutdown);
    return m.reject(node.error());
  }
  m.node = *node;
  caf::anon_send(m.subscriber, watch_node_atom::value, m.node);
  std::string problem;
  {
    std::unique_lock<std::mutex> lock(m.shared->mutex);
    auto& c = *m.shared;
    c.changed.wait_until(lock, deadline, [&] { return c.ready() || c.node_ended; });
    if (c.node_ended)
      problem = "start: the node ended while starting (" + c.end_reason + "): " + c.missing();
    else if (!c.ready())
      problem = "start: not ready within " + format_duration(deadline - began) + ": " + c.missing();
  }
  if (problem.empty()) return done{};
  // Nothing half-started is left behind: the node leaves (it owns little or nothing yet).
  auto bound = std::min<duration>(m.options.config.drain_timeout, std::chrono::seconds(5));
  if (auto ok = stop(shutdown_intent::drain, bound); !ok) problem += "; " + ok.error();
  return failure{problem};
}

status embedded_node::stop(shutdown_intent intent, duration timeout) {
  auto& m = *impl_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  if (!m.node || m.finished) {
    m.finish(std::chrono::seconds(1));
    return done{};
  }
  {
    std::lock_guard<std::mutex> guard(m.shared->mutex);
    m.shared->stopping = true;
  }
  std::string refused;
  {
    caf::scoped_actor self{*m.sys};
    self->request(m.node, timeout, caf::leave_atom::value, intent)
        .receive([](caf::ok_atom) {}, [&](caf::error& e) { refused = caf::to_string(e); });
  }
  std::string problem;
  if (!m.wait_ended(deadline)) {
    caf::anon_send_exit(m.node, caf::exit_reason::kill);
    m.wait_ended(std::chrono::steady_clock::now() + std::chrono::seconds(2));
    problem = "stop: the node did not finish its " + std::string(to_string(intent)) + " within " +
              format_duration(timeout) + (refused.empty() ? "" : " (" + refused + ")") +
              "; it was ended at once, its partitions move when its lease lapses";
  }
  auto left =
      std::max<duration>(deadline - std::chrono::steady_clock::now(), std::chrono::seconds(1));
  if (!m.finish(left) && problem.empty())
    problem =
        "stop: the node ended, but a callback still runs; the executor thread finishes "
        "the queued callbacks on its own";
  if (!problem.empty()) return failure{problem};
  return done{};
}

bool embedded_node::wait_for(node_state state, duration timeout) const {
  auto& c = *impl_->shared;
  std::unique_lock<std::mutex> lock(c.mutex);
  auto before = c.entered[index_of(state)];
  return c.changed.wait_for(
      lock, timeout, [&] { return c.state == state || c.entered[index_of(state)] != before; });
}

embedded_assignment embedded_node::current_assignment() const {
  auto& c = *impl_->shared;
  std::lock_guard<std::mutex> guard(c.mutex);
  embedded_assignment a;
  a.worker = c.worker;
  a.epoch = c.epoch;
  a.version = c.version;
  if (c.node_ended) return a;
  if (c.suspended) {
    a.suspended = c.assigned;
  } else {
    a.owned = c.assigned;
    a.grants = c.grants;
    a.valid_until = c.valid_until;
  }
  return a;
}

bool embedded_node::is_leader() const {
  auto& c = *impl_->shared;
  std::lock_guard<std::mutex> guard(c.mutex);
  return c.leader && !c.node_ended;
}

node_state embedded_node::state() const {
  auto& c = *impl_->shared;
  std::lock_guard<std::mutex> guard(c.mutex);
  return c.state;
}

caf::actor embedded_node::node() const {
  return impl_->node;
}

std::thread::id embedded_node::executor_thread_id() const {
  return impl_->shared->executor.thread_id();
}

}  // namespace parti
