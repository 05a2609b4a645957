// A real Prometheus server (Debian package prometheus) scrapes parti-node on loopback; one
// series is read back through Prometheus's HTTP API.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "apps/lib/http_client.hpp"
#include "parti/runtime/nats/local_server.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/run_program.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "parti-prom-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

/// The value of the first sample of an instant query, when there is one.
std::optional<double> query(int port, const std::string& promql) {
  auto reply = http_get(port, "/api/v1/query?query=" + promql);
  if (!reply.ok()) return std::nullopt;
  auto j = nlohmann::json::parse(reply.body, nullptr, false);
  if (j.is_discarded() || j.value("status", "") != "success") return std::nullopt;
  const auto& result = j["data"]["result"];
  if (!result.is_array() || result.empty()) return std::nullopt;
  return std::stod(result[0]["value"][1].get<std::string>());
}

}  // namespace

BOOST_AUTO_TEST_CASE(prometheus_scrapes_parti_node_and_serves_its_series) {
  BOOST_REQUIRE_MESSAGE(std::filesystem::exists("/usr/bin/prometheus"),
                        "install the Debian package prometheus (scripts/setup does)");
  temp_dir dir;
  auto metrics_port = free_loopback_port();
  auto prometheus_port = free_loopback_port();
  test::child_program node({test::app_binary("parti-node"), "--nats-url=embedded", "--partitions=4",
                            "--cold-start-window=1s", "--planned-scale-window=1s", "--cooldown=1s",
                            "--metrics-address=127.0.0.1:" + std::to_string(metrics_port),
                            "--run-for=120s"});
  std::ofstream(dir.path / "prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      << "scrape_configs:\n  - job_name: parti\n    static_configs:\n"
      << "      - targets: ['127.0.0.1:" << metrics_port << "']\n";
  test::child_program prometheus(
      {"/usr/bin/prometheus", "--config.file=" + (dir.path / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (dir.path / "data").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)},
      dir.path.string());
  // The node owns all 4 partitions once the cold-start window is over; Prometheus has the series
  // after its next scrape.
  std::optional<double> owned;
  BOOST_TEST(test::eventually(
                 [&] {
                   owned = query(prometheus_port, "parti_owned_partitions");
                   return owned && *owned == 4.0;
                 },
                 60s),
             "parti_owned_partitions never reached 4 in Prometheus\n"
                 << prometheus.err().substr(0, 2000) << node.err().substr(0, 2000));
  auto up = query(prometheus_port, "up%7Bjob%3D%22parti%22%7D");
  BOOST_TEST((up && *up == 1.0));
}
