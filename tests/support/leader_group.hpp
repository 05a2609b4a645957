#pragma once
// A group of in-process nodes with real leaders (the whole pipeline), and the views of who owns
// what that the scenario tests check.
#include <atomic>
#include <map>
#include <set>

#include "parti/actors/leader/leader_actor.hpp"
#include "tests/support/group.hpp"

namespace parti::test {

inline constexpr std::uint32_t partition_count = 60;

struct leader_group : test::node_group {
  std::shared_ptr<std::atomic<std::uint32_t>> count =
      std::make_shared<std::atomic<std::uint32_t>>(partition_count);

  leader_group() {
    leader_settings s;
    auto n = count;
    s.partitions = callback_source(
        [n]() -> result<std::vector<partition>> { return count_source(n->load())->load(); });
    leaders = make_leader_factory(s);
  }

  /// partition key -> owners, over the nodes that are still running.
  ownership owners() { return owners_of(statuses()); }

  /// Every partition owned by exactly one running node.
  bool fully_covered() { return covers_exactly_once(owners(), count->load()); }

  std::map<std::string, std::string> owner_map() { return single_owners(owners()); }

  /// partition key -> the node that holds it suspended (assigned, not served: lease lapsed).
  std::map<std::string, std::string> suspended_map() {
    std::map<std::string, std::string> out;
    for (const auto& s : statuses())
      for (const auto& p : s.suspended) out[p.keys.front()] = s.worker;
    return out;
  }

  caf::actor node_of(const std::string& worker) {
    for (auto& n : nodes)
      if (status(n).worker == worker) return n;
    return {};
  }

  void forget(const caf::actor& n) { nodes.erase(std::find(nodes.begin(), nodes.end(), n)); }
};

/// How many partitions have a different owner in `b` than in `a`.
inline std::size_t moved(const std::map<std::string, std::string>& a,
                         const std::map<std::string, std::string>& b) {
  std::size_t n = 0;
  for (const auto& [key, owner] : b) {
    auto it = a.find(key);
    if (it == a.end() || it->second != owner) ++n;
  }
  return n;
}

}  // namespace parti::test
