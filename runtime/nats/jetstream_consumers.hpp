#pragma once
// The JetStream administration the partition consumer needs: per-partition durable pull
// consumers (created if missing, compared if present), their pending counts, their pruning, and
// the acknowledged publish of a dead letter. Blocking calls (up to the connection's request
// timeout): callers run them off the actor scheduler's threads.
#include <cstdint>
#include <string>
#include <vector>

#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/consume/consume_config.hpp"

namespace parti {

class connection;

/// A stream as ensure_stream creates it (limits retention).
struct stream_settings {
  std::string name;
  std::vector<std::string> subjects;
  int replicas = 1;
  bool memory = false;  // memory storage instead of files (tests, benchmarks)
};

/// Creates the stream when no stream of that name exists; an existing one is left as it is
/// (also when another process created it meanwhile). True when it created it.
result<bool> ensure_stream(connection& conn, const stream_settings& settings);

/// Fails unless the stream `name` exists.
status stream_exists(connection& conn, const std::string& name);

struct consumer_attach {
  bool created = false;  // false: it existed with the expected settings
  std::uint64_t num_pending = 0;
  std::uint64_t num_ack_pending = 0;
};

/// Makes sure the durable pull consumer `name` on `stream` exists with `filter_subject` and the
/// settings. A missing one is created; an existing one with another filter, ack policy,
/// ack wait, max deliver, max ack pending or replica count fails with a message naming every
/// difference ("consumer orders_p-3_1a2b3c4d exists with ack_wait 10s, configured 30s"). A missing
/// stream fails naming it. (The start position is only used at creation.) Settings the server
/// would replace by its defaults (ack_wait 0, max_deliver 0, ...) fail before anything is created;
/// max_deliver -1 (unlimited) is the server's own default, and is compared as such.
///
/// Two processes creating the same consumer at once: nats-server 2.9.10 treats the create of an
/// existing durable as an update of its editable settings (ack wait, max deliver, max ack
/// pending, filter subject), so with equal settings both succeed, and with different ones the
/// later creation wins silently; the next ensure_consumer of the other then reports the
/// difference. Only a creation that the server refuses (a different start position) is read
/// again and compared.
result<consumer_attach> ensure_consumer(connection& conn, const std::string& stream,
                                        const std::string& name, const std::string& filter_subject,
                                        const consumer_settings& settings);

/// The consumer's pending message count (its lag), from consumer info.
result<std::uint64_t> consumer_pending(connection& conn, const std::string& stream,
                                       const std::string& name);

/// Every consumer name on `stream` that starts with `prefix` + "_".
result<std::vector<std::string>> list_consumers(connection& conn, const std::string& stream,
                                                const std::string& prefix);

/// Deletes the consumers on `stream` starting with `prefix` + "_" that are not in `keep`;
/// returns the names deleted. (For partitions that no longer exist: see docs/CONSUMING.md.)
result<std::vector<std::string>> prune_consumers(connection& conn, const std::string& stream,
                                                 const std::string& prefix,
                                                 const std::vector<std::string>& keep);

/// Publishes `data` with `headers` to `subject` through JetStream and waits for a stream's
/// acknowledgement (fails when no stream captures the subject).
status publish_acknowledged(connection& conn, const std::string& subject, const std::string& data,
                            const std::vector<std::pair<std::string, std::string>>& headers);

}  // namespace parti
