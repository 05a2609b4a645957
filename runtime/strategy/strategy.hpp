#pragma once
// Assignment strategies: who owns which partition.
//
// A strategy is a pure, deterministic function
//     assign(previous assignment, workers, partitions, options) -> assignment
// with the same output on every node, run and platform, whatever the order of the input lists.
// Every worker appears in the result (possibly with nothing) and every partition exactly once.
// No workers, an empty or duplicate worker id, a partition without keys or two partitions with
// the same keys (a partition's identity is its keys) give a failure, never an exception.
//
// Built in, by registry name (docs/STRATEGIES.md describes each algorithm and its guarantees):
//   "sticky"           sticky balanced, the default: counts within +-1, previous owners kept
//                      while within quota, the rest placed by rendezvous hashing
//   "weighted"         bounded load: every load within (1 +- epsilon) * mean where achievable,
//                      sticky, moves only what the bounds require
//   "consistent-hash"  ring with virtual nodes over xxHash; ignores the previous assignment;
//                      hash_ring::owner_of routes keys statelessly (consistent_hash.hpp)
//   "round-robin"      partitions sorted by keys, dealt to workers sorted by id
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "parti/messages/records.hpp"
#include "parti/messages/result.hpp"

namespace parti {

/// Worker id -> the partitions it owns, sorted by keys. A std::map, so iteration is by worker id.
using assignment = std::map<std::string, std::vector<partition>>;

struct strategy_options {
  /// Weighted strategy: the load bounds are (1 - epsilon) and (1 + epsilon) times the mean.
  /// Finite, 0 <= epsilon <= 10.
  double epsilon = 0.10;
  /// Consistent-hash strategy: virtual nodes per worker on the ring, 1 ..= 10000.
  int virtual_nodes = 150;
};

/// Checks the options; the failure names the option and the allowed range.
status validate(const strategy_options& options);

/// The shared input check of every built-in strategy: at least one worker, no empty or
/// duplicate worker id, every partition has at least one key, no two partitions with the same
/// keys. Partitions with weight <= 0 are valid (they count as weight 1 where weights matter).
status validate_inputs(const std::vector<std::string>& workers,
                       const std::vector<partition>& partitions);

/// Checks that `result` is a complete assignment of `partitions` to exactly `workers`: every
/// worker present (possibly with nothing), no other worker, every partition exactly once (by
/// keys), nothing else. Useful to guard a user strategy's output.
status verify_assignment(const std::vector<std::string>& workers,
                         const std::vector<partition>& partitions, const assignment& result);

/// The interface of every strategy, built in or supplied by the user. Implementations must be
/// deterministic and must not depend on the order of `workers` or `partitions`. `previous` may
/// name workers that are gone and partitions that no longer exist; both are ignored.
class strategy {
 public:
  virtual ~strategy() = default;
  virtual result<assignment> assign(const assignment& previous,
                                    const std::vector<std::string>& workers,
                                    const std::vector<partition>& partitions,
                                    const strategy_options& options) const = 0;
};

/// validate_inputs + validate(options) + strategy.assign + verify_assignment: what the leader's
/// calculator should call, so that a faulty user strategy yields a failure, not a bad hand-out.
result<assignment> checked_assign(const strategy& s, const assignment& previous,
                                  const std::vector<std::string>& workers,
                                  const std::vector<partition>& partitions,
                                  const strategy_options& options);

// -- built-in strategies ---------------------------------------------------------------------

class sticky_strategy final : public strategy {
 public:
  result<assignment> assign(const assignment& previous, const std::vector<std::string>& workers,
                            const std::vector<partition>& partitions,
                            const strategy_options& options) const override;
};

class weighted_strategy final : public strategy {
 public:
  result<assignment> assign(const assignment& previous, const std::vector<std::string>& workers,
                            const std::vector<partition>& partitions,
                            const strategy_options& options) const override;
};

class consistent_hash_strategy final : public strategy {
 public:
  result<assignment> assign(const assignment& previous, const std::vector<std::string>& workers,
                            const std::vector<partition>& partitions,
                            const strategy_options& options) const override;
};

class round_robin_strategy final : public strategy {
 public:
  result<assignment> assign(const assignment& previous, const std::vector<std::string>& workers,
                            const std::vector<partition>& partitions,
                            const strategy_options& options) const override;
};

// -- registry --------------------------------------------------------------------------------

/// Strategies by name, as configuration names them. Starts with the four built-ins.
class strategy_registry {
 public:
  static constexpr const char* default_name = "sticky";

  strategy_registry();

  /// Registers a user strategy. Fails on an empty name, a null strategy or a name in use.
  status add(const std::string& name, std::shared_ptr<const strategy> s);

  /// The strategy of that name; for an unknown name the failure lists the known names.
  result<std::shared_ptr<const strategy>> find(const std::string& name) const;

  bool contains(const std::string& name) const { return entries_.count(name) > 0; }

  /// Every registered name, sorted.
  std::vector<std::string> names() const;

 private:
  std::map<std::string, std::shared_ptr<const strategy>> entries_;
};

}  // namespace parti
