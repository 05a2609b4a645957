#pragma once
// Bad input never stops a reader: a KV value that does not decode is counted
// (parti_decode_errors_total{bucket,worker}), logged, and skipped. Only a reader's first failure
// is logged: a corrupt key that a writer keeps rewriting would flood the log.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "parti/messages/codec.hpp"
#include "parti/messages/events.hpp"
#include "parti/runtime/metrics/metrics.hpp"

namespace parti {

/// Where a reader's undecodable values are reported.
struct decode_report {
  metrics* stats = nullptr;  // none: logged only
  std::string_view worker;   // label `worker`: the node reading
  std::string_view bucket;   // label `bucket`: the bucket role (messages/wire.hpp)
  std::string_view reader;   // what the log line starts with ("election", "monitor", ...)
};

/// Counts one value of `key` that did not decode, and logs it when it is the reader's first.
/// `failures` is the reader's own count so far; it is incremented.
void report_decode_failure(const decode_report& where, const std::string& key,
                           const std::string& error, std::uint64_t& failures);

/// `entry.value` decoded as a T, or nothing when it does not decode (then reported, above).
template <class T>
std::optional<T> decode_reported(const kv_entry& entry, const decode_report& where,
                                 std::uint64_t& failures) {
  auto record = decode<T>(entry.value);
  if (record) return std::move(*record);
  report_decode_failure(where, entry.key, record.error(), failures);
  return std::nullopt;
}

}  // namespace parti
