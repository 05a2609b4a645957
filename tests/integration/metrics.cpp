// The metrics of a node process and its one HTTP listener: recorded values come out as the
// right series with the right labels; /metrics, /status and 404 over real HTTP; a used port is
// a clear error; slow clients neither block others nor the shutdown; when promtool is installed,
// Prometheus's own checker accepts the exposition. The config files (alert rules, dashboard)
// are checked against the exposed metric names and, with promtool, parsed and unit-tested.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "apps/lib/http_client.hpp"
#include "parti/actors/node/lifecycle.hpp"
#include "parti/messages/wire.hpp"
#include "parti/runtime/metrics/decode_errors.hpp"
#include "parti/runtime/metrics/http_endpoint.hpp"
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/nats/connection.hpp"
#include "parti/runtime/nats/connection_metrics.hpp"
#include "parti/runtime/nats/local_server.hpp"
#include "parti/version.hpp"
#include "tests/support/eventually.hpp"

using namespace parti;
using namespace std::chrono_literals;
namespace utf = boost::unit_test;

namespace {

// ----- reading the exposition text ---------------------------------------------------------

/// The value of the sample line `series` (name and labels exactly as exposed); NaN when there is
/// no such line, so that any comparison with it fails and the failure prints "nan".
double value_of(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.compare(0, series.size(), series) == 0 && line.size() > series.size() &&
        line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  }
  return std::numeric_limits<double>::quiet_NaN();
}

bool has_series(const std::string& text, const std::string& series) {
  return !std::isnan(value_of(text, series));
}

long elapsed_ms(std::chrono::steady_clock::time_point since) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - since)
                               .count());
}

