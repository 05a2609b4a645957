#pragma once
// kv_actor: a KV bucket as an actor. It runs detached (a thread of its own) because every call
// blocks on the network; other actors use request(...).then(...) and never block.
#include <caf/actor_system.hpp>
#include <caf/error.hpp>

#include <functional>
#include <memory>

#include "messages/interfaces.hpp"
#include "runtime/nats/kv_store.hpp"

CAF_ERROR_CODE_ENUM(parti::kv_errc, "parti_kv")

namespace parti {

/// Called after every operation: its name ("get", "put", ...), how long it took, and the error
/// kind when it failed. Metrics hook in here.
using kv_observer = std::function<void(const char* op, duration took, const kv_error* error)>;

kv_actor spawn_kv_actor(caf::actor_system& sys, std::shared_ptr<kv_store> store,
                        kv_observer observer = {});

/// True when `err` is the KV error `code`.
bool is_kv_error(const caf::error& err, kv_errc code);

/// A readable one-line text for any error an actor got back (KV errors with their reason).
std::string describe(const caf::error& err);

}  // namespace parti
