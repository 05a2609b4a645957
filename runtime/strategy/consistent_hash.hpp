#pragma once
// A consistent hash ring with virtual nodes, for stateless key routing and for the
// "consistent-hash" strategy. The bytes hashed are documented in hashing.hpp:
//   a worker's virtual node i sits at ring_point(id, i) = XXH3_64bits(id || le64(i));
//   a partition sits at partition_hash(keys), a single key at key_hash(key);
//   the owner is the first virtual node at or after that position, wrapping to the start.
// Virtual nodes with the same position are ordered by (worker id, i); the first one wins.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parti/messages/result.hpp"

namespace parti {

class hash_ring {
 public:
  /// A ring of `workers` with `virtual_nodes` points each. Fails on no workers, an empty or
  /// duplicate id, or virtual_nodes outside [1, 10000].
  static result<hash_ring> make(const std::vector<std::string>& workers, int virtual_nodes = 150);

  /// The worker owning a partition with these keys (same as the "consistent-hash" strategy).
  const std::string& owner_of(const std::vector<std::string>& keys) const;
  /// The worker owning a single key: owner_of({key}).
  const std::string& owner_of(std::string_view key) const;
  /// The worker owning a ring position.
  const std::string& owner_of_hash(std::uint64_t position) const;
  /// Index into workers() of the owner of a ring position.
  std::size_t owner_index_of_hash(std::uint64_t position) const;

  /// The workers, sorted by id.
  const std::vector<std::string>& workers() const { return workers_; }
  std::size_t size() const { return points_.size(); }

 private:
  hash_ring() = default;
  std::vector<std::string> workers_;
  std::vector<std::uint64_t> points_;  // sorted ring positions
  std::vector<std::uint32_t> owners_;  // owners_[k]: index into workers_ of points_[k]
};

}  // namespace parti
