#pragma once
// Remembers the last revision delivered per key, so that a watch restarted after a failure
// (which replays every current value) re-delivers nothing the consumer already has.
#include <cstdint>
#include <string>
#include <unordered_map>

namespace parti {

class revision_filter {
 public:
  /// True when (key, revision) is newer than what was delivered for the key; then it counts as
  /// delivered. A revision is a stream sequence, so it only grows for a given key.
  bool accept(const std::string& key, std::uint64_t revision) {
    auto [it, inserted] = last_.try_emplace(key, revision);
    if (inserted) return true;
    if (revision <= it->second) return false;
    it->second = revision;
    return true;
  }

  std::uint64_t last(const std::string& key) const {
    auto it = last_.find(key);
    return it == last_.end() ? 0 : it->second;
  }

  std::size_t size() const { return last_.size(); }

 private:
  std::unordered_map<std::string, std::uint64_t> last_;
};

}  // namespace parti
