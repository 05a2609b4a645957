#pragma once
// The hashes behind every hash-based placement. They are part of the contract: changing any
// byte below moves partitions between versions, so they are pinned by tests/unit/strategy_golden.
//
// Hash function: XXH3_64bits (xxHash >= 0.8.0, whose XXH3 output is frozen), seed 0, i.e.
// XXH3_64bits(data, len). All integers below are unsigned 64-bit and encoded little-endian,
// whatever the host byte order.
//
//   partition_hash(keys)  = XXH3_64bits( for each key, in order:
//                                          le64(byte length of key) || key bytes )
//                           Keys are hashed as raw bytes (no Unicode normalisation). The length
//                           prefixes make ["ab","c"] and ["a","bc"] differ.
//   key_hash(key)         = partition_hash({key}): a single key routes like a one-key partition.
//   worker_hash(id)       = XXH3_64bits( id bytes )
//   rendezvous_score(p,w) = mix64( partition_hash(p) XOR worker_hash(w) ), where mix64 is the
//                           SplitMix64 finaliser:
//                               x ^= x >> 30; x *= 0xbf58476d1ce4e5b9;
//                               x ^= x >> 27; x *= 0x94d049bb133111eb; x ^= x >> 31;
//                           (multiplications modulo 2^64). The highest score wins; equal scores
//                           go to the smaller worker id (byte-wise comparison).
//   ring_point(id, i)     = XXH3_64bits( id bytes || le64(i) ) for virtual node i = 0 .. V-1.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parti::strategy_hash {

/// SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijection on 64 bits with full avalanche.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

std::uint64_t partition_hash(const std::vector<std::string>& keys);
std::uint64_t key_hash(std::string_view key);
std::uint64_t worker_hash(std::string_view worker);

constexpr std::uint64_t rendezvous_score(std::uint64_t partition_hash,
                                         std::uint64_t worker_hash) noexcept {
  return mix64(partition_hash ^ worker_hash);
}

std::uint64_t ring_point(std::string_view worker, std::uint64_t replica);

/// The raw hash used above: XXH3_64bits with seed 0. Exposed for tests and tools.
std::uint64_t xxh3_64(const void* data, std::size_t size);

}  // namespace parti::strategy_hash
