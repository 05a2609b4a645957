#pragma once
// Reading a group's state straight from its KV buckets, judging its health, and operating on it
// through the `_control` record: what parti-ctl does, as a library so tests and other tools can
// do the same. No actors: every call here blocks on the network (up to the connection's request
// timeout), which is fine for a command-line tool or a test body.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parti/messages/records.hpp"
#include "parti/messages/wire.hpp"
#include "parti/runtime/nats/kv_store.hpp"

namespace parti {

/// The four buckets of an existing group, bound with the settings they already have (a tool
/// must not create buckets, nor insist on TTLs it cannot know).
struct group_stores {
  std::string group;
  std::shared_ptr<kv_store> ids, election, heartbeats, assignments;

  /// Fails with not_found naming the missing bucket when the group does not exist (yet).
  static kv_result<group_stores> open(const std::shared_ptr<connection>& conn,
                                      const std::string& group);
};

/// Everything the store says about one worker id; any part may be missing.
struct worker_view {
  std::string id;
  std::optional<heartbeat_record> heartbeat;
  std::optional<assignment_record> assignment;
  std::optional<id_claim> claim;
  bool in_manifest = false;
};

/// One read of a whole group. Not atomic across keys: a rebalance in progress may show half.
struct group_state {
  std::string group;
  std::uint64_t read_at = 0;  // unix ms, for ages
  std::optional<leader_lease> leader;
  std::optional<manifest_record> manifest;
  std::optional<control_record> control;
  std::map<std::string, worker_view> workers;  // by id: every id with a claim, heartbeat or key
  std::vector<std::string> skipped;            // "<bucket>/<key>: why" for undecodable values
};

/// Reads every bucket of the group.
kv_result<group_state> read_group(const group_stores& stores);

struct partition_counts {
  std::uint64_t expected = 0;         // the manifest's partition_count
  std::uint64_t assigned = 0;         // distinct partitions (by keys) in the worker keys
  std::uint64_t unassigned = 0;       // expected - assigned, when positive
  std::uint64_t doubly_assigned = 0;  // partitions found under more than one worker
  std::uint64_t orphaned = 0;         // assigned to a worker without a heartbeat
};

/// Healthy: a leader, a published assignment, no unassigned and no doubly-assigned partition.
/// Partitions of a worker without a heartbeat (`orphaned`) are a warning only: a worker that
/// restarts keeps them on purpose for the restart grace.
struct group_health {
  bool healthy = false;
  partition_counts partitions;
  std::vector<std::string> problems;  // why it is unhealthy, one line each
  std::vector<std::string> warnings;
};

group_health assess(const group_state& state);

/// Partition counts per worker id (zero for a worker with no assignment key).
std::size_t partitions_of(const worker_view& worker);

/// Who owns the partition that has `key`, and the record that says so (one entry per owner:
/// more than one is a double assignment).
struct key_owner {
  std::string worker;
  partition owned;
  assignment_record record;  // epoch, version, reason, issued_at (its partitions are cleared)
};
std::vector<key_owner> owners_of_key(const group_state& state, const std::string& key);

/// The outcome of a compare-and-swap update of `_control`.
struct control_update {
  control_record record;  // as written
  std::uint64_t revision = 0;
  int attempts = 0;  // 1 when nobody raced us
};

/// Reads `_control` (a missing one is the default record), applies `change`, and writes it back
/// by compare-and-swap (create when missing, update with the read revision otherwise). When
/// another writer got there first it reads again and re-applies `change`, up to `max_attempts`
/// times, so concurrent requests are all kept. A `_control` that does not decode is an error:
/// overwriting it would lose requests of a newer writer.
kv_result<control_update> update_control(kv_store& assignments,
                                         const std::function<void(control_record&)>& change,
                                         int max_attempts = 16);

}  // namespace parti
