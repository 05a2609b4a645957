#pragma once
// The messages of the leader subtree (worker_monitor, emergency_detector, state_machine,
// calculator, publisher, leader). Plain structs, without CAF (the pure rules use the enums);
// their CAF inspectors are in inspect.hpp, and each actor's protocol, which of these it takes
// and answers, is declared once in interfaces.hpp.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "parti/messages/records.hpp"
#include "parti/messages/version_stamp.hpp"

namespace parti {

enum class liveness_change {
  joined,              // a worker started heartbeating (or came back after leaving or expiring)
  left,                // graceful leave: key deleted, or heartbeat with `leaving`
  expired,             // no heartbeat within the TTL
  restarting,          // heartbeat with `restarting`: keep its partitions for the restart grace
  restarted,           // back after `restarting`, or heartbeating with a new instance id
  restart_expired,     // did not come back within the restart grace: treat as a graceful leave
  store_suspected,     // the mass-disappearance guard tripped; `workers` are held, not expired
  store_trusted,       // the suspicion is over (held workers came back, or their hold ran out)
  heartbeats_silent,   // no heartbeat from anybody for the silence threshold: expiries held
  heartbeats_resumed,  // a heartbeat ended the silence: the recovery grace runs from here
};

inline const char* to_string(liveness_change change) {
  switch (change) {
    case liveness_change::joined:
      return "joined";
    case liveness_change::left:
      return "left";
    case liveness_change::expired:
      return "expired";
    case liveness_change::restarting:
      return "restarting";
    case liveness_change::restarted:
      return "restarted";
    case liveness_change::restart_expired:
      return "restart_expired";
    case liveness_change::store_suspected:
      return "store_suspected";
    case liveness_change::store_trusted:
      return "store_trusted";
    case liveness_change::heartbeats_silent:
      return "heartbeats_silent";
    case liveness_change::heartbeats_resumed:
      return "heartbeats_resumed";
  }
  return "unknown";
}

enum class rebalance_reason {
  cold_start,
  planned_scale,
  drain,
  restart_expired,
  emergency,
  manual,
  refresh
};

inline const char* to_string(rebalance_reason reason) {
  switch (reason) {
    case rebalance_reason::cold_start:
      return "cold_start";
    case rebalance_reason::planned_scale:
      return "planned_scale";
    case rebalance_reason::drain:
      return "drain";
    case rebalance_reason::restart_expired:
      return "restart_expired";
    case rebalance_reason::emergency:
      return "emergency";
    case rebalance_reason::manual:
      return "manual";
    case rebalance_reason::refresh:
      return "refresh";
  }
  return "unknown";
}

/// worker_monitor -> state_machine, emergency_detector: a change of a worker's liveness.
struct liveness_notice {
  liveness_change change = liveness_change::joined;
  std::string worker;
  std::vector<std::string> workers;
  std::int64_t since_ns = 0;  // expired: steady-clock time its deadline passed (ns since epoch)
};

/// The newest revision of a worker's heartbeat key, and when the leader first saw the newest
/// heartbeat of that worker (a fence is written on `revision`; the worker's lease must have
/// lapsed by seen + TTL once it succeeded).
struct heartbeat_seen {
  std::uint64_t revision = 0;  // 0: no key (a fence creates it)
  std::int64_t seen_ns = 0;    // steady clock of this leader; the rebuild time for old records
  std::uint64_t ttl_ms = 0;    // the largest TTL the worker wrote in its heartbeats
};

/// worker_monitor -> publisher: what every heard worker (alive, restarting or leaving) reports
/// applied (epoch, version), and what a fence needs of every worker ever seen.
struct applied_snapshot {
  std::map<std::string, version_stamp> applied;  // worker -> what it applied
  std::uint64_t heartbeat_age_max_ms = 0;
  std::map<std::string, heartbeat_seen> seen;
};

/// worker_monitor -> leader: the heartbeat watch replayed; these workers are live.
struct monitor_ready {
  std::vector<std::string> live;
};

/// emergency_detector -> state_machine: a worker stayed gone for the grace.
struct emergency_notice {
  std::string worker;
  bool owned = true;  // false: it owned nothing, it only leaves the live set
};

/// state_machine -> calculator: compute an assignment for these workers.
struct rebalance_order {
  std::uint64_t round = 0;
  rebalance_reason reason = rebalance_reason::manual;
  std::vector<std::string> workers;
  bool reload_partitions = false;
};

/// calculator -> publisher: the assignment to reach for this round.
struct target_ready {
  std::uint64_t round = 0;
  rebalance_reason reason = rebalance_reason::manual;
  std::map<std::string, std::vector<partition>> target;
  std::uint64_t partition_count = 0;
};

/// calculator / publisher -> state_machine: the round ended.
struct round_done {
  std::uint64_t round = 0;
  bool ok = false;
  std::string error;
};

/// publisher -> emergency_detector: the workers that own partitions as published.
struct owners_notice {
  std::vector<std::string> owners;
};

/// leader -> state_machine: a request from `_control` (or a worker to drain).
struct control_notice {
  bool frozen = false;
  bool rebalance = false;
  bool refresh = false;
  std::vector<std::string> drain;
};

/// partition loader -> whoever asked it (calculator, leader): the partitions as the source last
/// gave them. `fresh`: from a load that ended after the question (its answer is the source's
/// current state). Otherwise `problem` says why not (the load failed, timed out, or cannot be
/// started yet), and `partitions` is the last good load when `loaded`, or nothing (the source
/// never loaded for this leader).
struct partition_load {
  bool loaded = false;
  bool fresh = false;
  std::vector<partition> partitions;
  std::string problem;
};

/// A load's thread -> its partition loader: what partition_source::load() returned, or the text
/// of what it threw.
struct source_loaded {
  bool ok = false;
  std::vector<partition> partitions;
  std::string error;
};

}  // namespace parti
