#pragma once
// Which partition readers a consumer runs, from its node's assignments and from how its readers
// end. Pure: no CAF, no NATS; time is passed in. The consumer actor feeds the events and carries
// out take()'s outputs in order.
//
// Rules:
//  - An assignment's `owned` set is the truth (a "snapshot" is no different): a partition owned
//    without a reader gets one; a reader whose partition is no longer owned is released.
//  - At most one reader per partition: a partition taken away and given back while its reader
//    still releases gets its new reader once the old one has released.
//  - A revocation (an assignment that takes partitions away, sent by the node as a request) is
//    acknowledged once every partition it takes away has no reader any more: released, failed,
//    or none ran (never started, failed and waiting to restart, refused).
//  - A reader that fails while its partition is owned is restarted after a backoff with jitter,
//    per partition (a reader that ran longer than the backoff's maximum starts over from the
//    initial delay); a partition taken away meanwhile is not restarted.
//  - A partition that cannot be read at all (refused: no filter subject for its keys) is not
//    started again until it is taken away and assigned anew.
//  - A grant that changes while the partition stays owned is passed to its reader.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "parti/messages/node_events.hpp"
#include "parti/messages/records.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/resilience/backoff.hpp"

namespace parti {

using partition_keys = std::vector<std::string>;

// -- outputs ----------------------------------------------------------------------------------

/// Spawn a reader for `part` with its fencing token (`restart`: after a failure).
struct start_reader {
  partition part;
  partition_grant grant;
  bool restart = false;
};

/// Ask the reader of `keys` to release its partition (it reports with released()).
struct release_reader {
  partition_keys keys;
};

/// Call restart_due(ticket) after `after`.
struct restart_later {
  partition_keys keys;
  std::uint64_t ticket = 0;
  duration after{};
};

/// The partition's grant changed while it stayed owned: tell its reader.
struct regrant_reader {
  partition_grant grant;
};

/// Answer the revocation `ticket` (the node waits for it).
struct acknowledge_revocation {
  std::uint64_t ticket = 0;
};

using supervision_output = std::variant<start_reader, release_reader, restart_later, regrant_reader,
                                        acknowledge_revocation>;

// -- the rules --------------------------------------------------------------------------------

class reader_supervision {
 public:
  reader_supervision(backoff_policy restart_backoff, random_source random);

  /// The node's assignment. `revocation`: the ticket of an update sent as a request (one that
  /// removes partitions), acknowledged once what it takes away is no longer read here.
  void assignment(const assignment_update& u, std::optional<std::uint64_t> revocation,
                  time_point now);
  /// The reader of `keys` ended without an error (after its release).
  void released(const partition_keys& keys, time_point now);
  /// The reader of `keys` ended with an error.
  void failed(const partition_keys& keys, time_point now);
  /// The partition cannot be read (its reader could not even be made).
  void refused(const partition_keys& keys);
  /// A restart's backoff has passed.
  void restart_due(std::uint64_t ticket, time_point now);
  /// Release every reader and start nothing any more (the node is gone).
  void release_all();

  /// The outputs since the last call, in order.
  std::vector<supervision_output> take();

  /// Readers that exist now: starting, serving or releasing.
  std::size_t readers() const;
  /// Readers started again after a failure, in all.
  std::uint64_t restarts() const { return restarts_; }
  /// Revocations not acknowledged yet.
  std::size_t pending_revocations() const { return revocations_.size(); }
  /// True while `keys` has a reader (starting, serving or releasing).
  bool has_reader(const partition_keys& keys) const;

 private:
  struct entry {
    partition part;
    partition_grant grant;
    enum class phase : std::uint8_t {
      running,          // a reader exists and reads
      releasing,        // its reader was asked to release
      waiting_restart,  // its reader failed; restarting after the backoff (ticket)
      refused,          // it cannot be read
    } at = phase::running;
    bool owned = true;  // in the latest assignment
    std::uint64_t ticket = 0;
    time_point started_at{};
    std::unique_ptr<backoff> restart_backoff;  // made on the first failure
  };
  struct pending_revocation {
    std::uint64_t ticket = 0;
    std::set<partition_keys> waiting;  // partitions whose readers have not ended yet
  };

  void start(entry& e, bool restart, time_point now);
  void release(entry& e);
  /// The partition no longer has a reader: revocations waiting for it may be answered.
  void reader_gone(const partition_keys& keys);
  void schedule_restart(entry& e, time_point now);
  static bool same_grant(const partition_grant& a, const partition_grant& b);

  backoff_policy policy_;
  std::shared_ptr<random_source> random_;
  std::map<partition_keys, entry> entries_;
  std::vector<pending_revocation> revocations_;
  std::vector<supervision_output> out_;
  std::uint64_t next_ticket_ = 1;
  std::uint64_t restarts_ = 0;
  bool stopped_ = false;
};

}  // namespace parti
