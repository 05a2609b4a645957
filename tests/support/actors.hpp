#pragma once
// An actor system for integration tests, and helpers to talk to actors from a test body.
#include <caf/all.hpp>

#include <chrono>
#include <memory>

#include "parti/messages/inspect.hpp"
#include "parti/runtime/nats/connection.hpp"
#include "parti/runtime/nats/kv_actor.hpp"
#include "parti/runtime/nats/local_server.hpp"
#include "tests/support/chrono_print.hpp"
#include "tests/support/eventually.hpp"

namespace parti::test {

struct test_config : caf::actor_system_config {
  test_config() { set("scheduler.max-threads", 2); }
};

/// A nats-server, an actor system and a connection to the server, for one test case.
/// Members are destroyed in reverse order: actors first, then the connection, then the server.
struct nats_fixture {
  /// Of every connection options() describes, the fixture's own included.
  duration request_timeout = std::chrono::seconds(1);
  local_nats_server server;
  test_config config;
  caf::actor_system sys{config};
  std::shared_ptr<connection> conn;

  nats_fixture();
  explicit nats_fixture(duration request_timeout);
  ~nats_fixture();

  connection_options options() const;
  std::shared_ptr<kv_store> bucket(const std::string& name, duration ttl = duration::zero(),
                                   int history = 1);
};

}  // namespace parti::test
