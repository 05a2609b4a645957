#include "apps/lib/node_options.hpp"

#include <caf/config_option_adder.hpp>

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/metrics/http_endpoint.hpp"
#include "runtime/strategy/strategy.hpp"

namespace parti::node_app {

namespace {

// Each node has a few threads of its own (KV watches block in nats.c), so a process of a
// few thousand nodes is the practical limit; the scale benchmark runs 1000.
constexpr int max_workers = 4096;
constexpr int max_partitions = 1'000'000;
// A periodic refresh is a timer in the leader and a re-read of the partitions: far more often
// than this would only keep the leader busy (a round waits for --cooldown anyway).
constexpr duration min_refresh_period = std::chrono::milliseconds(100);

std::string with_default(const std::string& text, const std::string& value) {
  return text + " (default: " + (value.empty() ? "none" : value) + ")";
}

std::string with_default(const std::string& text, int value) {
  return with_default(text, std::to_string(value));
}

using option_table = std::vector<std::pair<std::string_view, std::string_view>>;

/// Names settings as the options that set them: the user knows the options, not our field
/// names. A field without an option keeps the struct's name.
field_namer as_options(const option_table& options) {
  return [&options](std::string_view field) {
    for (const auto& [f, option] : options)
      if (f == field) return std::string(option);
    return std::string();
  };
}

/// The node_config fields that options set.
const option_table& node_config_options() {
  static const option_table all{
      {"group", "--group"},
      {"id_prefix", "--id-prefix"},
      {"id_min", "--id-min"},
      {"id_max", "--id-max"},
      {"preferred_id", "--preferred-id"},
      {"strategy", "--strategy"},
      {"heartbeat_interval", "--heartbeat-interval"},
      {"heartbeat_ttl", "--heartbeat-ttl"},
      {"emergency_grace", "--emergency-grace"},
      {"id_ttl", "--id-ttl"},
      {"election_ttl", "--election-ttl"},
      {"cold_start_window", "--cold-start-window"},
      {"cold_start_settle", "--cold-start-settle"},
      {"partition_source_timeout", "--partition-source-timeout"},
      {"planned_scale_window", "--planned-scale-window"},
      {"cooldown", "--cooldown"},
      {"lease_margin", "--lease-margin"},
      {"bucket_replicas", "--bucket-replicas"},
      {"bucket_storage", "--bucket-storage"},
      {"reconcile_buckets", "--reconcile-buckets"},
  };
  return all;
}

/// The connection_options fields that options set.
const option_table& connection_options_options() {
  static const option_table all{
      {"urls", "--nats-url"},
      {"user", "--nats-user"},
      {"password", "--nats-password"},
      {"token", "--nats-token"},
      {"credentials_file", "--nats-creds"},
      {"password_file", "--nats-password-file"},
      {"token_file", "--nats-token-file"},
      {"tls.ca_file", "--nats-tls-ca"},
      {"tls.cert_file", "--nats-tls-cert"},
      {"tls.key_file", "--nats-tls-key"},
  };
  return all;
}

result<duration> duration_option(const std::string& name, const std::string& text) {
  if (text == "0") return duration::zero();  // a bare zero needs no unit
  auto d = parse_duration(text);
  if (!d) return failure{"--" + name + ": " + d.error()};
  return d;
}

/// Parses every duration option into `c`; stops at the first bad one.
status read_durations(const app_options& o, node_config& c) {
  std::pair<const char*, std::pair<const std::string*, duration*>> all[] = {
      {"heartbeat-interval", {&o.heartbeat_interval, &c.heartbeat_interval}},
      {"heartbeat-ttl", {&o.heartbeat_ttl, &c.heartbeat_ttl}},
      {"emergency-grace", {&o.emergency_grace, &c.emergency_grace}},
      {"id-ttl", {&o.id_ttl, &c.id_ttl}},
      {"election-ttl", {&o.election_ttl, &c.election_ttl}},
      {"cold-start-window", {&o.cold_start_window, &c.cold_start_window}},
      {"planned-scale-window", {&o.planned_scale_window, &c.planned_scale_window}},
      {"cooldown", {&o.cooldown, &c.cooldown}},
      {"partition-source-timeout", {&o.partition_source_timeout, &c.partition_source_timeout}},
  };
  for (auto& [name, slot] : all) {
    auto d = duration_option(name, *slot.first);
    if (!d) return failure{d.error()};
    *slot.second = *d;
  }
  return done{};
}

status read_ids(const app_options& o, node_config& c) {
  if (o.id_min < 0)
    return failure{"--id-min: must not be negative, is " + std::to_string(o.id_min)};
  if (o.id_max < 0)
    return failure{"--id-max: must not be negative, is " + std::to_string(o.id_max)};
  if (o.preferred_id < -1)
    return failure{"--preferred-id: must be an id number, or -1 for none; is " +
                   std::to_string(o.preferred_id)};
  c.id_prefix = o.id_prefix;
  c.id_min = static_cast<std::uint32_t>(o.id_min);
  c.id_max = static_cast<std::uint32_t>(o.id_max);
  if (o.preferred_id >= 0) c.preferred_id = static_cast<std::uint32_t>(o.preferred_id);
  return done{};
}

status read_modes(const app_options& o, node_config& c) {
  auto hand_off = parse_hand_off_mode(o.handoff);
  if (!hand_off) return failure{"--handoff: expected cooperative|eager, got \"" + o.handoff + "\""};
  auto intent = parse_shutdown_intent(o.shutdown);
  if (!intent) return failure{"--shutdown: expected drain|restart, got \"" + o.shutdown + "\""};
  auto preset = parse_degraded_preset(o.degraded_preset);
  if (!preset)
    return failure{"--degraded-preset: expected conservative|balanced|aggressive, got \"" +
                   o.degraded_preset + "\""};
  strategy_registry strategies;
  if (!strategies.contains(o.strategy)) {
    std::string known;
    for (const auto& n : strategies.names()) known += (known.empty() ? "" : "|") + n;
    return failure{"--strategy: expected " + known + ", got \"" + o.strategy + "\""};
  }
  auto on_lease_loss = parse_lease_loss_policy(o.on_lease_loss);
  if (!on_lease_loss)
    return failure{"--on-lease-loss: expected suspend|keep, got \"" + o.on_lease_loss + "\""};
  auto cold_start = parse_cold_start_mode(o.cold_start);
  if (!cold_start)
    return failure{"--cold-start: expected immediate|wait, got \"" + o.cold_start + "\""};
  c.cold_start = *cold_start;
  c.on_lease_loss = *on_lease_loss;
  c.hand_off = *hand_off;
  c.shutdown = *intent;
  c.degraded = degraded_settings_for(*preset);
  c.strategy = o.strategy;
  return done{};
}

/// "auto": one heartbeat interval (node_config::effective_cold_start_settle).
status read_cold_start_settle(const app_options& o, node_config& c) {
  if (o.cold_start_settle == "auto") {
    c.cold_start_settle.reset();
    return done{};
  }
  auto d = duration_option("cold-start-settle", o.cold_start_settle);
  if (!d) return failure{d.error()};
  c.cold_start_settle = *d;
  return done{};
}

/// "auto": 300 ms, or a tenth of the heartbeat TTL when that is shorter (scaled-down timings).
status read_lease_margin(const app_options& o, node_config& c) {
  if (o.lease_margin == "auto") {
    c.lease_margin = std::min<duration>(std::chrono::milliseconds(300), c.heartbeat_ttl / 10);
    return done{};
  }
  auto d = duration_option("lease-margin", o.lease_margin);
  if (!d) return failure{d.error()};
  c.lease_margin = *d;
  return done{};
}

result<node_config> read_node_config(const app_options& o) {
  node_config c;
  c.group = o.group;
  for (auto step :
       {read_ids, read_modes, read_durations, read_lease_margin, read_cold_start_settle})
    if (auto ok = step(o, c); !ok) return failure{ok.error()};
  // Settings that are not options but must fit the ones that are (node_config::validate
  // checks them): the KV operation timeout and the recovery grace.
  c = with_fitted_timings(c);
  auto violations = c.violations(as_options(node_config_options()));
  if (!violations.empty()) return failure{violations.front().text()};
  return c;
}

/// Reads the partitions once now, so that a bad file stops the start with its line number.
result<std::pair<std::shared_ptr<const partition_source>, std::string>> read_partitions(
    const app_options& o) {
  bool has_count = o.partitions != 0, has_file = !o.partitions_file.empty();
  if (has_count && has_file)
    return failure{"--partitions and --partitions-file: give one of them, not both"};
  if (!has_count && !has_file)
    return failure{
        "--partitions: give a partition count (e.g. --partitions=16) or "
        "--partitions-file"};
  if (has_file) {
    auto source = file_source(o.partitions_file);
    auto loaded = source->load();
    if (!loaded) return failure{"--partitions-file: " + loaded.error()};
    return std::pair{std::shared_ptr<const partition_source>(source),
                     std::to_string(loaded->size()) + " partitions from " + o.partitions_file};
  }
  if (o.partitions < 1 || o.partitions > max_partitions)
    return failure{"--partitions: must be within 1.." + std::to_string(max_partitions) + ", is " +
                   std::to_string(o.partitions)};
  auto n = static_cast<std::uint32_t>(o.partitions);
  return std::pair{std::shared_ptr<const partition_source>(count_source(n)),
                   std::to_string(n) + " partitions p-0..p-" + std::to_string(n - 1)};
}

/// Zero (off), or at least min_refresh_period.
result<duration> read_refresh_period(const app_options& o) {
  auto period = duration_option("refresh-period", o.refresh_period);
  if (!period) return failure{period.error()};
  if (*period != duration::zero() && *period < min_refresh_period)
    return failure{"--refresh-period: must be 0 (off) or at least " +
                   format_duration(min_refresh_period) + ", is " + format_duration(*period)};
  return period;
}

/// A secret given as a value or in a file (--nats-password / --nats-password-file): one of
/// them, the file read now so that a bad one stops the start with a message naming it.
result<std::string> read_secret(const std::string& option, const std::string& value,
                                const std::string& file) {
  if (file.empty()) return value;
  if (!value.empty())
    return failure{"--" + option + " and --" + option + "-file: give one of them, not both"};
  return read_secret_file(option + "-file", file);
}

result<connection_options> read_connection(const app_options& o, const node_config& node) {
  connection_options c;
  c.name = "parti-node";
  c.urls = split_urls(o.nats_url);  // empty: the caller starts a local server
  if (!o.nats_url.empty() && c.urls.empty())
    return failure{"--nats-url: must name at least one URL, got \"" + o.nats_url + "\""};
  c.user = o.nats_user;
  auto password = read_secret("nats-password", o.nats_password, o.nats_password_file);
  if (!password) return failure{password.error()};
  c.password = std::move(*password);
  auto token = read_secret("nats-token", o.nats_token, o.nats_token_file);
  if (!token) return failure{token.error()};
  c.token = std::move(*token);
  c.credentials_file = o.nats_creds;
  c.tls.ca_file = o.nats_tls_ca;
  c.tls.cert_file = o.nats_tls_cert;
  c.tls.key_file = o.nats_tls_key;
  // A KV call must not outlive the node's wait for it (node_config::kv_operation_timeout).
  c.request_timeout = node.kv_operation_timeout;
  auto check = c;
  if (check.urls.empty()) check.urls = {"nats://127.0.0.1:4222"};  // validate the rest
  auto violations = check.violations(as_options(connection_options_options()));
  if (!violations.empty()) return failure{violations.front().text()};
  return c;
}

status check_metrics_address(const std::string& address) {
  if (address.empty()) return done{};
  http_endpoint_options options;
  options.address = address;
  if (options.validate()) return done{};
  return failure{
      "--metrics-address: expected host:port with a port in 0..65535 (e.g. "
      "127.0.0.1:9464 or 0.0.0.0:0), got \"" +
      address + "\""};
}

}  // namespace

void add_options(caf::config_option_set& set, app_options& o) {
  const app_options d;  // the defaults, for the help text
  const node_config n;
  const auto refresh_help =
      "the leader re-reads --partitions-file this often (e.g. 30s, 5m; at least " +
      format_duration(min_refresh_period) +
      ") and rebalances to it, no earlier than --cooldown after the last rebalance (a bad file "
      "is logged, the last good partitions kept); a --partitions count never changes; 0: only "
      "at start and on parti-ctl refresh";
  caf::config_option_adder{set, "global"}
      .add(o.nats_url, "nats-url",
           "comma-separated NATS server URLs; empty: $NATS_URL, else start a local nats-server "
           "(default: none)")
      .add(o.nats_user, "nats-user", "NATS user name (default: $NATS_USER)")
      .add(o.nats_password, "nats-password",
           "NATS password, with --nats-user; visible in ps, prefer --nats-password-file or "
           "$NATS_PASSWORD (default: $NATS_PASSWORD)")
      .add(o.nats_password_file, "nats-password-file",
           "file holding the NATS password (one trailing newline is ignored) (default: none)")
      .add(o.nats_token, "nats-token",
           "NATS authentication token; visible in ps, prefer --nats-token-file or $NATS_TOKEN "
           "(default: $NATS_TOKEN)")
      .add(o.nats_token_file, "nats-token-file",
           "file holding the NATS token (one trailing newline is ignored) (default: none)")
      .add(o.nats_creds, "nats-creds", "NATS credentials file (JWT + nkey) (default: $NATS_CREDS)")
      .add(o.nats_tls_ca, "nats-tls-ca", "PEM file of trusted CAs; enables TLS (default: none)")
      .add(o.nats_tls_cert, "nats-tls-cert", "PEM client certificate, with --nats-tls-key")
      .add(o.nats_tls_key, "nats-tls-key", "PEM client key, with --nats-tls-cert")
      .add(o.group, "group", with_default("group name; buckets are <group>-<role>", d.group))
      .add(o.partitions, "partitions",
           "partition count N: partitions p-0 .. p-N-1 (default: none; this or "
           "--partitions-file is required)")
      .add(o.partitions_file, "partitions-file",
           "file with one partition a line: keys separated by commas, then optionally a "
           "weight, e.g. \"orders,eu 5\"; '#' starts a comment (default: none)")
      .add(o.refresh_period, "refresh-period", with_default(refresh_help, d.refresh_period))
      .add(o.workers, "workers",
           with_default("nodes in this process, 1.." + std::to_string(max_workers), d.workers))
      .add(o.strategy, "strategy",
           with_default("sticky|weighted|consistent-hash|round-robin", d.strategy))
      .add(o.handoff, "handoff", with_default("cooperative|eager", d.handoff))
      .add(o.shutdown, "shutdown",
           with_default("what a stop on SIGTERM/SIGINT asks for: drain|restart", d.shutdown))
      .add(o.on_lease_loss, "on-lease-loss",
           with_default("when heartbeats go unacknowledged for the TTL: suspend (stop serving "
                        "until the store confirms the assignment) or keep (serve on: gives up "
                        "the single-owner guarantee)",
                        d.on_lease_loss))
      .add(o.lease_margin, "lease-margin",
           with_default("ownership ends this long before the leader could expire the worker; "
                        "auto: 300ms or heartbeat-ttl/10 if shorter",
                        d.lease_margin))
      .add(o.degraded_preset, "degraded-preset",
           with_default("conservative|balanced|aggressive", d.degraded_preset))
      .add(o.bucket_replicas, "bucket-replicas",
           with_default("JetStream replicas of each of the group's buckets, 1..5 (3 on a "
                        "three-server cluster)",
                        d.bucket_replicas))
      .add(o.bucket_storage, "bucket-storage",
           with_default("file|memory: where the buckets keep their entries", d.bucket_storage))
      .add(o.reconcile_buckets, "reconcile-buckets",
           "an existing bucket whose max age (TTL) or replicas differ is updated in place "
           "(history and storage cannot change: still refused); off: any difference stops the "
           "start with exit code 2 (default: false)")
      .add(o.id_prefix, "id-prefix", with_default("worker ids are <prefix>-<n>", d.id_prefix))
      .add(o.id_min, "id-min", with_default("lowest id number", d.id_min))
      .add(o.id_max, "id-max", with_default("highest id number", d.id_max))
      .add(o.preferred_id, "preferred-id",
           "id number tried first; node i of this process tries it + i (default: -1, none)")
      .add(o.heartbeat_interval, "heartbeat-interval",
           with_default("time between heartbeats, e.g. 500ms",
                        format_duration(n.heartbeat_interval)))
      .add(o.heartbeat_ttl, "heartbeat-ttl",
           with_default("a worker without a heartbeat for this long is gone",
                        format_duration(n.heartbeat_ttl)))
      .add(o.emergency_grace, "emergency-grace",
           with_default("how long a gone owner may come back before an emergency rebalance",
                        format_duration(n.emergency_grace)))
      .add(o.id_ttl, "id-ttl", with_default("lifetime of an id claim", format_duration(n.id_ttl)))
      .add(o.election_ttl, "election-ttl",
           with_default("lifetime of the leader's lease", format_duration(n.election_ttl)))
      .add(o.cold_start_window, "cold-start-window",
           with_default("how long a cold start gathers joiners before the balanced assignment",
                        format_duration(n.cold_start_window)))
      .add(o.cold_start, "cold-start",
           with_default("immediate: assign to the workers up after the settle, rebalance when "
                        "the window closes; wait: assign only when the window closes",
                        std::string(to_string(n.cold_start))))
      .add(o.cold_start_settle, "cold-start-settle",
           "immediate cold start: gather joiners this long before the first assignment; auto: "
           "one heartbeat interval (default: auto)")
      .add(o.partition_source_timeout, "partition-source-timeout",
           with_default("a leader's load of the partitions taking longer is given up (the "
                        "last good set is kept, the load retried with backoff)",
                        format_duration(n.partition_source_timeout)))
      .add(o.planned_scale_window, "planned-scale-window",
           with_default("batch joining workers for this long",
                        format_duration(n.planned_scale_window)))
      .add(o.cooldown, "cooldown",
           with_default("least time between planned rebalances", format_duration(n.cooldown)))
      .add(o.metrics_address, "metrics-address",
           "host:port of the /metrics, /healthz, /readyz and /status listener, port 0 for any free "
           "port; empty: "
           "no listener (default: none)")
      .add(o.publish_port, "publish-port",
           "publish each node's actor on CAF's middleman (node i on this port + i) so that other "
           "CAF applications can subscribe to its messages; 0: not published (default: 0)")
      .add(o.publish_address, "publish-address",
           with_default("address the published nodes listen on", d.publish_address))
      .add(o.log_level, "log-level", with_default("error|warning|info|debug", d.log_level))
      .add(o.log_format, "log-format",
           with_default("stderr lines as text, logfmt (ts=... level=... msg=\"...\") or json "
                        "(one object a line); UTC ISO-8601 timestamps in each",
                        d.log_format))
      .add(o.run_for, "run-for",
           with_default("stop after this long, as on SIGTERM; 0s: run until a signal", d.run_for))
      .add(o.version, "version", "print the version and the commit it was built from, and exit");
}

void apply_environment(app_options& o, const nats_environment& env) {
  auto fill = [](std::string& option, const std::optional<std::string>& value) {
    if (option.empty() && value) option = *value;
  };
  fill(o.nats_url, env.url);
  fill(o.nats_creds, env.creds);
  fill(o.nats_user, env.user);
  if (o.nats_password_file.empty()) fill(o.nats_password, env.password);
  if (o.nats_token_file.empty()) fill(o.nats_token, env.token);
}

result<app_settings> to_settings(const app_options& o) {
  app_settings s;
  static const char* levels[] = {"error", "warning", "warn", "info", "debug"};
  if (std::find(std::begin(levels), std::end(levels), o.log_level) == std::end(levels))
    return failure{"--log-level: expected error|warning|info|debug, got \"" + o.log_level + "\""};
  s.log_level = o.log_level;
  auto format = parse_log_format(o.log_format);
  if (!format)
    return failure{"--log-format: expected text|logfmt|json, got \"" + o.log_format + "\""};
  s.log_format = *format;
  if (o.workers < 1 || o.workers > max_workers)
    return failure{"--workers: must be within 1.." + std::to_string(max_workers) + ", is " +
                   std::to_string(o.workers)};
  s.workers = o.workers;
  auto node = read_node_config(o);
  if (!node) return failure{node.error()};
  s.node = std::move(*node);
  if (o.bucket_replicas < 1 || o.bucket_replicas > 5)
    return failure{"--bucket-replicas: must be within 1..5, is " +
                   std::to_string(o.bucket_replicas)};
  s.node.bucket_replicas = o.bucket_replicas;
  auto storage = parse_storage_type(o.bucket_storage);
  if (!storage)
    return failure{"--bucket-storage: expected file|memory, got \"" + o.bucket_storage + "\""};
  s.node.bucket_storage = *storage;
  s.node.reconcile_buckets = o.reconcile_buckets;
  auto partitions = read_partitions(o);
  if (!partitions) return failure{partitions.error()};
  std::tie(s.partitions, s.partitions_text) = std::move(*partitions);
  auto refresh = read_refresh_period(o);
  if (!refresh) return failure{refresh.error()};
  s.refresh_period = *refresh;
  auto conn = read_connection(o, s.node);
  if (!conn) return failure{conn.error()};
  s.connection = std::move(*conn);
  if (auto ok = check_metrics_address(o.metrics_address); !ok) return failure{ok.error()};
  s.metrics_address = o.metrics_address;
  if (o.publish_port < 0 || o.publish_port + o.workers - 1 > 65535)
    return failure{"--publish-port: must be within 0..65535 for every node (port + workers - 1)"};
  s.publish_port = o.publish_port;
  s.publish_address = o.publish_address;
  auto run_for = duration_option("run-for", o.run_for);
  if (!run_for) return failure{run_for.error()};
  if (*run_for < duration::zero()) return failure{"--run-for: must not be negative"};
  s.run_for = *run_for;
  return s;
}

field_namer node_option_names() {
  return as_options(node_config_options());
}

node_config config_for_worker(const app_settings& s, int index) {
  auto c = s.node;
  if (c.preferred_id) {
    auto id = *c.preferred_id + static_cast<std::uint32_t>(index);
    c.preferred_id = id <= c.id_max ? std::optional<std::uint32_t>(id) : std::nullopt;
  }
  return c;
}

}  // namespace parti::node_app
