#include "parti/runtime/nats/watch.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "parti/messages/atoms.hpp"
#include "parti/messages/inspect.hpp"
#include "parti/runtime/revision_filter.hpp"

namespace parti {

/// The thread that blocks in kvWatcher_Next and turns what it gets into messages to `owner`.
class watch_loop {
 public:
  watch_loop(std::shared_ptr<kv_store> store, std::string filter, duration poll,
             stall_options stall, watcher_actor owner)
      : store_(std::move(store)), filter_(std::move(filter)), poll_(poll), stall_(stall) {
    thread_ = std::thread([this, owner] { run(owner); });
  }

  ~watch_loop() {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      stopping_ = true;
      if (watcher_) kvWatcher_Stop(watcher_);  // a blocked Next returns at once
    }
    // The join waits at most for a watch creation in flight (bounded by the request timeout);
    // the watcher actor runs detached, so no scheduler thread waits here.
    if (thread_.joinable()) thread_.join();
    if (watcher_) kvWatcher_Destroy(watcher_);
  }

 private:
  void run(const watcher_actor& owner) {
    kvWatcher* w = nullptr;
    natsStatus s = filter_ == ">" ? kvStore_WatchAll(&w, store_->raw(), nullptr)
                                  : kvStore_Watch(&w, store_->raw(), filter_.c_str(), nullptr);
    if (s != NATS_OK) {
      auto err = kv_error_from(s, "watch " + store_->bucket());
      caf::anon_send(owner, failed_atom::value, err.message);
      return;
    }
    {
      std::lock_guard<std::mutex> guard(mutex_);
      watcher_ = w;
      if (stopping_) return;
    }
    bool initial = true;
    watch_stall_detector stall(stall_, steady_now());
    for (;;) {
      kvEntry* e = nullptr;
      s = kvWatcher_Next(&e, w,
                         std::chrono::duration_cast<std::chrono::milliseconds>(poll_).count());
      if (s == NATS_TIMEOUT) {
        if (auto reason = check_stall(stall)) return fail(owner, *reason);
        continue;
      }
      if (s != NATS_OK) return fail(owner, kv_error_from(s, "watch " + store_->bucket()).message);
      if (e == nullptr) {  // the marker after the current values
        initial = false;
        stall.caught_up(steady_now());
        caf::anon_send(owner, watch_ready{store_->bucket(), false, {}, 0});
        continue;
      }
      auto entry = to_entry(e);
      kvEntry_Destroy(e);
      stall.delivered(entry.revision, steady_now());
      caf::anon_send(owner, watch_update{store_->bucket(), std::move(entry), initial});
    }
  }

  static time_point steady_now() { return std::chrono::steady_clock::now(); }

  void fail(const watcher_actor& owner, const std::string& reason) {
    std::lock_guard<std::mutex> guard(mutex_);
    if (!stopping_) caf::anon_send(owner, failed_atom::value, reason);
  }

  /// Probes the store when the watch has been silent; a reason when the watch is stalled.
  std::optional<std::string> check_stall(watch_stall_detector& stall) {
    if (!stall.probe_due(steady_now())) return std::nullopt;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      if (stopping_) return std::nullopt;
    }
    auto latest = store_->latest_revision(filter_);
    auto now = steady_now();
    if (!latest) {
      stall.probe_failed(now);
      return std::nullopt;
    }
    if (stall.probed(*latest, now) != stall_verdict::stalled) return std::nullopt;
    auto silent_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - stall.last_delivery()).count();
    return "watch " + store_->bucket() + " stalled: the store is at revision " +
           std::to_string(*latest) + ", the watch delivered up to " +
           std::to_string(stall.delivered_up_to()) + " and nothing for " +
           std::to_string(silent_ms) + " ms";
  }

  std::shared_ptr<kv_store> store_;
  std::string filter_;
  duration poll_;
  stall_options stall_;
  std::mutex mutex_;
  kvWatcher* watcher_ = nullptr;
  bool stopping_ = false;
  std::thread thread_;
};

watcher_state::~watcher_state() = default;

