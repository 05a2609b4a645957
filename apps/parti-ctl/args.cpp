#include "apps/parti-ctl/args.hpp"

#include <functional>
#include <map>
#include <optional>

#include "parti/runtime/config.hpp"

namespace parti::ctl {

namespace {

struct command_spec {
  bool needs_operand;
  const char* operand_name;
  bool many_operands = false;  // FILE...
  bool needs_stream = false;   // --stream, --subject-template, --partitions
};

const std::map<std::string, command_spec>& commands() {
  static const std::map<std::string, command_spec> all{
      {"status", {false, ""}},
      {"assignments", {false, ""}},
      {"explain", {true, "KEY"}},
      {"rebalance", {false, ""}},
      {"refresh", {false, ""}},
      {"drain", {true, "WORKER"}},
      {"undrain", {true, "WORKER"}},
      {"freeze", {false, ""}},
      {"unfreeze", {false, ""}},
      {"produce", {false, "", false, true}},
      {"consume-check", {true, "FILE", true, true}},
  };
  return all;
}

using setter = std::function<status(arguments&, const std::string&)>;

status set_duration(duration& target, const std::string& option, const std::string& text) {
  auto d = parse_duration(text);
  if (!d) return failure{"--" + option + ": " + d.error()};
  if (*d <= duration::zero()) return failure{"--" + option + ": must be greater than 0"};
  target = *d;
  return done{};
}

status set_text(std::string& target, const std::string& option, const std::string& text) {
  if (text.empty()) return failure{"--" + option + ": must not be empty"};
  target = text;
  return done{};
}

/// Options that take a value, by name.
const std::map<std::string, setter>& value_options() {
  static const std::map<std::string, setter> all{
      {"stream",
       [](arguments& a, const std::string& v) { return set_text(a.stream, "stream", v); }},
      {"subject-template",
       [](arguments& a, const std::string& v) {
         return set_text(a.subject_template, "subject-template", v);
       }},
      {"partitions",
       [](arguments& a, const std::string& v) -> status {
         std::size_t used = 0;
         long long n = -1;
         try {
           n = std::stoll(v, &used);
         } catch (const std::exception&) {
         }
         if (used != v.size() || n < 1 || n > 1'000'000)
           return failure{"--partitions: expected a count within 1..1000000, got \"" + v + "\""};
         a.partitions = static_cast<std::uint32_t>(n);
         return done{};
       }},
      {"rate",
       [](arguments& a, const std::string& v) -> status {
         std::size_t used = 0;
         double r = 0;
         try {
           r = std::stod(v, &used);
         } catch (const std::exception&) {
         }
         if (used != v.size() || !(r > 0) || r > 1'000'000)
           return failure{"--rate: expected messages per second, more than 0, got \"" + v + "\""};
         a.rate = r;
         return done{};
       }},
      {"duration",
       [](arguments& a, const std::string& v) -> status {
         if (v == "0") {
           a.run_for = duration::zero();
           return done{};
         }
         auto d = parse_duration(v);
         if (!d) return failure{"--duration: " + d.error()};
         if (*d < duration::zero()) return failure{"--duration: must not be negative"};
         a.run_for = *d;
         return done{};
       }},
      {"nats-url",
       [](arguments& a, const std::string& v) -> status {
         a.connection.urls = split_urls(v);
         if (a.connection.urls.empty()) return failure{"--nats-url: must name at least one URL"};
         return done{};
       }},
      {"group",
       [](arguments& a, const std::string& v) -> status {
         if (!is_valid_bucket_name(bucket_name(v, bucket_role::assignments)))
           return failure{"--group: only letters, digits, '-' and '_' are allowed, got \"" + v +
                          "\""};
         a.group = v;
         return done{};
       }},
      {"timeout",
       [](arguments& a, const std::string& v) {
         if (auto ok = set_duration(a.connection.request_timeout, "timeout", v); !ok) return ok;
         a.connection.connect_timeout = a.connection.request_timeout;
         return status{done{}};
       }},
      {"nats-user",
       [](arguments& a, const std::string& v) -> status {
         a.connection.user = v;
         return done{};
       }},
      {"nats-password",
       [](arguments& a, const std::string& v) -> status {
         a.connection.password = v;
         return done{};
       }},
      {"nats-token",
       [](arguments& a, const std::string& v) -> status {
         a.connection.token = v;
         return done{};
       }},
      {"nats-creds",
       [](arguments& a, const std::string& v) -> status {
         a.connection.credentials_file = v;
         return done{};
       }},
      {"nats-password-file",
       [](arguments& a, const std::string& v) -> status {
         auto secret = read_secret_file("nats-password-file", v);
         if (!secret) return failure{secret.error()};
         a.connection.password = std::move(*secret);
         return done{};
       }},
      {"nats-token-file",
       [](arguments& a, const std::string& v) -> status {
         auto secret = read_secret_file("nats-token-file", v);
         if (!secret) return failure{secret.error()};
         a.connection.token = std::move(*secret);
         return done{};
       }},
      {"nats-tls-ca",
       [](arguments& a, const std::string& v) -> status {
         a.connection.tls.ca_file = v;
         return done{};
       }},
      {"nats-tls-cert",
       [](arguments& a, const std::string& v) -> status {
         a.connection.tls.cert_file = v;
         return done{};
       }},
      {"nats-tls-key",
       [](arguments& a, const std::string& v) -> status {
         a.connection.tls.key_file = v;
         return done{};
       }},
  };
  return all;
}

/// A CLI tool fails fast: one connect attempt, no background retries.
connection_options cli_connection_defaults() {
  connection_options o;
  o.name = "parti-ctl";
  o.retry_on_failed_connect = false;
  o.max_reconnect = 0;
  o.connect_timeout = std::chrono::seconds(2);
  o.request_timeout = std::chrono::seconds(2);
  return o;
}

/// The environment's NATS settings, as defaults that the flags then override.
void apply_environment(connection_options& c, const nats_environment& env) {
  if (env.url) c.urls = split_urls(*env.url);
  if (env.creds) c.credentials_file = *env.creds;
  if (env.user) c.user = *env.user;
  if (env.password) c.password = *env.password;
  if (env.token) c.token = *env.token;
}

/// Whether the command line gives `--<name>` (as --name=value or --name value).
bool gives(const std::vector<std::string>& args, const std::string& name) {
  const auto flag = "--" + name;
  for (const auto& arg : args)
    if (arg == flag || arg.rfind(flag + "=", 0) == 0) return true;
  return false;
}

/// A secret as a value and in a file at once is ambiguous; from the environment it just gives way.
status check_secret_sources(const std::vector<std::string>& args) {
  for (const char* name : {"nats-password", "nats-token"}) {
    const std::string option = name;
    if (gives(args, option) && gives(args, option + "-file"))
      return failure{"--" + option + " and --" + option + "-file: give one of them, not both"};
  }
  return done{};
}

status take_positional(arguments& a, const std::string& arg) {
  if (a.command.empty()) {
    if (!commands().count(arg)) return failure{"unknown command \"" + arg + "\""};
    a.command = arg;
    return done{};
  }
  const auto& spec = commands().at(a.command);
  if (spec.many_operands) {
    a.files.push_back(arg);
    return done{};
  }
  if (!spec.needs_operand || !a.operand.empty())
    return failure{"unexpected argument \"" + arg + "\" after " + a.command +
                   (a.operand.empty() ? "" : " " + a.operand)};
  a.operand = arg;
  return done{};
}

}  // namespace

result<arguments> parse_arguments(const std::vector<std::string>& args,
                                  const nats_environment& env) {
  arguments a;
  a.connection = cli_connection_defaults();
  apply_environment(a.connection, env);
  if (env.url && a.connection.urls.empty()) return failure{"NATS_URL: must name at least one URL"};
  if (auto ok = check_secret_sources(args); !ok) return failure{ok.error()};
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      a.help = true;
      return a;
    }
    if (arg == "--json") {
      a.json = true;
      continue;
    }
    if (arg == "--create-stream") {
      a.create_stream = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      if (auto ok = take_positional(a, arg); !ok) return failure{ok.error()};
      continue;
    }
    auto eq = arg.find('=');
    auto name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    auto option = value_options().find(name);
    if (option == value_options().end()) return failure{"unknown option --" + name};
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return failure{"--" + name + ": missing value"};
    }
    if (auto ok = option->second(a, value); !ok) return failure{ok.error()};
  }
  if (a.command.empty()) return failure{"missing command"};
  const auto& spec = commands().at(a.command);
  if (spec.needs_operand && a.operand.empty() && a.files.empty())
    return failure{a.command + ": missing " + spec.operand_name};
  if (spec.needs_stream) {
    if (a.stream.empty()) return failure{a.command + ": missing --stream"};
    if (a.subject_template.empty()) return failure{a.command + ": missing --subject-template"};
    if (a.partitions == 0) return failure{a.command + ": missing --partitions"};
  }
  // The producer keeps going through a server restart: it reconnects without end.
  if (a.command == "produce") a.connection.max_reconnect = -1;
  if (auto ok = a.connection.validate(); !ok) return failure{ok.error()};
  return a;
}

