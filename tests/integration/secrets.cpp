// NATS secrets (passwords, tokens, the userinfo of URLs) stay secret: a unique secret is planted
// in every way parti-node takes one (flag, INI file, environment, password and token files, URL
// userinfo, NATS_URL), the node connects to a nats-server that requires it, and the secret
// appears in nothing the programs show: stdout, stderr, /status, /metrics, /healthz, /readyz,
// parti-ctl's output, nor the messages of a connection refused for a wrong password. Also the
// precedence flag > INI key > environment, and the secret files' errors.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>

#include "apps/lib/fleet.hpp"
#include "apps/lib/http_client.hpp"
#include "parti/runtime/nats/local_server.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/kept_dir.hpp"
#include "tests/support/run_program.hpp"

using namespace parti;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using test::contains;

/// Every secret of a test, by name, and unique: "pw-flag-<pid>" cannot appear by chance.
std::string secret(const std::string& name) {
  return "s3cr3t-" + name + "-" + std::to_string(::getpid());
}

/// parti-node with timings scaled down so that one node is ready within about a second.
std::vector<std::string> node_args(std::vector<std::string> args) {
  args.insert(args.begin(), test::app_binary("parti-node"));
  for (auto& a : fleet::fast_timing_args()) args.push_back(std::move(a));
  for (const char* a :
       {"--partitions=2", "--metrics-address=127.0.0.1:0", "--shutdown=restart", "--run-for=30s"})
    args.push_back(a);
  return args;
}

/// A temporary directory for INI and secret files (kept when the case failed).
struct temp_dir : test::kept_dir {
  temp_dir() : kept_dir("parti-secrets-test") {}
};

/// Sets environment variables for the programs started in its lifetime (fork copies the
/// environment), and removes them again.
struct scoped_env {
  std::vector<std::string> names;
  explicit scoped_env(const std::map<std::string, std::string>& vars) {
    for (const auto& [name, value] : vars) {
      ::setenv(name.c_str(), value.c_str(), 1);
      names.push_back(name);
    }
  }
  ~scoped_env() {
    for (const auto& name : names) ::unsetenv(name.c_str());
  }
};

using test::status_port;

/// What the programs showed, to be searched for the secrets.
struct shown {
  std::string all;
  void add(const std::string& what, const std::string& text) {
    all += "=== " + what + "\n" + text + "\n";
  }
  /// The first secret found with the text around it (empty: none).
  std::string leaked(const std::vector<std::string>& secrets) const {
    for (const auto& s : secrets) {
      auto at = all.find(s);
      if (at == std::string::npos) continue;
      auto section = all.rfind("=== ", at);
      auto from = at > 200 ? at - 200 : 0;
      return "\"" + s + "\" in " + all.substr(section, all.find('\n', section) - section) +
             ": ..." + all.substr(from, 400) + "...";
    }
    return "";
  }
};

/// One way of giving the secret: arguments, INI lines and environment for parti-node, and the
/// equivalent for parti-ctl (which has no INI file).
struct secret_input {
  std::string name;
  std::vector<std::string> node_args;
  std::string ini;  // [global] lines; empty: no INI file
  std::map<std::string, std::string> env;
  std::vector<std::string> ctl_args;
  std::map<std::string, std::string> ctl_env;
};

/// Runs parti-node with `input` against `server` until /readyz answers 200 (it connected and
/// owns its assignment), reads every page and runs parti-ctl status; everything shown goes into
/// the result. Fails the test when the node does not get ready.
shown run_connected(const local_nats_server& server, const secret_input& input,
                    const temp_dir& dir) {
  shown out;
  auto args = node_args(input.node_args);
  args.push_back("--group=g" + input.name);
  if (!input.ini.empty())
    args.push_back("--config-file=" + dir.write(input.name + ".ini", "[global]\n" + input.ini));
  std::optional<test::child_program> node;
  {
    scoped_env env(input.env);
    node.emplace(args);
  }
  int port = 0;
  BOOST_REQUIRE_MESSAGE(
      test::eventually([&] { return (port = status_port(node->err())) != 0; }, 10s),
      input.name + ": " + node->output());
  bool ready = test::eventually([&] { return http_get(port, "/readyz").code == 200; }, 15s);
  BOOST_TEST(ready, input.name + ": the node did not get ready\n" + node->output());
  for (const char* page : {"/status", "/metrics", "/healthz", "/readyz", "/debug/ownership"})
    out.add(page, http_get(port, page).body);
  auto status = json::parse(http_get(port, "/status").body);
  BOOST_TEST(status["embedded_nats"] == false, input.name);
  BOOST_TEST(contains(status["nats"].get<std::string>(), std::to_string(server.port())),
             input.name);
  {
    std::vector<std::string> ctl{test::app_binary("parti-ctl"), "--group=g" + input.name, "status"};
    ctl.insert(ctl.end(), input.ctl_args.begin(), input.ctl_args.end());
    scoped_env env(input.ctl_env);
    std::optional<test::program_result> r;
    bool healthy = test::eventually(
        [&] {
          r = test::run_program(ctl, 10s);
          return r->code == 0;
        },
        10s);
    BOOST_TEST(healthy, input.name + ": parti-ctl\n" + r->output());
    out.add("parti-ctl", r->output());
  }
  node->signal(SIGTERM);
  auto code = node->wait(20s);
  BOOST_TEST((code && *code == 0), input.name + "\n" + node->output());
  out.add("parti-node", node->output());
  return out;
}

