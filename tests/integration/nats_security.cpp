// NATS security end to end: parti-node groups and parti-ctl against nats-servers that require
// TLS (certificates made here with openssl), a user and password, a token, or a credentials file
// (operator mode; the JWTs made by tests/support/nats_jwt.py). Each reaches full coverage, which
// parti-ctl status confirms with the same credentials. Refused credentials end both programs
// with exit code 4 and a message that names the authorization violation (the URL redacted),
// also when they are revoked after the start; a user with exactly the permissions that
// docs/SECURITY.md lists for a worker runs a group, and one with the observer's set reads the
// status, while its rebalance is denied with exit code 5.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <optional>

#include "apps/lib/fleet.hpp"
#include "parti/runtime/nats/local_server.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/kept_dir.hpp"
#include "tests/support/run_program.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

using test::contains;

/// A nats-server started with a configuration file (its client port and JetStream store are
/// added here); reload() rewrites the file and asks the server to read it again (SIGHUP).
class configured_server {
 public:
  /// `port`: the one the configuration names (operator mode), else 0: a free one, added here.
  configured_server(const test::kept_dir& dir, std::string config, int port = 0)
      : dir_(dir), port_(port != 0 ? port : free_loopback_port()) {
    write(std::move(config));
    pid_ = spawn_nats_server({"-c", file_});
    bool up = test::eventually([&] { return accepts_connections(port_); }, 10s);
    if (!up) throw std::runtime_error("nats-server -c " + file_ + " did not start");
  }
  ~configured_server() { reap_nats_server(pid_, SIGTERM, port_); }
  configured_server(const configured_server&) = delete;
  configured_server& operator=(const configured_server&) = delete;

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  void reload(std::string config) {
    write(std::move(config));
    ::kill(pid_, SIGHUP);
  }

 private:
  void write(std::string config) {
    // An operator-mode configuration (nats_jwt.py) names its own port and store.
    if (!contains(config, "listen:"))
      config = "listen: 127.0.0.1:" + std::to_string(port_) + "\njetstream { store_dir: \"" +
               dir_.path + "/js\" }\n" + config;
    file_ = dir_.write("server.conf", config);
  }

  const test::kept_dir& dir_;
  int port_;
  pid_t pid_ = -1;
  std::string file_;
};

/// parti-node with two nodes and timings scaled down so that the group covers its partitions
/// within a few seconds.
std::vector<std::string> node_args(const std::string& group, std::vector<std::string> auth) {
  std::vector<std::string> args{test::app_binary("parti-node"), "--group=" + group, "--workers=2"};
  for (auto& a : fleet::fast_timing_args()) args.push_back(std::move(a));
  for (const char* a : {"--partitions=4", "--shutdown=restart", "--run-for=60s"}) args.push_back(a);
  args.insert(args.end(), auth.begin(), auth.end());
  return args;
}

test::program_result ctl(const std::string& group, const std::vector<std::string>& auth,
                         const std::string& command) {
  std::vector<std::string> args{test::app_binary("parti-ctl"), "--group=" + group, "--timeout=1s"};
  args.insert(args.end(), auth.begin(), auth.end());
  args.push_back(command);
  return test::run_program(args, 15s);
}

/// Starts a group with `auth`, waits until parti-ctl status (with `ctl_auth`) reports it healthy
/// (a leader, every partition assigned once); returns the node for more checks, still running.
std::unique_ptr<test::child_program> expect_coverage(const std::string& group,
                                                     const std::vector<std::string>& auth,
                                                     const std::vector<std::string>& ctl_auth) {
  auto node = std::make_unique<test::child_program>(node_args(group, auth));
  test::program_result status;
  bool healthy = test::eventually(
      [&] {
        status = ctl(group, ctl_auth, "status");
        return status.code == 0;
      },
      15s);
  BOOST_TEST(healthy, group + ": no full coverage\n" + status.output() + "--- parti-node\n" +
                          node->output());
  return node;
}

void stop(test::child_program& node) {
  node.signal(SIGTERM);
  auto code = node.wait(20s);
  BOOST_TEST((code && *code == 0), node.output());
}