namespace {

using watcher_ptr = watcher_actor::stateful_pointer<watcher_state>;
using self_ptr = watch_actor::stateful_pointer<watch_state>;

/// Owns one watch_loop and forwards its messages to the supervisor. Fails (and dies with an
/// error) when the watch fails.
watcher_actor::behavior_type watcher(watcher_ptr self, std::shared_ptr<kv_store> store,
                                     watch_options options, watch_actor parent) {
  self->state.loop = std::make_unique<watch_loop>(std::move(store), options.key_filter,
                                                  options.poll, options.stall, self);
  return {
      [=](watch_update& u) { self->send(parent, std::move(u)); },
      [=](watch_ready& r) { self->send(parent, std::move(r)); },
      [=](failed_atom, const std::string& reason) {
        self->quit(caf::make_error(caf::sec::runtime_error, reason));
      },
  };
}

void start_child(self_ptr self) {
  auto& st = self->state;
  st.replaying = true;
  st.replayed.clear();
  st.child =
      self->spawn<caf::detached + caf::linked>(watcher, st.store, st.options, watch_actor{self});
}

/// Messages of a watcher that was replaced (resync) may still be in the mailbox: their entries
/// are real data (the revision filter sorts them out) but they say nothing about the replay.
bool from_current_child(self_ptr self) {
  return self->state.child && self->current_sender() == self->state.child.address();
}

void on_update(self_ptr self, watch_update& u) {
  auto& st = self->state;
  if (st.replaying && from_current_child(self)) st.replayed.insert(u.entry.key);
  if (!st.delivered.accept(u.entry.key, u.entry.revision)) {
    ++st.stats.duplicates_dropped;
    return;
  }
  ++st.stats.delivered;
  self->send(st.consumer, std::move(u));
}

void on_ready(self_ptr self, watch_ready& r) {
  auto& st = self->state;
  if (!from_current_child(self)) return;
  st.replaying = false;
  st.retry->reset();  // the watch works again: the next failure starts from a short delay
  r.resumed = st.stats.restarts > 0;
  r.restarts = st.stats.restarts;
  if (r.resumed) r.present.assign(st.replayed.begin(), st.replayed.end());
  st.replayed.clear();
  self->send(st.consumer, std::move(r));
}

void on_child_exit(self_ptr self, const caf::exit_msg& em) {
  auto& st = self->state;
  ++st.stats.failures;
  std::string reason = caf::to_string(em.reason);
  if (st.on_failure) st.on_failure(reason);
  st.child = nullptr;
  self->delayed_send(self, st.retry->next(), rewatch_atom::value);
}

/// Replays current values now (e.g. after an outage, to re-validate what we hold): a new watch
/// replaces the old one; what the consumer already has is not delivered again.
void resync(self_ptr self) {
  auto& st = self->state;
  if (st.child) {
    self->unlink_from(st.child);
    self->send_exit(st.child, caf::exit_reason::user_shutdown);
  }
  ++st.stats.restarts;
  start_child(self);
}

watch_actor::behavior_type watch_supervisor(self_ptr self, std::shared_ptr<kv_store> store,
                                            watch_consumer consumer, watch_options options,
                                            std::function<void(const std::string&)> on_failure) {
  auto& st = self->state;
  st.keep_alive = self;
  st.store = std::move(store);
  st.consumer = consumer;
  st.options = std::move(options);
  st.on_failure = std::move(on_failure);
  auto seed =
      st.options.seed
          ? st.options.seed
          : static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  st.retry = std::make_unique<backoff>(st.options.restart_backoff, seeded_random(seed));
  // Trap exits: a failed watcher is restarted; anything else (shutdown) ends us and, through
  // the link, the watcher too.
  self->set_exit_handler([=](caf::exit_msg& em) {
    if (self->state.child && em.source == self->state.child.address()) {
      on_child_exit(self, em);
    } else {
      self->quit(em.reason);
    }
  });
  self->monitor(consumer);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source == self->state.consumer.address()) self->quit(caf::exit_reason::user_shutdown);
  });
  start_child(self);
  return {
      [=](watch_update& u) { on_update(self, u); },
      [=](watch_ready& r) { on_ready(self, r); },
      [=](rewatch_atom) {
        ++self->state.stats.restarts;
        start_child(self);
      },
      [=](resync_atom) { resync(self); },
      [=](stats_atom) { return self->state.stats; },
  };
}

}  // namespace

watch_actor spawn_watch(caf::actor_system& sys, std::shared_ptr<kv_store> store,
                        watch_consumer consumer, watch_options options,
                        std::function<void(const std::string&)> on_failure) {
  return sys.spawn(watch_supervisor, std::move(store), std::move(consumer), std::move(options),
                   std::move(on_failure));
}

std::function<void(const std::string&)> count_watch_failures(std::shared_ptr<metrics> m,
                                                             std::string worker,
                                                             std::string bucket) {
  if (m) m->init_watcher(worker, bucket);
  return [m, worker, bucket](const std::string&) {
    if (!m) return;
    m->count_watcher_failure(worker, bucket);
    m->count_watcher_restart(worker, bucket);  // the supervisor always starts a new watch
  };
}

}  // namespace parti
