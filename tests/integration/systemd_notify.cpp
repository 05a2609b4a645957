// parti-node under systemd (Type=notify), with the test in systemd's place: a unix datagram
// socket named by NOTIFY_SOCKET receives what the program sends. READY=1 comes only once the
// node holds its id and applied its assignment (/readyz answers 200 by then), not while NATS is
// away; STATUS= says why it is not ready; STOPPING=1 follows SIGTERM; WATCHDOG=1 pings come
// when WATCHDOG_USEC is set. The readiness text itself is checked on the status cache.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <limits>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/lib/fleet.hpp"
#include "apps/lib/http_client.hpp"
#include "apps/lib/service_notify.hpp"
#include "apps/lib/status_cache.hpp"
#include "parti/runtime/nats/local_server.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/run_program.hpp"

using namespace parti;
using namespace std::chrono_literals;
using node_app::status_cache;

namespace {

/// The socket systemd would listen on: a bound unix datagram socket in a fresh directory,
/// read without blocking.
class notify_socket {
 public:
  notify_socket() {
    char dir[] = "/tmp/parti-notify-XXXXXX";
    if (!::mkdtemp(dir)) throw std::runtime_error("mkdtemp failed");
    dir_ = dir;
    path_ = dir_ + "/notify";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof addr.sun_path - 1);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("cannot bind " + path_);
  }
  ~notify_socket() {
    ::close(fd_);
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  notify_socket(const notify_socket&) = delete;
  notify_socket& operator=(const notify_socket&) = delete;

  const std::string& path() const { return path_; }

  /// Every datagram that arrived since the last call, in order.
  std::vector<std::string> receive() {
    std::vector<std::string> out;
    char buffer[4096];
    while (true) {
      auto n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return out;
      out.emplace_back(buffer, static_cast<std::size_t>(n));
    }
  }

 private:
  std::string dir_, path_;
  int fd_ = -1;
};

/// Sets an environment variable for the children started while it lives (they inherit it).
class scoped_env {
 public:
  scoped_env(const char* name, const std::string& value) : name_(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ~scoped_env() { ::unsetenv(name_); }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
};

bool has_line(const std::string& message, const std::string& line) {
  return ("\n" + message + "\n").find("\n" + line + "\n") != std::string::npos;
}

std::vector<std::string> node_args(const std::string& url) {
  std::vector<std::string> args{
      test::app_binary("parti-node"),  "--nats-url=" + url,  "--partitions=4",
      "--metrics-address=127.0.0.1:0", "--shutdown=restart", "--group=notify"};
  for (auto& a : fleet::fast_timing_args()) args.push_back(std::move(a));
  return args;
}

std::string joined(const std::vector<std::string>& messages) {
  std::string out;
  for (const auto& m : messages) out += "[" + m + "] ";
  return out;
}

constexpr auto forever = std::numeric_limits<std::int64_t>::max();

}  // namespace

BOOST_AUTO_TEST_SUITE(systemd_notify)

BOOST_AUTO_TEST_CASE(the_status_text_names_the_first_node_not_ready) {
  status_cache cache({"g", "nats://x", false, "4"}, 2);
  auto state = node_app::service_state_of(cache);
  BOOST_TEST(!state.ready);
  BOOST_TEST(state.status == "starting: 0 of 2 nodes ready; node 0: no_worker_id");
  for (int i = 0; i < 2; ++i) {
    auto id = "w-" + std::to_string(i);
    cache.on_state(i, {id, "Init", "ClaimingID", "", 1});
    cache.on_state(i, {id, "ClaimingID", "Election", "", 2});
    cache.on_lease(i, lease_update{id, "valid", forever});
  }
  cache.on_assignment(0, assignment_update{"w-0", {}, {}, {}, 1, 1, "assigned", {}});
  state = node_app::service_state_of(cache);
  BOOST_TEST(!state.ready);
  BOOST_TEST(state.status == "starting: 1 of 2 nodes ready; node 1: no_assignment");
  cache.on_assignment(1, assignment_update{"w-1", {}, {}, {}, 1, 1, "assigned", {}});
  state = node_app::service_state_of(cache);
  BOOST_TEST(state.ready);
  BOOST_TEST(state.status == "ready: 2 of 2 nodes");
}

BOOST_AUTO_TEST_CASE(ready_only_once_the_node_holds_its_assignment_and_stopping_after_sigterm) {
  local_nats_server server;
  server.stop();  // NATS away at start: the node must not say it is ready
  notify_socket socket;
  scoped_env notify("NOTIFY_SOCKET", socket.path());
  scoped_env watchdog("WATCHDOG_USEC", "400000");  // 400 ms: a ping every 200 ms
  test::child_program node(node_args(server.url()));

  std::vector<std::string> received;
  auto collect = [&] {
    for (auto& m : socket.receive()) received.push_back(std::move(m));
  };
  auto any = [&](const std::string& line) {
    for (const auto& m : received)
      if (has_line(m, line)) return true;
    return false;
  };
  // A status why it is not ready, and watchdog pings (the process is alive, only waiting).
  BOOST_TEST(test::eventually(
                 [&] {
                   collect();
                   return any("STATUS=starting: 0 of 1 node ready; node 0: no_worker_id") &&
                          any("WATCHDOG=1");
                 },
                 10s),
             joined(received) + node.output());
  BOOST_TEST(!any("READY=1"), joined(received));
  int port = test::status_port(node);
  BOOST_REQUIRE_MESSAGE(port != 0, node.output());

  server.start();
  std::size_t ready_at = 0;
  BOOST_REQUIRE_MESSAGE(test::eventually(
                            [&] {
                              collect();
                              for (std::size_t i = 0; i < received.size(); ++i)
                                if (has_line(received[i], "READY=1")) {
                                  ready_at = i;
                                  return true;
                                }
                              return false;
                            },
                            20s),
                        joined(received) + node.output());
  // Once READY=1 was sent the node is ready as /readyz says (readiness only grows here).
  BOOST_TEST(http_get(port, "/readyz", 3s).code == 200, node.output());
  BOOST_TEST(has_line(received[ready_at], "STATUS=ready: 1 of 1 node"), received[ready_at]);
  for (std::size_t i = 0; i < ready_at; ++i)
    BOOST_TEST(received[i].find("STATUS=ready") == std::string::npos, received[i]);

  node.signal(SIGTERM);
  auto code = node.wait(20s);
  BOOST_REQUIRE_MESSAGE(code.has_value(), "parti-node did not stop\n" + node.output());
  BOOST_TEST(*code == 0, node.output());
  collect();
  std::size_t stopping_at = received.size();
  for (std::size_t i = ready_at; i < received.size(); ++i)
    if (has_line(received[i], "STOPPING=1")) {
      stopping_at = i;
      break;
    }
  BOOST_REQUIRE_MESSAGE(stopping_at < received.size(), joined(received));
  BOOST_TEST(has_line(received[stopping_at], "STATUS=stopping (Terminated, restart)"),
             received[stopping_at]);
  // After STOPPING=1: watchdog pings at most, no READY=1 and no readiness status.
  for (std::size_t i = stopping_at + 1; i < received.size(); ++i)
    BOOST_TEST(received[i] == "WATCHDOG=1", received[i]);
  BOOST_TEST(std::count_if(received.begin(), received.end(),
                           [](const std::string& m) { return has_line(m, "READY=1"); }) == 1);
}

BOOST_AUTO_TEST_CASE(without_notify_socket_nothing_is_sent) {
  local_nats_server server;
  notify_socket socket;  // bound, but nobody names it
  ::unsetenv("NOTIFY_SOCKET");
  test::child_program node(node_args(server.url()));
  BOOST_REQUIRE(test::eventually([&] { return test::status_port(node) != 0; }, 10s));
  int port = test::status_port(node);
  BOOST_TEST(test::eventually([&] { return http_get(port, "/readyz", 3s).code == 200; }, 20s),
             node.output());
  node.signal(SIGTERM);
  BOOST_TEST(node.wait(20s).value_or(-1) == 0, node.output());
  BOOST_TEST(socket.receive().empty());
}

BOOST_AUTO_TEST_SUITE_END()
