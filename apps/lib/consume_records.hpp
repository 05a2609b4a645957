#pragma once
// parti-consume's record of the messages it handled (one JSON line per message), and the check
// of a run's records against what was published. Pure: no NATS, no CAF (the unit tests link
// it as parti_consume_records).
//
// What the check finds, over every record of every process of a run:
//  - missing: a published message (partition, stream sequence) that no record shows handled.
//    Their count is the gap count.
//  - unexpected: a record of a message that was not published on its partition (a message
//    handled under the wrong partition, or a record that does not belong to the run).
//  - overlaps: two records of one partition by two different workers whose handling intervals
//    [started_ms, finished_ms] intersect: two owners at once. Intervals that only touch (one
//    ends in the millisecond the other starts) do not count: the millisecond clock cannot order
//    them, and a hand-off takes several store round trips anyway. Records of one worker may
//    overlap each other (--in-flight > 1).
//  - order violations: the records of one worker for one partition, in the order they started
//    (started_ms, ties in the order the records were read), must not go back: a record whose
//    stream sequence is lower than the highest this worker handled on this partition before is
//    a violation, unless its sequence was handled before (by any worker): that is a redelivery
//    (an acknowledgement lost to a crash, a timeout or a server restart), counted as a
//    duplicate. Meaningful with --in-flight=1, where the consumer delivers a partition in order.
//  - duplicates: a message handled more than once (at-least-once delivery after a crash or a
//    lost acknowledgement); reported with their count, not a violation.
#include <cstdint>
#include <istream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "parti/messages/result.hpp"

namespace parti::consume_check {

/// One handled message: one line of parti-consume's --record file.
struct record {
  std::string partition;  // its keys joined by "-" ("p-3")
  std::uint64_t stream_seq = 0;
  std::string worker;            // the worker id that handled it
  std::int64_t started_ms = 0;   // wall clock, ms since the Unix epoch
  std::int64_t finished_ms = 0;  // when the handler returned
  /// The server's delivery count of the handled delivery (1: its first); 0: not recorded (records
  /// of older programs).
  std::uint64_t delivery = 0;
};

/// {"partition":"p-3","stream_seq":17,"worker":"worker-2","started_ms":..,"finished_ms":..,
/// "delivery":1} (without a newline; "delivery" is left out when 0).
std::string to_line(const record& r);

/// The record a line holds; the failure says what is wrong with it.
result<record> parse_line(std::string_view line);

/// A line that is no record (a process killed in the middle of a write leaves one).
struct bad_line {
  std::string source;  // the file
  std::size_t line = 0;
  std::string reason;
};

struct record_set {
  std::vector<record> records;  // in the order read
  std::vector<bad_line> bad;
};

/// Appends every record of `in` to `out` (blank lines are skipped, bad ones noted).
void read_records(const std::string& source, std::istream& in, record_set& out);

/// Partition -> the stream sequences published on it (in any order).
using published_set = std::map<std::string, std::vector<std::uint64_t>>;

struct message_id {
  std::string partition;
  std::uint64_t stream_seq = 0;
  bool operator<(const message_id& o) const {
    return partition != o.partition ? partition < o.partition : stream_seq < o.stream_seq;
  }
  bool operator==(const message_id& o) const {
    return partition == o.partition && stream_seq == o.stream_seq;
  }
};

struct overlap {
  record first;  // started no later than `second`
  record second;
};

struct order_violation {
  record before;  // the highest sequence the worker had handled on the partition
  record late;    // handled after it, with a lower sequence never handled before
};

struct report {
  std::size_t published = 0;        // messages
  std::size_t partitions = 0;       // with messages published
  std::size_t records = 0;          // handlings
  std::size_t handled = 0;          // published messages handled at least once
  std::size_t duplicates = 0;       // messages handled more than once
  std::size_t extra_handlings = 0;  // handlings beyond each message's first
  std::vector<message_id> missing;  // ordered by partition and sequence
  std::vector<record> unexpected;
  std::size_t overlap_count = 0;
  std::vector<overlap> overlaps;  // the first few (max_examples)
  std::size_t order_violation_count = 0;
  std::vector<order_violation> order_violations;  // the first few (max_examples)