bool mentions(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ----- a plain socket, for requests that arrive slowly or never end ------------------------

/// A TCP connection to 127.0.0.1:port, closed when it goes out of scope.
class client_socket {
 public:
  explicit client_socket(int port, std::chrono::milliseconds read_timeout = 5s) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{static_cast<time_t>(read_timeout.count() / 1000),
               static_cast<suseconds_t>((read_timeout.count() % 1000) * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~client_socket() { ::close(fd_); }
  client_socket(const client_socket&) = delete;
  client_socket& operator=(const client_socket&) = delete;

  bool connected() const { return connected_; }

  bool send(const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      auto n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// Everything the server sends until it closes the connection (or the read timeout passes).
  std::string read_to_end() {
    std::string out;
    std::array<char, 4096> buffer{};
    for (;;) {
      auto n = ::recv(fd_, buffer.data(), buffer.size(), 0);
      if (n <= 0) return out;
      out.append(buffer.data(), static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

/// The bytes of a request, for the tests that send them slowly or not at all. Well-formed requests
/// go through parti's HTTP client (apps/lib/http_client.hpp).
std::string request_text(const std::string& method, const std::string& path) {
  return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
}

// ----- helpers ---------------------------------------------------------------------------------

/// A listening socket on 127.0.0.1 at an ephemeral port, held open for the test's duration.
class port_holder {
 public:
  port_holder() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 1);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~port_holder() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

http_endpoint_options loopback(int port = 0) {
  http_endpoint_options o;
  o.address = "127.0.0.1:" + std::to_string(port);
  return o;
}

std::unique_ptr<http_endpoint> start_or_fail(std::shared_ptr<const metrics> m,
                                             http_endpoint::status_source status,
                                             http_endpoint_options o = loopback()) {
  auto r = http_endpoint::start(std::move(m), std::move(status), std::move(o));
  BOOST_REQUIRE_MESSAGE(r.ok(), r.error());
  return std::move(*r);
}

std::optional<std::string> promtool_path() {
  for (const char* p : {"/usr/bin/promtool", "/usr/local/bin/promtool"})
    if (::access(p, X_OK) == 0) return std::string{p};
  return std::nullopt;
}

struct promtool_result {
  int exit_code = -1;
  std::string output;
};

/// Runs `promtool <arguments>` (a shell command line tail) and collects its output.
promtool_result promtool(const std::string& arguments) {
  std::string command = *promtool_path() + " " + arguments + " 2>&1";
  promtool_result r;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    std::array<char, 512> buffer{};
    while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) r.output += buffer.data();
    int status = ::pclose(pipe);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  return r;
}

/// A file with `content` under /tmp, deleted when it goes out of scope.
class temp_file {
 public:
  temp_file(const std::string& content, const char* suffix) {
    std::string name = std::string{"/tmp/parti-metrics-XXXXXX"} + suffix;
    int fd = ::mkstemps(name.data(), static_cast<int>(std::string{suffix}.size()));
    BOOST_REQUIRE(fd >= 0);
    ::close(fd);
    path_ = name;
    std::ofstream(path_) << content;
  }
  ~temp_file() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// Runs `promtool check metrics` on `text` (it reads the exposition from stdin).
promtool_result promtool_check(const std::string& text) {
  temp_file file(text, ".prom");
  return promtool("check metrics < " + file.path());
}

std::string source_path(const std::string& relative) {
  return std::string{PARTI_SOURCE_DIR} + "/" + relative;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  BOOST_REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

/// Every parti_* metric name in `text`, with the _bucket/_sum/_count of histograms folded into
/// the family name.
std::set<std::string> metric_families_in(const std::string& text) {
  static const std::regex name("parti_[a-z_]+");
  static const std::regex histogram_part("_(bucket|sum|count)$");
  std::set<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator();
       ++it) {
    std::string n = it->str();
    if (std::regex_search(n, histogram_part) && n.find("_duration_seconds_") != std::string::npos)
      n = std::regex_replace(n, histogram_part, "");
    out.insert(n);
  }
  return out;
}

boost::test_tools::assertion_result promtool_installed(utf::test_unit_id) {
  boost::test_tools::assertion_result r(promtool_path().has_value());
  r.message() << "promtool not found (Debian package 'prometheus'): exposition check skipped";
  return r;
}

/// A registry with one value in every family, so a check sees them all.
void record_one_of_everything(metrics& m) {
  m.observe_rebalance("w-0", "cold_start", rebalance_result::success, 40ms);
  m.set_calculator_input("w-0", 3, 64);
  m.observe_kv_operation("w-0", "put", 2ms);
  m.count_kv_error("w-0", "put", "outcome_unknown");
  m.count_watcher_failure("w-0", "parti-heartbeats");
  m.count_watcher_restart("w-0", "parti-heartbeats");
  m.count_breaker_transition({"w-0", "parti-ids", "0"}, breaker_state::closed, breaker_state::open);
  m.count_breaker_call({"w-0", "parti-ids", "0"}, breaker_call_result::rejected);
  m.count_retry_attempt("w-0", "claim");
  m.count_retry_exhausted("w-0", "claim");
  m.set_node_state("w-0", "Stable");
  m.set_leader("w-0", true);
  m.set_epoch("w-0", 12);
  m.set_assignment_version("w-0", 4);
  m.set_owned_partitions("w-0", 21);
  m.set_unassigned_partitions("w-0", 0);
  m.set_handoff_partitions("w-0", 1);
  m.set_heartbeat_age("w-0", "w-1", 700ms);
  m.set_degraded("w-0", false);
  m.count_id_lost("w-0");
  m.count_decode_error("w-0", "parti-assignments");
  m.count_consumed("w-0", consume_result::acked);
  m.count_redelivered("w-0");
  m.observe_handler("w-0", 3ms);
  m.count_reader_restart("w-0");
  m.set_consumers_attached("w-0", 8);
  m.set_consume_lag("w-0", 12, {{"p-1", 10}, {"p-2", 2}});
  m.init_partition_source("w-0");
  m.observe_partition_source_load("w-0", 2ms);
  m.count_partition_source_failure("w-0", source_failure::timeout);
  m.set_partition_source_success("w-0", 1'700'000'000'000);
}

const std::vector<std::string> every_family{
    "parti_build_info",
    "parti_calculator_rebalance_duration_seconds",
    "parti_calculator_rebalance_total",
    "parti_calculator_active_workers",
    "parti_calculator_partitions",
    "parti_partition_source_failures_total",
    "parti_partition_source_load_seconds",
    "parti_partition_source_last_success_timestamp_seconds",
    "parti_kv_operation_duration_seconds",
    "parti_kv_operation_errors_total",
    "parti_watcher_failures_total",
    "parti_watcher_restarts_total",
    "parti_circuit_breaker_state",
    "parti_circuit_breaker_calls_total",
    "parti_circuit_breaker_state_changes_total",
    "parti_retry_attempts_total",
    "parti_retry_exhausted_total",
    "parti_node_state",
    "parti_node_leader",
    "parti_node_epoch",
    "parti_assignment_version",
    "parti_owned_partitions",
    "parti_unassigned_partitions",
    "parti_handoff_partitions",
    "parti_heartbeat_age_seconds",
    "parti_node_degraded",
    "parti_ids_lost_total",
    "parti_decode_errors_total",
    "parti_consume_messages_total",
    "parti_consume_redelivered_total",
    "parti_consume_handler_seconds",
    "parti_consume_reader_restarts_total",
    "parti_consume_consumers_attached",
    "parti_consume_lag_messages",
    "parti_consume_partition_lag_messages",
    "parti_nats_connected",
    "parti_nats_reconnects_total",
};

}  // namespace

BOOST_AUTO_TEST_SUITE(exposition)

BOOST_AUTO_TEST_CASE(every_family_is_exposed_with_help_and_type) {
  metrics m;
  record_one_of_everything(m);
  auto text = m.text();
  for (const auto& name : every_family) {
    BOOST_TEST(mentions(text, "# HELP " + name + " "), name);
    BOOST_TEST(mentions(text, "# TYPE " + name + " "), name);
  }
  BOOST_TEST(mentions(text, "# TYPE parti_calculator_rebalance_duration_seconds histogram"));
  BOOST_TEST(mentions(text, "# TYPE parti_kv_operation_errors_total counter"));
  BOOST_TEST(mentions(text, "# TYPE parti_owned_partitions gauge"));
}

BOOST_AUTO_TEST_CASE(gauges_and_counters_carry_their_labels_and_values) {
  metrics m;
  m.set_owned_partitions("w-1", 7);
  m.set_owned_partitions("w-2", 9);
  m.set_owned_partitions("w-1", 8);  // a gauge keeps the last value
  m.set_leader("w-1", true);
  m.set_leader("w-2", false);
  m.set_epoch("w-1", 41);
  m.set_assignment_version("w-1", 3);
  m.set_unassigned_partitions("w-1", 2);
  m.set_handoff_partitions("w-1", 5);
  m.set_degraded("w-2", true);
  m.set_calculator_input("w-1", 3, 128);
  m.count_kv_error("w-1", "update", "wrong_revision");
  m.count_kv_error("w-1", "update", "wrong_revision");
  m.count_kv_error("w-1", "put", "outcome_unknown");
  m.count_watcher_failure("w-1", "parti-heartbeats");
  m.count_watcher_restart("w-1", "parti-heartbeats");
  m.count_watcher_restart("w-1", "parti-heartbeats");
  m.count_retry_attempt("w-2", "claim");
  m.count_retry_exhausted("w-2", "claim");
  m.count_id_lost("w-2");
  m.count_decode_error("w-1", "parti-assignments");
  m.set_heartbeat_age("w-1", "w-2", 1500ms);
  m.observe_rebalance("w-1", "emergency", rebalance_result::failure, 10ms);
  m.observe_rebalance("w-1", "emergency", rebalance_result::success, 10ms);
  m.observe_rebalance("w-1", "emergency", rebalance_result::success, 10ms);

  auto text = m.text();
  BOOST_TEST(value_of(text, R"(parti_owned_partitions{worker="w-1"})") == 8.0);
  BOOST_TEST(value_of(text, R"(parti_owned_partitions{worker="w-2"})") == 9.0);
  BOOST_TEST(value_of(text, R"(parti_node_leader{worker="w-1"})") == 1.0);
  BOOST_TEST(value_of(text, R"(parti_node_leader{worker="w-2"})") == 0.0);
  BOOST_TEST(value_of(text, R"(parti_node_epoch{worker="w-1"})") == 41.0);
  BOOST_TEST(value_of(text, R"(parti_assignment_version{worker="w-1"})") == 3.0);
  BOOST_TEST(value_of(text, R"(parti_unassigned_partitions{worker="w-1"})") == 2.0);
  BOOST_TEST(value_of(text, R"(parti_handoff_partitions{worker="w-1"})") == 5.0);
  BOOST_TEST(value_of(text, R"(parti_node_degraded{worker="w-2"})") == 1.0);
  BOOST_TEST(value_of(text, R"(parti_calculator_active_workers{worker="w-1"})") == 3.0);
  BOOST_TEST(value_of(text, R"(parti_calculator_partitions{worker="w-1"})") == 128.0);
  BOOST_TEST(
      value_of(
          text,
          R"(parti_kv_operation_errors_total{kind="wrong_revision",operation="update",worker="w-1"})") ==
      2.0);
  BOOST_TEST(
      value_of(
          text,
          R"(parti_kv_operation_errors_total{kind="outcome_unknown",operation="put",worker="w-1"})") ==
      1.0);
  BOOST_TEST(
      value_of(text, R"(parti_watcher_failures_total{bucket="parti-heartbeats",worker="w-1"})") ==
      1.0);
  BOOST_TEST(
      value_of(text, R"(parti_watcher_restarts_total{bucket="parti-heartbeats",worker="w-1"})") ==
      2.0);
  BOOST_TEST(value_of(text, R"(parti_retry_attempts_total{operation="claim",worker="w-2"})") ==
             1.0);
  BOOST_TEST(value_of(text, R"(parti_retry_exhausted_total{operation="claim",worker="w-2"})") ==
             1.0);
  BOOST_TEST(value_of(text, R"(parti_ids_lost_total{worker="w-2"})") == 1.0);
  BOOST_TEST(
      value_of(text, R"(parti_decode_errors_total{bucket="parti-assignments",worker="w-1"})") ==
      1.0);
  BOOST_TEST(value_of(text, R"(parti_heartbeat_age_seconds{observed_worker="w-2",worker="w-1"})") ==
             1.5);
  BOOST_TEST(
      value_of(
          text,
          R"(parti_calculator_rebalance_total{reason="emergency",result="failure",worker="w-1"})") ==
      1.0);
  BOOST_TEST(
      value_of(
          text,
          R"(parti_calculator_rebalance_total{reason="emergency",result="success",worker="w-1"})") ==
      2.0);
  // Nothing recorded, nothing exposed: no series is invented for another worker.
  BOOST_TEST(!has_series(text, R"(parti_ids_lost_total{worker="w-1"})"));
}

/// What `body` writes to stderr (where the log goes).
template <class F>
std::string stderr_of(F body) {
  std::fflush(stderr);
  char path[] = "/tmp/parti-stderr-XXXXXX";
  int file = mkstemp(path);
  BOOST_REQUIRE(file >= 0);
  int saved = dup(STDERR_FILENO);
  dup2(file, STDERR_FILENO);
  body();
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(file);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(path);
  return text.str();
}

BOOST_AUTO_TEST_CASE(partition_source_failures_start_at_zero_for_every_reason) {
  metrics m;
  m.init_partition_source("w-1");
  auto text = m.text();
  BOOST_TEST(
      value_of(text, R"(parti_partition_source_failures_total{reason="error",worker="w-1"})") ==
      0.0);
  BOOST_TEST(
      value_of(text, R"(parti_partition_source_failures_total{reason="timeout",worker="w-1"})") ==
      0.0);
  m.count_partition_source_failure("w-1", source_failure::timeout);
  m.count_partition_source_failure("w-1", source_failure::timeout);
  m.set_partition_source_success("w-1", 1'700'000'000'500);
  m.observe_partition_source_load("w-1", 250ms);
  text = m.text();
  BOOST_TEST(
      value_of(text, R"(parti_partition_source_failures_total{reason="timeout",worker="w-1"})") ==
      2.0);
  BOOST_TEST(
      value_of(text, R"(parti_partition_source_last_success_timestamp_seconds{worker="w-1"})") ==
      1'700'000'000.5);
  BOOST_TEST(value_of(text, R"(parti_partition_source_load_seconds_count{worker="w-1"})") == 1.0);
}

BOOST_AUTO_TEST_CASE(every_undecodable_value_is_counted_and_the_first_logged) {
  metrics m;
  std::uint64_t failures = 0;
  decode_report where{&m, "w-1", bucket_role::heartbeats, "monitor"};
  kv_entry bad{"w-9", "not msgpack", 4, kv_op::put, 0};
  std::optional<heartbeat_record> decoded;
  auto logged = stderr_of([&] {
    for (int i = 0; i < 3; ++i) decoded = decode_reported<heartbeat_record>(bad, where, failures);
  });
  BOOST_TEST(!decoded.has_value());
  BOOST_TEST(failures == 3u);
  BOOST_TEST(value_of(m.text(), R"(parti_decode_errors_total{bucket="heartbeats",worker="w-1"})") ==
             3.0);
  std::size_t lines = 0;
  for (auto at = logged.find("monitor: skipping heartbeats/w-9: heartbeat");
       at != std::string::npos; at = logged.find("monitor: skipping", at + 1))
    ++lines;
  BOOST_TEST(lines == 1u, logged);

  heartbeat_record good;
  good.worker = "w-9";
  auto ok =
      decode_reported<heartbeat_record>({"w-9", encode(good), 5, kv_op::put, 0}, where, failures);
  BOOST_TEST((ok.has_value() && *ok == good));
  BOOST_TEST(failures == 3u);
}

BOOST_AUTO_TEST_CASE(consumption_counts_per_worker_and_shows_only_the_partition_lags_given) {
  metrics m;
  m.count_consumed("w-1", consume_result::handled);
  m.count_consumed("w-1", consume_result::acked);
  m.count_consumed("w-1", consume_result::acked);
  m.count_consumed("w-1", consume_result::exhausted);
  m.count_redelivered("w-1");
  m.count_reader_restart("w-1");
  m.set_consumers_attached("w-1", 3);
  m.set_consume_lag("w-1", 17, {{"p-1", 10}, {"p-2", 5}});
  m.set_consume_lag("w-2", 4, {{"p-1", 4}});
  auto text = m.text();
  BOOST_TEST(value_of(text, R"(parti_consume_messages_total{result="acked",worker="w-1"})") == 2.0);
  BOOST_TEST(value_of(text, R"(parti_consume_messages_total{result="handled",worker="w-1"})") ==
             1.0);
  BOOST_TEST(value_of(text, R"(parti_consume_messages_total{result="exhausted",worker="w-1"})") ==
             1.0);
  BOOST_TEST(value_of(text, R"(parti_consume_redelivered_total{worker="w-1"})") == 1.0);
  BOOST_TEST(value_of(text, R"(parti_consume_reader_restarts_total{worker="w-1"})") == 1.0);
  BOOST_TEST(value_of(text, R"(parti_consume_consumers_attached{worker="w-1"})") == 3.0);
  BOOST_TEST(value_of(text, R"(parti_consume_lag_messages{worker="w-1"})") == 17.0);
  BOOST_TEST(
      value_of(text, R"(parti_consume_partition_lag_messages{partition="p-2",worker="w-1"})") ==
      5.0);
  // p-2 is no longer among those shown: its series goes, the other worker's stay.
  m.set_consume_lag("w-1", 12, {{"p-3", 12}});
  text = m.text();
  BOOST_TEST(value_of(text, R"(parti_consume_lag_messages{worker="w-1"})") == 12.0);
  BOOST_TEST(
      !has_series(text, R"(parti_consume_partition_lag_messages{partition="p-2",worker="w-1"})"));
  BOOST_TEST(
      !has_series(text, R"(parti_consume_partition_lag_messages{partition="p-1",worker="w-1"})"));
  BOOST_TEST(
      value_of(text, R"(parti_consume_partition_lag_messages{partition="p-3",worker="w-1"})") ==
      12.0);
  BOOST_TEST(
      value_of(text, R"(parti_consume_partition_lag_messages{partition="p-1",worker="w-2"})") ==
      4.0);
}

BOOST_AUTO_TEST_CASE(histograms_expose_buckets_sum_and_count) {
  metrics m;
  m.observe_kv_operation("w-1", "get", 3ms);
  m.observe_kv_operation("w-1", "get", 200ms);
  m.observe_rebalance("w-1", "planned_scale", rebalance_result::success, 1200ms);
  auto text = m.text();
  const std::string kv = R"(parti_kv_operation_duration_seconds)";
  const std::string labels = R"(operation="get",worker="w-1")";
  BOOST_TEST(value_of(text, kv + "_count{" + labels + "}") == 2.0);
  BOOST_TEST(value_of(text, kv + "_sum{" + labels + "}") == 0.203,
             boost::test_tools::tolerance(1e-9));
  BOOST_TEST(value_of(text, kv + "_bucket{" + labels + R"(,le="0.0025"})") == 0.0);
  BOOST_TEST(value_of(text, kv + "_bucket{" + labels + R"(,le="0.005"})") == 1.0);
  BOOST_TEST(value_of(text, kv + "_bucket{" + labels + R"(,le="0.25"})") == 2.0);
  BOOST_TEST(value_of(text, kv + "_bucket{" + labels + R"(,le="+Inf"})") == 2.0);
  const std::string rb =
      R"(parti_calculator_rebalance_duration_seconds_bucket{reason="planned_scale",worker="w-1",)";
  BOOST_TEST(value_of(text, rb + R"(le="1"})") == 0.0);
  BOOST_TEST(value_of(text, rb + R"(le="2.5"})") == 1.0);
}

BOOST_AUTO_TEST_CASE(node_state_is_one_for_the_current_state_only) {
  metrics m;
  m.set_node_state("w-1", "Stable");
  m.set_node_state("w-2", "Election");
  m.set_node_state("w-1", "Degraded");
  auto text = m.text();
  auto state = [&](const std::string& worker, const std::string& s) {
    return value_of(text, R"(parti_node_state{state=")" + s + R"(",worker=")" + worker + "\"}");
  };
  BOOST_TEST(state("w-1", "Degraded") == 1.0);
  BOOST_TEST(state("w-1", "Stable") == 0.0);
  BOOST_TEST(state("w-2", "Election") == 1.0);
  double sum_w1 = 0;
  for (const auto& s : metrics::known_node_states()) {
    double v = state("w-1", s);
    BOOST_TEST(!std::isnan(v), "no series for state " << s);  // explicit zeros, not gaps
    sum_w1 += std::isnan(v) ? 0 : v;
  }
  BOOST_TEST(sum_w1 == 1.0);
}

BOOST_AUTO_TEST_CASE(known_node_states_are_the_lifecycle_wire_names) {
  // metrics (runtime/) may not include actors/, so it keeps its own list: it must match.
  const node_state all[] = {node_state::init,        node_state::claiming_id,
                            node_state::election,    node_state::waiting_assignment,
                            node_state::stable,      node_state::scaling,
                            node_state::rebalancing, node_state::emergency,
                            node_state::degraded,    node_state::shutdown,
                            node_state::failed};
  const auto& known = metrics::known_node_states();
  BOOST_TEST(known.size() == std::size(all));
  for (auto s : all) {
    std::string name{to_string(s)};
    BOOST_TEST((std::find(known.begin(), known.end(), name) != known.end()), name);
  }
}

BOOST_AUTO_TEST_CASE(circuit_breaker_state_and_changes) {
  metrics m;
  const metrics::breaker_id ids{"w-1", "parti-ids", "0"};
  m.count_breaker_transition(ids, breaker_state::closed, breaker_state::open);
  m.count_breaker_transition(ids, breaker_state::open, breaker_state::half_open);
  m.count_breaker_call(ids, breaker_call_result::rejected);
  m.count_breaker_call(ids, breaker_call_result::success);
  m.count_breaker_call(ids, breaker_call_result::success);
  auto text = m.text();
  BOOST_TEST(
      value_of(text, R"(parti_circuit_breaker_state{bucket="parti-ids",shard="0",worker="w-1"})") ==
      2.0);
  BOOST_TEST(
      value_of(
          text,
          R"(parti_circuit_breaker_state_changes_total{bucket="parti-ids",from="closed",shard="0",to="open",worker="w-1"})") ==
      1.0);
  BOOST_TEST(
      value_of(
          text,
          R"(parti_circuit_breaker_state_changes_total{bucket="parti-ids",from="open",shard="0",to="half_open",worker="w-1"})") ==
      1.0);
  BOOST_TEST(
      value_of(
          text,
          R"(parti_circuit_breaker_calls_total{bucket="parti-ids",result="rejected",shard="0",worker="w-1"})") ==
      1.0);
  BOOST_TEST(
      value_of(
          text,
          R"(parti_circuit_breaker_calls_total{bucket="parti-ids",result="success",shard="0",worker="w-1"})") ==
      2.0);
  m.set_breaker_state(ids, breaker_state::closed);
  BOOST_TEST(
      value_of(m.text(),
               R"(parti_circuit_breaker_state{bucket="parti-ids",shard="0",worker="w-1"})") == 0.0);
}

BOOST_AUTO_TEST_CASE(an_open_breaker_is_not_hidden_by_another_that_changed_later) {
  metrics m;
  const metrics::breaker_id heartbeats{"", "g-heartbeats", "2"};
  const metrics::breaker_id ids{"", "g-ids", "0"};
  m.init_breaker(heartbeats);
  m.init_breaker(ids);
  m.count_breaker_transition(heartbeats, breaker_state::closed, breaker_state::open);
  m.count_breaker_transition(ids, breaker_state::open, breaker_state::closed);  // changed last
  auto text = m.text();
  BOOST_TEST(
      value_of(text, R"(parti_circuit_breaker_state{bucket="g-heartbeats",shard="2",worker=""})") ==
          1.0,
      text);
  BOOST_TEST(value_of(text, R"(parti_circuit_breaker_state{bucket="g-ids",shard="0",worker=""})") ==
             0.0);
  // Created at 0: every call result and every change a breaker makes.
  for (const char* result : {"success", "failure", "rejected"})
    BOOST_TEST(
        value_of(text, std::string(R"(parti_circuit_breaker_calls_total{bucket="g-ids",result=")") +
                           result + R"(",shard="0",worker=""})") == 0.0,
        result);
  BOOST_TEST(
      value_of(
          text,
          R"(parti_circuit_breaker_state_changes_total{bucket="g-ids",from="half_open",shard="0",to="open",worker=""})") ==
      0.0);
}

BOOST_AUTO_TEST_CASE(known_counters_start_at_zero) {
  metrics m;
  m.init_kv("", {"get", "update"}, {"not_connected", "wrong_revision"}, {"get"});
  m.init_rebalance("w-1", {"cold_start", "emergency"});
  m.init_watcher("w-1", "g-assignments");
  auto text = m.text();
  for (const char* op : {"get", "update"})
    for (const char* kind : {"not_connected", "wrong_revision"})
      BOOST_TEST(value_of(text, std::string(R"(parti_kv_operation_errors_total{kind=")") + kind +
                                    R"(",operation=")" + op + R"(",worker=""})") == 0.0,
                 op << " " << kind);
  BOOST_TEST(value_of(text, R"(parti_retry_attempts_total{operation="get",worker=""})") == 0.0);
  BOOST_TEST(value_of(text, R"(parti_retry_exhausted_total{operation="get",worker=""})") == 0.0);
  BOOST_TEST(!has_series(text, R"(parti_retry_attempts_total{operation="update",worker=""})"));
  for (const char* reason : {"cold_start", "emergency"})
    for (const char* result : {"success", "failure"})
      BOOST_TEST(
          value_of(text, std::string(R"(parti_calculator_rebalance_total{reason=")") + reason +
                             R"(",result=")" + result + R"(",worker="w-1"})") == 0.0,
          reason << " " << result);
  BOOST_TEST(
      value_of(text, R"(parti_watcher_failures_total{bucket="g-assignments",worker="w-1"})") ==
      0.0);
  BOOST_TEST(
      value_of(text, R"(parti_watcher_restarts_total{bucket="g-assignments",worker="w-1"})") ==
      0.0);
  // Counting after the start adds to the zero series.
  m.count_kv_error("", "get", "not_connected");
  BOOST_TEST(
      value_of(
          m.text(),
          R"(parti_kv_operation_errors_total{kind="not_connected",operation="get",worker=""})") ==
      1.0);
}

/// Writes every leader-only series of `worker`, and two it has as any node.
void lead(metrics& m, const std::string& worker) {
  m.init_rebalance(worker, {"cold_start"});
  m.observe_rebalance(worker, "cold_start", rebalance_result::success, 5ms);
  m.set_calculator_input(worker, 2, 8);
  m.init_partition_source(worker);
  m.observe_partition_source_load(worker, 1ms);
  m.set_partition_source_success(worker, 1'700'000'000'000);
  m.set_unassigned_partitions(worker, 3);
  m.set_handoff_partitions(worker, 1);
  m.set_heartbeat_age(worker, "w-9", 1s);
  m.set_leader(worker, true);
  m.set_owned_partitions(worker, 4);
}

const std::vector<std::string> leader_only_families{
    "parti_calculator_rebalance_total",
    "parti_calculator_rebalance_duration_seconds",
    "parti_calculator_active_workers",
    "parti_calculator_partitions",
    "parti_partition_source_failures_total",
    "parti_partition_source_load_seconds",
    "parti_partition_source_last_success_timestamp_seconds",
    "parti_unassigned_partitions",
    "parti_handoff_partitions",
    "parti_heartbeat_age_seconds"};

/// Whether a sample of `family` carries worker="`worker`".
bool reports(const std::string& text, const std::string& family, const std::string& worker) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(family, 0) == 0 && mentions(line, "worker=\"" + worker + "\"")) return true;
  return false;
}

BOOST_AUTO_TEST_CASE(leader_only_series_go_when_the_leader_ends) {
  metrics m;
  m.begin_leading("w-1");
  lead(m, "w-1");
  m.begin_leading("w-2");
  lead(m, "w-2");
  auto text = m.text();
  for (const auto& family : leader_only_families) BOOST_TEST(reports(text, family, "w-1"), family);

  m.end_leading("w-1");
  text = m.text();
  for (const auto& family : leader_only_families) {
    BOOST_TEST(!reports(text, family, "w-1"), family);
    BOOST_TEST(reports(text, family, "w-2"), family);  // another worker's leader is untouched
  }
  // What any node reports stays: the node sets those itself.
  BOOST_TEST(value_of(text, R"(parti_owned_partitions{worker="w-1"})") == 4.0);
  BOOST_TEST(value_of(text, R"(parti_node_leader{worker="w-1"})") == 1.0);

  // A child of the ended leader that writes late brings nothing back...
  lead(m, "w-1");
  text = m.text();
  for (const auto& family : leader_only_families) BOOST_TEST(!reports(text, family, "w-1"), family);
  // ...until the worker leads again.
  m.begin_leading("w-1");
  lead(m, "w-1");
  BOOST_TEST(value_of(m.text(), R"(parti_unassigned_partitions{worker="w-1"})") == 3.0);
}

BOOST_AUTO_TEST_CASE(a_leader_restarted_before_its_predecessor_ended_keeps_its_series) {
  metrics m;
  m.begin_leading("w-1");
  m.begin_leading("w-1");  // the node restarted its leader; the old one has not ended yet
  m.end_leading("w-1");
  m.set_unassigned_partitions("w-1", 0);
  BOOST_TEST(value_of(m.text(), R"(parti_unassigned_partitions{worker="w-1"})") == 0.0);
  m.end_leading("w-1");
  BOOST_TEST(!has_series(m.text(), R"(parti_unassigned_partitions{worker="w-1"})"));
}

BOOST_AUTO_TEST_CASE(forgetting_removes_only_the_named_series) {
  metrics m;
  for (const char* w : {"w-1", "w-2"}) {
    m.set_owned_partitions(w, 4);
    m.set_node_state(w, "Stable");
    m.count_kv_error(w, "get", "not_connected");
  }
  m.set_heartbeat_age("w-1", "w-2", 1s);
  m.set_heartbeat_age("w-1", "w-3", 2s);

  m.forget_heartbeat("w-1", "w-2");
  auto text = m.text();
  BOOST_TEST(
      !has_series(text, R"(parti_heartbeat_age_seconds{observed_worker="w-2",worker="w-1"})"));
  BOOST_TEST(value_of(text, R"(parti_heartbeat_age_seconds{observed_worker="w-3",worker="w-1"})") ==
             2.0);

  m.forget_worker("w-1");
  text = m.text();
  BOOST_TEST(!mentions(text, R"(worker="w-1")"), text);
  BOOST_TEST(value_of(text, R"(parti_owned_partitions{worker="w-2"})") == 4.0);
  BOOST_TEST(value_of(text, R"(parti_node_state{state="Stable",worker="w-2"})") == 1.0);

  // A series forgotten and recorded again starts afresh.
  m.count_kv_error("w-1", "get", "not_connected");
  BOOST_TEST(
      value_of(
          m.text(),
          R"(parti_kv_operation_errors_total{kind="not_connected",operation="get",worker="w-1"})") ==
      1.0);
}

BOOST_AUTO_TEST_CASE(build_info_is_one_with_the_version_and_commit_from_the_start) {
  metrics m;
  const auto series = std::string(R"(parti_build_info{commit=")") + git_commit + R"(",version=")" +
                      version_string + R"("})";
  BOOST_TEST(std::string(version_string) == std::to_string(version_major) + "." +
                                                std::to_string(version_minor) + "." +
                                                std::to_string(version_patch));
  BOOST_TEST(value_of(m.text(), series) == 1.0, m.text());
  m.set_owned_partitions("w-1", 2);
  m.forget_worker("w-1");  // not a worker's series
  BOOST_TEST(value_of(m.text(), series) == 1.0, m.text());
}

