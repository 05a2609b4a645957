#include "parti/runtime/strategy/hashing.hpp"

#include <xxhash.h>

#include <cstring>

namespace parti::strategy_hash {

namespace {

void append_le64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffU));
}

}  // namespace

std::uint64_t xxh3_64(const void* data, std::size_t size) {
  return XXH3_64bits(data, size);
}

std::uint64_t partition_hash(const std::vector<std::string>& keys) {
  // One reusable buffer per thread: hashing must not allocate per partition on the hot path.
  thread_local std::string buffer;
  buffer.clear();
  for (const auto& key : keys) {
    append_le64(buffer, key.size());
    buffer.append(key);
  }
  return XXH3_64bits(buffer.data(), buffer.size());
}

std::uint64_t key_hash(std::string_view key) {
  thread_local std::string buffer;
  buffer.clear();
  append_le64(buffer, key.size());
  buffer.append(key.data(), key.size());
  return XXH3_64bits(buffer.data(), buffer.size());
}

std::uint64_t worker_hash(std::string_view worker) {
  return XXH3_64bits(worker.data(), worker.size());
}

std::uint64_t ring_point(std::string_view worker, std::uint64_t replica) {
  char local[256];
  if (worker.size() + 8 <= sizeof local) {
    std::memcpy(local, worker.data(), worker.size());
    for (std::size_t i = 0; i < 8; ++i)
      local[worker.size() + i] = static_cast<char>((replica >> (8 * i)) & 0xffU);
    return XXH3_64bits(local, worker.size() + 8);
  }
  thread_local std::string buffer;
  buffer.assign(worker.data(), worker.size());
  append_le64(buffer, replica);
  return XXH3_64bits(buffer.data(), buffer.size());
}

}  // namespace parti::strategy_hash
