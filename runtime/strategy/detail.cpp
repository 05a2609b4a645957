#include "parti/runtime/strategy/detail.hpp"

#include <algorithm>
#include <numeric>

#include "parti/runtime/strategy/hashing.hpp"

namespace parti::strategy_detail {

namespace {

bool less_by_id(const std::string* a, const std::string* b) {
  return *a < *b;
}

}  // namespace

std::string describe_keys(const std::vector<std::string>& keys) {
  std::string out = "[";
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out += ", ";
    out += '"';
    out += keys[i];
    out += '"';
  }
  out += ']';
  return out;
}

result<prepared> prepare(const std::vector<std::string>& workers,
                         const std::vector<partition>& partitions, const assignment* previous) {
  if (workers.empty()) return failure{"no workers: a strategy needs at least one worker"};
  prepared out;
  out.workers.reserve(workers.size());
  for (const auto& w : workers) {
    if (w.empty()) return failure{"empty worker id"};
    out.workers.push_back(&w);
  }
  std::sort(out.workers.begin(), out.workers.end(), less_by_id);
  for (std::size_t i = 1; i < out.workers.size(); ++i)
    if (*out.workers[i] == *out.workers[i - 1])
      return failure{"duplicate worker id '" + *out.workers[i] + "'"};
  out.worker_hash.resize(out.workers.size());
  for (std::size_t i = 0; i < out.workers.size(); ++i)
    out.worker_hash[i] = strategy_hash::worker_hash(*out.workers[i]);

  struct entry {
    std::uint64_t hash;
    const partition* part;
  };
  std::vector<entry> entries;
  entries.reserve(partitions.size());
  for (const auto& p : partitions) {
    if (p.keys.empty()) return failure{"partition without keys: every partition needs a key"};
    entries.push_back({strategy_hash::partition_hash(p.keys), &p});
  }
  std::sort(entries.begin(), entries.end(), [](const entry& a, const entry& b) {
    if (a.hash != b.hash) return a.hash < b.hash;
    return a.part->keys < b.part->keys;
  });
  for (std::size_t j = 1; j < entries.size(); ++j)
    if (entries[j].hash == entries[j - 1].hash &&
        entries[j].part->keys == entries[j - 1].part->keys)
      return failure{"duplicate partition " + describe_keys(entries[j].part->keys) +
                     ": partitions are identified by their keys"};
  out.parts.resize(entries.size());
  out.part_hash.resize(entries.size());
  for (std::size_t j = 0; j < entries.size(); ++j) {
    out.parts[j] = entries[j].part;
    out.part_hash[j] = entries[j].hash;
  }

  out.prev_owner.assign(out.parts.size(), -1);
  if (previous != nullptr && !out.parts.empty()) {
    // An open-addressing table from partition hash to index (the hashes are uniform, so their
    // low bits are the slot): one probe per previous partition instead of a binary search.
    std::size_t slots = 1;
    while (slots < 2 * out.parts.size()) slots <<= 1;
    const std::size_t mask = slots - 1;
    constexpr std::uint32_t empty = ~std::uint32_t{0};
    std::vector<std::uint32_t> table(slots, empty);
    for (std::size_t j = 0; j < out.parts.size(); ++j) {
      std::size_t k = static_cast<std::size_t>(out.part_hash[j]) & mask;
      while (table[k] != empty) k = (k + 1) & mask;
      table[k] = static_cast<std::uint32_t>(j);
    }
    for (const auto& [worker, owned] : *previous) {  // by worker id: the smallest id wins
      auto wit = std::lower_bound(out.workers.begin(), out.workers.end(), &worker, less_by_id);
      if (wit == out.workers.end() || **wit != worker) continue;  // gone
      const auto w = static_cast<std::int32_t>(wit - out.workers.begin());
      for (const auto& p : owned) {
        const std::uint64_t h = strategy_hash::partition_hash(p.keys);
        for (std::size_t k = static_cast<std::size_t>(h) & mask; table[k] != empty;
             k = (k + 1) & mask) {
          const std::uint32_t j = table[k];
          if (out.part_hash[j] == h && out.parts[j]->keys == p.keys) {
            if (out.prev_owner[j] < 0) out.prev_owner[j] = w;
            break;
          }
        }
      }
    }
  }
  return out;
}

assignment build(const prepared& in, const std::vector<std::int32_t>& owner) {
  const std::size_t n = in.workers.size();
  std::vector<std::vector<const partition*>> lists(n);
  {
    std::vector<std::size_t> counts(n, 0);
    for (auto w : owner) ++counts[static_cast<std::size_t>(w)];
    for (std::size_t i = 0; i < n; ++i) lists[i].reserve(counts[i]);
  }
  for (std::size_t j = 0; j < owner.size(); ++j)
    lists[static_cast<std::size_t>(owner[j])].push_back(in.parts[j]);
  assignment out;
  for (std::size_t i = 0; i < n; ++i) {
    auto& list = lists[i];
    std::sort(list.begin(), list.end(),
              [](const partition* a, const partition* b) { return a->keys < b->keys; });
    std::vector<partition> owned;
    owned.reserve(list.size());
    for (const partition* p : list) owned.push_back(*p);
    out.emplace_hint(out.end(), *in.workers[i], std::move(owned));
  }
  return out;
}

}  // namespace parti::strategy_detail
