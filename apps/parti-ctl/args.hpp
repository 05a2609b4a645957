#pragma once
// parti-ctl's command line: options anywhere (--name=value or --name value), then a command and
// at most one operand. Not CAF: parti-ctl runs no actors.
#include <cstdint>
#include <string>
#include <vector>

#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/nats/connection.hpp"
#include "parti/runtime/secrets.hpp"

namespace parti::ctl {

/// Exit codes, documented in the usage text.
enum exit_code : int {
  exit_ok = 0,
  exit_store_error = 1,   // NATS unreachable, bucket missing, a KV request failed
  exit_usage = 2,         // bad arguments
  exit_unhealthy = 3,     // status: no leader or unassigned partitions; explain: no owner
  exit_check_failed = 1,  // consume-check: a gap, an overlap or an order violation
  // The same numbers as parti-node's (apps/lib/node_process.hpp):
  exit_authorization_failed = 4,  // NATS refused the credentials (authorization violation)
  exit_permission_denied = 5,     // NATS refused a subject the command needs
};

struct arguments {
  connection_options connection;
  std::string group = "parti";
  bool json = false;
  bool help = false;
  std::string command;
  std::string operand;             // KEY for explain, WORKER for drain / undrain
  std::vector<std::string> files;  // consume-check: parti-consume's record files

  // produce and consume-check: the partitioned stream
  std::string stream;
  std::string subject_template;
  std::uint32_t partitions = 0;                 // p-0 .. p-<partitions-1>
  double rate = 100;                            // produce: messages per second
  duration run_for = std::chrono::seconds(10);  // produce --duration; zero: until a signal
  bool create_stream = false;                   // produce: create the stream if missing
};

/// Parses argv (without the program name). The failure names the argument and the rule. The
/// NATS options the command line does not give come from `env` (NATS_URL, NATS_CREDS,
/// NATS_USER, NATS_PASSWORD, NATS_TOKEN): a flag beats the environment, which beats the
/// default. --nats-password-file and --nats-token-file are read here (a missing or empty file
/// is a usage error naming the option and the path).
result<arguments> parse_arguments(const std::vector<std::string>& args,
                                  const nats_environment& env = {});

const char* usage_text();

}  // namespace parti::ctl
