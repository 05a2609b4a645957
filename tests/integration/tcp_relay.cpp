// The fault-test relay (apps/lib/tcp_relay.hpp): a cut holds every byte back without
// closing anything, heal delivers (or drops) what was held, and what a live nats.c connection
// makes of it.
//
// nats.c pings: parti::connection sets a ping interval of 2 s with 2 pings out by default (and
// nats_fixture 500 ms), so a client notices a cut between 2 and 3 intervals after its last pong
// (the third ping timer finds 2 pings unanswered, the connection is "stale"), closes its socket
// and reconnects. nats.c's own default (2 minutes) would never fire within a test. Tests that
// want the relayed connection to outlive a cut set a long ping interval.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <future>
#include <random>

#include "apps/lib/tcp_relay.hpp"
#include "parti/runtime/nats/kv_store.hpp"
#include "tests/support/actors.hpp"

using namespace parti;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

/// Milliseconds, for messages.
long long ms(clock_type::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// -- NATS through the relay -------------------------------------------------------------------

/// A nats-server, a relay in front of it and one connection through the relay.
struct relay_fixture {
  local_nats_server server;
  fleet::tcp_relay relay{server.port()};
  std::shared_ptr<connection> conn;
  std::shared_ptr<kv_store> kv;

  ~relay_fixture() { relay.heal(); }  // a failed test may leave it cut: let the close through

  /// Connects through the relay with fast reconnects and a request timeout of 1 s.
  void open(duration ping_interval) {
    connection_options o;
    o.urls = {relay.url()};
    o.reconnect_wait = 50ms;
    o.request_timeout = 1s;
    o.ping_interval = ping_interval;
    auto c = connection::open(o);
    BOOST_REQUIRE_MESSAGE(c.ok(), c.error());
    conn = *c;
    BOOST_REQUIRE(test::eventually([&] { return conn->connected(); }, 10s));
    bucket_settings s;
    s.name = "relay";
    auto b = kv_store::ensure(conn, s);
    BOOST_REQUIRE_MESSAGE(b.ok(), b.error());
    kv = *b;
  }

  bool put_ok(const std::string& key, const std::string& value) { return kv->put(key, value).ok(); }
};

// -- raw sockets --------------------------------------------------------------------------------

/// A listening socket on a free loopback port: the relay's target in the raw tests.
struct raw_server {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int port = 0;

  raw_server() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd, 16) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length) != 0)
      throw std::runtime_error("raw_server: cannot listen");
    port = ntohs(a.sin_port);
  }
  ~raw_server() { ::close(fd); }

  /// The next connection the relay makes to us (-1 when none comes within 5 s).
  int accept() const {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return -1;
    return ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
  }
};

/// A socket closed at the end of the scope.
struct socket_fd {
  int fd = -1;
  explicit socket_fd(int f = -1) : fd(f) {}
  ~socket_fd() {
    if (fd >= 0) ::close(fd);
  }
  socket_fd(const socket_fd&) = delete;
  socket_fd& operator=(const socket_fd&) = delete;
};

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// A blocking write of all of `data` (false on an error).
bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    auto n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

/// Reads exactly `n` bytes within `timeout`; fewer when the stream ends or the time is up.
std::string read_n(int fd, std::size_t n, std::chrono::milliseconds timeout = 10s) {
  std::string out;
  auto deadline = clock_type::now() + timeout;
  char buffer[64 * 1024];
  while (out.size() < n) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    pollfd p{fd, POLLIN, 0};
    if (left <= 0ms || ::poll(&p, 1, static_cast<int>(left.count())) != 1) break;
    auto r = ::recv(fd, buffer, std::min(sizeof buffer, n - out.size()), 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    out.append(buffer, static_cast<std::size_t>(r));
  }
  return out;
}

/// What a read finds at once: "data", "eof", "nothing" (EAGAIN) or "error".
std::string peek_now(int fd) {
  char c;
  auto r = ::recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
  if (r > 0) return "data";
  if (r == 0) return "eof";
  return errno == EAGAIN || errno == EWOULDBLOCK ? "nothing" : "error";
}

/// Waits until the stream ends: "eof", "reset" (ECONNRESET), or "timeout"/"data".
std::string await_end(int fd, std::chrono::milliseconds timeout = 5s) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return "timeout";
  char c;
  auto r = ::recv(fd, &c, 1, 0);
  if (r == 0) return "eof";
  if (r < 0 && errno == ECONNRESET) return "reset";
  return r > 0 ? "data" : "error";
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

