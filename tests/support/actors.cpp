#include "tests/support/actors.hpp"

#include <stdexcept>

namespace parti::test {

nats_fixture::nats_fixture() : nats_fixture(std::chrono::seconds(1)) {}

nats_fixture::nats_fixture(duration timeout) : request_timeout(timeout) {
  auto c = connection::open(options());
  if (!c) throw std::runtime_error(c.error());
  conn = *c;
}

nats_fixture::~nats_fixture() {
  // Stop every actor before the connection and the server go away (~actor_system waits for every
  // actor).
  sys.await_all_actors_done();
}

connection_options nats_fixture::options() const {
  connection_options o;
  o.urls = {server.url()};
  o.reconnect_wait = std::chrono::milliseconds(50);
  o.request_timeout = request_timeout;
  o.ping_interval = std::chrono::milliseconds(500);
  return o;
}

std::shared_ptr<kv_store> nats_fixture::bucket(const std::string& name, duration ttl, int history) {
  bucket_settings s;
  s.name = name;
  s.ttl = ttl;
  s.history = history;
  auto b = kv_store::ensure(conn, s);
  if (!b) throw std::runtime_error(b.error());
  return *b;
}

}  // namespace parti::test
