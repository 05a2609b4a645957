#pragma once
// Nodes of one group in this process, on the fixture's nats-server, with fast timings.
#include <map>
#include <vector>

#include "actors/node/node_actor.hpp"
#include "tests/support/actors.hpp"

namespace parti::test {

/// Timings scaled down for tests (all rules of node_config::validate hold).
node_config fast_config(const std::string& group = "t");

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
