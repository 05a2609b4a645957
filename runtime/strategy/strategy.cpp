#include "parti/runtime/strategy/strategy.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "parti/runtime/strategy/detail.hpp"

namespace parti {

status validate(const strategy_options& options) {
  if (!std::isfinite(options.epsilon) || options.epsilon < 0.0 || options.epsilon > 10.0)
    return failure{"strategy option epsilon must be a finite number in [0, 10], got " +
                   std::to_string(options.epsilon)};
  if (options.virtual_nodes < 1 || options.virtual_nodes > 10000)
    return failure{"strategy option virtual_nodes must be in [1, 10000], got " +
                   std::to_string(options.virtual_nodes)};
  return done{};
}

status validate_inputs(const std::vector<std::string>& workers,
                       const std::vector<partition>& partitions) {
  auto prepared = strategy_detail::prepare(workers, partitions, nullptr);
  if (!prepared) return failure{prepared.error()};
  return done{};
}

status verify_assignment(const std::vector<std::string>& workers,
                         const std::vector<partition>& partitions, const assignment& result) {
  std::vector<std::string> sorted_workers(workers);
  std::sort(sorted_workers.begin(), sorted_workers.end());
  for (const auto& w : sorted_workers)
    if (result.count(w) == 0) return failure{"assignment misses worker '" + w + "'"};
  for (const auto& [w, owned] : result) {
    if (!std::binary_search(sorted_workers.begin(), sorted_workers.end(), w))
      return failure{"assignment names unknown worker '" + w + "'"};
  }
  std::map<std::vector<std::string>, int> seen;  // keys -> times assigned (0 = expected)
  for (const auto& p : partitions) seen.emplace(p.keys, 0);
  for (const auto& [w, owned] : result) {
    for (const auto& p : owned) {
      auto it = seen.find(p.keys);
      if (it == seen.end())
        return failure{"assignment gives worker '" + w + "' an unknown partition " +
                       strategy_detail::describe_keys(p.keys)};
      if (++it->second > 1)
        return failure{"partition " + strategy_detail::describe_keys(p.keys) +
                       " is assigned more than once"};
    }
  }
  for (const auto& [keys, times] : seen)
    if (times == 0)
      return failure{"partition " + strategy_detail::describe_keys(keys) + " is not assigned"};
  return done{};
}

result<assignment> checked_assign(const strategy& s, const assignment& previous,
                                  const std::vector<std::string>& workers,
                                  const std::vector<partition>& partitions,
                                  const strategy_options& options) {
  if (auto ok = validate(options); !ok) return failure{ok.error()};
  if (auto ok = validate_inputs(workers, partitions); !ok) return failure{ok.error()};
  auto out = s.assign(previous, workers, partitions, options);
  if (!out) return out;
  if (auto ok = verify_assignment(workers, partitions, *out); !ok)
    return failure{"strategy produced an invalid assignment: " + ok.error()};
  return out;
}

// -- registry --------------------------------------------------------------------------------

strategy_registry::strategy_registry() {
  entries_.emplace("sticky", std::make_shared<sticky_strategy>());
  entries_.emplace("weighted", std::make_shared<weighted_strategy>());
  entries_.emplace("consistent-hash", std::make_shared<consistent_hash_strategy>());
  entries_.emplace("round-robin", std::make_shared<round_robin_strategy>());
}

status strategy_registry::add(const std::string& name, std::shared_ptr<const strategy> s) {
  if (name.empty()) return failure{"strategy name must not be empty"};
  if (!s) return failure{"strategy '" + name + "' is null"};
  if (entries_.count(name) > 0) return failure{"strategy '" + name + "' is already registered"};
  entries_.emplace(name, std::move(s));
  return done{};
}

result<std::shared_ptr<const strategy>> strategy_registry::find(const std::string& name) const {
  auto it = entries_.find(name);
  if (it != entries_.end()) return it->second;
  std::string known;
  for (const auto& [n, s] : entries_) known += (known.empty() ? "" : ", ") + n;
  return failure{"unknown strategy '" + name + "' (known: " + known + ")"};
}

std::vector<std::string> strategy_registry::names() const {
  std::vector<std::string> out;
  for (const auto& [n, s] : entries_) out.push_back(n);
  return out;
}

}  // namespace parti