  /// No gap, no overlap: nothing missing, unexpected, overlapping or out of order.
  bool passed() const {
    return missing.empty() && unexpected.empty() && overlap_count == 0 &&
           order_violation_count == 0;
  }
};

/// Examples kept of overlaps and order violations (they are all counted).
constexpr std::size_t max_examples = 20;

/// Checks `records` (in the order read) against `published`.
report check(const published_set& published, const std::vector<record>& records);

/// The report for people: counts, bad lines, up to `examples` of each violation, and a last line
/// "no gap, no overlap" when it passed, else "FAILED: ..." with the counts.
std::string render(const report& r, const std::vector<bad_line>& bad, std::size_t examples = 10);

// -- duplicates and the faults that explain them ----------------------------------------------
//
// A message is handled again only when the acknowledgement of an earlier handling was lost: the
// worker was killed (or crashed) before its ack reached the server, it was cut off from NATS,
// or the server restarted. A fault run records those faults with their times; every handling of
// a message that was followed by another handling of it (a redelivery) must then be explained
// by one: it finished within [begin_ms - window_ms, end_ms + window_ms] of the fault and, for a
// kill or a cut, by the worker killed or cut (any worker for a server restart). The window
// covers a handling whose ack was still on its way (ack_wait plus a margin is ample); a cut
// lasts from the cut to the heal, a server restart from the stop to the moment it takes
// clients again. Graceful stops, drains and hand-offs settle every message they held, so they
// explain nothing. Of several faults that explain a handling, the nearest is its cause.
//
// A cut also explains a handling by another worker that finished after the heal (from
// heal_margin_ms before it), within the window: what the cut worker sent during the cut reaches
// the server at the heal, and so do the naks it sends for the deliveries the cut held back. The
// server applies such a stale nak to the message's current delivery, which by then belongs to
// the partition's next owner, and delivers the message again at once.
//
// One more cause needs no fault: a handling whose next handling came as a first delivery
// (delivery count 1) although the message had been delivered before. The server delivered the
// message anew: nats-server before 2.10.14 moves a pull consumer's cursor back by one when a
// redelivery finds no live pull request (an expired one, or one of a process that is gone), and
// then delivers the last message it had delivered again, as new, also after it was acknowledged
// (nats-server pull request 5305). Both records must carry their delivery count.

enum class fault_kind { kill, cut, server_restart };

/// How long before the recorded heal a stale message of the cut worker may already have reached
/// the server (the heal's time is taken once forwarding resumed).
constexpr std::int64_t heal_margin_ms = 100;

/// "kill -9", "cut", "server restart"
const char* to_string(fault_kind k);

struct fault_event {
  fault_kind kind = fault_kind::kill;
  std::string worker;         // the worker killed or cut; empty for a server restart
  std::int64_t begin_ms = 0;  // wall clock, as the records
  std::int64_t end_ms = 0;    // >= begin_ms (a kill: the same moment)
};

/// A handling followed by another handling of its message that no fault explains.
struct unexplained_redelivery {
  record handled;  // the earlier handling, whose ack was lost
  record again;    // the next handling of the same message
};

struct duplicate_causes {
  std::map<fault_kind, std::size_t> by_cause;  // redelivered handlings each kind explains
  std::size_t delivered_anew = 0;  // followed by a first delivery of the same message (above)
  std::size_t unexplained_count = 0;
  std::vector<unexplained_redelivery> unexplained;  // the first few (max_examples)
  bool explained() const { return unexplained_count == 0; }
};

/// Finds, for every handling of a message that was handled again later (handlings of one
/// message in the order they started), the fault that explains it (see above).
duplicate_causes explain_duplicates(const std::vector<record>& records,
                                    const std::vector<fault_event>& faults, std::int64_t window_ms);

/// "duplicates by cause: kill -9 2, cut 0, server restart 5, delivered anew by the server 1,
/// unexplained 0" and up to `examples` unexplained redeliveries, one per line.
std::string render(const duplicate_causes& d, std::size_t examples = 10);

}  // namespace parti::consume_check