BOOST_AUTO_TEST_CASE(with_a_group_every_series_carries_it) {
  metrics m("orders");
  m.set_owned_partitions("w-1", 3);
  m.count_kv_error("w-1", "get", "timeout");
  auto text = m.text();
  BOOST_TEST(value_of(text, R"(parti_owned_partitions{group="orders",worker="w-1"})") == 3.0, text);
  BOOST_TEST(value_of(text, R"(parti_kv_operation_errors_total{group="orders",kind="timeout",)"
                            R"(operation="get",worker="w-1"})") == 1.0,
             text);
  BOOST_TEST(value_of(text, R"(parti_nats_connected{group="orders"})") == 0.0, text);
  BOOST_TEST(value_of(text, R"(parti_nats_reconnects_total{group="orders"})") == 0.0, text);
  // Every sample line, parti_build_info included, names the group.
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line[0] != '#') BOOST_TEST(mentions(line, R"(group="orders")"), line);
  m.forget_worker("w-1");
  BOOST_TEST(
      std::isnan(value_of(m.text(), R"(parti_owned_partitions{group="orders",worker="w-1"})")));
}

BOOST_AUTO_TEST_CASE(without_a_group_there_is_no_group_label) {
  metrics m;
  m.set_nats_connected(true);
  m.count_nats_reconnect();
  auto text = m.text();
  BOOST_TEST(!mentions(text, "group="), text);
  BOOST_TEST(value_of(text, "parti_nats_connected") == 1.0, text);
  BOOST_TEST(value_of(text, "parti_nats_reconnects_total") == 1.0, text);
}

