#pragma once
// parti-node's options, which every program running nodes takes (parti-consume too; see
// node_process.hpp): what the command line and the INI file give (`app_options`, values as
// typed, registered with CAF's option system), and what the program runs with
// (`app_settings`, checked and converted). The conversion is the one place that validates, so
// every mistake ends in one message naming the option and the rule (and exit code 2).
#include <caf/actor_system_config.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parti/messages/result.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/nats/connection.hpp"
#include "parti/runtime/partition_source.hpp"
#include "parti/runtime/secrets.hpp"
#include "parti/runtime/strategy/strategy.hpp"

namespace parti::node_app {

/// Options as given. Durations and names stay text: they are parsed (with clear errors) by
/// to_settings. Every member is initialised with its default, which --help shows.
struct app_options {
  std::string nats_url;  // empty: $NATS_URL, else default_nats_url; "embedded": a local server
  std::string nats_startup_timeout = "10s";  // 0: wait for NATS without limit
  std::string nats_user, nats_password, nats_token, nats_creds;
  std::string nats_password_file, nats_token_file;  // the secret read from a file
  std::string nats_tls_ca, nats_tls_cert, nats_tls_key;

  std::string group = "parti";
  int partitions = 0;  // 0: not given (then --partitions-file must be)
  std::string partitions_file;
  std::string refresh_period = "0s";  // 0: the partitions are read only at start and on request
  int workers = 1;
  std::string strategy = "sticky";
  std::string handoff = "cooperative";
  std::string shutdown = "drain";
  std::string on_lease_loss = "suspend";
  std::string lease_margin = "auto";
  std::string degraded_preset = "balanced";
  // Empty: the --degraded-preset's value; a given value overrides the preset's.
  std::string degraded_threshold, degraded_recovery_grace, degraded_mass_disappearance_share;
  double strategy_epsilon = 0.10;
  int strategy_virtual_nodes = 150;
  int bucket_replicas = 1;
  std::string bucket_storage = "file";
  bool reconcile_buckets = false;

  std::string id_prefix = "worker";
  int id_min = 0;
  int id_max = 999;
  int preferred_id = -1;  // -1: none

  std::string heartbeat_interval = "1s";
  std::string heartbeat_ttl = "3s";
  std::string emergency_grace = "1s";
  std::string id_ttl = "30s";
  std::string election_ttl = "3s";
  std::string cold_start_window = "30s";
  std::string cold_start = "immediate";
  std::string partition_source_timeout = "5s";
  std::string cold_start_settle = "auto";  // auto: one heartbeat interval
  std::string planned_scale_window = "10s";
  std::string cooldown = "10s";
  std::string hand_off_timeout = "10s";
  std::string drain_timeout = "30s";
  std::string restart_grace = "30s";
  double restart_ratio = 0.5;
  std::string kv_operation_timeout = "auto";  // auto: fitted (with_fitted_timings)

  std::string metrics_address;  // host:port; empty: no HTTP listener
  int publish_port = 0;         // CAF middleman port of node 0 (node i: +i); 0: not published
  std::string publish_address = "127.0.0.1";
  std::string log_level = "info";
  std::string log_format = "text";
  std::string run_for = "0s";  // 0: until SIGINT / SIGTERM
  bool version = false;       // --version is answered before parsing (version_flag.hpp); for --help
  bool check_config = false;  // print the effective configuration and exit
};

/// Where parti-node looks for NATS when neither --nats-url, the INI file nor NATS_URL name a
/// server: the NATS tools' default.
inline constexpr const char* default_nats_url = "nats://127.0.0.1:4222";

/// The --nats-url value that starts a nats-server of the process's own.
inline constexpr const char* embedded_nats_url = "embedded";

/// Registers every option of `o` under CAF's "global" category (so they are --name=value flags
/// and `name=value` lines in the [global] section of an INI file), with its default in the help.
void add_options(caf::config_option_set& set, app_options& o);

/// The topics --help groups parti-node's options by, in order, each with its options' names.
struct option_topic {
  std::string title;
  std::vector<std::string> options;
};
const std::vector<option_topic>& option_topics();

/// --help: the options of `set` in the "global" category grouped by option_topics() (options
/// of no topic, e.g. a program's own, under "<program> options"), then where CAF's are.
std::string help_text(const caf::config_option_set& set, const std::string& program);

/// The options no INI file or --check-config output sets: --help, --config-file, ...
bool is_command_option(std::string_view name);

/// The nearest of `candidates` to `name` by edit distance, when it is close enough to be a
/// likely typo (at most a third of the name's length, at least 2); empty otherwise.
std::string nearest_name(const std::string& name, const std::vector<std::string>& candidates);

/// The keys of an INI file's settings (CAF's parse: [global] keys at the top, other sections
/// nested) that no option of `set` takes, each with the nearest valid key if there is one:
/// "[global] heartbeat-tll: unknown key; did you mean heartbeat-ttl?". Empty: all known.
std::vector<std::string> unknown_keys(const caf::settings& file, const caf::config_option_set& set);

/// Fills the NATS options that neither the command line nor the INI file gave (those still
/// empty) from the environment: NATS_URL (which may say "embedded" too, like --nats-url
/// does), NATS_CREDS, NATS_USER, NATS_PASSWORD and NATS_TOKEN. So a flag beats an INI
/// key, which beats the environment, which beats the default. NATS_PASSWORD and NATS_TOKEN
/// also give way to --nats-password-file and --nats-token-file. Call after parsing.
void apply_environment(app_options& o, const nats_environment& env);

/// What parti-node runs with.
struct app_settings {
  connection_options connection;  // urls empty when embedded_nats: set once it runs
  bool embedded_nats = false;     // --nats-url=embedded: start a local nats-server
  duration nats_startup_timeout = std::chrono::seconds(10);  // zero: no limit
  node_config node;
  strategy_options strategy;  // leader_settings::strategy
  std::shared_ptr<const partition_source> partitions;
  std::string partitions_text;  // "24 partitions p-0..p-23" or "partitions file <path>"
  duration refresh_period = duration::zero();  // leader_settings::refresh_period; zero: off
  int workers = 1;
  std::string metrics_address;
  int publish_port = 0;
  std::string publish_address;
  std::string log_level = "info";
  parti::log_format log_format = parti::log_format::text;
  duration run_for = duration::zero();
};

/// Checks and converts; the failure is one line naming the option ("--heartbeat-ttl: ...").
result<app_settings> to_settings(const app_options& o);

/// The effective configuration as the lines of an INI file ([global], one `name=value` line per
/// option, in --help's order): what the node runs with, "auto" values resolved, secrets
/// redacted. `o` gives what settings do not keep (paths, the partition count, the preset).
std::string effective_ini(const app_options& o, const app_settings& s);

/// Names node_config fields as the options that set them ("heartbeat_ttl" -> "--heartbeat-ttl");
/// empty for a field no option sets. For the violations of settings checked against the node's.
field_namer node_option_names();

/// The node configuration of the i-th node of this process: a preferred id moves up by i, so
/// the nodes of one process keep their ids across restarts too.
node_config config_for_worker(const app_settings& s, int index);

}  // namespace parti::node_app
