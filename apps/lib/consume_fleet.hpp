#pragma once
// A fleet of parti-consume processes sharing a partitioned stream while a producer publishes to
// it, and the faults a fault run applies to them: the fault test of partition consumption
// (tests/integration/consume_faults.cpp) and parti-chaos --consume drive the same steps, and
// check the same way at the end.
//
// It owns a local nats-server (JetStream), the stream, a producer of sequence-numbered messages
// (stream_producer) and the processes (fleet). Every process reaches the server through a TCP
// relay of its own (tcp_relay), so that one can be cut off from NATS; the relays connect to the
// server on each accepted connection, so server restarts pass through them. Process i records
// what it handled in <work dir>/records-<i>.jsonl and logs to <work dir>/node-<i>.log; a
// restart keeps both, and its preferred id. Preferred ids are never reused otherwise, so a
// worker id names one process (and its restarts) for the whole run.
//
// The faults whose lost acknowledgements may make a message come again (kill -9, cut, server
// restart) are recorded with their wall-clock times; finish() explains every duplicate with
// them (consume_check::explain_duplicates). Graceful steps (restart intent, drain) record
// nothing: they must settle every message they held.
//
// A drain of the leader leaves the partitions it was handing off unassigned (a known bug of the
// leader's own drain): callers drain a member of followers() until that is fixed.
//
// Blocking calls throughout (process signals, HTTP, NATS); for a test or a harness thread.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/lib/consume_records.hpp"
#include "apps/lib/fleet.hpp"
#include "apps/lib/partition_stream.hpp"
#include "apps/lib/stream_producer.hpp"
#include "apps/lib/tcp_relay.hpp"
#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/nats/local_server.hpp"

namespace parti {
class connection;
}

namespace parti::consume_app {

/// How long the consumers of fast_consume_args() wait for an acknowledgement before the server
/// delivers a message again.
constexpr duration fast_ack_wait = std::chrono::seconds(2);

/// parti-consume's timings for tests and fault runs: node timings scaled down so that a group
/// converges in about a second (heartbeat TTL 600 ms), consumer settings that fit them (a
/// message a killed process held comes again after fast_ack_wait), reading every message from
/// the stream's start (--consume-start=all).
std::vector<std::string> fast_consume_args();

struct consume_fleet_options {
  std::string binary;    // the parti-consume program
  std::string work_dir;  // an existing directory: records and logs
  std::uint32_t partitions = 16;
  std::string group = "consume-faults";
  std::string stream = "WORK";
  std::string subject_template = "work.{0}";
  double rate = 100;  // messages per second, over all partitions
  duration handler_delay = std::chrono::milliseconds(40);
  /// Flags every process gets besides NATS, group, stream, record and handler delay.
  std::vector<std::string> timing_args = fast_consume_args();
  duration ack_wait = fast_ack_wait;  // as timing_args set it
};

/// What a fault run ends with: the check of every record against the stream.
struct consume_outcome {
  producer_report produced;
  bool all_handled = false;  // every published message had a record within finish()'s limit
  consume_check::report report;
  std::vector<consume_check::bad_line> bad_lines;
  consume_check::duplicate_causes duplicates;
  std::size_t faults = 0;  // recorded faults (kill -9, cut, server restart)
  /// Partition consumers created again during the run (a later creation time than when every
  /// partition first consumed): such a consumer lost its cursor and started over.
  std::vector<std::string> recreated_consumers;
  std::string error;  // the stream could not be read back; nothing was checked

  /// No gap, no overlap, no order violation, every duplicate explained, no consumer created
  /// again.
  bool passed() const {
    return error.empty() && all_handled && report.passed() && duplicates.explained() &&
           recreated_consumers.empty();
  }
};

/// The check, then the duplicates by cause, then "passed" or "FAILED".
std::string render(const consume_outcome& o);

class consume_fleet {
 public:
  /// Starts the server, creates the stream and starts the producer; no process yet. Throws
  /// std::runtime_error when any of that fails.
  explicit consume_fleet(consume_fleet_options options);
  /// Kills the processes that still run, then stops the producer and the server.
  ~consume_fleet();
  consume_fleet(const consume_fleet&) = delete;
  consume_fleet& operator=(const consume_fleet&) = delete;

