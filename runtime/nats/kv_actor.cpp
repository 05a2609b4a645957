#include "parti/runtime/nats/kv_actor.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <thread>

namespace parti {

namespace {

time_point now() {
  return std::chrono::steady_clock::now();
}

/// The operations of a kv_actor (the names its metrics carry) and the error kinds they may end
/// with, so that every error counter exists at 0 before the first error.
const std::vector<std::string_view> operation_names{
    "get", "put", "create", "update", "delete", "purge", "keys", "get_all", "write_many"};
const std::vector<std::string_view> retried_operation_names{"get", "keys", "get_all"};

std::vector<std::string_view> error_kind_names() {
  std::vector<std::string_view> out;
  for (auto code : {kv_errc::not_found, kv_errc::key_exists, kv_errc::wrong_revision,
                    kv_errc::outcome_unknown, kv_errc::not_connected, kv_errc::bucket_mismatch,
                    kv_errc::invalid_argument, kv_errc::io_error})
    out.emplace_back(to_string(code));
  return out;
}

/// What every operation of one kv_actor goes through.
class guard {
 public:
  /// `shard`: which of the bucket's shards this is (its breaker's `shard` label).
  guard(std::shared_ptr<kv_store> store, kv_actor_options options, int shard)
      : store_(std::move(store)),
        options_(std::move(options)),
        shard_(std::to_string(shard)),
        breaker_(options_.breaker,
                 [this](breaker_state from, breaker_state to, time_point) {
                   if (options_.metrics)
                     options_.metrics->count_breaker_transition(breaker(), from, to);
                 }),
        retry_(options_.read_retry, seeded_random(std::hash<std::string>{}(store_->bucket()))) {
    if (options_.metrics) {
      options_.metrics->init_breaker(breaker());
      options_.metrics->init_kv(worker(), operation_names, error_kind_names(),
                                retried_operation_names);
    }
    // A reconnect proves the store reachable: do not fail calls fast any longer.
    listener_ = store_->conn()->add_listener([this](const connection_event& e) {
      if (e.state == connection_state::reconnected || e.state == connection_state::connected)
        breaker_.on_reachable(now());
    });
  }
  ~guard() { store_->conn()->remove_listener(listener_); }
  guard(const guard&) = delete;
  guard& operator=(const guard&) = delete;

  kv_store& store() { return *store_; }

  /// Runs `op` (named `name`) under the breaker; reads (`idempotent`) are retried on
  /// connectivity errors with backoff. The actor runs on its own thread, so the backoff may
  /// sleep.
  template <class Op>
  auto run(const char* name, bool idempotent, Op&& op) -> decltype(op()) {
    auto ticket = breaker_.try_acquire(now());
    if (!ticket) {
      count_call(breaker_call_result::rejected);
      return kv_error{kv_errc::not_connected,
                      std::string(name) + " " + store_->bucket() +
                          ": circuit breaker open (the store was unreachable)"};
    }
    auto start = now();
    auto r = op();
    if (idempotent && !r && is_connectivity_error(r.failure_value().code))
      r = retry(name, op, std::move(r));
    settle(*ticket, name, r ? nullptr : &r.failure_value(), now() - start);
    return r;
  }

 private:
  /// Retries after the first failure `r` until success, a non-connectivity error, or the
  /// policy gives up; returns the last outcome.
  template <class Op, class Result>
  Result retry(const char* name, Op& op, Result r) {
    retry_.reset();
    for (;;) {  // each failure, the first one included, counts as an attempt
      auto decision = retry_.on_failure(failure{r.error()});
      if (!decision.retry) {
        if (options_.metrics) options_.metrics->count_retry_exhausted(worker(), name);
        return r;
      }
      if (options_.metrics) options_.metrics->count_retry_attempt(worker(), name);
      std::this_thread::sleep_for(decision.delay);
      r = op();
      if (r || !is_connectivity_error(r.failure_value().code)) return r;
    }
  }

  void settle(const circuit_breaker::ticket& t, const char* name, const kv_error* error,
              duration took) {
    bool unreachable = error && is_connectivity_error(error->code);
    if (unreachable) {
      breaker_.on_failure(t, now());
      count_call(breaker_call_result::failure);
    } else {
      breaker_.on_success(t, now());  // the store answered, even if the answer is "no"
      count_call(breaker_call_result::success);
    }
    if (!options_.metrics) return;
    options_.metrics->observe_kv_operation(worker(), name, took);
    if (error) options_.metrics->count_kv_error(worker(), name, to_string(error->code));
  }

  void count_call(breaker_call_result r) {
    if (options_.metrics) options_.metrics->count_breaker_call(breaker(), r);
  }

  const std::string& worker() const { return options_.metrics_worker; }
  metrics::breaker_id breaker() const { return {worker(), store_->bucket(), shard_}; }

