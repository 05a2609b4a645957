#pragma once
// The KV records of the wire contract (docs/WIRE.md), as plain structs.
//
// Each record lists its fields in `describe`, by their wire name, which drives the msgpack codec
// (codec.hpp), and in `tie_fields`, which drives equality and the CAF inspectors (inspect.hpp).
// A field is added to both; tests/unit/record_fields.cpp fails when the two lists disagree.
// The bucket and key names are in wire.hpp. Times are unix milliseconds. This header depends on
// nothing.
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace parti {

/// A unit of work. Its identity is its keys; its weight is its relative load (>= 1 when used).
struct partition {
  std::vector<std::string> keys;
  std::int64_t weight = 1;
};
inline bool operator<(const partition& a, const partition& b) {
  return a.keys < b.keys || (a.keys == b.keys && a.weight < b.weight);
}

/// The fencing token of one owned partition: the (epoch, version) of the assignment that gave it
/// to its current owner. It grows strictly with every new owner, so a store downstream can refuse
/// writes that carry a smaller token than one it has seen (a stale owner after a pause).
struct partition_grant {
  std::vector<std::string> keys;  // the partition's identity
  std::uint64_t epoch = 0;
  std::uint64_t version = 0;
};

/// `<group>-ids` / `<prefix>-<n>`: who holds a stable worker id.
struct id_claim {
  std::string instance;  // random id of the claiming process
  std::string host;
  std::int64_t pid = 0;
  std::uint64_t claimed_at = 0;
};

/// `<group>-election` / `leader`: the leader's lease.
struct leader_lease {
  std::string worker;
  std::string instance;
  std::uint64_t epoch = 0;
  std::uint64_t renewed_at = 0;
};

/// `<group>-heartbeats` / `<worker id>`.
struct heartbeat_record {
  std::string worker;
  std::string instance;
  std::uint64_t seq = 0;
  std::uint64_t sent_at = 0;
  std::string state;
  std::uint64_t applied_epoch = 0;
  std::uint64_t applied_version = 0;
  bool leaving = false;
  bool restarting = false;
  std::uint64_t ttl_ms = 0;  // the sender's heartbeat TTL; 0 from writers that predate it
  std::string fenced_by;     // set by a leader's fence: not a heartbeat of `worker` (see WIRE.md)
};

/// `<group>-assignments` / `<worker id>`: what one worker owns.
struct assignment_record {
  std::string worker;
  std::uint64_t epoch = 0;
  std::uint64_t version = 0;
  std::string reason;
  std::vector<partition> partitions;
  std::uint64_t issued_at = 0;
  std::vector<partition_grant> grants;  // one per partition: its fencing token (may be absent)
};

/// `<group>-assignments` / `_manifest`: written last; a version is complete once it exists.
struct manifest_record {
  std::uint64_t epoch = 0;
  std::uint64_t version = 0;
  std::string reason;
  std::vector<std::string> workers;
  std::uint64_t partition_count = 0;
  std::uint64_t issued_at = 0;
};

/// `<group>-assignments` / `_control`: requests to the leader from parti-ctl or any node, one
/// record updated by compare-and-swap. A request is a counter that grows; the leader acts when
/// it sees a counter greater than the one it handled.
struct control_record {
  bool frozen = false;              // the leader publishes nothing while frozen
  std::uint64_t rebalance_seq = 0;  // a manual rebalance was requested
  std::uint64_t refresh_seq = 0;    // the partition source should be read again
  std::vector<std::string> drain;   // workers to hand off at once, as if they were leaving
  std::uint64_t updated_at = 0;
};

// -- field lists: f(wire_name, member) ------------------------------------------------------

template <class F>
void describe(F& f, partition& x) {
  f("keys", x.keys);
  f("weight", x.weight);
}

template <class F>
void describe(F& f, partition_grant& x) {
  f("keys", x.keys);
  f("epoch", x.epoch);
  f("version", x.version);
}

template <class F>
void describe(F& f, id_claim& x) {
  f("instance", x.instance);
  f("host", x.host);
  f("pid", x.pid);
  f("claimed_at", x.claimed_at);
}

template <class F>
void describe(F& f, leader_lease& x) {
  f("worker", x.worker);
  f("instance", x.instance);
  f("epoch", x.epoch);
  f("renewed_at", x.renewed_at);
}

template <class F>
void describe(F& f, heartbeat_record& x) {
  f("worker", x.worker);
  f("instance", x.instance);
  f("seq", x.seq);
  f("sent_at", x.sent_at);
  f("state", x.state);
  f("applied_epoch", x.applied_epoch);
  f("applied_version", x.applied_version);
  f("leaving", x.leaving);
  f("restarting", x.restarting);
  f("ttl_ms", x.ttl_ms);
  f("fenced_by", x.fenced_by);
}

template <class F>
void describe(F& f, assignment_record& x) {
  f("worker", x.worker);
  f("epoch", x.epoch);
  f("version", x.version);
  f("reason", x.reason);
  f("partitions", x.partitions);
  f("issued_at", x.issued_at);
  f("grants", x.grants);
}

template <class F>
void describe(F& f, manifest_record& x) {
  f("epoch", x.epoch);
  f("version", x.version);
  f("reason", x.reason);
  f("workers", x.workers);
  f("partition_count", x.partition_count);
  f("issued_at", x.issued_at);
}

template <class F>
void describe(F& f, control_record& x) {
  f("frozen", x.frozen);
  f("rebalance_seq", x.rebalance_seq);
  f("refresh_seq", x.refresh_seq);
  f("drain", x.drain);
  f("updated_at", x.updated_at);
}

// -- all fields as a tuple of references: equality here, CAF inspection in inspect.hpp -------

inline auto tie_fields(partition& x) {
  return std::tie(x.keys, x.weight);
}
inline auto tie_fields(partition_grant& x) {
  return std::tie(x.keys, x.epoch, x.version);
}
inline auto tie_fields(id_claim& x) {
  return std::tie(x.instance, x.host, x.pid, x.claimed_at);
}
inline auto tie_fields(leader_lease& x) {
  return std::tie(x.worker, x.instance, x.epoch, x.renewed_at);
}
inline auto tie_fields(heartbeat_record& x) {
  return std::tie(x.worker, x.instance, x.seq, x.sent_at, x.state, x.applied_epoch,
                  x.applied_version, x.leaving, x.restarting, x.ttl_ms, x.fenced_by);
}
inline auto tie_fields(assignment_record& x) {
  return std::tie(x.worker, x.epoch, x.version, x.reason, x.partitions, x.issued_at, x.grants);
}
inline auto tie_fields(manifest_record& x) {
  return std::tie(x.epoch, x.version, x.reason, x.workers, x.partition_count, x.issued_at);
}

inline auto tie_fields(control_record& x) {
  return std::tie(x.frozen, x.rebalance_seq, x.refresh_seq, x.drain, x.updated_at);
}

template <class T, class = decltype(tie_fields(std::declval<T&>()))>
bool operator==(const T& a, const T& b) {
  return tie_fields(const_cast<T&>(a)) == tie_fields(const_cast<T&>(b));
}
template <class T, class = decltype(tie_fields(std::declval<T&>()))>
bool operator!=(const T& a, const T& b) {
  return !(a == b);
}

}  // namespace parti
