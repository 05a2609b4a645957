#pragma once
// Nodes of one group in this process, on the fixture's nats-server, with fast timings.
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "parti/actors/node/node_actor.hpp"
#include "tests/support/actors.hpp"

namespace parti::test {

/// Timings scaled down for tests (all rules of node_config::validate hold).
node_config fast_config(const std::string& group = "t");

// -- what every group fixture (one server or a cluster) asks of its nodes --------------------

/// partition key -> the workers that report owning it.
using ownership = std::map<std::string, std::set<std::string>>;

/// Opens the group's buckets on first use (into `group`) and spawns one node.
caf::actor spawn_test_node(caf::actor_system& sys, const std::shared_ptr<connection>& conn,
                           std::shared_ptr<group_buckets>& group, node_options options);
/// A node's status; state "Gone" when it does not answer.
node_status query_status(caf::actor_system& sys, const caf::actor& node);
/// The single leader among running nodes, if exactly one leads.
std::optional<node_status> sole_leader_of(const std::vector<node_status>& statuses);
/// Who owns what, over the running nodes.
ownership owners_of(const std::vector<node_status>& statuses);
/// Every partition owned by exactly one node, and `count` partitions in all.
bool covers_exactly_once(const ownership& o, std::size_t count);
/// partition key -> its owner, for the partitions with exactly one owner.
std::map<std::string, std::string> single_owners(const ownership& o);

struct node_group : nats_fixture {
  node_config config = fast_config();
  std::shared_ptr<group_buckets> group;
  std::vector<caf::actor> nodes;
  leader_factory leaders;  // empty: leaders publish nothing

  node_group();
  ~node_group();

  /// Opens the buckets (once) and spawns one more node; returns it.
  caf::actor add_node(std::optional<std::uint32_t> preferred = std::nullopt,
                      caf::actor subscriber = {});
  node_status status(const caf::actor& node);
  std::vector<node_status> statuses();
  /// Kills a node the way SIGKILL would: no cleanup at all.
  void crash(const caf::actor& node);
  /// Graceful stop with the given intent; waits for the node's answer.
  void stop(const caf::actor& node, shutdown_intent intent);
  /// The single leader among the nodes, if exactly one leads.
  std::optional<node_status> sole_leader();
};

}  // namespace parti::test
