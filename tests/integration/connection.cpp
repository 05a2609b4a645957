// The connection owner against a real nats-server: events reach actors, a first connect may wait
// for a late server, bad options are refused clearly, and closing never races the callbacks.
#include <boost/test/unit_test.hpp>

#include "tests/support/actors.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

/// Receives connection events until one with `state` arrives (true) or the timeout passes.
bool await_event(caf::scoped_actor& self, connection_state state, std::chrono::milliseconds t) {
  auto deadline = std::chrono::steady_clock::now() + t;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) return false;
    bool found = false;
    bool timed_out = false;
    self->receive([&](const connection_event& e) { found = e.state == state; },
                  caf::after(left) >> [&] { timed_out = true; });
    if (found) return true;
    if (timed_out) return false;
  }
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(connections, test::nats_fixture)

BOOST_AUTO_TEST_CASE(disconnect_and_reconnect_reach_an_actor) {
  caf::scoped_actor self{sys};
  int token = conn->add_listener(caf::actor_cast<caf::actor>(self));
  BOOST_TEST(conn->connected());
  BOOST_TEST(conn->connected_url().find(std::to_string(server.port())) != std::string::npos);
  server.kill();
  BOOST_TEST(await_event(self, connection_state::disconnected, 10s));
  BOOST_TEST(!conn->connected());
  server.start();
  BOOST_TEST(await_event(self, connection_state::reconnected, 10s));
  BOOST_TEST(conn->connected());
  BOOST_TEST(conn->event_count(connection_state::reconnected) >= 1u);
  conn->remove_listener(token);
}

BOOST_AUTO_TEST_CASE(first_connect_can_wait_for_a_late_server) {
  server.kill();
  auto o = options();
  o.retry_on_failed_connect = true;
  auto late = connection::open(o);
  BOOST_REQUIRE_MESSAGE(late.ok(), late.error());
  BOOST_TEST(!(*late)->connected());
  server.start();
  BOOST_TEST(test::eventually([&] { return (*late)->connected(); }, 10s));
  // The connected callback runs on nats.c's callback thread, just after the status changes.
  BOOST_TEST(test::eventually(
      [&] { return (*late)->event_count(connection_state::connected) == 1u; }, 5s));
}

BOOST_AUTO_TEST_CASE(unreachable_server_without_retry_is_a_clear_error) {
  server.kill();
  auto o = options();
  o.retry_on_failed_connect = false;
  auto r = connection::open(o);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().find("nats: connect to " + server.url()) == 0u, r.error());
}

BOOST_AUTO_TEST_CASE(invalid_options_are_refused_naming_the_option) {
  auto o = options();
  o.urls.clear();
  BOOST_TEST(connection::open(o).error().find("nats-url") == 0u);
  o = options();
  o.password = "secret";
  BOOST_TEST(connection::open(o).error().find("nats-password") == 0u);
  o = options();
  o.credentials_file = "/nonexistent/creds";
  BOOST_TEST(connection::open(o).error() == "nats-creds: cannot read '/nonexistent/creds'");
  BOOST_TEST(split_urls(" nats://a:1, ,nats://b:2 ") ==
             (std::vector<std::string>{"nats://a:1", "nats://b:2"}));
}

BOOST_AUTO_TEST_CASE(open_and_close_many_times_without_racing_callbacks) {
  caf::scoped_actor self{sys};
  for (int i = 0; i < 30; ++i) {
    auto c = connection::open(options());
    BOOST_REQUIRE(c.ok());
    (*c)->add_listener(caf::actor_cast<caf::actor>(self));
    (*c)->add_listener([](const connection_event&) {});
  }  // each destructor waits for its closed callback
  int closed = 0;
  while (closed < 30 && await_event(self, connection_state::closed, 5s)) ++closed;
  BOOST_TEST(closed == 30);
}

BOOST_AUTO_TEST_SUITE_END()
