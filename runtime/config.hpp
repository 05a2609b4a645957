#pragma once
// The configuration of one node: every setting with its default, validation that
// names the field and the rule it breaks, and the duration syntax used in configuration files.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parti/messages/node_events.hpp"
#include "parti/messages/result.hpp"
#include "parti/messages/wire.hpp"
#include "parti/runtime/clock.hpp"

namespace parti {

// -- durations as text ------------------------------------------------------------------------

/// Parses "<number><unit>" with unit ns|us|ms|s|m|h, e.g. "500ms", "3s", "1.5s", "2h".
/// A fraction is allowed as long as the result is a whole number of nanoseconds.
result<duration> parse_duration(std::string_view text);

/// The shortest exact text for `d` that parse_duration reads back: "3s", "1.5s", "250us", "2h".
std::string format_duration(duration d);

// -- enumerated settings ----------------------------------------------------------------------

/// How a partition moves between workers.
enum class hand_off_mode {
  cooperative,  // revoke from the old owner first, grant to the new one once it let go
  eager,        // publish the new owner in one step: faster, but two owners for a moment
};

/// What a node does when its ownership lease lapses (its heartbeats go unacknowledged for the
/// heartbeat TTL, or the leader fenced it).
enum class lease_loss_policy {
  suspend,  // stop serving at once, resume the same partitions once the store confirms them
  keep,     // serve the last assignment while cut off: gives up the single-owner guarantee
};

/// How a leader facing a cold start (no assignment yet, or most of the fleet new) assigns.
enum class cold_start_mode {
  /// A first assignment to the workers seen after a short settle, then, when the cold-start
  /// window closes, one sticky round for whoever joined late: no partition waits the window out.
  immediate,
  /// Nothing until the window closes, then one round for everyone: fewer moves, but every
  /// partition is unowned until then.
  wait,
};

/// Where a JetStream bucket keeps its entries. Memory is faster but a server restart loses them
/// (a replicated bucket keeps them on the other replicas).
enum class storage_type { file, memory };

/// Ready-made degraded-mode settings, from "keep things still" to "react fast".
enum class degraded_preset { conservative, balanced, aggressive };

std::string_view to_string(hand_off_mode x);
std::string_view to_string(shutdown_intent x);
std::string_view to_string(degraded_preset x);
std::string_view to_string(lease_loss_policy x);
std::string_view to_string(cold_start_mode x);
std::string_view to_string(storage_type x);
result<storage_type> parse_storage_type(std::string_view text);
result<cold_start_mode> parse_cold_start_mode(std::string_view text);
result<lease_loss_policy> parse_lease_loss_policy(std::string_view text);
result<hand_off_mode> parse_hand_off_mode(std::string_view text);
result<shutdown_intent> parse_shutdown_intent(std::string_view text);
result<degraded_preset> parse_degraded_preset(std::string_view text);

/// How the node behaves while it cannot trust the store.
struct degraded_settings {
  /// How long the store must stay unreachable before the node reports Degraded; shorter
  /// outages (a reconnect) do not flip the state.
  duration threshold = std::chrono::seconds(5);
  /// After the store is back, a leader declares no worker dead for this long: it could not have
  /// seen their heartbeats. At least one heartbeat TTL.
  duration recovery_grace = std::chrono::seconds(6);
  /// When at least this share of the known workers vanish at once, the leader suspects the
  /// store, not the workers, and moves nothing. In (0, 1].
  double mass_disappearance_share = 0.5;
};

/// conservative: slow to flip state, long recovery grace, suspects the store early.
/// balanced (the default): in between. aggressive: reacts fast, trusts what it sees.
degraded_settings degraded_settings_for(degraded_preset preset);

// -- the node configuration -------------------------------------------------------------------

struct node_config {
  std::string group = "parti";       // bucket names are <group>-<role>
  std::string id_prefix = "worker";  // worker ids are <prefix>-<n>
  std::uint32_t id_min = 0;
  std::uint32_t id_max = 999;
  std::optional<std::uint32_t> preferred_id;  // tried first when claiming

