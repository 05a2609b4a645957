#include "parti/runtime/config.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

#include "parti/runtime/violation_list.hpp"

namespace parti {

namespace {

using namespace std::chrono_literals;

// Exact arithmetic for "<int>.<fraction><unit>": the largest product is 10^18 * 3.6e12.
__extension__ using uint128 = unsigned __int128;

constexpr std::string_view duration_syntax =
    "expected a number followed by a unit ns|us|ms|s|m|h (e.g. 500ms, 1.5s)";

struct unit_def {
  std::string_view name;
  std::int64_t nanos;
};

// The whole suffix after the number must equal one of these names.
constexpr std::array<unit_def, 7> units{{{"ns", 1},
                                         {"us", 1'000},
                                         {"\xC2\xB5s", 1'000},  // "µs" in UTF-8
                                         {"ms", 1'000'000},
                                         {"s", 1'000'000'000},
                                         {"m", 60'000'000'000},
                                         {"h", 3'600'000'000'000}}};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

failure duration_error(std::string_view text, std::string_view why) {
  std::string message = "invalid duration \"" + std::string(text) + "\": ";
  message += why.empty() ? duration_syntax : why;
  return failure{std::move(message)};
}

std::string_view take_digits(std::string_view& rest) {
  std::size_t n = 0;
  while (n < rest.size() && is_digit(rest[n])) ++n;
  auto digits = rest.substr(0, n);
  rest.remove_prefix(n);
  return digits;
}

std::optional<std::int64_t> unit_nanos(std::string_view name) {
  for (const auto& u : units)
    if (u.name == name) return u.nanos;
  return std::nullopt;
}

std::string trim_trailing_zeros(std::string digits) {
  while (!digits.empty() && digits.back() == '0') digits.pop_back();
  return digits;
}

}  // namespace

// -- durations --------------------------------------------------------------------------------

result<duration> parse_duration(std::string_view text) {
  std::string_view rest = text;
  auto whole = take_digits(rest);
  if (whole.empty()) return duration_error(text, {});
  std::string fraction;
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    auto digits = take_digits(rest);
    if (digits.empty()) return duration_error(text, {});
    fraction = trim_trailing_zeros(std::string(digits));
  }
  if (rest.empty()) return duration_error(text, "missing unit; " + std::string(duration_syntax));
  auto unit = unit_nanos(rest);
  if (!unit)
    return duration_error(
        text, "unknown unit \"" + std::string(rest) + "\"; " + std::string(duration_syntax));

  constexpr auto max_nanos = static_cast<uint128>(std::numeric_limits<std::int64_t>::max());
  const auto out_of_range = duration_error(text, "out of range (at most about 292 years)");
  uint128 total = 0;
  for (char c : whole) {
    total = total * 10 + static_cast<uint128>(c - '0');
    if (total > max_nanos) return out_of_range;  // checked per digit, so no overflow
  }
  total *= static_cast<uint128>(*unit);
  if (total > max_nanos) return out_of_range;

  if (!fraction.empty()) {
    if (fraction.size() > 18) return duration_error(text, "finer than one nanosecond");
    uint128 scale = 1;
    uint128 digits = 0;
    for (char c : fraction) {
      scale *= 10;
      digits = digits * 10 + static_cast<uint128>(c - '0');
    }
    const uint128 numerator = digits * static_cast<uint128>(*unit);
    if (numerator % scale != 0) return duration_error(text, "finer than one nanosecond");
    total += numerator / scale;
    if (total > max_nanos) return out_of_range;
  }
  return duration(static_cast<duration::rep>(total));
}

std::string format_duration(duration d) {
  if (d == duration::zero()) return "0s";
  // Work on the magnitude in unsigned arithmetic so that the most negative value is fine too.
  const bool negative = d.count() < 0;
  const auto magnitude =
      negative ? 0 - static_cast<std::uint64_t>(d.count()) : static_cast<std::uint64_t>(d.count());
  std::string sign = negative ? "-" : "";
  constexpr std::uint64_t hour = 3'600'000'000'000, minute = 60'000'000'000;
  // Hours and minutes only when exact: "1.5m" would be exact too, but "90s" reads better.
  if (magnitude % hour == 0) return sign + std::to_string(magnitude / hour) + "h";
  if (magnitude % minute == 0) return sign + std::to_string(magnitude / minute) + "m";
  // Decimal units: the largest one not above the value, with an exact decimal fraction.
  struct decimal_unit {
    const char* name;
    std::uint64_t nanos;
    int digits;
  };
  constexpr std::array<decimal_unit, 3> decimal_units{
      {{"s", 1'000'000'000, 9}, {"ms", 1'000'000, 6}, {"us", 1'000, 3}}};
  for (const auto& u : decimal_units) {
    if (magnitude < u.nanos) continue;
    std::string text = sign + std::to_string(magnitude / u.nanos);
    if (auto rem = magnitude % u.nanos; rem != 0) {
      std::string frac = std::to_string(rem);
      frac.insert(0, static_cast<std::size_t>(u.digits) - frac.size(), '0');
      text += "." + trim_trailing_zeros(std::move(frac));
    }
    return text + u.name;
  }
  return sign + std::to_string(magnitude) + "ns";
}

// -- enumerations -----------------------------------------------------------------------------

std::string_view to_string(hand_off_mode x) {
  return x == hand_off_mode::cooperative ? "cooperative" : "eager";
}

std::string_view to_string(shutdown_intent x) {
  return x == shutdown_intent::drain ? "drain" : "restart";
}

std::string_view to_string(degraded_preset x) {
  switch (x) {
    case degraded_preset::conservative:
      return "conservative";
    case degraded_preset::balanced:
      return "balanced";
    case degraded_preset::aggressive:
      return "aggressive";
  }
  return "balanced";
}

std::string_view to_string(lease_loss_policy x) {
  return x == lease_loss_policy::suspend ? "suspend" : "keep";
}

result<lease_loss_policy> parse_lease_loss_policy(std::string_view text) {
  if (text == "suspend") return lease_loss_policy::suspend;
  if (text == "keep") return lease_loss_policy::keep;
  return failure{"on_lease_loss: expected suspend|keep, got \"" + std::string(text) + "\""};
}

std::string_view to_string(cold_start_mode x) {
  return x == cold_start_mode::immediate ? "immediate" : "wait";
}

result<cold_start_mode> parse_cold_start_mode(std::string_view text) {
  if (text == "immediate") return cold_start_mode::immediate;
  if (text == "wait") return cold_start_mode::wait;
  return failure{"cold_start: expected immediate|wait, got \"" + std::string(text) + "\""};
}

std::string_view to_string(storage_type x) {
  return x == storage_type::file ? "file" : "memory";
}

result<storage_type> parse_storage_type(std::string_view text) {
  if (text == "file") return storage_type::file;
  if (text == "memory") return storage_type::memory;
  return failure{"bucket_storage: expected file|memory, got \"" + std::string(text) + "\""};
}

result<hand_off_mode> parse_hand_off_mode(std::string_view text) {
  if (text == "cooperative") return hand_off_mode::cooperative;
  if (text == "eager") return hand_off_mode::eager;
  return failure{"hand_off: expected cooperative|eager, got \"" + std::string(text) + "\""};
}

result<shutdown_intent> parse_shutdown_intent(std::string_view text) {
  if (text == "drain") return shutdown_intent::drain;
  if (text == "restart") return shutdown_intent::restart;
  return failure{"shutdown: expected drain|restart, got \"" + std::string(text) + "\""};
}

result<degraded_preset> parse_degraded_preset(std::string_view text) {
  for (auto p :
       {degraded_preset::conservative, degraded_preset::balanced, degraded_preset::aggressive})
    if (text == to_string(p)) return p;
  return failure{"degraded preset: expected conservative|balanced|aggressive, got \"" +
                 std::string(text) + "\""};
}

degraded_settings degraded_settings_for(degraded_preset preset) {
  // Recovery grace is always at least the default heartbeat TTL (3 s): a recovered leader
  // needs one full TTL of heartbeats before it can know who is gone.
  switch (preset) {
    case degraded_preset::conservative:
      return {10s, 15s, 0.3};
    case degraded_preset::balanced:
      return {5s, 6s, 0.5};
    case degraded_preset::aggressive:
      return {2s, 3s, 0.8};
  }
  return {};
}

// -- names ------------------------------------------------------------------------------------

namespace {

bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_kv_key_char(char c) {
  return is_alnum(c) || c == '-' || c == '/' || c == '_' || c == '=' || c == '.';
}

}  // namespace

bool is_valid_bucket_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!is_alnum(c) && c != '-' && c != '_') return false;
  return true;
}

bool is_valid_kv_key(std::string_view key) {
  if (key.empty() || key.front() == '.' || key.back() == '.') return false;
  if (key.find("..") != std::string_view::npos) return false;  // an empty subject token
  for (char c : key)
    if (!is_kv_key_char(c)) return false;
  return true;
}

// -- validation -------------------------------------------------------------------------------

namespace {

void check_names(const node_config& c, violation_list& v) {
  if (c.group.empty())
    v.add("group", "must not be empty");
  else if (!is_valid_bucket_name(bucket_name(c.group, bucket_role::assignments)))
    v.add("group",
          "must be valid in a bucket name: only letters, digits, '-' and '_' (no '.', no "
          "spaces), is \"" +
              c.group + "\"");
  if (c.id_prefix.empty()) {
    v.add("id_prefix", "must not be empty");
  } else if (!is_valid_kv_key(c.id_prefix + "-0") || c.id_prefix.front() == '_') {
    // '_' first is reserved: "_manifest" lives in the same bucket as the worker keys.
    v.add("id_prefix",
          "must use only [-/_=.a-zA-Z0-9], not start with '.' or '_', not end with '.', and not "
          "contain \"..\" (is \"" +
              c.id_prefix + "\")");
  }
  if (c.strategy.empty()) v.add("strategy", "must not be empty");
}

void check_ids(const node_config& c, violation_list& v) {
  if (c.id_min > c.id_max)
    v.add("id_min", "must not exceed " + v.name("id_max") + " (" + std::to_string(c.id_max) +
                        "), is " + std::to_string(c.id_min));
  if (c.preferred_id && (*c.preferred_id < c.id_min || *c.preferred_id > c.id_max))
    v.add("preferred_id", "must be within [" + v.name("id_min") + ", " + v.name("id_max") +
                              "] = [" + std::to_string(c.id_min) + ", " + std::to_string(c.id_max) +
                              "], is " + std::to_string(*c.preferred_id));
  v.within("bucket_replicas", c.bucket_replicas, 1, 5);
}

void check_positive_durations(const node_config& c, violation_list& v) {
  v.positive("heartbeat_interval", c.heartbeat_interval);
  v.positive("heartbeat_ttl", c.heartbeat_ttl);
  v.positive("emergency_grace", c.emergency_grace);
  v.positive("id_ttl", c.id_ttl);
  v.positive("election_ttl", c.election_ttl);
  v.positive("cold_start_window", c.cold_start_window);
  v.positive("planned_scale_window", c.planned_scale_window);
  v.positive("cooldown", c.cooldown);
  v.positive("restart_grace", c.restart_grace);
  v.positive("drain_timeout", c.drain_timeout);
  v.positive("hand_off_timeout", c.hand_off_timeout);
  v.positive("partition_source_timeout", c.partition_source_timeout);
  v.positive("kv_operation_timeout", c.kv_operation_timeout);
  v.positive("degraded.threshold", c.degraded.threshold);
  v.positive("degraded.recovery_grace", c.degraded.recovery_grace);
}

void check_timing_relations(const node_config& c, violation_list& v) {
  // A single late heartbeat must not make a worker look dead.
  v.at_least("heartbeat_ttl", c.heartbeat_ttl, "2 x " + v.name("heartbeat_interval"),
             2 * c.heartbeat_interval);
  // Grace counts from expiry; longer than a TTL would hide a dead worker for too long.
  v.at_most("emergency_grace", c.emergency_grace, v.name("heartbeat_ttl"), c.heartbeat_ttl);
  // The claim is renewed every id_ttl/3 and must outlive the heartbeats that use the id.
  v.at_least("id_ttl", c.id_ttl, "3 x " + v.name("heartbeat_interval"), 3 * c.heartbeat_interval);
  v.at_least("id_ttl", c.id_ttl, v.name("heartbeat_ttl"), c.heartbeat_ttl);
  v.at_least("cold_start_window", c.cold_start_window, v.name("planned_scale_window"),
             c.planned_scale_window);
  v.at_most("cooldown", c.cooldown, v.name("planned_scale_window"), c.planned_scale_window);
  if (c.cold_start_settle) {
    v.non_negative("cold_start_settle", *c.cold_start_settle);
    v.at_most("cold_start_settle", *c.cold_start_settle, v.name("cold_start_window"),
              c.cold_start_window);
  }
  v.at_least("election_ttl", c.election_ttl, "1s", 1s);
  // See lease_rules.hpp: a renewal started on schedule must resolve before the renew deadline.
  v.at_most("kv_operation_timeout", c.kv_operation_timeout, v.name("election_ttl") + " / 3",
            c.election_ttl / 3);
  // A heartbeat that times out must leave time for the next one before the lease lapses, and
  // the lease must end (by the margin) before the leader could take the partitions away.
  v.non_negative("lease_margin", c.lease_margin);
  if (c.heartbeat_interval + c.kv_operation_timeout + c.lease_margin >= c.heartbeat_ttl)
    v.add("heartbeat_ttl",
          "must exceed " + v.name("heartbeat_interval") + " + " + v.name("kv_operation_timeout") +
              " + " + v.name("lease_margin") + " (" + format_duration(c.heartbeat_interval) +
              " + " + format_duration(c.kv_operation_timeout) + " + " +
              format_duration(c.lease_margin) + "), is " + format_duration(c.heartbeat_ttl));
  // A recovered leader needs one full TTL of heartbeats before it can tell who is gone.
  v.at_least("degraded.recovery_grace", c.degraded.recovery_grace, v.name("heartbeat_ttl"),
             c.heartbeat_ttl);
}

}  // namespace

duration node_config::effective_cold_start_settle() const {
  return cold_start_settle ? *cold_start_settle : heartbeat_interval;
}

std::vector<violation> node_config::violations(const field_namer& names) const {
  violation_list v(names);
  check_names(*this, v);
  check_ids(*this, v);
  check_positive_durations(*this, v);
  check_timing_relations(*this, v);
  v.share("restart_detection_ratio", restart_detection_ratio);
  v.share("degraded.mass_disappearance_share", degraded.mass_disappearance_share);
  return v.take();
}

std::vector<std::string> node_config::cautions() const {
  std::vector<std::string> out;
  // nats-server 2.9 elects a stream leader 4-8 s after one dies; a claim renewed every id_ttl/3
  // must still be confirmable after that (tests/integration/cluster.cpp measures it).
  constexpr auto failover = std::chrono::seconds(10);
  if (bucket_replicas > 1 && id_ttl < failover)
    out.push_back(
        "id_ttl " +
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(id_ttl).count()) +
        "ms with bucket_replicas " + std::to_string(bucket_replicas) +
        ": a JetStream cluster takes no writes for 4-8 s after a server dies, so "
        "nodes would give their ids up; use at least 10s");
  return out;
}

status node_config::validate() const {
  return violations_status("invalid node configuration", violations());
}

duration bulk_timeout(duration request_timeout) {
  return request_timeout * timeout_multiple::bulk;
}

derived_timings derive_timings(const node_config& c) {
  derived_timings t;
  t.release_step = c.kv_operation_timeout * timeout_multiple::release_step;
  t.leader_read = c.kv_operation_timeout * timeout_multiple::leader_read;
  t.round = c.hand_off_timeout * timeout_multiple::round_hand_offs + t.leader_read;
  return t;
}

node_config with_fitted_timings(node_config c) {
  constexpr auto spare = std::chrono::milliseconds(10);
  constexpr auto shortest = std::chrono::milliseconds(1);
  const duration heartbeat_room = c.heartbeat_ttl - c.heartbeat_interval - c.lease_margin - spare;
  c.kv_operation_timeout = std::min<duration>(
      {std::chrono::seconds(1), c.election_ttl / 3, std::max<duration>(heartbeat_room, shortest)});
  c.degraded.recovery_grace = std::max(c.degraded.recovery_grace, c.heartbeat_ttl);
  return c;
}

}  // namespace parti
