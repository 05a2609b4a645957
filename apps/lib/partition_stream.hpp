#pragma once
// The JetStream stream whose partitions parti-consume reads, as the tools around it see it
// (parti-consume --create-stream, parti-ctl produce and consume-check, the consume tests and
// the demo): the partitions' subjects under a subject template, the stream's creation, and
// reading back every message it holds on them. Blocking nats.c calls; not for actor threads.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "apps/lib/consume_records.hpp"
#include "parti/messages/records.hpp"
#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/nats/jetstream_consumers.hpp"

namespace parti {
class connection;
}

namespace parti::consume_app {

/// The one subject a stream for the template captures: every token that holds a placeholder
/// becomes "*" ("orders.{0}.{1}" -> "orders.*.*", "in.x{0}" -> "in.*"), "{{" and "}}" in the
/// others become "{" and "}".
std::string stream_subject(const std::string& template_text);

struct partition_subject {
  std::string label;    // partition_label of its keys ("p-3")
  std::string subject;  // its filter subject
};

/// The subjects of `partitions` under `template_text`, in their order. Fails as
/// check_partition_consumers does: a template or a partition that cannot be rendered, two
/// partitions on one subject.
result<std::vector<partition_subject>> partition_subjects(const std::string& template_text,
                                                          const std::vector<partition>& partitions);
/// The same for the partitions p-0 .. p-<count-1> of a --partitions count.
result<std::vector<partition_subject>> partition_subjects(const std::string& template_text,
                                                          std::uint32_t count);

/// The tools' stream: `name` capturing `subject` on files (parti::ensure_stream, which also
/// gives stream_exists).
result<bool> ensure_stream(connection& conn, const std::string& name, const std::string& subject);

/// The consumers of `stream`, by name, with the moment each was created (ns since the Unix
/// epoch, as the server reports it): a consumer created again has a later one, and started over
/// from its configured start position.
result<std::map<std::string, std::int64_t>> consumer_creations(connection& conn,
                                                               const std::string& stream);

/// Every message `stream` holds on the subjects of `partitions`, by partition label: what was
/// published. Read from the first message with an ordered consumer filtered on `filter` (a
/// subject that covers them, e.g. stream_subject of the template); messages on other subjects
/// are skipped. `wait` bounds the wait for each message.
result<consume_check::published_set> read_published(
    connection& conn, const std::string& stream, const std::string& filter,
    const std::vector<partition_subject>& partitions, duration wait = std::chrono::seconds(5));

}  // namespace parti::consume_app