/// A blocking write on a thread of its own; the test checks that it finishes.
std::future<bool> write_async(int fd, const std::string& data) {
  return std::async(std::launch::async, [fd, &data] { return write_all(fd, data); });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tcp_relay_raw)

BOOST_AUTO_TEST_CASE(a_cut_reads_everything_forwards_nothing_and_heal_delivers_it_in_order) {
  raw_server target;
  fleet::tcp_relay relay(target.port);
  socket_fd client(connect_to(relay.port()));
  BOOST_REQUIRE(client.fd >= 0);
  socket_fd server(target.accept());
  BOOST_REQUIRE(server.fd >= 0);
  BOOST_TEST(relay.connections() == 1u);

  // Forwarding both ways.
  BOOST_REQUIRE(write_all(client.fd, "ping"));
  BOOST_TEST(read_n(server.fd, 4) == "ping");
  BOOST_REQUIRE(write_all(server.fd, "pong"));
  BOOST_TEST(read_n(client.fd, 4) == "pong");

  // 1 MB each way during a cut: the blocking writes complete (the relay reads everything).
  relay.cut();
  BOOST_TEST(relay.is_cut());
  const auto up = random_bytes(1 << 20, 1);
  const auto down = random_bytes(1 << 20, 2);
  auto up_write = write_async(client.fd, up);
  auto down_write = write_async(server.fd, down);
  BOOST_REQUIRE(up_write.wait_for(10s) == std::future_status::ready);
  BOOST_REQUIRE(down_write.wait_for(10s) == std::future_status::ready);
  BOOST_TEST(up_write.get());
  BOOST_TEST(down_write.get());
  BOOST_REQUIRE(test::eventually([&] { return relay.held_bytes() == 2u << 20; }, 10s));
  // Everything was read and nothing is written while cut: neither end has anything to read,
  // and neither saw a close.
  BOOST_TEST(peek_now(server.fd) == "nothing");
  BOOST_TEST(peek_now(client.fd) == "nothing");
  BOOST_TEST(relay.open_connections() == 1u);
  BOOST_TEST(relay.overflow_bytes() == 0u);

  relay.heal();  // delivers by default
  BOOST_TEST(!relay.is_cut());
  BOOST_TEST(read_n(server.fd, up.size()) == up);  // exactly the bytes, in order
  BOOST_TEST(read_n(client.fd, down.size()) == down);
  BOOST_REQUIRE(write_all(client.fd, "next"));  // and then the new bytes, nothing in between
  BOOST_TEST(read_n(server.fd, 4) == "next");
  BOOST_TEST(relay.held_bytes() == 2u << 20);  // the last cut's count stays readable

  // heal(false) drops what was held: the first bytes after it are the new ones.
  relay.cut();
  BOOST_TEST(relay.held_bytes() == 0u);
  auto lost = write_async(client.fd, up);
  BOOST_REQUIRE(lost.wait_for(10s) == std::future_status::ready);
  BOOST_TEST(lost.get());
  BOOST_REQUIRE(test::eventually([&] { return relay.held_bytes() == up.size(); }, 10s));
  relay.heal(false);
  BOOST_REQUIRE(write_all(client.fd, "after"));
  BOOST_TEST(read_n(server.fd, 5) == "after");
  BOOST_TEST(relay.connections() == 1u);
}

BOOST_AUTO_TEST_CASE(a_close_during_a_cut_is_held_until_heal) {
  raw_server target;
  fleet::tcp_relay relay(target.port);
  socket_fd server;
  {
    socket_fd client(connect_to(relay.port()));
    BOOST_REQUIRE(client.fd >= 0);
    server.fd = target.accept();
    BOOST_REQUIRE(server.fd >= 0);
    relay.cut();
    BOOST_REQUIRE(write_all(client.fd, "bye"));
  }  // the client closes while cut
  BOOST_REQUIRE(test::eventually([&] { return relay.held_bytes() == 3u; }, 5s));
  BOOST_TEST(peek_now(server.fd) == "nothing");  // no data and no FIN got through
  BOOST_TEST(relay.open_connections() == 1u);
  relay.heal();
  BOOST_TEST(read_n(server.fd, 3) == "bye");
  BOOST_TEST(await_end(server.fd) == "eof");  // then the close, as a half-close
  ::close(server.fd);
  server.fd = -1;
  BOOST_TEST(test::eventually([&] { return relay.open_connections() == 0u; }, 5s));
}