const char* usage_text() {
  return R"(usage: parti-ctl [options] <command> [argument]

Inspects and operates a parti group by reading and writing its KV buckets directly.

commands:
  status          leader, epoch, assignment version, workers (state, heartbeat age, applied
                  version, partitions), unassigned and doubly-assigned partitions
  assignments     the partition keys of every worker
  explain KEY     which worker owns the partition with KEY, and the record that says so
  rebalance       ask the leader for a rebalance now (increments _control.rebalance_seq)
  refresh         ask the leader to read the partition source again (_control.refresh_seq)
  drain WORKER    hand WORKER's partitions to others at once, as if it were leaving
  undrain WORKER  take WORKER off the drain list
  freeze          the leader publishes no new assignment until unfreeze
  unfreeze
  produce         publish sequence-numbered messages ("<n>") to the partitions' subjects in
                  turn, at --rate for --duration, each acknowledged by the stream (retried
                  through a server restart); prints what the stream acknowledged. SIGINT or
                  SIGTERM end it early
  consume-check FILE...
                  check parti-consume's record files against every message the stream holds
                  on the partitions' subjects: no gap (every message handled), no overlap (no
                  two workers on a partition at once), per worker no step back in a partition;
                  counts duplicates. Prints "no gap, no overlap" or the violations

