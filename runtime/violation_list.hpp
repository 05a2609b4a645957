#pragma once
// The violations of an options struct, with uniform wording for its durations, counts and
// shares: "must <rule> (is <value>)" or "must <rule> <bound> (<value>), is <value>". Shared by
// every configuration that names its settings (node_config, consume_config).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"

namespace parti {

class violation_list : public violation_collector {
 public:
  using violation_collector::violation_collector;

  /// "<name> (<value>)": a setting and its value, as rules quote them ("hand_off_timeout (10s)").
  std::string quoted(std::string_view field, duration value) const;

  void positive(std::string_view field, duration value);
  void non_negative(std::string_view field, duration value);
  void share(std::string_view field, double value);
  void at_least(std::string_view field, duration value, std::string_view bound_name,
                duration bound);
  void at_most(std::string_view field, duration value, std::string_view bound_name, duration bound);
  /// value < bound, else "must be below <bound_name>, is <value>": the bound's text carries its
  /// own values (see quoted()).
  void below(std::string_view field, duration value, std::string_view bound_name, duration bound);

  void at_least(std::string_view field, std::int64_t value, std::int64_t bound);
  void within(std::string_view field, std::int64_t value, std::int64_t low, std::int64_t high);
};

/// ok when `all` is empty, else a failure "<heading>: <violation>; <violation>; ...".
status violations_status(std::string_view heading, const std::vector<violation>& all);

}  // namespace parti
