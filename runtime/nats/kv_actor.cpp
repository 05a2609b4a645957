#include "runtime/nats/kv_actor.hpp"

#include <caf/all.hpp>

#include <chrono>

namespace parti {

namespace {

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

/// Runs one operation, timing it for the observer.
template <class F>
auto observed(const kv_observer& observer, const char* op, F&& f) {
  auto start = std::chrono::steady_clock::now();
  auto r = f();
  if (observer)
    observer(op, std::chrono::steady_clock::now() - start, r ? nullptr : &r.failure_value());
  return r;
}

kv_actor::behavior_type kv_actor_impl(kv_actor::pointer self, std::shared_ptr<kv_store> store,
                                      kv_observer observer) {
  (void)self;
  return {
      [=](caf::get_atom, const std::string& key) {
        return reply(observed(observer, "get", [&] { return store->get(key); }));
      },
      [=](caf::put_atom, const std::string& key, const std::string& value) {
        return reply(observed(observer, "put", [&] { return store->put(key, value); }));
      },
      [=](create_atom, const std::string& key, const std::string& value) {
        return reply(observed(observer, "create", [&] { return store->create(key, value); }));
      },
      [=](caf::update_atom, const std::string& key, const std::string& value, std::uint64_t last) {
        return reply(observed(observer, "update", [&] { return store->update(key, value, last); }));
      },
      [=](caf::delete_atom, const std::string& key) {
        return reply_ok(observed(observer, "delete", [&] { return store->erase(key); }));
      },
      [=](purge_atom, const std::string& key) {
        return reply_ok(observed(observer, "purge", [&] { return store->purge(key); }));
      },
      [=](keys_atom) { return reply(observed(observer, "keys", [&] { return store->keys(); })); },
      [=](caf::get_atom, keys_atom) {
        return reply(observed(observer, "get_all", [&] { return store->get_all(); }));
      },
      [=](write_atom, const std::vector<kv_write>& writes) {
        return reply(observed(observer, "write_many", [&] { return store->write_many(writes); }));
      },
  };
}

}  // namespace

kv_actor spawn_kv_actor(caf::actor_system& sys, std::shared_ptr<kv_store> store,
                        kv_observer observer) {
  return sys.spawn<caf::detached>(kv_actor_impl, std::move(store), std::move(observer));
}

bool is_kv_error(const caf::error& err, kv_errc code) {
  return err.category() == caf::atom("parti_kv") && err.code() == static_cast<uint8_t>(code);
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