BOOST_AUTO_TEST_CASE(reset_connections_resets_both_peers_and_keeps_listening) {
  raw_server target;
  fleet::tcp_relay relay(target.port);
  socket_fd client(connect_to(relay.port()));
  socket_fd server(target.accept());
  BOOST_REQUIRE(client.fd >= 0 && server.fd >= 0);
  relay.reset_connections();
  BOOST_TEST(relay.open_connections() == 0u);
  BOOST_TEST(await_end(client.fd) == "reset");
  BOOST_TEST(await_end(server.fd) == "reset");

  socket_fd again(connect_to(relay.port()));
  socket_fd again_server(target.accept());
  BOOST_REQUIRE(again.fd >= 0 && again_server.fd >= 0);
  BOOST_REQUIRE(write_all(again.fd, "hello"));
  BOOST_TEST(read_n(again_server.fd, 5) == "hello");
  BOOST_TEST(relay.connections() == 2u);
}

BOOST_AUTO_TEST_CASE(bytes_beyond_the_hold_limit_are_dropped_and_counted) {
  raw_server target;
  fleet::tcp_relay relay(target.port, 1000);
  socket_fd client(connect_to(relay.port()));
  socket_fd server(target.accept());
  BOOST_REQUIRE(client.fd >= 0 && server.fd >= 0);
  relay.cut();
  const auto data = random_bytes(5000, 3);
  BOOST_REQUIRE(write_all(client.fd, data));
  BOOST_REQUIRE(test::eventually(
      [&] { return relay.held_bytes() + relay.overflow_bytes() == data.size(); }, 5s));
  BOOST_TEST(relay.held_bytes() == 1000u);
  BOOST_TEST(relay.overflow_bytes() == 4000u);
  relay.heal();
  BOOST_TEST(read_n(server.fd, 1000) == data.substr(0, 1000));
  BOOST_REQUIRE(write_all(client.fd, "z"));
  BOOST_TEST(read_n(server.fd, 1) == "z");
}