void expect_no_secret(const shown& out, const std::vector<std::string>& secrets,
                      const std::string& what) {
  auto leaked = out.leaked(secrets);
  BOOST_TEST(leaked.empty(), what + ": " + leaked);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(secrets)

BOOST_AUTO_TEST_CASE(a_password_from_any_source_connects_and_is_never_shown) {
  const auto password = secret("pw");
  local_nats_server server(nats_server_auth{"parti", password, ""});
  temp_dir dir;
  const auto url = server.url();
  const auto with_userinfo =
      "nats://parti:" + password + "@127.0.0.1:" + std::to_string(server.port());
  // Wrong values in the lower-precedence places prove the precedence: they are overridden.
  const auto wrong_ini = secret("pw-wrong-ini"), wrong_env = secret("pw-wrong-env");
  const auto file = dir.write("password", password + "\n");
  const std::vector<secret_input> inputs{
      {"flag",
       {"--nats-url=" + url, "--nats-user=parti", "--nats-password=" + password},
       "nats-password=\"" + wrong_ini + "\"\n",
       {{"NATS_PASSWORD", wrong_env}},
       {"--nats-url=" + url, "--nats-user=parti", "--nats-password=" + password},
       {{"NATS_PASSWORD", wrong_env}}},
      {"ini",
       {},
       "nats-url=\"" + url + "\"\nnats-user=\"parti\"\nnats-password=\"" + password + "\"\n",
       {{"NATS_PASSWORD", wrong_env}},
       {"--nats-url=" + url, "--nats-user=parti", "--nats-password-file=" + file},
       {}},
      {"env",
       {},
       "",
       {{"NATS_URL", url}, {"NATS_USER", "parti"}, {"NATS_PASSWORD", password}},
       {},
       {{"NATS_URL", url}, {"NATS_USER", "parti"}, {"NATS_PASSWORD", password}}},
      {"file",
       {"--nats-url=" + url, "--nats-user=parti", "--nats-password-file=" + file},
       "",
       {{"NATS_PASSWORD", wrong_env}},
       {"--nats-url=" + url, "--nats-user=parti", "--nats-password-file=" + file},
       {{"NATS_PASSWORD", wrong_env}}},
      {"url", {"--nats-url=" + with_userinfo}, "", {}, {"--nats-url=" + with_userinfo}, {}},
      {"env_url",  // NATS_URL counts as a URL: no embedded server
       {},
       "",
       {{"NATS_URL", with_userinfo}},
       {},
       {{"NATS_URL", with_userinfo}}},
  };
  for (const auto& input : inputs) {
    auto out = run_connected(server, input, dir);
    expect_no_secret(out, {password, wrong_ini, wrong_env}, input.name);
    if (input.name == "url" || input.name == "env_url")
      BOOST_TEST(contains(out.all, "nats://parti:***@127.0.0.1:" + std::to_string(server.port())),
                 input.name + ": the URL is shown redacted\n" + out.all);
  }
}

BOOST_AUTO_TEST_CASE(a_token_from_any_source_connects_and_is_never_shown) {
  const auto token = secret("token");
  local_nats_server server(nats_server_auth{"", "", token});
  temp_dir dir;
  const auto url = server.url();
  const auto with_token = "nats://" + token + "@127.0.0.1:" + std::to_string(server.port());
  const auto wrong_env = secret("token-wrong-env");
  const auto file = dir.write("token", token + "\n");
  const std::vector<secret_input> inputs{
      {"flag",
       {"--nats-url=" + url, "--nats-token=" + token},
       "",
       {{"NATS_TOKEN", wrong_env}},
       {"--nats-url=" + url, "--nats-token=" + token},
       {{"NATS_TOKEN", wrong_env}}},
      {"ini",
       {},
       "nats-url=\"" + url + "\"\nnats-token-file=\"" + file + "\"\n",
       {{"NATS_TOKEN", wrong_env}},
       {"--nats-url=" + url, "--nats-token-file=" + file},
       {}},
      {"env",
       {"--nats-url=" + url},
       "",
       {{"NATS_TOKEN", token}},
       {"--nats-url=" + url},
       {{"NATS_TOKEN", token}}},
      {"url", {"--nats-url=" + with_token}, "", {}, {"--nats-url=" + with_token}, {}},
  };
  for (const auto& input : inputs) {
    auto out = run_connected(server, input, dir);
    expect_no_secret(out, {token, wrong_env}, input.name);
    if (input.name == "url")
      BOOST_TEST(contains(out.all, "nats://***@127.0.0.1:" + std::to_string(server.port())),
                 "the URL is shown redacted\n" + out.all);
  }
}

BOOST_AUTO_TEST_CASE(a_wrong_password_is_refused_and_not_shown) {
  const auto password = secret("pw-right");
  local_nats_server server(nats_server_auth{"parti", password, ""});
  const auto wrong = secret("pw-wrong");
  const auto url = "nats://parti:" + wrong + "@127.0.0.1:" + std::to_string(server.port());
  shown out;
  // parti-node does not wait for credentials that will never work: it names the refusal and
  // exits with 4 (docs/SECURITY.md).
  test::child_program node(node_args({"--nats-url=" + url}));
  auto code = node.wait(20s);
  BOOST_TEST((code && *code == 4), node.output());
  BOOST_TEST(contains(node.err(), "authorization violation"), node.output());
  out.add("parti-node", node.output());
  // parti-ctl fails at once, naming the server redacted.
  auto ctl = test::run_program({test::app_binary("parti-ctl"), "--nats-url=" + url, "status"}, 10s);
  BOOST_TEST(ctl.code == 4, ctl.output());
  BOOST_TEST(contains(ctl.err, "nats://parti:***@127.0.0.1:"), ctl.output());
  out.add("parti-ctl", ctl.output());
  auto flag = test::run_program({test::app_binary("parti-ctl"), "--nats-url=" + server.url(),
                                 "--nats-user=parti", "--nats-password=" + wrong, "status"},
                                10s);
  BOOST_TEST(flag.code == 4, flag.output());
  out.add("parti-ctl --nats-password", flag.output());
  expect_no_secret(out, {wrong, password}, "wrong password");
}

BOOST_AUTO_TEST_CASE(a_bad_secret_file_exits_2_naming_the_option_and_the_path) {
  temp_dir dir;
  auto empty = dir.write("empty", "\n");
  const std::string missing = dir.path + "/missing";
  struct bad_case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<bad_case> cases{
      {{"--nats-user=u", "--nats-password-file=" + missing},
       "--nats-password-file: cannot read '" + missing + "'"},
      {{"--nats-token-file=" + empty}, "--nats-token-file: '" + empty + "' is empty"},
      {{"--nats-token=x", "--nats-token-file=" + empty},
       "--nats-token and --nats-token-file: give one of them, not both"},
  };
  for (const auto& c : cases) {
    auto node = test::run_program(node_args(c.args), 20s);
    BOOST_TEST(node.code == 2, node.output());
    BOOST_TEST(contains(node.err, "parti-node: " + c.message), node.output());
    std::vector<std::string> ctl{test::app_binary("parti-ctl"), "status"};
    ctl.insert(ctl.end(), c.args.begin(), c.args.end());
    auto r = test::run_program(ctl, 10s);
    BOOST_TEST(r.code == 2, r.output());
    BOOST_TEST(contains(r.err, "parti-ctl: " + c.message), r.output());
  }
}

BOOST_AUTO_TEST_CASE(no_dump_of_the_configuration_and_no_echo_of_a_mistyped_option) {
  const auto password = secret("pw-dump");
  auto dump = test::run_program(
      node_args({"--nats-user=u", "--nats-password=" + password, "--dump-config"}), 20s);
  BOOST_TEST(dump.code == 2, dump.output());
  BOOST_TEST(contains(dump.err, "--dump-config: not supported"), dump.output());
  auto typo = test::run_program(node_args({"--nats-pasword=" + password}), 20s);
  BOOST_TEST(typo.code == 2, typo.output());
  BOOST_TEST(contains(typo.err, "--nats-pasword: unknown option"), typo.output());
  shown out;
  out.add("dump", dump.output());
  out.add("typo", typo.output());
  expect_no_secret(out, {password}, "usage errors");
}

BOOST_AUTO_TEST_SUITE_END()
