// The parti-node program, run as a user would: its help, one clear message and exit code 2 for
// every invalid option (command line or INI file), a group that converges on an embedded
// nats-server with /status and /metrics, a graceful stop on SIGTERM, and nodes on a given
// server that parti-ctl sees healthy, and an edited partitions file picked up by --refresh-period.
// Also --version, JSON log lines, the journald priority prefixes and parti_build_info on /metrics.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "apps/lib/fleet.hpp"
#include "apps/lib/http_client.hpp"
#include "parti/runtime/nats/local_server.hpp"
#include "parti/version.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/kept_dir.hpp"
#include "tests/support/run_program.hpp"

using namespace parti;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using test::contains;

std::vector<std::string> node_args(std::vector<std::string> args) {
  args.insert(args.begin(), test::app_binary("parti-node"));
  return args;
}

/// Timings scaled down so that a group converges in about a second; a nats-server of the
/// process's own unless the arguments name one.
std::vector<std::string> fast(std::vector<std::string> args) {
  if (std::none_of(args.begin(), args.end(),
                   [](const std::string& a) { return a.rfind("--nats-url=", 0) == 0; }))
    args.push_back("--nats-url=embedded");
  for (auto& a : fleet::fast_timing_args()) args.push_back(std::move(a));
  return node_args(std::move(args));
}

/// A temporary directory for INI, partitions and secret files (kept when the case failed).
struct temp_dir : test::kept_dir {
  temp_dir() : kept_dir("parti-node-test") {}
};

/// The first match of `pattern`'s group 1 in `text`, or "".
std::string find(const std::string& text, const std::string& pattern) {
  std::smatch m;
  if (std::regex_search(text, m, std::regex(pattern))) return m[1];
  return "";
}

using test::status_port;

std::optional<json> status_of(int port) {
  auto reply = http_get(port, "/status");
  if (!reply.ok()) return std::nullopt;
  return json::parse(reply.body);
}

/// True when every node is Stable and together they own `partitions` partitions.
bool converged(const json& status, std::size_t nodes, std::size_t partitions) {
  if (status["nodes"].size() != nodes) return false;
  std::size_t owned = 0;
  for (const auto& n : status["nodes"]) {
    if (n["state"] != "Stable") return false;
    owned += n["partition_count"].get<std::size_t>();
  }
  return owned == partitions;
}

bool port_accepts(int port) {
  return http_get(port, "/").code != 0;
}

/// partition key -> how many nodes own it, from /status.
std::map<std::string, int> owned_keys(const json& status) {
  std::map<std::string, int> out;
  for (const auto& n : status["nodes"])
    for (const auto& p : n["partitions"]) ++out[p["keys"][0].get<std::string>()];
  return out;
}

/// Exactly `keys` owned, each by one node (a removed key by nobody).
bool owns_exactly(const json& status, const std::set<std::string>& keys) {
  auto owned = owned_keys(status);
  if (owned.size() != keys.size()) return false;
  for (const auto& [key, owners] : owned)
    if (owners != 1 || keys.count(key) == 0) return false;
  return true;
}