  /// Starts a process with the next preferred id behind a relay of its own; its index.
  int start_member();

  // -- faults: each returns once its process ended (and, for a restart, started again) -------
  /// kill -9 of member `index`; recorded as a fault of its worker.
  status kill(int index);
  /// SIGUSR1 (stop with restart intent, whatever --shutdown says), then the same process again
  /// (same preferred id, relay, record file); fails when the stop did not exit 0 within `limit`.
  status restart(int index, duration limit = std::chrono::seconds(30));
  /// SIGTERM with --shutdown=drain: the process hands its partitions over and exits; fails when
  /// it did not exit 0 within `limit`.
  status drain(int index, duration limit = std::chrono::seconds(45));
  /// Cuts member `index` off NATS (its relay forwards nothing, closes nothing), waits until its
  /// lease lapsed (it lists no partition) and the others own every partition, then heals;
  /// recorded as a fault of its worker from the cut to the heal. Fails (after healing) when that
  /// did not happen within `limit`.
  status cut(int index, duration limit = std::chrono::seconds(20));
  /// Stops the server (SIGTERM) and starts it again on the same port and store; recorded as a
  /// fault of every worker. The producer retries meanwhile.
  void restart_server();

  /// Waits until every live member answers in a settled state (Stable or Scaling), exactly one
  /// leads, every partition is owned by exactly one worker, every member serves some (while
  /// there are at least as many partitions), and every partition has a record started at or
  /// after `since_ms` (wall clock): consumption goes on everywhere. The time it took, or a
  /// failure saying what was still missing at `limit`. The first time it settles, it notes
  /// when each partition's consumer was created (finish() compares).
  result<duration> settle(std::int64_t since_ms, duration limit = std::chrono::seconds(45));

  /// Stops the producer, reads back what the stream holds, waits (at most `limit`) until every
  /// message has a record, stops every process (restart intent: no hand-offs), and checks.
  consume_outcome finish(duration limit = std::chrono::seconds(60));

  /// The member that leads, when exactly one says it does.
  std::optional<int> leader();
  /// Live members that do not lead (all live members when no single leader is known).
  std::vector<int> followers();
  std::vector<int> alive() const { return fleet_.alive(); }
  /// The worker id member `index` holds ("worker-<preferred id>" when it does not answer).
  std::string worker_of(int index);
  const std::vector<consume_check::fault_event>& faults() const { return faults_; }
  const consume_fleet_options& options() const { return options_; }
  std::string url() const { return server_.url(); }

 private:
  struct member_view;
  std::vector<member_view> look();
  std::string record_file(int index) const;
  /// Reads what the record files gained since the last call (complete lines only).
  void read_new_records();

  consume_fleet_options options_;
  local_nats_server server_;
  std::shared_ptr<connection> conn_;
  std::vector<partition_subject> subjects_;
  std::unique_ptr<stream_producer> producer_;
  // Member index -> its relay; declared before the fleet, so the processes end before them.
  std::map<int, std::unique_ptr<fleet::tcp_relay>> relays_;
  fleet::fleet fleet_;
  std::uint32_t next_id_ = 0;
  std::vector<consume_check::fault_event> faults_;
  std::map<int, std::uint64_t> read_offset_;               // record file -> bytes read
  std::map<std::string, std::int64_t> last_started_;       // partition -> latest record's start
  std::map<std::string, std::int64_t> consumers_created_;  // at the first settle
};

/// Wall-clock milliseconds since the Unix epoch, the time of records and faults.
std::int64_t wall_ms();

}  // namespace parti::consume_app