/// parti-node and parti-ctl both refuse to go on with credentials NATS refuses: exit code 4,
/// "authorization violation" named, the URL shown without its secret.
void expect_refused(const std::string& what, const std::vector<std::string>& auth,
                    const std::string& secret) {
  test::child_program node(node_args("refused", auth));
  auto code = node.wait(15s);
  BOOST_TEST((code && *code == 4), what + ": parti-node\n" + node.output());
  BOOST_TEST(contains(node.err(), "authorization violation"), what + "\n" + node.output());
  auto r = ctl("refused", auth, "status");
  BOOST_TEST(r.code == 4, what + ": parti-ctl\n" + r.output());
  BOOST_TEST(contains(r.err, "authorization violation"), what + "\n" + r.output());
  if (!secret.empty()) {
    BOOST_TEST(!contains(node.output() + r.output(), secret), what + ": the secret is shown");
    BOOST_TEST(contains(node.err() + r.err, "***@127.0.0.1:"),
               what + ": URL not redacted\n" + node.output() + r.output());
  }
}

// -- permissions (docs/SECURITY.md, "Least privilege") -------------------------------------------

std::vector<std::string> streams(const std::string& group) {
  std::vector<std::string> all;
  for (const char* role : {"ids", "election", "heartbeats", "assignments"})
    all.push_back("KV_" + group + "-" + role);
  return all;
}

/// What reading the group's buckets takes: stream info, message gets, ordered consumers (watch
/// and key listing) with their flow control; the replies come on _INBOX.>.
std::vector<std::string> observer_publish(const std::string& group) {
  std::vector<std::string> subjects{"$JS.API.INFO", "$JS.API.STREAM.NAMES"};
  for (const auto& s : streams(group))
    for (const auto& subject :
         {"$JS.API.STREAM.INFO." + s, "$JS.API.STREAM.MSG.GET." + s, "$JS.API.DIRECT.GET." + s,
          "$JS.API.DIRECT.GET." + s + ".>", "$JS.API.CONSUMER.CREATE." + s,
          "$JS.API.CONSUMER.CREATE." + s + ".>", "$JS.API.CONSUMER.DELETE." + s + ".>",
          "$JS.FC." + s + ".>"})
      subjects.push_back(subject);
  return subjects;
}

/// A worker also creates the buckets and writes their keys.
std::vector<std::string> worker_publish(const std::string& group) {
  auto subjects = observer_publish(group);
  for (const auto& s : streams(group)) subjects.push_back("$JS.API.STREAM.CREATE." + s);
  for (const char* role : {"ids", "election", "heartbeats", "assignments"})
    subjects.push_back("$KV." + group + "-" + role + ".>");
  return subjects;
}

