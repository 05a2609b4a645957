// libFuzzer target: parse_duration on hostile text, and format_duration.
//
// Besides "never crash", it traps when a documented property breaks:
//  - a failure has a message; a success is a non-negative duration;
//  - round trip: format_duration(parse_duration(x)) parses back to the same duration;
//  - the other way: for the non-negative count given by the first 8 input bytes,
//    parse_duration(format_duration(d)) == d.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "parti/runtime/config.hpp"

namespace {

void check_format(parti::duration d) {
  auto back = parti::parse_duration(parti::format_duration(d));
  if (!back || *back != d) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = parti::parse_duration(text);
  if (!parsed) {
    if (parsed.error().empty()) __builtin_trap();
  } else {
    if (parsed->count() < 0) __builtin_trap();
    check_format(*parsed);
  }
  if (size >= sizeof(std::uint64_t)) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, data, sizeof bits);
    bits &= ~(std::uint64_t{1} << 63);  // parse_duration has no sign: non-negative counts only
    check_format(parti::duration(static_cast<parti::duration::rep>(bits)));
  }
  return 0;
}