/// `args` run by a shell that sets JOURNAL_STREAM to `journal_stream`, as systemd does for a
/// service whose stderr is the journal; "stderr" means stderr's device:inode (a pipe here).
std::vector<std::string> with_journal_stream(const std::string& journal_stream,
                                             std::vector<std::string> args) {
  const std::string value =
      journal_stream == "stderr" ? "$(stat -L -c %d:%i /dev/stderr)" : journal_stream;
  args.insert(args.begin(), {"/bin/sh", "-c", "JOURNAL_STREAM=" + value + " exec \"$@\"", "sh"});
  return args;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(node_app)

BOOST_AUTO_TEST_CASE(help_lists_every_option_with_its_default) {
  auto r = test::run_program(node_args({"--help"}));
  BOOST_TEST(r.code == 0, r.output());
  for (const char* option : {"--nats-url",
                             "--group",
                             "--partitions=",
                             "--partitions-file",
                             "--refresh-period",
                             "--workers",
                             "--strategy",
                             "--handoff",
                             "--shutdown",
                             "--id-prefix",
                             "--id-min",
                             "--id-max",
                             "--preferred-id",
                             "--heartbeat-interval",
                             "--heartbeat-ttl",
                             "--emergency-grace",
                             "--id-ttl",
                             "--election-ttl",
                             "--cold-start-window",
                             "--planned-scale-window",
                             "--cooldown",
                             "--metrics-address",
                             "--nats-user",
                             "--nats-password",
                             "--nats-token",
                             "--nats-creds",
                             "--nats-tls-ca",
                             "--nats-tls-cert",
                             "--nats-tls-key",
                             "--log-level",
                             "--log-format",
                             "--version",
                             "--run-for",
                             "--degraded-preset",
                             "--degraded-threshold",
                             "--degraded-recovery-grace",
                             "--degraded-mass-disappearance-share",
                             "--hand-off-timeout",
                             "--drain-timeout",
                             "--restart-grace",
                             "--restart-ratio",
                             "--kv-operation-timeout",
                             "--strategy-epsilon",
                             "--strategy-virtual-nodes",
                             "--nats-startup-timeout",
                             "--check-config",
                             "--config-file"})
    BOOST_TEST(contains(r.out, option), option);
  BOOST_TEST(contains(r.out, "--heartbeat-ttl=<string>"));
  BOOST_TEST(std::regex_search(r.out, std::regex("--heartbeat-ttl.*\\(default: 3s\\)")));
  BOOST_TEST(std::regex_search(r.out, std::regex("--workers.*\\(default: 1\\)")));
  BOOST_TEST(std::regex_search(r.out, std::regex("--handoff.*\\(default: cooperative\\)")));
  BOOST_TEST(std::regex_search(r.out, std::regex("--restart-ratio.*\\(default: 0\\.5\\)")));
  BOOST_TEST(std::regex_search(
      r.out, std::regex("--degraded-threshold.*overrides the preset's.*balanced: 5s")));
  // Grouped by topic: the timings under their heading, after the NATS connection's.
  auto nats = r.out.find("\nNATS connection:\n"), timings = r.out.find("\nTimings:\n");
  BOOST_TEST((nats != std::string::npos && timings != std::string::npos && nats < timings));
  BOOST_TEST(r.out.find("--heartbeat-ttl") > timings);
  // What a refresh re-reads, and that 0 turns it off.
  BOOST_TEST(std::regex_search(
      r.out, std::regex("--refresh-period.*re-reads --partitions-file.*\\(default: 0s\\)")));
}

struct invalid_case {
  std::vector<std::string> args;
  std::string message;  // the start of the one line on stderr, after "parti-node: "
};

BOOST_AUTO_TEST_CASE(every_invalid_value_exits_2_with_one_message_naming_the_option) {
  const std::vector<invalid_case> cases{
      {{"--partitions=4", "--workers=0"}, "--workers: must be within 1..4096, is 0"},
      {{"--partitions=4", "--heartbeat-interval=fast"}, "--heartbeat-interval: invalid duration"},
      {{"--partitions=4", "--heartbeat-ttl=1500ms"},
       "--heartbeat-ttl: must be at least 2 x --heartbeat-interval"},
      {{"--partitions=4", "--cooldown=20s"}, "--cooldown: must not exceed --planned-scale-window"},
      {{"--partitions=4", "--handoff=lazy"}, "--handoff: expected cooperative|eager"},
      {{"--partitions=4", "--shutdown=never"}, "--shutdown: expected drain|restart"},
      {{"--partitions=4", "--degraded-preset=wild"}, "--degraded-preset: expected"},
      {{"--partitions=4", "--strategy=best"}, "--strategy: expected"},
      {{"--partitions=4", "--preferred-id=5000"}, "--preferred-id: must be within"},
      {{"--partitions=4", "--id-min=10", "--id-max=5"}, "--id-min: must not exceed --id-max"},
      {{"--partitions=4", "--id-prefix=_x"}, "--id-prefix: must use only"},
      {{"--partitions=4", "--group=a.b"}, "--group: must be valid in a bucket name"},
      {{}, "--partitions: give a partition count"},
      {{"--partitions=-3"}, "--partitions: must be within 1..1000000"},
      {{"--partitions=4", "--partitions-file=x"}, "--partitions and --partitions-file"},
      {{"--partitions-file=/nonexistent/p.txt"}, "--partitions-file: partitions file"},
      {{"--partitions=4", "--metrics-address=nowhere"}, "--metrics-address: expected host:port"},
      {{"--partitions=4", "--nats-password=x"}, "--nats-password: requires --nats-user"},
      {{"--partitions=4", "--nats-creds=/nonexistent.creds"}, "--nats-creds: cannot read"},
      {{"--partitions=4", "--nats-tls-cert=/etc/hostname"},
       "--nats-tls-cert: requires --nats-tls-key"},
      {{"--partitions=4", "--nats-tls-key=/etc/hostname"},
       "--nats-tls-key: requires --nats-tls-cert"},
      {{"--partitions=4", "--nats-token=t", "--nats-user=u"},
       "--nats-token: cannot be combined with --nats-user"},
      {{"--partitions=4", "--log-level=loud"}, "--log-level: expected error|warning|info|debug"},
      {{"--partitions=4", "--log-format=xml"},
       "--log-format: expected text|logfmt|json, got \"xml\""},
      {{"--partitions=4", "--run-for=-1s"}, "--run-for: invalid duration"},
      {{"--partitions=4", "--refresh-period=-1s"}, "--refresh-period: invalid duration \"-1s\""},
      {{"--partitions=4", "--refresh-period=abc"}, "--refresh-period: invalid duration \"abc\""},
      {{"--partitions=4", "--refresh-period=30"}, "--refresh-period: invalid duration \"30\""},
      {{"--partitions=4", "--refresh-period=1ms"},
       "--refresh-period: must be 0 (off) or at least 100ms, is 1ms"},
      {{"--partitions=4", "--workers=abc"}, "--workers=abc: invalid value"},
      {{"--partitions=4", "--bogus=1"}, "--bogus: unknown option"},
      {{"--partitions=4", "--restart-ratio=0"}, "--restart-ratio: must be within (0, 1]"},
      {{"--partitions=4", "--strategy-epsilon=11"},
       "--strategy-epsilon: must be a number within 0..10, is 11.0"},
      {{"--partitions=4", "--strategy-virtual-nodes=0"},
       "--strategy-virtual-nodes: must be within 1..10000, is 0"},
      {{"--partitions=4", "--degraded-mass-disappearance-share=2"},
       "--degraded-mass-disappearance-share: must be within (0, 1]"},
      {{"--partitions=4", "--degraded-mass-disappearance-share=half"},
       "--degraded-mass-disappearance-share: expected a number"},
      {{"--partitions=4", "--degraded-recovery-grace=1s"},
       "--degraded-recovery-grace: must be at least --heartbeat-ttl"},
      {{"--partitions=4", "--degraded-threshold=0s"},
       "--degraded-threshold: must be greater than 0"},
      {{"--partitions=4", "--kv-operation-timeout=2s"},
       "--kv-operation-timeout: must not exceed --election-ttl / 3"},
      {{"--partitions=4", "--hand-off-timeout=0s"}, "--hand-off-timeout: must be greater than 0"},
      {{"--partitions=4", "--drain-timeout=soon"}, "--drain-timeout: invalid duration"},
      {{"--partitions=4", "--restart-grace=0s"}, "--restart-grace: must be greater than 0"},
      {{"--partitions=4", "--nats-startup-timeout=-1s"}, "--nats-startup-timeout: invalid"},
      {{"--partitions=4", "--nats-url=,"}, "--nats-url: must name at least one URL"},
      {{"--partitions=4", "stray"}, "unexpected argument \"stray\""},
      {{"--partitions=4", "--config-file=/nonexistent.ini"},
       "--config-file: cannot open \"/nonexistent.ini\""},
  };
  for (const auto& c : cases) {
    auto r = test::run_program(node_args(c.args), 20s);
    BOOST_TEST_CONTEXT("expected: " << c.message) {
      BOOST_TEST(r.code == 2, r.output());
      BOOST_TEST(r.err.rfind("parti-node: " + c.message, 0) == 0u, r.output());
      BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, r.output());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_bad_partitions_file_is_reported_with_its_line) {
  temp_dir dir;
  auto file = dir.write("p.txt", "orders,eu 5\n# comment\nbilling,\n");
  auto r = test::run_program(node_args({"--partitions-file=" + file}), 20s);
  BOOST_TEST(r.code == 2, r.output());
  BOOST_TEST(contains(r.err, file + ": line 3: empty key"), r.output());
}

BOOST_AUTO_TEST_CASE(values_from_an_ini_file_are_checked_like_flags) {
  temp_dir dir;
  auto ini = dir.write("node.ini", "[global]\npartitions=4\nworkers=0\n");
  auto r = test::run_program(node_args({"--config-file=" + ini}), 20s);
  BOOST_TEST(r.code == 2, r.output());
  BOOST_TEST(contains(r.err, "--workers: must be within"), r.output());
  auto refresh = dir.write("refresh.ini", "[global]\npartitions=4\nrefresh-period=\"-5m\"\n");
  auto bad = test::run_program(node_args({"--config-file=" + refresh}), 20s);
  BOOST_TEST(bad.code == 2, bad.output());
  BOOST_TEST(bad.err.rfind("parti-node: --refresh-period: invalid duration \"-5m\"", 0) == 0u,
             bad.output());
  // A syntax error is named by file, line and column, not as CAF renders it.
  auto broken = dir.write("broken.ini", "[global\npartitions=4\n");
  auto syntax = test::run_program(node_args({"--config-file=" + broken}), 20s);
  BOOST_TEST(syntax.code == 2, syntax.output());
  BOOST_TEST(
      syntax.err.rfind(
          "parti-node: config file " + broken + ": line 2, column 1: unexpected_newline", 0) == 0u,
      syntax.output());
}

BOOST_AUTO_TEST_CASE(a_local_group_converges_serves_status_and_stops_on_sigterm) {
  test::child_program node(fast({"--partitions=6", "--workers=2", "--metrics-address=127.0.0.1:0",
                                 "--shutdown=restart", "--group=app"}));
  BOOST_REQUIRE_MESSAGE(test::eventually([&] { return status_port(node) != 0; }, 15s),
                        node.output());
  int port = status_port(node);
  auto nats_port =
      std::stoi(find(node.err(), "local nats-server at nats://127\\.0\\.0\\.1:([0-9]+)"));
  auto store = find(node.err(), "\\(store ([^)]+)\\)");
  BOOST_TEST(std::filesystem::exists(store));

  std::optional<json> status;
  bool ok = test::eventually(
      [&] {
        status = status_of(port);
        return status && converged(*status, 2, 6);
      },
      20s);
  BOOST_REQUIRE_MESSAGE(ok, (status ? status->dump() : "no /status") + "\n" + node.output());
  BOOST_TEST((*status)["group"] == "app");
  int leaders = 0;
  for (const auto& n : (*status)["nodes"]) {
    leaders += n["leader"].get<bool>() ? 1 : 0;
    BOOST_TEST(n["worker"].get<std::string>().rfind("worker-", 0) == 0u);
    BOOST_TEST(n["applied_version"].get<int>() >= 1);
  }
  BOOST_TEST(leaders == 1);
  auto metrics = http_get(port, "/metrics");
  BOOST_TEST(metrics.code == 200);
  BOOST_TEST(contains(metrics.body, "parti_node_state"), metrics.body.substr(0, 2000));
  // Every series names the group (--group=app), the process-wide ones included.
  // (prometheus-cpp puts a family's constant labels before the others.)
  BOOST_TEST(contains(metrics.body, std::string(R"(parti_build_info{group="app",commit=")") +
                                        git_commit + R"(",version=")" + version_string + R"("} 1)"),
             metrics.body.substr(0, 2000));
  BOOST_TEST(contains(metrics.body, R"(parti_nats_connected{group="app"} 1)"), metrics.body);
  BOOST_TEST(contains(metrics.body, R"(parti_nats_reconnects_total{group="app"} 0)"), metrics.body);
  BOOST_TEST(contains(metrics.body, R"(parti_node_leader{group="app",worker="worker-)"),
             metrics.body);

  node.signal(SIGTERM);
  auto code = node.wait(20s);
  BOOST_REQUIRE_MESSAGE(code.has_value(), "parti-node did not stop\n" + node.output());
  BOOST_TEST(*code == 0, node.output());
  BOOST_TEST(contains(node.err(), "stopping 2 node(s) (restart)"), node.output());
  BOOST_TEST(!port_accepts(port));              // the HTTP listener is closed
  BOOST_TEST(!std::filesystem::exists(store));  // and the embedded server is gone
  BOOST_TEST(!accepts_connections(nats_port));
}

BOOST_AUTO_TEST_CASE(nodes_on_a_given_server_are_healthy_for_parti_ctl_and_stop_on_sigint) {
  local_nats_server server;
  test::child_program node(fast({"--nats-url=" + server.url(), "--group=shop", "--partitions=8",
                                 "--workers=3", "--run-for=30s", "--shutdown=restart"}));
  auto ctl = [&] {
    return test::run_program({test::app_binary("parti-ctl"), "--nats-url=" + server.url(),
                              "--group=shop", "--json", "status"},
                             10s);
  };
  test::program_result last;
  bool healthy = test::eventually(
      [&] {
        last = ctl();
        return last.code == 0;
      },
      20s);
  BOOST_REQUIRE_MESSAGE(healthy, last.output() + "\n" + node.output());
  auto j = json::parse(last.out);
  BOOST_TEST(j["partitions"]["assigned"].get<int>() == 8);
  BOOST_TEST(j["workers"].size() == 3u);
  node.signal(SIGINT);
  auto code = node.wait(20s);
  BOOST_REQUIRE_MESSAGE(code.has_value(), node.output());
  BOOST_TEST(*code == 0, node.output());
}

BOOST_AUTO_TEST_CASE(version_prints_the_version_and_commit_and_exits_0) {
  const auto expected = std::string(" ") + version_string + " (commit " + git_commit + ")\n";
  auto r = test::run_program(node_args({"--version"}));
  BOOST_TEST(r.code == 0, r.output());
  BOOST_TEST(r.out == "parti-node" + expected, r.output());
  // Before any other option is looked at: a bad or missing one does not matter.
  auto with_others = test::run_program(node_args({"--workers=0", "--version", "--no-such"}));
  BOOST_TEST(with_others.code == 0, with_others.output());
  BOOST_TEST(with_others.out == "parti-node" + expected, with_others.output());
  auto ctl = test::run_program({test::app_binary("parti-ctl"), "--version"});
  BOOST_TEST(ctl.code == 0, ctl.output());
  BOOST_TEST(ctl.out == "parti-ctl" + expected, ctl.output());
}

BOOST_AUTO_TEST_CASE(json_log_lines_parse_one_object_a_line) {
  auto r = test::run_program(fast({"--partitions=2", "--run-for=1500ms", "--shutdown=restart",
                                   "--log-format=json", "--log-level=debug"}),
                             30s);
  BOOST_TEST(r.code == 0, r.output());
  const std::regex iso("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z");
  const std::set<std::string> levels{"error", "warning", "info", "debug"};
  std::istringstream lines(r.err);
  std::vector<std::string> messages;
  for (std::string line; std::getline(lines, line);) {
    BOOST_TEST_CONTEXT(line) {
      json j;
      BOOST_REQUIRE_NO_THROW(j = json::parse(line));
      BOOST_TEST(j.size() == 3u);
      BOOST_TEST(std::regex_match(j.at("ts").get<std::string>(), iso));
      BOOST_TEST(levels.count(j.at("level").get<std::string>()) == 1u);
      messages.push_back(j.at("msg").get<std::string>());
    }
  }
  auto logged = [&](const std::string& part) {
    return std::any_of(messages.begin(), messages.end(),
                       [&](const std::string& m) { return contains(m, part); });
  };
  BOOST_TEST(logged("parti-node: started a local nats-server"), r.output());
  BOOST_TEST(logged("--run-for elapsed"), r.output());
}

BOOST_AUTO_TEST_CASE(when_stderr_is_the_journal_each_line_starts_with_its_syslog_priority) {
  auto run = fast({"--partitions=2", "--run-for=1s", "--shutdown=restart", "--log-level=debug"});
  auto r = test::run_program(with_journal_stream("stderr", run), 30s);
  BOOST_TEST(r.code == 0, r.output());
  const std::map<std::string, std::string> priority{
      {"ERROR", "<3>"}, {"WARN ", "<4>"}, {"INFO ", "<6>"}, {"DEBUG", "<7>"}};
  std::istringstream lines(r.err);
  std::set<std::string> seen;
  for (std::string line; std::getline(lines, line);) {
    // <6>2026-11-30T05:12:09.572Z INFO  ...: the level word after the 24-character timestamp.
    BOOST_TEST_REQUIRE(line.size() > 3 + 25 + 5, line);
    auto level = line.substr(3 + 25, 5);
    BOOST_TEST_REQUIRE(priority.count(level) == 1u, line);
    BOOST_TEST(line.substr(0, 3) == priority.at(level), line);
    seen.insert(level);
  }
  BOOST_TEST(seen.count("INFO ") == 1u, r.output());
  BOOST_TEST(seen.count("DEBUG") == 1u, r.output());
  // A JOURNAL_STREAM that names another file (inherited by a child whose stderr was redirected)
  // gets no prefixes.
  auto other = test::run_program(with_journal_stream("1:1", run), 30s);
  BOOST_TEST(other.code == 0, other.output());
  BOOST_TEST(!contains(other.err, "<6>"), other.output());
  BOOST_TEST(contains(other.err, " INFO  parti-node: "), other.output());
}

BOOST_AUTO_TEST_CASE(run_for_stops_the_process_by_itself) {
  auto r =
      test::run_program(fast({"--partitions=2", "--run-for=1500ms", "--shutdown=restart"}), 30s);
  BOOST_TEST(r.code == 0, r.output());
  BOOST_TEST(contains(r.err, "--run-for elapsed"), r.output());
}

BOOST_AUTO_TEST_CASE(a_refresh_period_is_accepted_and_useless_with_a_partition_count) {
  auto r = test::run_program(
      fast({"--partitions=2", "--refresh-period=2s", "--run-for=1500ms", "--shutdown=restart"}),
      30s);
  BOOST_TEST(r.code == 0, r.output());
  BOOST_TEST(contains(r.err, "--refresh-period has no effect with --partitions"), r.output());
  auto off = test::run_program(
      fast({"--partitions=2", "--refresh-period=0", "--run-for=1500ms", "--shutdown=restart"}),
      30s);
  BOOST_TEST(off.code == 0, off.output());
  BOOST_TEST(!contains(off.err, "--refresh-period"), off.output());
}

BOOST_AUTO_TEST_CASE(a_refresh_period_from_the_ini_file_picks_up_an_edited_partitions_file) {
  temp_dir dir;
  auto file = dir.write("p.txt", "a\nb\nc\nd\n");
  auto ini = dir.write("node.ini", "[global]\nrefresh-period=\"1s\"\n");
  // Replaced the way deployment tooling should: write aside, then rename over it, so a reader
  // never sees half a file.
  auto replace = [&](const std::string& text) {
    auto aside = dir.write("p.txt.new", text);
    std::filesystem::rename(aside, file);
  };
  test::child_program node(
      fast({"--config-file=" + ini, "--partitions-file=" + file, "--workers=2",
            "--metrics-address=127.0.0.1:0", "--shutdown=restart", "--group=files"}));
  BOOST_REQUIRE_MESSAGE(test::eventually([&] { return status_port(node) != 0; }, 15s),
                        node.output());
  int port = status_port(node);
  std::optional<json> status;
  auto owns = [&](const std::set<std::string>& keys) {
    return test::eventually(
        [&] {
          status = status_of(port);
          return status && converged(*status, 2, keys.size()) && owns_exactly(*status, keys);
        },
        20s);
  };
  BOOST_REQUIRE_MESSAGE(owns({"a", "b", "c", "d"}),
                        (status ? status->dump() : "no /status") + "\n" + node.output());
  BOOST_TEST(contains(node.err(), "4 partitions from " + file + " (re-read every 1s)"),
             node.output());

  replace("a\nb\n# c and d are gone\ne\nf\ng 2\n");  // and nobody asks for a refresh
  BOOST_REQUIRE_MESSAGE(owns({"a", "b", "e", "f", "g"}),
                        (status ? status->dump() : "no /status") + "\n" + node.output());
  // The log arrives through a pipe, possibly after /status already shows the change.
  BOOST_TEST(
      test::eventually([&] { return contains(node.err(), "partitions changed: 4 -> 5"); }, 10s),
      node.output());

  // A broken file is reported and the last good partitions stay.
  replace("a\nb,\n");
  BOOST_TEST(
      test::eventually([&] { return contains(node.err(), file + ": line 2: empty key"); }, 10s),
      node.output());
  status = status_of(port);
  BOOST_REQUIRE(status);
  BOOST_TEST(owns_exactly(*status, {"a", "b", "e", "f", "g"}), status->dump());

  node.signal(SIGTERM);
  auto code = node.wait(20s);
  BOOST_REQUIRE_MESSAGE(code.has_value(), node.output());
  BOOST_TEST(*code == 0, node.output());
}

BOOST_AUTO_TEST_CASE(sighup_has_the_leader_re_read_the_partitions_file_and_stops_nothing) {
  temp_dir dir;
  auto file = dir.write("p.txt", "a\nb\nc\n");
  test::child_program node(
      fast({"--partitions-file=" + file, "--workers=2", "--metrics-address=127.0.0.1:0",
            "--shutdown=restart", "--group=hup"}));
  BOOST_REQUIRE_MESSAGE(test::eventually([&] { return status_port(node) != 0; }, 15s),
                        node.output());
  int port = status_port(node);
  std::optional<json> status;
  auto owns = [&](const std::set<std::string>& keys) {
    return test::eventually(
        [&] {
          status = status_of(port);
          return status && converged(*status, 2, keys.size()) && owns_exactly(*status, keys);
        },
        20s);
  };
  BOOST_REQUIRE_MESSAGE(owns({"a", "b", "c"}),
                        (status ? status->dump() : "no /status") + "\n" + node.output());
  // Without a refresh period nothing would read the file again: SIGHUP asks for it.
  auto aside = dir.write("p.txt.new", "a\nd\ne\n");
  std::filesystem::rename(aside, file);
  node.signal(SIGHUP);
  BOOST_REQUIRE_MESSAGE(owns({"a", "d", "e"}),
                        (status ? status->dump() : "no /status") + "\n" + node.output());
  BOOST_TEST(contains(node.err(), "SIGHUP: asking the leader to re-read the partitions"),
             node.output());

  node.signal(SIGTERM);
  auto code = node.wait(20s);
  BOOST_REQUIRE_MESSAGE(code.has_value(), node.output());
  BOOST_TEST(*code == 0, node.output());
}

BOOST_AUTO_TEST_SUITE_END()
