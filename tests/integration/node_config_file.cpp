// parti-node's configuration surface, run as a user would: an INI file that sets every option
// comes back unchanged from --check-config (the values the nodes would run with), every
// registered option is in that file, in --help's topics and in docs/CONFIGURATION.md; unknown
// keys and flags stop the start naming the nearest valid one, CAF's own sections are accepted,
// caf-application.ini in the working directory is ignored with a log line, a nats-server of
// its own starts only with --nats-url=embedded, and with nothing listening the start fails
// after --nats-startup-timeout with a message that says so.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <map>
#include <sstream>

#include "apps/lib/node_process.hpp"
#include "parti/runtime/nats/local_server.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/kept_dir.hpp"
#include "tests/support/run_program.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

using test::contains;

/// parti-node with NATS_URL removed from its environment, so that the tests see the defaults.
std::vector<std::string> node_args(std::vector<std::string> args) {
  args.insert(args.begin(), {"/usr/bin/env", "-u", "NATS_URL", test::app_binary("parti-node")});
  return args;
}

struct temp_dir : test::kept_dir {
  temp_dir() : kept_dir("parti-node-config") {}
};

/// The name=value lines of an INI text's [global] section (comments and blank lines skipped).
std::map<std::string, std::string> global_keys(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream lines(text);
  bool global = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == ';' || line[0] == '#') continue;
    if (line[0] == '[') {
      global = line == "[global]";
      continue;
    }
    auto eq = line.find('=');
    if (global && eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

/// Every option parti-node registers that an INI file sets (not --help, --config-file, ...).
std::vector<std::string> registered_settings() {
  node_app::node_app_config cfg;
  std::vector<std::string> out;
  for (const auto& option : cfg.option_set()) {
    auto name = std::string(option.long_name().data(), option.long_name().size());
    if (std::string(option.category().data(), option.category().size()) == "global" &&
        !node_app::is_command_option(name))
      out.push_back(name);
  }
  return out;
}

/// Non-default values for every option (where two options exclude each other, the second
/// keeps its default: --partitions beside --partitions-file, the password beside its file, the
/// token beside the user). Values are written as --check-config prints them.
std::string every_key(const std::string& partitions_file, const std::string& password_file,
                      const std::string& pem) {
  return "[global]\n"
         "nats-url=\"nats://127.0.0.1:14222,nats://127.0.0.1:14223\"\n"
         "nats-startup-timeout=\"3s\"\n"
         "nats-user=\"parti\"\n"
         "nats-password=\"\"\n"
         "nats-password-file=\"" +
         password_file +
         "\"\n"
         "nats-token=\"\"\n"
         "nats-token-file=\"\"\n"
         "nats-creds=\"\"\n"
         "nats-tls-ca=\"" +
         pem +
         "\"\n"
         "nats-tls-cert=\"" +
         pem +
         "\"\n"
         "nats-tls-key=\"" +
         pem +
         "\"\n"
         "group=\"orders\"\n"
         "partitions=0\n"
         "partitions-file=\"" +
         partitions_file +
         "\"\n"
         "refresh-period=\"30s\"\n"
         "partition-source-timeout=\"3s\"\n"
         "workers=3\n"
         "bucket-replicas=3\n"
         "bucket-storage=\"memory\"\n"
         "reconcile-buckets=true\n"
         "id-prefix=\"node\"\n"
         "id-min=10\n"
         "id-max=99\n"
         "preferred-id=12\n"
         "heartbeat-interval=\"500ms\"\n"
         "heartbeat-ttl=\"2s\"\n"
         "emergency-grace=\"700ms\"\n"
         "id-ttl=\"20s\"\n"
         "election-ttl=\"4s\"\n"
         "kv-operation-timeout=\"400ms\"\n"
         "cold-start=\"wait\"\n"
         "cold-start-window=\"20s\"\n"
         "cold-start-settle=\"150ms\"\n"
         "restart-ratio=0.25\n"
         "restart-grace=\"25s\"\n"
         "planned-scale-window=\"8s\"\n"
         "cooldown=\"4s\"\n"
         "handoff=\"eager\"\n"
         "hand-off-timeout=\"7s\"\n"
         "shutdown=\"restart\"\n"
         "drain-timeout=\"20s\"\n"
         "lease-margin=\"50ms\"\n"
         "on-lease-loss=\"keep\"\n"
         "degraded-preset=\"conservative\"\n"
         "degraded-threshold=\"9s\"\n"
         "degraded-recovery-grace=\"12s\"\n"
         "degraded-mass-disappearance-share=\"0.75\"\n"
         "strategy=\"weighted\"\n"
         "strategy-epsilon=0.25\n"
         "strategy-virtual-nodes=64\n"
         "metrics-address=\"127.0.0.1:0\"\n"
         "publish-port=24000\n"
         "publish-address=\"127.0.0.2\"\n"
         "log-level=\"debug\"\n"
         "log-format=\"json\"\n"
         "run-for=\"45s\"\n"
         "[scheduler]\n"
         "max-threads=3\n";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(node_config_file)

BOOST_AUTO_TEST_CASE(an_ini_file_of_every_key_comes_back_from_check_config) {
  temp_dir dir;
  auto partitions = dir.write("p.txt", "a\nb\nc\n");
  auto password = dir.write("password", "s3cret-pw\n");
  auto pem = dir.write("client.pem", "not checked before connecting\n");
  auto ini = dir.write("node.ini", every_key(partitions, password, pem));
  auto r = test::run_program(node_args({"--config-file=" + ini, "--check-config"}), 20s);
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.output());
  BOOST_TEST(!contains(r.out, "s3cret-pw"), r.out);
  auto given = global_keys(every_key(partitions, password, pem));
  auto printed = global_keys(r.out);
  for (const auto& [key, value] : given) {
    BOOST_TEST_CONTEXT(key) {
      BOOST_TEST(printed.count(key) == 1u, r.out);
      if (printed.count(key)) BOOST_TEST(printed.at(key) == value);
    }
  }
  BOOST_TEST(printed.size() == given.size(), r.out);
  // Every registered option is in the file (so a new option needs a value there).
  for (const auto& name : registered_settings())
    BOOST_TEST(given.count(name) == 1u, name << " is missing from every_key()");
  // And the printed configuration is itself a configuration that reads back the same.
  auto again = test::run_program(
      node_args({"--config-file=" + dir.write("printed.ini", r.out), "--check-config"}), 20s);
  BOOST_TEST(again.code == 0, again.output());
  BOOST_TEST(again.out == r.out, again.output());
}

BOOST_AUTO_TEST_CASE(every_option_has_a_help_topic_and_a_row_in_the_docs) {
  std::ifstream docs(std::string(PARTI_SOURCE_DIR) + "/docs/CONFIGURATION.md");
  BOOST_REQUIRE(docs);
  std::string table{std::istreambuf_iterator<char>(docs), std::istreambuf_iterator<char>()};
  std::vector<std::string> in_topics;
  for (const auto& topic : node_app::option_topics())
    in_topics.insert(in_topics.end(), topic.options.begin(), topic.options.end());
  auto settings = registered_settings();
  BOOST_TEST(settings.size() > 50u);
  for (const auto& name : settings) {
    BOOST_TEST(contains(table, "| `--" + name + "` / `" + name + "` |"),
               name << " has no row in docs/CONFIGURATION.md");
    BOOST_TEST(std::count(in_topics.begin(), in_topics.end(), name) == 1,
               name << " is in no topic of --help");
  }
}

BOOST_AUTO_TEST_CASE(an_unknown_key_or_flag_exits_2_naming_the_nearest_valid_one) {
  temp_dir dir;
  auto typo = dir.write("typo.ini", "[global]\npartitions=4\nheartbeat-tll=\"3s\"\n");
  auto r = test::run_program(node_args({"--config-file=" + typo}), 20s);
  BOOST_TEST(r.code == 2, r.output());
  BOOST_TEST(r.err == "parti-node: config file " + typo +
                          ": heartbeat-tll: unknown key; did you mean heartbeat-ttl? (see "
                          "parti-node --help)\n",
             r.output());
  auto far = dir.write("far.ini", "[global]\npartitions=4\nzzzzzz=1\n");
  auto nothing_near = test::run_program(node_args({"--config-file=" + far}), 20s);
  BOOST_TEST(nothing_near.code == 2, nothing_near.output());
  BOOST_TEST(contains(nothing_near.err, "zzzzzz: unknown key (see"), nothing_near.output());
  auto flag = test::run_program(node_args({"--partitions=4", "--heartbeat-tll=3s"}), 20s);
  BOOST_TEST(flag.code == 2, flag.output());
  BOOST_TEST(flag.err ==
                 "parti-node: --heartbeat-tll: unknown option; did you mean --heartbeat-ttl? "
                 "(see parti-node --help)\n",
             flag.output());
  // A section CAF 0.17 does not have: CAF would ignore it; we name the one meant.
  auto prefixed = dir.write("caf.ini", "[global]\npartitions=4\n[caf.scheduler]\nmax-threads=2\n");
  auto section = test::run_program(node_args({"--config-file=" + prefixed}), 20s);
  BOOST_TEST(section.code == 2, section.output());
  BOOST_TEST(contains(section.err,
                      "[caf.scheduler] max-threads: unknown key; did you mean "
                      "[scheduler] max-threads?"),
             section.output());
}

BOOST_AUTO_TEST_CASE(cafs_own_sections_are_accepted) {
  temp_dir dir;
  auto ini = dir.write("caf.ini",
                       "[global]\npartitions=4\n[scheduler]\nmax-threads=3\npolicy='sharing'\n"
                       "[logger]\nverbosity='quiet'\n[middleman]\nworkers=1\n");
  auto r = test::run_program(node_args({"--config-file=" + ini, "--check-config"}), 20s);
  BOOST_TEST(r.code == 0, r.output());
  BOOST_TEST(contains(r.out, "partitions=4"), r.output());
  auto flag = test::run_program(
      node_args({"--partitions=4", "--scheduler.max-threads=3", "--check-config"}), 20s);
  BOOST_TEST(flag.code == 0, flag.output());
}

BOOST_AUTO_TEST_CASE(caf_application_ini_in_the_working_directory_is_ignored_with_a_log_line) {
  temp_dir dir;
  dir.write("caf-application.ini", "[global]\nhandoff=\"sideways\"\ngroup=\"from-cwd\"\n");
  auto r = test::run_program(node_args({"--partitions=4", "--check-config"}), 20s, dir.path);
  BOOST_TEST(r.code == 0, r.output());
  BOOST_TEST(contains(r.out, "group=\"parti\""), r.output());
  BOOST_TEST(contains(r.err, "ignoring caf-application.ini in the working directory"), r.output());
  // Named, it is read (and checked).
  auto named = test::run_program(
      node_args({"--partitions=4", "--config-file=caf-application.ini", "--check-config"}), 20s,
      dir.path);
  BOOST_TEST(named.code == 2, named.output());
  BOOST_TEST(contains(named.err, "--handoff: expected cooperative|eager, got \"sideways\""),
             named.output());
  BOOST_TEST(!contains(named.err, "ignoring"), named.output());
}

BOOST_AUTO_TEST_CASE(without_a_url_it_connects_to_the_default_and_gives_up_after_the_deadline) {
  auto printed = test::run_program(node_args({"--partitions=2", "--check-config"}), 20s);
  BOOST_TEST(printed.code == 0, printed.output());
  BOOST_TEST(contains(printed.out, "nats-url=\"nats://127.0.0.1:4222\"\n"), printed.output());
  // Nothing listens on a port just freed: the start fails after the deadline, no server started.
  const auto url = "nats://127.0.0.1:" + std::to_string(free_loopback_port());
  auto started = std::chrono::steady_clock::now();
  auto r = test::run_program(
      node_args({"--partitions=2", "--nats-url=" + url, "--nats-startup-timeout=500ms"}), 20s);
  auto took = std::chrono::steady_clock::now() - started;
  BOOST_TEST(r.code == 1, r.output());
  BOOST_TEST(contains(r.err, "no NATS server answered at " + url +
                                 " within 500ms (--nats-startup-timeout)"),
             r.output());
  BOOST_TEST(!contains(r.err, "nats-server at"), r.output());
  BOOST_TEST((took >= 500ms && took < 10s));
  // The same with no URL at all, where nothing listens on the default port.
  if (!accepts_connections(4222)) {
    auto def =
        test::run_program(node_args({"--partitions=2", "--nats-startup-timeout=300ms"}), 20s);
    BOOST_TEST(def.code == 1, def.output());
    BOOST_TEST(contains(def.err, "no NATS server answered at nats://127.0.0.1:4222"), def.output());
  }
}

BOOST_AUTO_TEST_CASE(a_nats_server_of_its_own_starts_only_with_nats_url_embedded) {
  auto r = test::run_program(node_args({"--partitions=2", "--nats-url=embedded", "--run-for=300ms",
                                        "--shutdown=restart", "--nats-startup-timeout=5s"}),
                             30s);
  BOOST_TEST(r.code == 0, r.output());
  BOOST_TEST(contains(r.err, "started a local nats-server at nats://127.0.0.1:"), r.output());
  BOOST_TEST(contains(r.err, "(embedded)"), r.output());
}

BOOST_AUTO_TEST_SUITE_END()