options (--name=value or --name value, anywhere on the line):
  --nats-url=URLS     comma-separated NATS URLs (default nats://127.0.0.1:4222)
  --group=NAME        the group; its buckets are NAME-<role> (default parti)
  --json              JSON on stdout instead of tables
  --timeout=DURATION  connect and request timeout, e.g. 500ms (default 2s)
  --nats-user=U --nats-password=P --nats-token=T --nats-creds=FILE
  --nats-password-file=FILE --nats-token-file=FILE
                      the secret from a file (one trailing newline ignored); better than
                      --nats-password and --nats-token, which ps shows
  --nats-tls-ca=FILE --nats-tls-cert=FILE --nats-tls-key=FILE
  --help
  --version           the version and the commit it was built from
produce and consume-check:
  --stream=NAME            the JetStream stream
  --subject-template=T     the partitions' subjects, keys as {0}, {1}: e.g. orders.{0}
  --partitions=N           the partitions p-0 .. p-N-1
  --rate=R                 produce: messages per second (default 100)
  --duration=D             produce: how long, e.g. 30s; 0: until SIGINT/SIGTERM (default 10s)
  --create-stream          produce: create the stream if it is missing (subject: the template
                           with each token holding a {i} replaced by *)

environment: NATS_URL, NATS_CREDS, NATS_USER, NATS_PASSWORD, NATS_TOKEN stand in for the
  options not given (a flag beats the environment). Secrets are never printed: URLs are shown
  as nats://user:***@host:4222.

exit codes: 0 ok (status: healthy); 1 NATS unreachable or a store error; 2 bad arguments;
3 status: unhealthy (no leader, nothing published, unassigned or doubly-assigned partitions),
  explain: no worker owns the key; consume-check: 1 also when the check fails;
4 NATS refused the credentials (authorization violation); 5 NATS denied a subject the command
  needs (permission denied: the user lacks it, see docs/SECURITY.md)
)";
}

}  // namespace parti::ctl
