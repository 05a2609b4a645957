#include "apps/lib/node_options.hpp"

#include <caf/config_option_adder.hpp>

#include <caf/config_option_set.hpp>
#include <caf/settings.hpp>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <locale>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "parti/runtime/metrics/http_endpoint.hpp"
#include "parti/runtime/strategy/strategy.hpp"

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
      {"hand_off_timeout", "--hand-off-timeout"},
      {"drain_timeout", "--drain-timeout"},
      {"restart_grace", "--restart-grace"},
      {"restart_detection_ratio", "--restart-ratio"},
      {"kv_operation_timeout", "--kv-operation-timeout"},
      {"degraded.threshold", "--degraded-threshold"},
      {"degraded.recovery_grace", "--degraded-recovery-grace"},
      {"degraded.mass_disappearance_share", "--degraded-mass-disappearance-share"},
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

/// The shortest text that reads back as `value` ("0.5", "0.1", "2.0": always with a point, so
/// that an INI file reads it as a number with a fraction).
std::string format_number(double value) {
  std::ostringstream out;
  out << std::setprecision(15) << value;
  auto text = out.str();
  if (text.find_first_of(".eE") == std::string::npos && std::isfinite(value)) text += ".0";
  return text;
}

/// A whole text as a finite number, or nothing.
std::optional<double> parse_number(const std::string& text) {
  std::istringstream in(text);
  in.imbue(std::locale::classic());
  double value = 0;
  if (!(in >> value) || !in.eof() || !std::isfinite(value)) return std::nullopt;
  return value;
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
      {"hand-off-timeout", {&o.hand_off_timeout, &c.hand_off_timeout}},
      {"drain-timeout", {&o.drain_timeout, &c.drain_timeout}},
      {"restart-grace", {&o.restart_grace, &c.restart_grace}},
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

/// A share in (0, 1], e.g. 0.5.
result<double> share_option(const std::string& name, double value) {
  if (!(value > 0.0 && value <= 1.0))
    return failure{"--" + name + ": must be within (0, 1], e.g. 0.5; is " + format_number(value)};
  return value;
}

status read_restart_ratio(const app_options& o, node_config& c) {
  auto ratio = share_option("restart-ratio", o.restart_ratio);
  if (!ratio) return failure{ratio.error()};
  c.restart_detection_ratio = *ratio;
  return done{};
}

/// The settings derived unless given (with_fitted_timings): "auto" KV operation timeout, and
/// the degraded settings, whose defaults come from --degraded-preset (the recovery grace then
/// raised to one heartbeat TTL). A given value is taken as it is, and validated.
status read_fitted(const app_options& o, node_config& c) {
  c = with_fitted_timings(c);
  std::pair<const char*, std::pair<const std::string*, duration*>> given[] = {
      {"kv-operation-timeout", {&o.kv_operation_timeout, &c.kv_operation_timeout}},
      {"degraded-threshold", {&o.degraded_threshold, &c.degraded.threshold}},
      {"degraded-recovery-grace", {&o.degraded_recovery_grace, &c.degraded.recovery_grace}},
  };
  for (auto& [name, slot] : given) {
    if (slot.first->empty() || *slot.first == "auto") continue;
    auto d = duration_option(name, *slot.first);
    if (!d) return failure{d.error()};
    *slot.second = *d;
  }
  if (o.degraded_mass_disappearance_share.empty()) return done{};
  const std::string name = "degraded-mass-disappearance-share";
  auto number = parse_number(o.degraded_mass_disappearance_share);
  if (!number)
    return failure{"--" + name + ": expected a number within (0, 1], e.g. 0.5; got \"" +
                   o.degraded_mass_disappearance_share + "\""};
  auto share = share_option(name, *number);
  if (!share) return failure{share.error()};
  c.degraded.mass_disappearance_share = *share;
  return done{};
}

result<node_config> read_node_config(const app_options& o) {
  node_config c;
  c.group = o.group;
  for (auto step : {read_ids, read_modes, read_durations, read_restart_ratio, read_lease_margin,
                    read_cold_start_settle, read_fitted})
    if (auto ok = step(o, c); !ok) return failure{ok.error()};
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
  const auto& url = o.nats_url.empty() ? std::string(default_nats_url) : o.nats_url;
  c.urls = url == embedded_nats_url ? std::vector<std::string>() : split_urls(url);
  if (url != embedded_nats_url && c.urls.empty())
    return failure{"--nats-url: must name at least one URL (or \"embedded\"), got \"" + o.nats_url +
                   "\""};
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
  if (check.urls.empty()) check.urls = {default_nats_url};  // embedded: validate the rest
  auto violations = check.violations(as_options(connection_options_options()));
  if (!violations.empty()) return failure{violations.front().text()};
  return c;
}

/// Zero (no limit) or positive.
result<duration> read_startup_timeout(const app_options& o) {
  auto timeout = duration_option("nats-startup-timeout", o.nats_startup_timeout);
  if (!timeout) return failure{timeout.error()};
  if (*timeout < duration::zero())
    return failure{"--nats-startup-timeout: must be 0 (no limit) or positive"};
  return timeout;
}

result<strategy_options> read_strategy_options(const app_options& o) {
  strategy_options options;
  options.epsilon = o.strategy_epsilon;
  options.virtual_nodes = o.strategy_virtual_nodes;
  if (!std::isfinite(o.strategy_epsilon) || o.strategy_epsilon < 0.0 || o.strategy_epsilon > 10.0)
    return failure{"--strategy-epsilon: must be a number within 0..10, is " +
                   format_number(o.strategy_epsilon)};
  if (o.strategy_virtual_nodes < 1 || o.strategy_virtual_nodes > 10000)
    return failure{"--strategy-virtual-nodes: must be within 1..10000, is " +
                   std::to_string(o.strategy_virtual_nodes)};
  if (auto ok = validate(options); !ok) return failure{ok.error()};  // the library's own rule
  return options;
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
  const auto balanced = degraded_settings_for(degraded_preset::balanced);
  const auto refresh_help =
      "the leader re-reads --partitions-file this often (e.g. 30s, 5m; at least " +
      format_duration(min_refresh_period) +
      ") and rebalances to it, no earlier than --cooldown after the last rebalance (a bad file "
      "is logged, the last good partitions kept); a --partitions count never changes; 0: only "
      "at start and on parti-ctl refresh";
  caf::config_option_adder{set, "global"}
      .add(o.nats_url, "nats-url",
           "comma-separated NATS server URLs, or \"embedded\" to start a nats-server of this "
           "process's own (default: $NATS_URL, else " +
               std::string(default_nats_url) + ")")
      .add(o.nats_startup_timeout, "nats-startup-timeout",
           with_default("start-up fails (exit code 1) when NATS does not answer and the group's "
                        "buckets cannot be opened within this long; 0: wait without limit",
                        d.nats_startup_timeout))
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
           with_default("defaults of the --degraded-* options: conservative|balanced|aggressive",
                        d.degraded_preset))
      .add(o.degraded_threshold, "degraded-threshold",
           "the store unreachable this long makes a node Degraded; overrides the preset's "
           "(default: from --degraded-preset, balanced: " +
               format_duration(balanced.threshold) + ")")
      .add(o.degraded_recovery_grace, "degraded-recovery-grace",
           "after the store is back, a leader declares no worker gone for this long; at least "
           "--heartbeat-ttl; overrides the preset's (default: from --degraded-preset, balanced: " +
               format_duration(balanced.recovery_grace) + ", raised to --heartbeat-ttl)")
      .add(o.degraded_mass_disappearance_share, "degraded-mass-disappearance-share",
           "when at least this share of the workers vanish at once the leader suspects the "
           "store and moves nothing, in (0, 1]; overrides the preset's (default: from "
           "--degraded-preset, balanced: " +
               format_number(balanced.mass_disappearance_share) + ")")
      .add(o.strategy_epsilon, "strategy-epsilon",
           with_default("weighted strategy: each worker's load stays within (1 +- epsilon) x "
                        "the mean, 0..10",
                        format_number(d.strategy_epsilon)))
      .add(o.strategy_virtual_nodes, "strategy-virtual-nodes",
           with_default("consistent-hash strategy: points per worker on the ring, 1..10000",
                        d.strategy_virtual_nodes))
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
      .add(o.hand_off_timeout, "hand-off-timeout",
           with_default("a cooperative hand-off whose old owner does not let go within this "
                        "long is given up (a round waits 3 of them at most)",
                        format_duration(n.hand_off_timeout)))
      .add(o.drain_timeout, "drain-timeout",
           with_default("a draining node releases its partitions within this long, then leaves "
                        "regardless; the process kills what still runs 15s later",
                        format_duration(n.drain_timeout)))
      .add(o.restart_grace, "restart-grace",
           with_default("a worker that left with the restart intent keeps its partitions this "
                        "long, waiting to come back",
                        format_duration(n.restart_grace)))
      .add(o.restart_ratio, "restart-ratio",
           with_default("a start where at least this share of the workers is new counts as a "
                        "cold start, in (0, 1]",
                        format_number(n.restart_detection_ratio)))
      .add(o.kv_operation_timeout, "kv-operation-timeout",
           "longest wait for one KV request, at most --election-ttl / 3; auto: 1s, fitted below "
           "--election-ttl / 3 and --heartbeat-ttl - --heartbeat-interval - --lease-margin "
           "(default: auto)")
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
      .add(o.version, "version", "print the version and the commit it was built from, and exit")
      .add(o.check_config, "check-config",
           "check every option, print the effective configuration as an INI file (secrets "
           "redacted), and exit: 0 when valid, 2 otherwise; connects to nothing");
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
  auto strategy = read_strategy_options(o);
  if (!strategy) return failure{strategy.error()};
  s.strategy = *strategy;
  auto conn = read_connection(o, s.node);
  if (!conn) return failure{conn.error()};
  s.connection = std::move(*conn);
  s.embedded_nats = o.nats_url == embedded_nats_url;
  auto startup = read_startup_timeout(o);
  if (!startup) return failure{startup.error()};
  s.nats_startup_timeout = *startup;
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

const std::vector<option_topic>& option_topics() {
  static const std::vector<option_topic> all{
      {"NATS connection",
       {"nats-url", "nats-startup-timeout", "nats-user", "nats-password", "nats-password-file",
        "nats-token", "nats-token-file", "nats-creds", "nats-tls-ca", "nats-tls-cert",
        "nats-tls-key"}},
      {"Group and partitions",
       {"group", "partitions", "partitions-file", "refresh-period", "partition-source-timeout",
        "workers"}},
      {"Buckets", {"bucket-replicas", "bucket-storage", "reconcile-buckets"}},
      {"Worker ids", {"id-prefix", "id-min", "id-max", "preferred-id"}},
      {"Timings",
       {"heartbeat-interval", "heartbeat-ttl", "emergency-grace", "id-ttl", "election-ttl",
        "kv-operation-timeout"}},
      {"Cold start and restarts",
       {"cold-start", "cold-start-window", "cold-start-settle", "restart-ratio", "restart-grace"}},
      {"Rebalance, hand-off and shutdown",
       {"planned-scale-window", "cooldown", "handoff", "hand-off-timeout", "shutdown",
        "drain-timeout"}},
      {"Ownership lease", {"lease-margin", "on-lease-loss"}},
      {"Degraded mode",
       {"degraded-preset", "degraded-threshold", "degraded-recovery-grace",
        "degraded-mass-disappearance-share"}},
      {"Strategy", {"strategy", "strategy-epsilon", "strategy-virtual-nodes"}},
      {"HTTP, publishing and logging",
       {"metrics-address", "publish-port", "publish-address", "log-level", "log-format"}},
      {"Program", {"config-file", "check-config", "run-for", "version", "help", "long-help"}},
  };
  return all;
}

bool is_command_option(std::string_view name) {
  for (auto command :
       {"help", "long-help", "dump-config", "config-file", "version", "check-config"})
    if (name == command) return true;
  return false;
}

namespace {

std::string text_of(caf::string_view text) {
  return std::string(text.data(), text.size());
}

/// CAF's options that --help describes in our words (CAF's text says where CAF would look).
std::string description_of(const caf::config_option& option) {
  const auto name = text_of(option.long_name());
  if (name == "config-file")
    return "the INI file to read: [global] name=value lines, and CAF's sections; no other file "
           "is read, caf-application.ini in the working directory neither (default: none)";
  if (name == "help") return "print this help and exit";
  if (name == "long-help") return "print every option by CAF's categories, CAF's own included";
  return text_of(option.description());
}

std::string help_line(const caf::config_option& option) {
  std::string flag = "  --" + text_of(option.long_name());
  if (option.type_name() != "boolean") flag += "=<" + text_of(option.type_name()) + ">";
  constexpr std::size_t column = 36;
  flag += flag.size() < column ? std::string(column - flag.size(), ' ') : "  ";
  return flag + description_of(option) + "\n";
}

const caf::config_option* global_option(const caf::config_option_set& set,
                                        const std::string& name) {
  return set.qualified_name_lookup("global", name);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// An INI key as a user writes it: "heartbeat-ttl" in [global], "[scheduler] max-threads".
std::string ini_key(std::string_view category, std::string_view name) {
  if (category == "global") return std::string(name);
  return "[" + std::string(category) + "] " + std::string(name);
}

void collect_unknown(const caf::settings& section, const std::string& category,
                     const caf::config_option_set& set, std::vector<std::string>& out) {
  for (const auto& [key, value] : section) {
    if (auto nested = caf::get_if<caf::settings>(&value)) {
      collect_unknown(*nested, category == "global" ? key : category + "." + key, set, out);
      continue;
    }
    if (set.qualified_name_lookup(category, key) != nullptr) continue;
    std::vector<std::string> known;
    for (const auto& option : set)
      if (auto name = text_of(option.long_name());
          !is_command_option(name) || name == "config-file")
        known.push_back(ini_key(text_of(option.category()), name));
    std::string message = ini_key(category, key) + ": unknown key";
    if (auto near = nearest_name(ini_key(category, key), known); !near.empty())
      message += "; did you mean " + near + "?";
    out.push_back(message);
  }
}

}  // namespace

std::string help_text(const caf::config_option_set& set, const std::string& program) {
  std::string text = "Usage: " + program +
                     " [--name=value ...] [--config-file=FILE]\n"
                     "Every option is also a key of an INI file's [global] section "
                     "(name=value); a flag beats the file. See docs/CONFIGURATION.md.\n";
  std::vector<std::string> listed;
  for (const auto& topic : option_topics()) {
    std::string lines;
    for (const auto& name : topic.options)
      if (auto option = global_option(set, name)) {
        lines += help_line(*option);
        listed.push_back(name);
      }
    if (!lines.empty()) text += "\n" + topic.title + ":\n" + lines;
  }
  std::string others;
  for (const auto& option : set) {
    auto name = text_of(option.long_name());
    if (text_of(option.category()) != "global" || name == "dump-config" ||
        std::find(listed.begin(), listed.end(), name) != listed.end())
      continue;
    others += help_line(option);
  }
  if (!others.empty()) text += "\n" + program + " options:\n" + others;
  text +=
      "\nCAF's own options (--long-help lists them): [scheduler] max-threads=N, [middleman], "
      "[logger] ... in the INI file, or --scheduler.max-threads=N.\n";
  return text;
}

std::string nearest_name(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, name.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    auto d = edit_distance(name, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::vector<std::string> unknown_keys(const caf::settings& file,
                                      const caf::config_option_set& set) {
  std::vector<std::string> out;
  collect_unknown(file, "global", set, out);
  return out;
}

namespace {

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string quoted(duration d) {
  return quoted(format_duration(d));
}

std::string secret(const std::string& value) {
  return quoted(value.empty() ? std::string() : std::string(redacted_mark));
}

/// Every option's effective value as INI text, by option name.
std::vector<std::pair<std::string, std::string>> effective_values(const app_options& o,
                                                                  const app_settings& s) {
  const auto& n = s.node;
  const auto& c = s.connection;
  return {
      {"nats-url", quoted(s.embedded_nats ? embedded_nats_url : redacted_urls(c.urls))},
      {"nats-startup-timeout", quoted(s.nats_startup_timeout)},
      {"nats-user", quoted(c.user)},
      {"nats-password", secret(o.nats_password)},
      {"nats-password-file", quoted(o.nats_password_file)},
      {"nats-token", secret(o.nats_token)},
      {"nats-token-file", quoted(o.nats_token_file)},
      {"nats-creds", quoted(c.credentials_file)},
      {"nats-tls-ca", quoted(c.tls.ca_file)},
      {"nats-tls-cert", quoted(c.tls.cert_file)},
      {"nats-tls-key", quoted(c.tls.key_file)},
      {"group", quoted(n.group)},
      {"partitions", std::to_string(o.partitions)},
      {"partitions-file", quoted(o.partitions_file)},
      {"refresh-period", quoted(s.refresh_period)},
      {"partition-source-timeout", quoted(n.partition_source_timeout)},
      {"workers", std::to_string(s.workers)},
      {"bucket-replicas", std::to_string(n.bucket_replicas)},
      {"bucket-storage", quoted(std::string(to_string(n.bucket_storage)))},
      {"reconcile-buckets", n.reconcile_buckets ? "true" : "false"},
      {"id-prefix", quoted(n.id_prefix)},
      {"id-min", std::to_string(n.id_min)},
      {"id-max", std::to_string(n.id_max)},
      {"preferred-id", n.preferred_id ? std::to_string(*n.preferred_id) : "-1"},
      {"heartbeat-interval", quoted(n.heartbeat_interval)},
      {"heartbeat-ttl", quoted(n.heartbeat_ttl)},
      {"emergency-grace", quoted(n.emergency_grace)},
      {"id-ttl", quoted(n.id_ttl)},
      {"election-ttl", quoted(n.election_ttl)},
      {"kv-operation-timeout", quoted(n.kv_operation_timeout)},
      {"cold-start", quoted(std::string(to_string(n.cold_start)))},
      {"cold-start-window", quoted(n.cold_start_window)},
      {"cold-start-settle", quoted(n.effective_cold_start_settle())},
      {"restart-ratio", format_number(n.restart_detection_ratio)},
      {"restart-grace", quoted(n.restart_grace)},
      {"planned-scale-window", quoted(n.planned_scale_window)},
      {"cooldown", quoted(n.cooldown)},
      {"handoff", quoted(std::string(to_string(n.hand_off)))},
      {"hand-off-timeout", quoted(n.hand_off_timeout)},
      {"shutdown", quoted(std::string(to_string(n.shutdown)))},
      {"drain-timeout", quoted(n.drain_timeout)},
      {"lease-margin", quoted(n.lease_margin)},
      {"on-lease-loss", quoted(std::string(to_string(n.on_lease_loss)))},
      {"degraded-preset", quoted(o.degraded_preset)},
      {"degraded-threshold", quoted(n.degraded.threshold)},
      {"degraded-recovery-grace", quoted(n.degraded.recovery_grace)},
      {"degraded-mass-disappearance-share",
       quoted(format_number(n.degraded.mass_disappearance_share))},
      {"strategy", quoted(n.strategy)},
      {"strategy-epsilon", format_number(s.strategy.epsilon)},
      {"strategy-virtual-nodes", std::to_string(s.strategy.virtual_nodes)},
      {"metrics-address", quoted(s.metrics_address)},
      {"publish-port", std::to_string(s.publish_port)},
      {"publish-address", quoted(s.publish_address)},
      {"log-level", quoted(s.log_level)},
      {"log-format", quoted(o.log_format)},
      {"run-for", quoted(s.run_for)},
  };
}

}  // namespace

std::string effective_ini(const app_options& o, const app_settings& s) {
  auto values = effective_values(o, s);
  std::string text =
      "; the effective configuration: auto and preset values resolved, secrets redacted\n"
      "[global]\n";
  for (const auto& topic : option_topics())
    for (const auto& name : topic.options)
      for (const auto& [option, value] : values)
        if (option == name) text += option + "=" + value + "\n";
  return text;
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
