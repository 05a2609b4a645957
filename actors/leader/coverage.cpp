#include "parti/actors/leader/coverage.hpp"

#include <map>
#include <set>
#include <string>

namespace parti {

std::vector<partition> not_owned_once(const std::vector<partition>& source,
                                      const assignment& published) {
  std::map<std::vector<std::string>, std::size_t> keys_holding;
  for (const auto& [worker, partitions] : published)
    for (const auto& p : partitions) ++keys_holding[p.keys];
  std::vector<partition> out;
  std::set<std::vector<std::string>> listed;
  for (const auto& p : source) {
    auto held = keys_holding.find(p.keys);
    bool once = held != keys_holding.end() && held->second == 1;
    if (!once && listed.insert(p.keys).second) out.push_back(p);
  }
  return out;
}

}  // namespace parti
