#pragma once
// Internals shared by the built-in strategies. Not part of the public API.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "parti/messages/records.hpp"
#include "parti/messages/result.hpp"
#include "parti/runtime/strategy/strategy.hpp"

namespace parti::strategy_detail {

/// The inputs, validated and put in an order that does not depend on the order given.
struct prepared {
  std::vector<const std::string*> workers;  ///< sorted by id (byte-wise)
  std::vector<std::uint64_t> worker_hash;   ///< worker_hash(*workers[i])
  std::vector<const partition*> parts;      ///< canonical order: (partition_hash, keys)
  std::vector<std::uint64_t> part_hash;     ///< partition_hash(parts[j]->keys), ascending
  /// Index (into workers) of the present previous owner of parts[j], or -1. When `previous`
  /// lists a partition under several present workers, the smallest worker id wins.
  std::vector<std::int32_t> prev_owner;
};

/// Validates (see validate_inputs) and prepares. `previous` may be null.
result<prepared> prepare(const std::vector<std::string>& workers,
                         const std::vector<partition>& partitions, const assignment* previous);

/// The assignment giving parts[j] to workers[owner[j]]; partition lists sorted by keys.
assignment build(const prepared& in, const std::vector<std::int32_t>& owner);

/// The first index j in [0, n) with the highest rendezvous_score(ph, wh[j]); n > 0. When the
/// array is in worker-id order, "first" is the documented tie-break (smaller id wins).
/// Uses the fastest kernel the CPU supports; all kernels give the same result (kernel.cpp).
std::size_t best_score_index(std::uint64_t ph, const std::uint64_t* wh, std::size_t n);

enum class score_kernel { portable = 0, avx2 = 1, avx512 = 2 };
bool score_kernel_supported(score_kernel k);
const char* score_kernel_name(score_kernel k);
/// The kernel best_score_index uses now.
score_kernel active_score_kernel();
/// For benchmarks: use `k` from now on (if supported; returns false otherwise).
bool set_score_kernel(score_kernel k);
/// A given kernel (the portable one if `k` is not supported).
std::size_t best_score_index_with(score_kernel k, std::uint64_t ph, const std::uint64_t* wh,
                                  std::size_t n);

/// Effective weight: weights <= 0 count as 1.
inline std::int64_t effective_weight(const partition& p) {
  return p.weight >= 1 ? p.weight : 1;
}

/// ["a", "b"] for messages.
std::string describe_keys(const std::vector<std::string>& keys);

}  // namespace parti::strategy_detail