BOOST_AUTO_TEST_CASE(records_from_many_threads_are_all_counted) {
  metrics m;
  constexpr int threads = 4;
  constexpr int per_thread = 2000;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&m, t] {
      for (int i = 0; i < per_thread; ++i) {
        m.count_retry_attempt("w-1", "put");
        m.observe_kv_operation("w-" + std::to_string(t), "put", 1ms);
        if (i % 100 == 0) (void)m.text();  // scrapes interleave with records
      }
    });
  }
  for (auto& th : pool) th.join();
  auto text = m.text();
  BOOST_TEST(value_of(text, R"(parti_retry_attempts_total{operation="put",worker="w-1"})") ==
             double(threads * per_thread));
  for (int t = 0; t < threads; ++t)
    BOOST_TEST(
        value_of(text, R"(parti_kv_operation_duration_seconds_count{operation="put",worker="w-)" +
                           std::to_string(t) + "\"}") == double(per_thread));
}

BOOST_AUTO_TEST_CASE(promtool_accepts_the_exposition, *utf::precondition(promtool_installed)) {
  metrics m;
  record_one_of_everything(m);
  auto r = promtool_check(m.text());
  BOOST_TEST(r.exit_code == 0, r.output);
  BOOST_TEST(r.output.empty(), "promtool lint: " << r.output);
}