  std::shared_ptr<kv_store> store_;
  kv_actor_options options_;
  const std::string shard_;
  circuit_breaker breaker_;
  retrier retry_;
  int listener_ = 0;
};

template <class T>
caf::result<T> reply(kv_result<T>&& r) {
  if (r) return std::move(r).value();
  const auto& e = r.failure_value();
  return caf::make_error(e.code, e.message);
}

caf::result<caf::ok_atom> reply_ok(kv_result<done>&& r) {
  if (r) return caf::ok_atom::value;
  const auto& e = r.failure_value();
  return caf::make_error(e.code, e.message);
}

kv_actor::behavior_type kv_actor_impl(kv_actor::pointer, std::shared_ptr<guard> g) {
  auto& s = g->store();
  return {
      [=, &s](caf::get_atom, const std::string& key) {
        return reply(g->run("get", true, [&] { return s.get(key); }));
      },
      [=, &s](caf::put_atom, const std::string& key, const std::string& value) {
        return reply(g->run("put", false, [&] { return s.put(key, value); }));
      },
      [=, &s](create_atom, const std::string& key, const std::string& value) {
        return reply(g->run("create", false, [&] { return s.create(key, value); }));
      },
      [=, &s](caf::update_atom, const std::string& key, const std::string& value,
              std::uint64_t last) {
        return reply(g->run("update", false, [&] { return s.update(key, value, last); }));
      },
      [=, &s](caf::delete_atom, const std::string& key) {
        return reply_ok(g->run("delete", false, [&] { return s.erase(key); }));
      },
      [=, &s](purge_atom, const std::string& key) {
        return reply_ok(g->run("purge", false, [&] { return s.purge(key); }));
      },
      [=, &s](keys_atom) { return reply(g->run("keys", true, [&] { return s.keys(); })); },
      [=, &s](caf::get_atom, keys_atom) {
        return reply(g->run("get_all", true, [&] { return s.get_all(); }));
      },
      [=, &s](write_atom, const std::vector<kv_write>& writes) {
        return reply(g->run("write_many", false, [&] { return s.write_many(writes); }));
      },
  };
}

using key_list_promise = caf::typed_response_promise<std::vector<std::string>>;

/// Lists the keys once for everyone who asks while a listing runs (single flight). A listing
/// costs the server a consumer and a message per key; a fleet starting in one process asks for
/// it once per node at the same moment. Its only user, the id claimer, takes a listing as a hint
/// (its Create decides), so one that started a moment before the request is as good.
void list_keys_shared(kv_actor::pointer self, const kv_actor& shard,
                      const std::shared_ptr<std::vector<key_list_promise>>& waiting,
                      key_list_promise rp) {
  waiting->push_back(std::move(rp));
  if (waiting->size() > 1) return;  // joins the listing in flight
  auto answer_all = [waiting](auto&&... result) {
    auto promises = std::move(*waiting);
    waiting->clear();
    for (auto& p : promises) p.deliver(result...);
  };
  self->request(shard, caf::infinite, keys_atom::value)
      .then([=](const std::vector<std::string>& keys) { answer_all(keys); },
            [=](const caf::error& err) { answer_all(err); });
}

/// Routes each request to the shard of its key; the shards end with the router (linked).
kv_actor::behavior_type kv_router(kv_actor::pointer self, std::vector<kv_actor> shards) {
  for (auto& s : shards) self->link_to(s);
  auto shard = [shards](const std::string& key) {
    return shards[std::hash<std::string>{}(key) % shards.size()];
  };
  auto first = shards.front();
  auto listing = std::make_shared<std::vector<key_list_promise>>();
  return {
      [=](caf::get_atom a, const std::string& key) { return self->delegate(shard(key), a, key); },
      [=](caf::put_atom a, const std::string& key, const std::string& value) {
        return self->delegate(shard(key), a, key, value);
      },
      [=](create_atom a, const std::string& key, const std::string& value) {
        return self->delegate(shard(key), a, key, value);
      },
      [=](caf::update_atom a, const std::string& key, const std::string& value,
          std::uint64_t last) { return self->delegate(shard(key), a, key, value, last); },
      [=](caf::delete_atom a, const std::string& key) {
        return self->delegate(shard(key), a, key);
      },
      [=](purge_atom a, const std::string& key) { return self->delegate(shard(key), a, key); },
      [=](keys_atom) -> caf::result<std::vector<std::string>> {
        auto rp = self->make_response_promise<std::vector<std::string>>();
        list_keys_shared(self, first, listing, rp);
        return rp;
      },
      [=](caf::get_atom a, keys_atom k) { return self->delegate(first, a, k); },
      [=](write_atom a, const std::vector<kv_write>& writes) {
        return self->delegate(first, a, writes);
      },
  };
}

}  // namespace

kv_actor spawn_kv_actor(caf::actor_system& sys, std::shared_ptr<kv_store> store,
                        kv_actor_options options) {
  auto count = std::max(1, options.shards);
  std::vector<kv_actor> shards;
  for (int i = 0; i < count; ++i)
    shards.push_back(
        sys.spawn<caf::detached>(kv_actor_impl, std::make_shared<guard>(store, options, i)));
  return sys.spawn(kv_router, std::move(shards));
}

bool is_kv_error(const caf::error& err, kv_errc code) {
  return err.category() == caf::atom("parti_kv") && err.code() == static_cast<uint8_t>(code);
}

bool is_connectivity_error(kv_errc code) {
  return code == kv_errc::not_connected || code == kv_errc::outcome_unknown;
}

std::string describe(const caf::error& err) {
  if (!err) return "no error";
  if (err.category() == caf::atom("parti_kv")) {
    std::string text = to_string(static_cast<kv_errc>(err.code()));
    const auto& ctx = err.context();
    if (ctx.match_elements<std::string>()) text += ": " + ctx.get_as<std::string>(0);
    return text;
  }
  return caf::to_string(err);
}

}  // namespace parti
