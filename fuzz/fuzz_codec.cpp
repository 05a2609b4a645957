// libFuzzer target: decode<T> of every KV record type on hostile bytes.
//
// Input: the first byte picks the record type (modulo 7, in the order of kinds below), the rest
// is the value as read from the store. Besides "never crash" (ASan/UBSan/uncaught exceptions),
// it traps when a documented property breaks:
//  - a failure has a message that starts with the record's name;
//  - round trip: when decode(x) succeeds, encode(decode(x)) decodes to an equal record and
//    re-encodes to the same bytes;
//  - the canonical encoding with its last byte cut off, or with a byte appended, is rejected.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "parti/messages/codec.hpp"

namespace {

template <class T>
void check_failure_message(const parti::result<T>& r) {
  const std::string name = parti::record_name<T>();
  if (r.error().compare(0, name.size(), name) != 0) __builtin_trap();
}

template <class T>
void check(std::string_view bytes) {
  auto decoded = parti::decode<T>(bytes);
  if (!decoded) {
    check_failure_message(decoded);
    return;
  }
  const std::string encoded = parti::encode(*decoded);
  auto again = parti::decode<T>(encoded);
  if (!again) __builtin_trap();                            // our own encoding is rejected
  if (*again != *decoded) __builtin_trap();                // the record changed on the way
  if (parti::encode(*again) != encoded) __builtin_trap();  // encoding is not deterministic
  auto cut = parti::decode<T>(std::string_view(encoded).substr(0, encoded.size() - 1));
  if (cut) __builtin_trap();  // truncated value accepted
  check_failure_message(cut);
  auto longer = parti::decode<T>(encoded + '\xc0');
  if (longer) __builtin_trap();  // trailing byte accepted
  check_failure_message(longer);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The value without the selector, at the very end of libFuzzer's exactly sized buffer, so an
  // over-read is an ASan error.
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 7) {
    case 0:
      check<parti::partition>(bytes);
      break;
    case 1:
      check<parti::id_claim>(bytes);
      break;
    case 2:
      check<parti::leader_lease>(bytes);
      break;
    case 3:
      check<parti::heartbeat_record>(bytes);
      break;
    case 4:
      check<parti::assignment_record>(bytes);
      break;
    case 5:
      check<parti::manifest_record>(bytes);
      break;
    default:
      check<parti::control_record>(bytes);
      break;
  }
  return 0;
}
