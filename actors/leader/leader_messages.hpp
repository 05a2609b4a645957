#pragma once
// Messages between the actors of the leader subtree, with their CAF inspectors.
#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "actors/worker_monitor/liveness_tracker.hpp"
#include "messages/inspect.hpp"

namespace parti {

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
  std::map<std::string, std::vector<std::uint64_t>> applied;  // worker -> {epoch, version}
  std::uint64_t heartbeat_age_max_ms = 0;
  std::map<std::string, heartbeat_seen> seen;
};

/// worker_monitor -> leader: the heartbeat watch replayed; these workers are live.
struct monitor_ready {
  std::vector<std::string> live;
};

/// emergency_detector -> state_machine: an owner stayed gone for the grace.
struct emergency_notice {
  std::string worker;
  bool owned = true;  // false: it owned nothing, it only leaves the live set
};

/// state_machine -> calculator: compute an assignment for these workers.
struct rebalance_order {
  std::uint64_t round = 0;
  std::string reason;
  std::vector<std::string> workers;
  bool reload_partitions = false;
};

/// calculator -> publisher: the assignment to reach for this round.
struct target_ready {
  std::uint64_t round = 0;
  std::string reason;
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

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, liveness_notice& x) {
  return f(caf::meta::type_name("parti.liveness_notice"), x.change, x.worker, x.workers,
           x.since_ns);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, heartbeat_seen& x) {
  return f(caf::meta::type_name("parti.heartbeat_seen"), x.revision, x.seen_ns, x.ttl_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, applied_snapshot& x) {
  return f(caf::meta::type_name("parti.applied_snapshot"), x.applied, x.heartbeat_age_max_ms,
           x.seen);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, monitor_ready& x) {
  return f(caf::meta::type_name("parti.monitor_ready"), x.live);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, emergency_notice& x) {
  return f(caf::meta::type_name("parti.emergency_notice"), x.worker, x.owned);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rebalance_order& x) {
  return f(caf::meta::type_name("parti.rebalance_order"), x.round, x.reason, x.workers,
           x.reload_partitions);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, target_ready& x) {
  return f(caf::meta::type_name("parti.target_ready"), x.round, x.reason, x.target,
           x.partition_count);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, round_done& x) {
  return f(caf::meta::type_name("parti.round_done"), x.round, x.ok, x.error);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, owners_notice& x) {
  return f(caf::meta::type_name("parti.owners_notice"), x.owners);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, control_notice& x) {
  return f(caf::meta::type_name("parti.control_notice"), x.frozen, x.rebalance, x.refresh, x.drain);
}

}  // namespace parti
