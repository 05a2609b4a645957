#pragma once
// parti-node's options, which every program running nodes takes (parti-consume too; see
// node_process.hpp): what the command line and the INI file give (`app_options`, values as
// typed, registered with CAF's option system), and what the program runs with
// (`app_settings`, checked and converted). The conversion is the one place that validates, so
// every mistake ends in one message naming the option and the rule (and exit code 2).
#include <caf/actor_system_config.hpp>

#include <memory>
#include <string>

#include "messages/result.hpp"
#include "runtime/config.hpp"
#include "runtime/log.hpp"
#include "runtime/nats/connection.hpp"
#include "runtime/partition_source.hpp"
#include "runtime/secrets.hpp"

namespace parti::node_app {

/// Options as given. Durations and names stay text: they are parsed (with clear errors) by
/// to_settings. Every member is initialised with its default, which --help shows.
struct app_options {
  std::string nats_url;  // empty: start a local nats-server
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

  std::string metrics_address;  // host:port; empty: no HTTP listener
  int publish_port = 0;         // CAF middleman port of node 0 (node i: +i); 0: not published
  std::string publish_address = "127.0.0.1";
  std::string log_level = "info";
  std::string log_format = "text";
  std::string run_for = "0s";  // 0: until SIGINT / SIGTERM
  bool version = false;  // --version is answered before parsing (version_flag.hpp); for --help
};

/// Registers every option of `o` under CAF's "global" category (so they are --name=value flags
/// and `name=value` lines in the [global] section of an INI file), with its default in the help.
void add_options(caf::config_option_set& set, app_options& o);

/// Fills the NATS options that neither the command line nor the INI file gave (those still
/// empty) from the environment: NATS_URL (which, like --nats-url, means no embedded
/// nats-server), NATS_CREDS, NATS_USER, NATS_PASSWORD and NATS_TOKEN. So a flag beats an INI
/// key, which beats the environment, which beats the default. NATS_PASSWORD and NATS_TOKEN
/// also give way to --nats-password-file and --nats-token-file. Call after parsing.
void apply_environment(app_options& o, const nats_environment& env);

/// What parti-node runs with.
struct app_settings {
  connection_options connection;  // urls empty: start a local nats-server
  node_config node;
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

/// Names node_config fields as the options that set them ("heartbeat_ttl" -> "--heartbeat-ttl");
/// empty for a field no option sets. For the violations of settings checked against the node's.
field_namer node_option_names();

/// The node configuration of the i-th node of this process: a preferred id moves up by i, so
/// the nodes of one process keep their ids across restarts too.
node_config config_for_worker(const app_settings& s, int index);

}  // namespace parti::node_app