BOOST_AUTO_TEST_CASE(a_refused_target_closes_the_client) {
  int closed_port = 0;
  {
    raw_server gone;
    closed_port = gone.port;
  }
  fleet::tcp_relay relay(closed_port);
  socket_fd client(connect_to(relay.port()));
  BOOST_REQUIRE(client.fd >= 0);
  auto end = await_end(client.fd);
  BOOST_TEST((end == "eof" || end == "reset"), end);
  BOOST_TEST(test::eventually([&] { return relay.open_connections() == 0u; }, 5s));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(tcp_relay_nats, relay_fixture)

BOOST_AUTO_TEST_CASE(kv_works_through_the_relay) {
  open(500ms);
  auto rev = kv->put("k", "v");
  BOOST_REQUIRE_MESSAGE(rev.ok(), rev.error());
  auto entry = kv->get("k");
  BOOST_REQUIRE_MESSAGE(entry.ok(), entry.error());
  BOOST_TEST(entry->value == "v");
  BOOST_TEST(relay.connections() == 1u);
  BOOST_TEST(relay.open_connections() == 1u);
}

BOOST_AUTO_TEST_CASE(a_cut_times_out_requests_without_closing_and_heal_delivers_them_late) {
  open(1min);  // the client's pings do not notice the cut within this test
  BOOST_REQUIRE(put_ok("before", "0"));
  relay.cut();
  auto start = clock_type::now();
  auto during = kv->put("during", "1");
  auto took = clock_type::now() - start;
  BOOST_REQUIRE(!during.ok());
  BOOST_TEST(during.failure_value().code == kv_errc::outcome_unknown, during.error());
  BOOST_TEST_MESSAGE("a put during a cut failed after " << ms(took) << " ms");
  BOOST_TEST(took >= 900ms);  // the request timeout (1 s), and not much more
  BOOST_TEST(took < 1500ms);
  // Nobody closed anything: the client still thinks it is connected, the relay accepted no
  // second connection, and it holds the put's bytes.
  BOOST_TEST(conn->connected());
  BOOST_TEST(conn->event_count(connection_state::disconnected) == 0u);
  BOOST_TEST(relay.connections() == 1u);
  BOOST_TEST(relay.open_connections() == 1u);
  BOOST_TEST(relay.held_bytes() > 0u);
  BOOST_TEST_MESSAGE("held during the cut: " << relay.held_bytes() << " bytes");

  relay.heal();
  // The held bytes reach the server in order and the stream stays valid: the put that timed
  // out lands late (outcome_unknown meant exactly that), its late acknowledgement is ignored by
  // the client (no request waits for it), and the same connection carries the next put at once.
  start = clock_type::now();
  auto after = kv->put("after", "2");
  BOOST_TEST_MESSAGE("the first put after heal took " << ms(clock_type::now() - start) << " ms");
  BOOST_TEST(after.ok(), after.error());
  auto late = kv->get("during");
  BOOST_REQUIRE_MESSAGE(late.ok(), late.error());
  BOOST_TEST(late->value == "1");
  BOOST_TEST(relay.connections() == 1u);
  BOOST_TEST(conn->event_count(connection_state::disconnected) == 0u);
  BOOST_TEST(conn->event_count(connection_state::reconnected) == 0u);
}

BOOST_AUTO_TEST_CASE(heal_dropping_the_held_bytes_loses_the_writes_of_the_cut) {
  open(1min);
  BOOST_REQUIRE(put_ok("before", "0"));
  relay.cut();
  auto lost = kv->put("lost", "1");
  BOOST_REQUIRE(!lost.ok());
  BOOST_TEST(lost.failure_value().code == kv_errc::outcome_unknown, lost.error());
  BOOST_REQUIRE(relay.held_bytes() > 0u);
  relay.heal(false);
  // The cut began while the stream was idle, so whole protocol frames were dropped and the
  // stream is still valid: the same connection works, and the put of the cut never happened.
  auto after = kv->put("after", "2");
  BOOST_TEST(after.ok(), after.error());
  BOOST_TEST(kv->get("lost").failure_value().code == kv_errc::not_found);
  BOOST_TEST(relay.connections() == 1u);
  BOOST_TEST(conn->event_count(connection_state::disconnected) == 0u);
}

BOOST_AUTO_TEST_CASE(the_client_ping_notices_a_cut_and_it_reconnects_after_heal) {
  open(500ms);  // as nats_fixture: stale after 2-3 intervals without a pong
  BOOST_REQUIRE(put_ok("before", "0"));
  relay.cut();
  auto start = clock_type::now();
  auto during = kv->put("during", "1");
  BOOST_TEST(!during.ok());
  // The client declares the connection stale and closes it (the relay holds that close), then
  // reconnects through the relay: the new connection is accepted but gets no INFO, so each try
  // ends at the connect timeout (2 s) and the next one starts.
  BOOST_REQUIRE(test::eventually(
      [&] { return conn->event_count(connection_state::disconnected) >= 1u; }, 5s));
  auto stale = clock_type::now() - start;
  BOOST_TEST_MESSAGE("the client noticed the cut after " << ms(stale) << " ms");
  BOOST_TEST(stale < 3s);  // 1-1.5 s: the pings, not the request timeout (1 s) or anything else
  BOOST_TEST(!conn->connected());
  BOOST_TEST(test::eventually([&] { return relay.connections() >= 2u; }, 5s));

  // A reconnect attempt is waiting for its INFO on the newest relayed connection (or starts
  // within reconnect_wait): heal delivers the held INFO and the client is back within
  // milliseconds, on that new connection.
  relay.heal();
  start = clock_type::now();
  BOOST_REQUIRE(test::eventually([&] { return conn->connected(); }, 10s));
  BOOST_TEST_MESSAGE("reconnected " << ms(clock_type::now() - start) << " ms after heal");
  // The reconnected callback runs on nats.c's callback thread, just after the status changes.
  BOOST_TEST(
      test::eventually([&] { return conn->event_count(connection_state::reconnected) >= 1u; }, 5s));
  BOOST_TEST(put_ok("after", "2"));
  BOOST_TEST(kv->get("after")->value == "2");
  BOOST_TEST_MESSAGE("connections accepted: " << relay.connections());
  // The put of the cut was written on the first connection before the client gave it up: heal
  // delivers it to the server ahead of that connection's close, so it lands late here too.
  auto late = kv->get("during");
  BOOST_REQUIRE_MESSAGE(late.ok(), late.error());
  BOOST_TEST(late->value == "1");
  // The abandoned connection is closed once its held bytes (and its close) went through.
  BOOST_TEST(test::eventually([&] { return relay.open_connections() == 1u; }, 5s));
}

BOOST_AUTO_TEST_SUITE_END()
