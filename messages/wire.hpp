#pragma once
// The names of the KV wire contract (docs/WIRE.md): a group's buckets, the election's key and the
// reserved keys of the assignments bucket, spelled here and nowhere else; and the one reading of
// the assignments bucket that every reader shares, so they all agree on what is a worker key.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parti/messages/codec.hpp"
#include "parti/messages/events.hpp"
#include "parti/messages/records.hpp"

namespace parti {

// -- buckets ----------------------------------------------------------------------------------

/// The bucket roles: a group's buckets are named "<group>-<role>".
namespace bucket_role {
inline constexpr std::string_view ids = "ids";                  // id_claim per worker id
inline constexpr std::string_view election = "election";        // leader_lease at leader_key
inline constexpr std::string_view heartbeats = "heartbeats";    // heartbeat_record per worker id
inline constexpr std::string_view assignments = "assignments";  // per worker id, and reserved keys
}  // namespace bucket_role

/// "<group>-<role>", e.g. bucket_name("parti", bucket_role::ids) == "parti-ids".
std::string bucket_name(std::string_view group, std::string_view role);

// -- keys -------------------------------------------------------------------------------------
// Plain C strings: they convert to the std::string that kv_store and the KV actor take.

/// `<group>-election`: the leader's lease.
inline constexpr const char* leader_key = "leader";

/// `<group>-assignments`: written last; a version is complete once it exists.
inline constexpr const char* manifest_key = "_manifest";
/// `<group>-assignments`: requests to the leader.
inline constexpr const char* control_key = "_control";

/// True for a key of `<group>-assignments` that is not a worker key: every key starting with '_',
/// the known ones (manifest_key, control_key) and any other, kept for records to come. A worker
/// id prefix may not start with '_', so no worker key is ever reserved.
bool is_reserved_key(std::string_view key);

// -- reading the assignments bucket -----------------------------------------------------------

/// A value that does not decode, and why.
struct undecodable_value {
  std::string key;
  std::string error;
};

/// The record in `entry`, or nothing when it does not decode (then noted in `undecodable`): the
/// one way every reader of a whole bucket decodes and notes (actors that watch count and log
/// instead: runtime/metrics/decode_errors.hpp).
template <class Record>
std::optional<Record> decode_noted(const kv_entry& entry,
                                   std::vector<undecodable_value>& undecodable) {
  auto record = decode<Record>(entry.value);
  if (record) return std::move(*record);
  undecodable.push_back({entry.key, record.error()});
  return std::nullopt;
}

/// What `<group>-assignments` holds, as its readers see it.
struct assignments_bucket {
  std::map<std::string, assignment_record> workers;  // by worker key
  std::optional<manifest_record> manifest;
  std::optional<control_record> control;
  std::vector<undecodable_value> undecodable;  // worker and known reserved keys, in entry order
};

/// Reads the entries of `<group>-assignments` (deletes and purges are skipped): `_manifest` and
/// `_control` as their records, every other reserved key ignored (a reader does not know it, so
/// it is neither a worker nor an error), every other key as a worker's assignment record. A
/// value that does not decode is left out and listed in `undecodable`.
assignments_bucket decode_assignments(const std::vector<kv_entry>& entries);

}  // namespace parti
