// libFuzzer target: parse_partitions on hostile text (the partitions file).
//
// Besides "never crash", it traps when a documented property breaks:
//  - a failure has a message; a success has at least one partition, non-empty keys without
//    whitespace, commas, '#' or newlines, weights in [1, 10^9] and no key twice;
//  - round trip: the partitions written back in the file syntax ("k1,k2 <weight>" a line) parse
//    to equal partitions.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "parti/runtime/partition_source.hpp"

namespace {

bool bad_key_char(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == '\n' || c == ',' ||
         c == '#';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = parti::parse_partitions(text);
  if (!parsed) {
    if (parsed.error().empty()) __builtin_trap();
    return 0;
  }
  if (parsed->empty()) __builtin_trap();
  std::set<std::string> seen;
  std::string written;
  for (const auto& p : *parsed) {
    if (p.keys.empty() || p.weight < 1 || p.weight > 1'000'000'000) __builtin_trap();
    for (std::size_t i = 0; i < p.keys.size(); ++i) {
      const auto& key = p.keys[i];
      if (key.empty()) __builtin_trap();
      for (char c : key)
        if (bad_key_char(c)) __builtin_trap();
      if (!seen.insert(key).second) __builtin_trap();  // a key in two partitions
      written += (i == 0 ? "" : ",") + key;
    }
    written += " " + std::to_string(p.weight) + "\n";
  }
  auto again = parti::parse_partitions(written);
  if (!again) __builtin_trap();
  if (*again != *parsed) __builtin_trap();
  return 0;
}