  duration heartbeat_interval = std::chrono::seconds(1);
  duration heartbeat_ttl = std::chrono::seconds(3);
  duration emergency_grace = std::chrono::seconds(1);
  duration id_ttl = std::chrono::seconds(30);
  duration election_ttl = std::chrono::seconds(3);
  duration cold_start_window = std::chrono::seconds(30);
  cold_start_mode cold_start = cold_start_mode::immediate;
  /// immediate cold start: how long the leader gathers the burst of joiners before the first
  /// assignment. Unset: one heartbeat_interval. At most cold_start_window.
  std::optional<duration> cold_start_settle;
  duration planned_scale_window = std::chrono::seconds(10);
  duration cooldown = std::chrono::seconds(10);
  double restart_detection_ratio = 0.5;  // share of new workers that makes a start "cold"
  duration restart_grace = std::chrono::seconds(30);
  duration drain_timeout = std::chrono::seconds(30);
  duration hand_off_timeout = std::chrono::seconds(10);
  /// The longest the leader waits for one load of the partition source (a file, a query, a
  /// callback: code that may hang). It then goes on with the last good set, or fails the round
  /// until one loads; the load itself keeps its thread until it returns (partition_loader).
  duration partition_source_timeout = std::chrono::seconds(5);
  /// Upper bound of one KV request. At most election TTL / 3, so that a lease renewal started on
  /// schedule is answered before the leader's renew deadline (see lease_rules.hpp).
  duration kv_operation_timeout = std::chrono::seconds(1);
  /// A worker's ownership ends this long before its newest acknowledged heartbeat could expire
  /// on the leader (send time + heartbeat TTL), which leaves the application time to stop.
  /// heartbeat_interval + kv_operation_timeout + lease_margin must stay below heartbeat_ttl.
  duration lease_margin = std::chrono::milliseconds(300);
  lease_loss_policy on_lease_loss = lease_loss_policy::suspend;

  std::string strategy = "sticky";
  hand_off_mode hand_off = hand_off_mode::cooperative;
  shutdown_intent shutdown = shutdown_intent::drain;
  int bucket_replicas = 1;                           // JetStream replicas of every bucket, 1..5
  storage_type bucket_storage = storage_type::file;  // of every bucket
  /// An existing bucket whose max age (TTL) or replicas differ from these settings is updated
  /// in place (history and storage cannot change on a live bucket: still refused). Off: any
  /// difference stops the start (kv_errc::bucket_mismatch), nothing is changed.
  bool reconcile_buckets = false;
  degraded_settings degraded = degraded_settings_for(degraded_preset::balanced);

  /// cold_start_settle, or one heartbeat_interval when unset.
  duration effective_cold_start_settle() const;

  /// Every rule this configuration breaks, one violation each. Fields are named as in this
  /// struct ("heartbeat_ttl", "degraded.threshold") unless `names` names them otherwise.
  std::vector<violation> violations(const field_namer& names = {}) const;

  /// ok, or a failure listing every violation (joined by "; ").
  status validate() const;

  /// Valid settings that will not do what a user likely expects, one sentence each (parti-node
  /// logs them at start). Today: with replicated buckets, an id TTL shorter than what a
  /// JetStream stream leader election costs (4-8 s without writes), so every server kill would
  /// make nodes give their ids up.
  std::vector<std::string> cautions() const;
};

// -- names in the store -----------------------------------------------------------------------

// The bucket roles and bucket_name() are part of the wire contract: messages/wire.hpp.

/// True when `name` may be a JetStream bucket name: [-_a-zA-Z0-9]+ (no '.', no space).
bool is_valid_bucket_name(std::string_view name);

/// True when `key` may be a JetStream KV key: [-/_=.a-zA-Z0-9]+, not starting or ending with
/// '.', and without an empty token ("..").
bool is_valid_kv_key(std::string_view key);

// -- timings derived from the settings --------------------------------------------------------

/// Work that takes more than one KV request gets a multiple of the request timeout. Named once
/// here, so that the node, the leader, the publisher and the KV store agree.
namespace timeout_multiple {
/// One step of a node's release at shutdown: a delete that may first wait for a write in flight.
inline constexpr int release_step = 3;
/// A whole bucket listed, or a batch of writes acknowledged together.
inline constexpr int bulk = 5;
/// A new leader's read of every published assignment, and a re-read of the partition source.
inline constexpr int leader_read = 10;
/// Hand-off timeouts a rebalance round may wait through (a cooperative hand-off waits for the
/// old owner, and a round may take several steps) before it is given up.
inline constexpr int round_hand_offs = 3;
}  // namespace timeout_multiple

/// The time a whole-bucket listing or a batch of writes may take: bulk x request_timeout.
duration bulk_timeout(duration request_timeout);

/// The timeouts that follow from a node's settings.
struct derived_timings {
  duration release_step;  // each release step at shutdown: 3 x kv_operation_timeout
  duration leader_read;   // 10 x kv_operation_timeout
  /// A rebalance round that never reports back (a stuck publisher) is given up after this:
  /// 3 x hand_off_timeout + leader_read.
  duration round;
};

derived_timings derive_timings(const node_config& c);

/// `c` with the settings parti-node derives rather than reads, fitted to the others:
///  - kv_operation_timeout: 1s, but at most election_ttl / 3 (a lease renewal is answered
///    before its renew deadline) and at most heartbeat_ttl - heartbeat_interval - lease_margin
///    - 10ms (a heartbeat that timed out leaves time for the next before the ownership lease
///    lapses); at least 1ms;
///  - degraded.recovery_grace: at least heartbeat_ttl (a recovered leader needs one full TTL of
///    heartbeats before it can tell who is gone).
/// An embedder that sets the intervals and TTLs gets the values parti-node would run with.
node_config with_fitted_timings(node_config c);

}  // namespace parti
