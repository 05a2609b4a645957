#pragma once
// parti-ctl's commands around parti-consume: produce (sequence-numbered messages to a
// partitioned stream) and consume-check (parti-consume's records against the stream).
#include "apps/parti-ctl/args.hpp"

namespace parti::ctl {

/// Publishes until --duration or SIGINT/SIGTERM; prints what the stream acknowledged.
int produce(const arguments& a);

/// Reads the record files and the stream, checks, prints the report; exit_ok when it passed,
/// exit_check_failed when not.
int consume_check(const arguments& a);

}  // namespace parti::ctl
