#pragma once
// Messages between the actors of the leader subtree (DESIGN.md §1), with their CAF inspectors.
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

/// worker_monitor -> publisher: what every live worker reports applied (epoch, version).
struct applied_snapshot {
  std::map<std::string, std::vector<std::uint64_t>> applied;  // worker -> {epoch, version}
  std::uint64_t heartbeat_age_max_ms = 0;
};

/// worker_monitor -> leader: the heartbeat watch replayed; these workers are live.
struct monitor_ready {
  std::vector<std::string> live;
};

/// emergency_detector -> state_machine: an owner stayed gone for the grace.
struct emergency_notice {
  std::string worker;
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
typename Inspector::result_type inspect(Inspector& f, applied_snapshot& x) {
  return f(caf::meta::type_name("parti.applied_snapshot"), x.applied, x.heartbeat_age_max_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, monitor_ready& x) {
  return f(caf::meta::type_name("parti.monitor_ready"), x.live);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, emergency_notice& x) {
  return f(caf::meta::type_name("parti.emergency_notice"), x.worker);
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
  return f(caf::meta::type_name("parti.control_notice"), x.frozen, x.rebalance, x.refresh,
           x.drain);
}

}  // namespace parti
