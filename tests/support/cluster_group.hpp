#pragma once
// A group of in-process nodes with real leaders on a 3-server JetStream cluster (loopback), with
// the group's buckets at 3 replicas: the cluster counterpart of nats_fixture + leader_group, for
// tests that kill NATS servers. The existing single-server fixtures are unchanged.
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "parti/actors/leader/leader_actor.hpp"
#include "tests/support/leader_group.hpp"
#include "tests/support/local_nats_cluster.hpp"

namespace parti::test {

/// A 3-server cluster, an actor system and one connection that knows all three URLs.
/// Members are destroyed in reverse order: actors first, then the connection, then the cluster.
struct cluster_fixture {
  local_nats_cluster cluster;
  test_config caf_config;
  caf::actor_system sys{caf_config};
  std::shared_ptr<connection> conn;

  cluster_fixture();
  ~cluster_fixture();

  /// All cluster URLs; the same fast reconnect and ping settings as nats_fixture.
  connection_options options() const;
  /// The member the connection is on right now (nullopt while disconnected).
  std::optional<std::size_t> connected_member() const;
};

/// leader_group on the cluster: `partition_count` partitions, fast timings, replicas 3.
struct cluster_group : cluster_fixture {
  node_config config = cluster_config();
  std::shared_ptr<group_buckets> group;
  std::vector<caf::actor> nodes;
  leader_factory leader;
  std::shared_ptr<std::atomic<std::uint32_t>> count =
      std::make_shared<std::atomic<std::uint32_t>>(partition_count);

  cluster_group();
  ~cluster_group();

  /// The production defaults of every liveness timing (heartbeat 1 s / TTL 3 s, election TTL
  /// 3 s, id TTL 30 s, emergency grace 1 s, the balanced degraded preset), buckets at 3
  /// replicas, short rebalance windows. What one lost server costs with nats-server 2.9.10 and
  /// nats.c 3.4.1 (measured by tests/integration/cluster.cpp) is longer than these TTLs:
  ///  - writes to a bucket whose stream leader was SIGKILLed fail for 4-8 s: the heartbeat
  ///    silence guard holds expiries, nodes may report Degraded, and the election's incumbent
  ///    rule gives the lease back to the same leader (lease_rules.hpp);
  ///  - a KV watch whose consumer lived on the lost server delivers nothing, without an error,
  ///    for 20-30 s: the watch's stall detection replaces it within about 3 s (watch_stall.hpp).
  /// The id TTL must outlast the 4-8 s without writes: an id whose renewal cannot be confirmed
  /// before it could expire is given up (the safe side).
  static node_config cluster_config();
  /// fast_config with bucket_replicas = 3 and nothing else changed (heartbeat TTL 600 ms).
  static node_config short_ttl_config();

  /// Opens the buckets (once) and spawns one more node; returns it.
  caf::actor add_node();
  node_status status(const caf::actor& node);
  std::vector<node_status> statuses();
  /// The single leader among the nodes, if exactly one leads.
  std::optional<node_status> sole_leader();

  /// partition key -> owners, over the nodes that are still running.
  std::map<std::string, std::set<std::string>> owners();
  /// Every partition owned by exactly one running node.
  bool fully_covered();
  /// partition key -> its owner, for the partitions with exactly one owner.
  std::map<std::string, std::string> owner_map();
  /// partition key -> the node that holds it suspended (assigned, lease lapsed).
  std::map<std::string, std::string> suspended_map();

  /// worker id -> revision of its heartbeat key (read from the heartbeats bucket; a failed read
  /// leaves the worker out).
  std::map<std::string, std::uint64_t> heartbeat_revisions();
};

}  // namespace parti::test
