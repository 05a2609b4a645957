#include "parti/runtime/metrics/decode_errors.hpp"

#include "parti/runtime/log.hpp"

namespace parti {

void report_decode_failure(const decode_report& where, const std::string& key,
                           const std::string& error, std::uint64_t& failures) {
  if (where.stats) where.stats->count_decode_error(where.worker, where.bucket);
  if (failures++ == 0)
    log(log_level::warning, where.reader, ": skipping ", where.bucket, "/", key, ": ", error);
}

}  // namespace parti
