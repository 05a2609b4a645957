#pragma once
// The (epoch, version) that stamps every assignment record and fencing token (docs/WIRE.md).
#include <cstdint>
#include <tuple>

namespace parti {

/// Ordered epoch first: a new leader's epoch beats any version of an older one.
struct version_stamp {
  std::uint64_t epoch = 0;
  std::uint64_t version = 0;
};
inline bool operator<(const version_stamp& a, const version_stamp& b) {
  return std::tie(a.epoch, a.version) < std::tie(b.epoch, b.version);
}
inline bool operator==(const version_stamp& a, const version_stamp& b) {
  return a.epoch == b.epoch && a.version == b.version;
}
inline bool operator!=(const version_stamp& a, const version_stamp& b) {
  return !(a == b);
}

}  // namespace parti