std::string list(const std::vector<std::string>& subjects) {
  std::string text = "[";
  for (const auto& s : subjects) text += (text.size() > 1 ? ", \"" : "\"") + s + "\"";
  return text + "]";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(nats_security)

BOOST_AUTO_TEST_CASE(tls_with_a_verified_server_certificate) {
  test::kept_dir dir("parti-nats-tls");
  const auto at = [&](const std::string& name) { return dir.path + "/" + name; };
  // A CA, a server certificate it signs for 127.0.0.1 and localhost, and a second CA that the
  // server's certificate does not chain to.
  const std::string script =
      "set -e; cd '" + dir.path +
      "'\n"
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=parti-test-ca "
      "-keyout ca.key -out ca.pem 2>/dev/null\n"
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other-ca "
      "-keyout other.key -out other-ca.pem 2>/dev/null\n"
      "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key "
      "-out server.csr 2>/dev/null\n"
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext\n"
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
      "-extfile san.ext -out server.pem 2>/dev/null\n";
  auto made = test::run_program({"/bin/sh", "-c", script}, 30s);
  BOOST_REQUIRE_MESSAGE(made.code == 0, "openssl\n" + made.output());
  configured_server server(dir, "tls { cert_file: \"" + at("server.pem") + "\", key_file: \"" +
                                    at("server.key") + "\" }\n");
  const std::vector<std::string> auth{"--nats-url=" + server.url(),
                                      "--nats-tls-ca=" + at("ca.pem")};
  auto node = expect_coverage("tls", auth, auth);
  stop(*node);
  // A CA that did not sign the server's certificate: the connection is refused, and says why.
  auto wrong =
      ctl("tls", {"--nats-url=" + server.url(), "--nats-tls-ca=" + at("other-ca.pem")}, "status");
  BOOST_TEST(wrong.code == 1, wrong.output());
  BOOST_TEST(contains(wrong.err, "SSL handshake error"), wrong.output());
  BOOST_TEST(contains(wrong.err, "unable to get local issuer certificate"), wrong.output());
  // Without TLS the server does not talk to us either.
  auto plain = ctl("tls", {"--nats-url=" + server.url()}, "status");
  BOOST_TEST(plain.code != 0, plain.output());
}

BOOST_AUTO_TEST_CASE(a_token_and_a_wrong_token) {
  test::kept_dir dir("parti-nats-token");
  const std::string token = "tok-" + std::to_string(::getpid());
  configured_server server(dir, "authorization { token: \"" + token + "\" }\n");
  auto node = expect_coverage("token", {"--nats-url=" + server.url(), "--nats-token=" + token},
                              {"--nats-url=" + server.url(), "--nats-token=" + token});
  stop(*node);
  const std::string wrong = "wrong-" + token;
  expect_refused("wrong token",
                 {"--nats-url=nats://" + wrong + "@127.0.0.1:" + std::to_string(server.port())},
                 wrong);
}

BOOST_AUTO_TEST_CASE(a_credentials_file_in_operator_mode_and_a_stranger_s) {
  test::kept_dir dir("parti-nats-creds");
  const int port = free_loopback_port();
  auto made = test::run_program(
      {"/usr/bin/python3", std::string(PARTI_SOURCE_DIR) + "/tests/support/nats_jwt.py", dir.path,
       std::to_string(port)},
      30s);
  BOOST_REQUIRE_MESSAGE(made.code == 0, "nats_jwt.py (python3-nacl)\n" + made.output());
  std::string config;
  {
    std::ifstream in(dir.path + "/server.conf");
    config.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::unique_ptr<configured_server> server;
  // The port was free a moment ago; another process may have taken it since (rare).
  BOOST_REQUIRE_NO_THROW(server = std::make_unique<configured_server>(dir, config, port));
  const std::string url = "nats://127.0.0.1:" + std::to_string(port);
  const std::vector<std::string> auth{"--nats-url=" + url,
                                      "--nats-creds=" + dir.path + "/user.creds"};
  auto node = expect_coverage("creds", auth, auth);
  stop(*node);
  expect_refused("creds of an unknown account",
                 {"--nats-url=" + url, "--nats-creds=" + dir.path + "/stranger.creds"}, "");
}

/// Users with a password: a worker with exactly the worker's permissions, an observer with the
/// read-only set (docs/SECURITY.md).
std::string users_config(const std::string& group, const std::string& worker_password) {
  return "authorization {\n  users = [\n"
         "    { user: worker, password: \"" +
         worker_password + "\", permissions: { publish: { allow: " + list(worker_publish(group)) +
         " }, subscribe: { allow: [\"_INBOX.>\"] } } },\n"
         "    { user: observer, password: \"observer-pw\", permissions: { publish: { allow: " +
         list(observer_publish(group)) + " }, subscribe: { allow: [\"_INBOX.>\"] } } }\n  ]\n}\n";
}

BOOST_AUTO_TEST_CASE(least_privilege_users_a_wrong_password_and_a_revoked_one) {
  test::kept_dir dir("parti-nats-users");
  const std::string group = "least", password = "worker-pw-" + std::to_string(::getpid());
  configured_server server(dir, users_config(group, password));
  const std::vector<std::string> worker{"--nats-url=" + server.url(), "--nats-user=worker",
                                        "--nats-password=" + password};
  const std::vector<std::string> observer{"--nats-url=" + server.url(), "--nats-user=observer",
                                          "--nats-password=observer-pw"};
  auto node = expect_coverage(group, worker, observer);
  // The observer reads, but may not write: its rebalance is denied, and said to be.
  auto rebalance = ctl(group, observer, "rebalance");
  BOOST_TEST(rebalance.code == 5, rebalance.output());
  BOOST_TEST(contains(rebalance.err, "permission denied"), rebalance.output());
  BOOST_TEST(contains(rebalance.err, "$KV." + group + "-assignments._control"), rebalance.output());
  // A node run as the observer binds to the buckets, then is denied its first write: it says
  // which subject and exits with 5, rather than retrying what will be denied again.
  auto as_observer = test::run_program(node_args(group, observer), 30s);
  BOOST_TEST(as_observer.code == 5, as_observer.output());
  BOOST_TEST(contains(as_observer.err, "permission denied"), as_observer.output());
  BOOST_TEST(contains(as_observer.err, "$KV." + group + "-"), as_observer.output());
  // The worker's password is changed on the server: the running group is told on its
  // reconnect, says so and exits with 4 instead of retrying forever.
  server.reload(users_config(group, "changed-" + password));
  auto code = node->wait(20s);
  BOOST_TEST((code && *code == 4), node->output());
  BOOST_TEST(contains(node->err(), "authorization violation"), node->output());
  // A wrong password from the start, in the URL: refused at once, the password not shown.
  const std::string wrong = "wrong-" + password;
  expect_refused(
      "wrong password",
      {"--nats-url=nats://worker:" + wrong + "@127.0.0.1:" + std::to_string(server.port())}, wrong);
}

BOOST_AUTO_TEST_SUITE_END()