BOOST_AUTO_TEST_CASE(promtool_catches_a_broken_exposition, *utf::precondition(promtool_installed)) {
  // The check above could pass vacuously if promtool accepted anything.
  auto r = promtool_check("# TYPE x counter\nx{worker=\"w-1\" 1\n");
  BOOST_TEST(r.exit_code != 0, r.output);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(endpoint)

BOOST_AUTO_TEST_CASE(serves_metrics_status_and_404) {
  auto m = std::make_shared<metrics>();
  m->set_owned_partitions("w-1", 12);
  int calls = 0;
  auto ep = start_or_fail(m, [&calls] {
    ++calls;
    return R"({"worker":"w-1","calls":)" + std::to_string(calls) + "}";
  });
  BOOST_TEST(ep->port() > 0);
  BOOST_TEST(ep->host() == "127.0.0.1");

  auto r = http_get(ep->port(), "/metrics");
  BOOST_TEST(r.code == 200);
  BOOST_TEST(r.headers["content-type"].rfind("text/plain; version=0.0.4", 0) == 0u,
             r.headers["content-type"]);
  BOOST_TEST(r.headers["content-length"] == std::to_string(r.body.size()));
  BOOST_TEST(value_of(r.body, R"(parti_owned_partitions{worker="w-1"})") == 12.0, r.body);

  // Each scrape sees the registry as it is now.
  m->set_owned_partitions("w-1", 13);
  BOOST_TEST(value_of(http_get(ep->port(), "/metrics").body,
                      R"(parti_owned_partitions{worker="w-1"})") == 13.0);

  r = http_get(ep->port(), "/status");
  BOOST_TEST(r.code == 200);
  BOOST_TEST(r.headers["content-type"] == "application/json");
  BOOST_TEST(r.body == R"({"worker":"w-1","calls":1})");
  BOOST_TEST(http_get(ep->port(), "/status?verbose=1").body == R"({"worker":"w-1","calls":2})");

  for (const char* path : {"/", "/nope", "/metricsx", "/metrics/more", "/statusx"}) {
    r = http_get(ep->port(), path);
    BOOST_TEST(r.code == 404, path);
    BOOST_TEST(mentions(r.body, "not found"), path);
  }
}

BOOST_AUTO_TEST_CASE(head_is_served_and_other_methods_are_refused) {
  auto m = std::make_shared<metrics>();
  auto ep = start_or_fail(m, [] { return std::string{"{}"}; });
  auto head = http_request(ep->port(), "HEAD", "/status");
  BOOST_TEST(head.code == 200);
  BOOST_TEST(head.headers["content-length"] == "2");
  BOOST_TEST(head.body.empty());
  auto post = http_request(ep->port(), "POST", "/metrics");
  BOOST_TEST(post.code == 405);
  BOOST_TEST(post.headers["allow"] == "GET, HEAD");
}

BOOST_AUTO_TEST_CASE(without_a_status_source_status_is_404) {
  auto ep = start_or_fail(std::make_shared<metrics>(), {});
  BOOST_TEST(http_get(ep->port(), "/status").code == 404);
  BOOST_TEST(http_get(ep->port(), "/metrics").code == 200);
}

BOOST_AUTO_TEST_CASE(a_throwing_status_source_is_a_500_not_a_crash) {
  auto ep = start_or_fail(std::make_shared<metrics>(),
                          []() -> std::string { throw std::runtime_error("node not started"); });
  auto r = http_get(ep->port(), "/status");
  BOOST_TEST(r.code == 500);
  BOOST_TEST(mentions(r.body, "node not started"), r.body);
  BOOST_TEST(http_get(ep->port(), "/metrics").code == 200);  // still serving
}

BOOST_AUTO_TEST_CASE(a_page_answers_with_the_code_it_gives) {
  auto o = loopback();
  o.json_pages["/readyz"] = [] { return http_page{503, R"({"ready":false})"}; };
  o.json_pages["/plain"] = [] { return std::string{R"({"a":1})"}; };  // a body alone: 200
  o.json_pages["/odd"] = [] { return http_page{42, "{}"}; };
  auto ep = start_or_fail(
      std::make_shared<metrics>(),
      [] {
        return http_page{503, "{}"};
      },
      o);
  auto ready = http_get(ep->port(), "/readyz");
  BOOST_TEST(ready.code == 503);
  BOOST_TEST(ready.body == R"({"ready":false})");
  BOOST_TEST(ready.headers["content-type"] == "application/json");
  BOOST_TEST(http_request(ep->port(), "HEAD", "/readyz").code == 503);
  auto plain = http_get(ep->port(), "/plain");
  BOOST_TEST(plain.code == 200);
  BOOST_TEST(plain.body == R"({"a":1})");
  BOOST_TEST(http_get(ep->port(), "/status").code == 503);
  auto odd = http_get(ep->port(), "/odd");  // not an HTTP status: the page is broken
  BOOST_TEST(odd.code == 500);
  BOOST_TEST(mentions(odd.body, "42"), odd.body);
}

BOOST_AUTO_TEST_CASE(a_used_port_is_a_clear_error) {
  port_holder taken;
  auto r = http_endpoint::start(std::make_shared<metrics>(), {}, loopback(taken.port()));
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST_MESSAGE("used port: " << r.error());
  const std::string address = "127.0.0.1:" + std::to_string(taken.port());
  BOOST_TEST(r.error().find("http endpoint: cannot listen on " + address) == 0u, r.error());
  BOOST_TEST(mentions(r.error(), "Address already in use"), r.error());  // the cause, from bind

  // The same with the port held by another endpoint of this process.
  auto first = start_or_fail(std::make_shared<metrics>(), {});
  auto second = http_endpoint::start(std::make_shared<metrics>(), {}, loopback(first->port()));
  BOOST_REQUIRE(!second.ok());
  BOOST_TEST(mentions(second.error(), std::to_string(first->port())), second.error());
  BOOST_TEST(http_get(first->port(), "/metrics").code == 200);  // the first one is unharmed
}

BOOST_AUTO_TEST_CASE(the_port_is_released_when_the_endpoint_is_destroyed) {
  auto ep = start_or_fail(std::make_shared<metrics>(), {});
  int port = ep->port();
  ep.reset();
  BOOST_TEST(http_get(port, "/metrics").code == 0);  // nobody listens any more
  auto again = start_or_fail(std::make_shared<metrics>(), {}, loopback(port));
  BOOST_TEST(again->port() == port);
  BOOST_TEST(http_get(port, "/metrics").code == 200);
}

BOOST_AUTO_TEST_CASE(invalid_options_are_refused_naming_the_problem) {
  auto m = std::make_shared<metrics>();
  for (const char* bad : {"", "9464", ":9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000",
                          "127.0.0.1:http", "::1:9464"}) {
    http_endpoint_options o;
    o.address = bad;
    auto r = http_endpoint::start(m, {}, o);
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST(r.error().find(std::string{"http endpoint: address '"} + bad + "'") == 0u,
               r.error());
  }
  auto o = loopback();
  o.threads = 0;
  BOOST_TEST(http_endpoint::start(m, {}, o).error() == "http endpoint: threads must be at least 1");
  BOOST_TEST(http_endpoint::start(nullptr, {}, loopback()).error() ==
             "http endpoint: no metrics to serve");
}

BOOST_AUTO_TEST_CASE(a_request_arriving_in_pieces_is_served) {
  auto ep = start_or_fail(std::make_shared<metrics>(), [] { return std::string{"{\"ok\":true}"}; });
  client_socket slow(ep->port());
  BOOST_REQUIRE(slow.connected());
  const std::string request = request_text("GET", "/status");
  BOOST_REQUIRE(slow.send(request.substr(0, 7)));
  std::this_thread::sleep_for(50ms);  // the server must wait for the rest, not answer a fragment
  // Meanwhile another client is served at once by the other server thread.
  BOOST_TEST(http_get(ep->port(), "/metrics").code == 200);
  BOOST_REQUIRE(slow.send(request.substr(7)));
  auto raw = slow.read_to_end();
  BOOST_TEST(raw.rfind("HTTP/1.1 200 ", 0) == 0u, raw);
  BOOST_TEST(raw.substr(raw.find("\r\n\r\n") + 4) == "{\"ok\":true}", raw);
}

BOOST_AUTO_TEST_CASE(a_stalled_client_is_dropped_after_the_request_timeout) {
  auto o = loopback();
  o.threads = 1;  // the stalled client holds the only server thread...
  o.request_timeout = 300ms;
  auto ep = start_or_fail(std::make_shared<metrics>(), {}, o);
  client_socket stalled(ep->port());
  BOOST_REQUIRE(stalled.connected());
  BOOST_REQUIRE(stalled.send("GET /metr"));
  std::this_thread::sleep_for(50ms);
  // ...until its timeout, after which the next client is served (the client waits up to 5 s).
  auto started = std::chrono::steady_clock::now();
  BOOST_TEST(http_get(ep->port(), "/metrics").code == 200);
  BOOST_TEST(elapsed_ms(started) < 3000);
  BOOST_TEST(stalled.read_to_end().rfind("HTTP/1.1 200 ", 0) != 0u);
}

BOOST_AUTO_TEST_CASE(stopping_does_not_wait_for_a_stalled_client) {
  auto o = loopback();
  o.request_timeout = 60s;
  auto ep = start_or_fail(std::make_shared<metrics>(), {}, o);
  client_socket stalled(ep->port());
  BOOST_REQUIRE(stalled.connected());
  BOOST_REQUIRE(stalled.send("GET /metr"));
  std::this_thread::sleep_for(50ms);
  auto started = std::chrono::steady_clock::now();
  ep.reset();
  BOOST_TEST(elapsed_ms(started) < 5000);
}

BOOST_AUTO_TEST_CASE(promtool_accepts_what_the_endpoint_serves,
                     *utf::precondition(promtool_installed)) {
  auto m = std::make_shared<metrics>();
  record_one_of_everything(*m);
  auto ep = start_or_fail(m, {});
  auto r = http_get(ep->port(), "/metrics");
  BOOST_REQUIRE(r.code == 200);
  auto check = promtool_check(r.body);
  BOOST_TEST(check.exit_code == 0, check.output);
}

BOOST_AUTO_TEST_SUITE_END()

// The NATS connection's gauge and reconnect counter, fed by its events, against a real
// nats-server that stops and starts again on the same port.
BOOST_AUTO_TEST_SUITE(nats_connection)

BOOST_AUTO_TEST_CASE(connected_drops_to_zero_when_the_server_stops_and_reconnects_are_counted) {
  local_nats_server server;
  connection_options options;
  options.urls = {server.url()};
  options.reconnect_wait = 50ms;
  options.reconnect_jitter = 10ms;
  options.ping_interval = 200ms;
  auto conn = connection::open(options);
  BOOST_REQUIRE_MESSAGE(conn, conn.error());
  auto m = std::make_shared<metrics>("g");
  const int token = report_connection_metrics(**conn, m);
  auto connected = [&] { return value_of(m->text(), R"(parti_nats_connected{group="g"})"); };
  auto reconnects = [&] {
    return value_of(m->text(), R"(parti_nats_reconnects_total{group="g"})");
  };
  BOOST_TEST(test::eventually([&] { return connected() == 1.0; }, 5s), m->text());
  BOOST_TEST(reconnects() == 0.0, m->text());

  server.stop();
  BOOST_TEST(test::eventually([&] { return connected() == 0.0; }, 10s), m->text());
  BOOST_TEST(reconnects() == 0.0, m->text());

  server.start();
  BOOST_TEST(test::eventually([&] { return connected() == 1.0; }, 10s), m->text());
  BOOST_TEST(reconnects() == 1.0, m->text());

  server.stop();
  BOOST_TEST(test::eventually([&] { return connected() == 0.0; }, 10s), m->text());
  server.start();
  BOOST_TEST(test::eventually([&] { return connected() == 1.0 && reconnects() == 2.0; }, 10s),
             m->text());
  (*conn)->remove_listener(token);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(config_files)

// The alert rules and the dashboard name metrics by hand; a typo or a renamed metric would make
// an alert that can never fire or an empty panel, so both are checked against the exporter.

BOOST_AUTO_TEST_CASE(alerts_and_dashboard_name_only_exposed_metrics) {
  std::set<std::string> exposed(every_family.begin(), every_family.end());
  for (const char* file : {"config/prometheus/alerts.yml", "config/grafana/parti-dashboard.json"}) {
    auto used = metric_families_in(read_text(source_path(file)));
    BOOST_TEST(!used.empty(), file);
    for (const auto& name : used) BOOST_TEST(exposed.count(name) == 1u, file << ": " << name);
  }
}

// Every alert links its runbook: one base URL for all, an anchor named after the alert, and a
// section of that name in docs/OPERATIONS.md (GitHub's anchor of "### PartiNoLeader" is
// "#partinoleader").
BOOST_AUTO_TEST_CASE(every_alert_has_a_runbook_in_the_operations_guide) {
  const std::string base = "https://github.com/parti-cpp/parti-cpp/blob/main/docs/OPERATIONS.md#";
  const auto rules = read_text(source_path("config/prometheus/alerts.yml"));
  const auto guide = read_text(source_path("docs/OPERATIONS.md"));
  std::map<std::string, std::string> runbook_of;  // alert -> its runbook_url
  std::string alert;
  std::istringstream lines(rules);
  std::smatch m;
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_search(line, m, std::regex(R"(^\s+- alert: (\w+))")))
      runbook_of[alert = m[1].str()];
    else if (std::regex_search(line, m, std::regex(R"re(^\s+runbook_url: "([^"]*)")re")))
      runbook_of[alert] = m[1];
  }
  BOOST_TEST(runbook_of.size() >= 9u);
  for (const auto& [name, url] : runbook_of) {
    std::string anchor = name;
    std::transform(anchor.begin(), anchor.end(), anchor.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    BOOST_TEST(url == base + anchor, name);
    BOOST_TEST(mentions(guide, "\n### " + name + "\n"),
               name << ": no section in docs/OPERATIONS.md");
  }
}

BOOST_AUTO_TEST_CASE(dashboard_is_a_grafana_dashboard) {
  auto dashboard =
      nlohmann::json::parse(read_text(source_path("config/grafana/parti-dashboard.json")));
  BOOST_TEST(dashboard.at("uid").get<std::string>() == "parti-cpp");
  BOOST_TEST(dashboard.at("schemaVersion").get<int>() >= 30);
  std::set<int> ids;
  std::size_t queries = 0;
  for (const auto& panel : dashboard.at("panels")) {
    BOOST_TEST(ids.insert(panel.at("id").get<int>()).second, "duplicate panel id");
    BOOST_TEST(panel.at("gridPos").at("w").get<int>() <= 24);
    if (panel.at("type") == "row") continue;
    BOOST_TEST(!panel.at("targets").empty(), panel.at("title").get<std::string>());
    queries += panel.at("targets").size();
  }
  BOOST_TEST(queries >= 10u);
}

BOOST_AUTO_TEST_CASE(dashboard_queries_parse_as_promql, *utf::precondition(promtool_installed)) {
  // promtool parses expressions in rule files: each panel query becomes a recording rule, with
  // Grafana's variables replaced by values Prometheus understands.
  auto dashboard =
      nlohmann::json::parse(read_text(source_path("config/grafana/parti-dashboard.json")));
  std::string rules = "groups:\n  - name: dashboard\n    rules:\n";
  int n = 0;
  for (const auto& panel : dashboard.at("panels")) {
    if (panel.at("type") == "row") continue;
    for (const auto& target : panel.at("targets")) {
      std::string expr = target.at("expr");
      expr = std::regex_replace(expr, std::regex(R"(\$__rate_interval)"), "5m");
      expr = std::regex_replace(expr, std::regex(R"(\$group)"), ".*");
      rules += "      - record: parti:dashboard_query_" + std::to_string(++n) +
               "\n        expr: " + nlohmann::json(expr).dump() + "\n";
    }
  }
  temp_file file(rules, ".yml");
  auto r = promtool("check rules " + file.path());
  BOOST_TEST(r.exit_code == 0, r.output);
}

BOOST_AUTO_TEST_CASE(alert_rules_pass_promtool_check_and_unit_tests,
                     *utf::precondition(promtool_installed)) {
  auto check = promtool("check rules " + source_path("config/prometheus/alerts.yml"));
  BOOST_TEST(check.exit_code == 0, check.output);
  // alerts_test.yml names alerts.yml relative to itself, so promtool runs from that folder.
  auto unit = promtool("test rules " + source_path("config/prometheus/alerts_test.yml"));
  BOOST_TEST(unit.exit_code == 0, unit.output);
}

BOOST_AUTO_TEST_SUITE_END()
