#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "parti/runtime/config.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

// The single violation of `c`, or a description of what was found instead.
std::string only_violation(const node_config& c) {
  auto all = c.violations();
  if (all.size() == 1) return all.front().text();
  std::string text = std::to_string(all.size()) + " violations:";
  for (auto& v : all) text += " [" + v.text() + "]";
  return text;
}

bool starts_with(const std::string& text, std::string_view prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

// -- defaults ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(defaults_are_those_of_the_design) {
  node_config c;
  BOOST_TEST(c.group == "parti");
  BOOST_TEST(c.id_prefix == "worker");
  BOOST_TEST(c.id_min == 0u);
  BOOST_TEST(c.id_max == 999u);
  BOOST_TEST(!c.preferred_id.has_value());
  BOOST_TEST((c.heartbeat_interval == 1s));
  BOOST_TEST((c.heartbeat_ttl == 3s));
  BOOST_TEST((c.emergency_grace == 1s));
  BOOST_TEST((c.id_ttl == 30s));
  BOOST_TEST((c.election_ttl == 3s));
  BOOST_TEST((c.cold_start_window == 30s));
  BOOST_TEST((c.planned_scale_window == 10s));
  BOOST_TEST((c.cooldown == 10s));
  BOOST_TEST(c.restart_detection_ratio == 0.5);
  BOOST_TEST((c.restart_grace == 30s));
  BOOST_TEST((c.drain_timeout == 30s));
  BOOST_TEST((c.hand_off_timeout == 10s));
  BOOST_TEST((c.partition_source_timeout == 5s));
  BOOST_TEST((c.kv_operation_timeout == 1s));
  BOOST_TEST(c.strategy == "sticky");
  BOOST_TEST((c.hand_off == hand_off_mode::cooperative));
  BOOST_TEST((c.shutdown == shutdown_intent::drain));
  BOOST_TEST(c.bucket_replicas == 1);
  auto balanced = degraded_settings_for(degraded_preset::balanced);
  BOOST_TEST((c.degraded.threshold == balanced.threshold));
  BOOST_TEST((c.degraded.recovery_grace == balanced.recovery_grace));
  BOOST_TEST(c.degraded.mass_disappearance_share == balanced.mass_disappearance_share);
}

BOOST_AUTO_TEST_CASE(the_default_configuration_is_valid) {
  node_config c;
  auto s = c.validate();
  BOOST_TEST(s.ok(), s.error());
  BOOST_TEST(c.violations().empty());
}

// -- timing relations, each at its exact boundary ---------------------------------------------

BOOST_AUTO_TEST_CASE(a_short_id_ttl_with_replicated_buckets_is_cautioned) {
  node_config c;
  BOOST_TEST(c.cautions().empty());  // one replica: no stream leader election to ride out
  c.bucket_replicas = 3;
  BOOST_TEST(c.cautions().empty());  // the default id TTL (30 s) outlasts it
  c.id_ttl = std::chrono::seconds(5);
  BOOST_REQUIRE_EQUAL(c.cautions().size(), 1u);
  BOOST_TEST(c.cautions()[0].find("id_ttl 5000ms") != std::string::npos, c.cautions()[0]);
  BOOST_TEST(c.validate().ok());  // a caution, not an error
}

BOOST_AUTO_TEST_CASE(heartbeat_ttl_must_be_at_least_twice_the_interval) {
  node_config c;
  c.heartbeat_interval = 1s;
  c.heartbeat_ttl = 2s;
  c.emergency_grace = 1s;
  c.kv_operation_timeout = 500ms;  // so that only this rule is at stake
  BOOST_TEST(c.violations().empty());
  c.heartbeat_ttl = 2s - 1ns;
  auto v = only_violation(c);
  BOOST_TEST(starts_with(v, "heartbeat_ttl: must be at least 2 x heartbeat_interval"), v);
}

BOOST_AUTO_TEST_CASE(a_timed_out_heartbeat_leaves_room_for_the_next_before_the_lease_lapses) {
  node_config c;  // 1s + 1s + 300ms < 3s
  BOOST_TEST(c.violations().empty());
  c.lease_margin = 1s;  // 1s + 1s + 1s is not below 3s
  auto v = only_violation(c);
  BOOST_TEST(starts_with(v,
                         "heartbeat_ttl: must exceed heartbeat_interval + "
                         "kv_operation_timeout + lease_margin (1s + 1s + 1s), is 3s"),
             v);
  c.lease_margin = 1s - 1ns;
  BOOST_TEST(c.violations().empty());
  c.lease_margin = 300ms;
  c.kv_operation_timeout = 900ms;
  c.heartbeat_interval = 1800ms;  // each term counts
  BOOST_TEST(!c.violations().empty());
  c = node_config{};
  c.lease_margin = -1ms;
  BOOST_TEST(starts_with(only_violation(c), "lease_margin: must not be negative"));
}

BOOST_AUTO_TEST_CASE(emergency_grace_must_not_exceed_heartbeat_ttl) {
  node_config c;
  c.emergency_grace = c.heartbeat_ttl;
  BOOST_TEST(c.violations().empty());
  c.emergency_grace = c.heartbeat_ttl + 1ns;
  auto v = only_violation(c);
  BOOST_TEST(starts_with(v, "emergency_grace: must not exceed heartbeat_ttl"), v);
}

BOOST_AUTO_TEST_CASE(id_ttl_must_cover_three_heartbeat_intervals) {
  node_config c;  // interval 1 s, heartbeat TTL 3 s
  c.id_ttl = 3s;
  BOOST_TEST(c.violations().empty());
  c.heartbeat_ttl = 2s;            // keep the TTL rule satisfied so only the interval rule breaks
  c.kv_operation_timeout = 500ms;  // and the lease rule (1s + 500ms + 300ms < 2s)
  c.id_ttl = 3s - 1ns;
  auto v = only_violation(c);
  BOOST_TEST(starts_with(v, "id_ttl: must be at least 3 x heartbeat_interval"), v);
}

BOOST_AUTO_TEST_CASE(id_ttl_must_cover_the_heartbeat_ttl) {
  node_config c;
  c.heartbeat_ttl = 5s;  // 3 x interval = 3 s stays satisfied
  c.id_ttl = 5s;
  BOOST_TEST(c.violations().empty());
  c.id_ttl = 5s - 1ns;
  auto v = only_violation(c);
  BOOST_TEST(starts_with(v, "id_ttl: must be at least heartbeat_ttl"), v);
}

BOOST_AUTO_TEST_CASE(cold_start_window_must_cover_the_planned_scale_window) {
  node_config c;
  c.cold_start_window = c.planned_scale_window;
  BOOST_TEST(c.violations().empty());
  c.cold_start_window = c.planned_scale_window - 1ns;
  auto v = only_violation(c);
  BOOST_TEST(starts_with(v, "cold_start_window: must be at least planned_scale_window"), v);
}

BOOST_AUTO_TEST_CASE(the_cold_start_settle_defaults_to_a_heartbeat_and_fits_the_window) {
  node_config c;
  BOOST_TEST((c.cold_start == cold_start_mode::immediate));
  BOOST_TEST((c.effective_cold_start_settle() == c.heartbeat_interval));
  c.heartbeat_interval = 500ms;
  BOOST_TEST((c.effective_cold_start_settle() == 500ms));
  c.cold_start_settle = c.cold_start_window;
  BOOST_TEST(c.violations().empty());
  BOOST_TEST((c.effective_cold_start_settle() == c.cold_start_window));
  c.cold_start_settle = c.cold_start_window + 1ns;
  auto v = only_violation(c);
  BOOST_TEST(starts_with(v, "cold_start_settle: must not exceed cold_start_window"), v);
  c.cold_start_settle = -1ns;
  BOOST_TEST(starts_with(only_violation(c), "cold_start_settle: must not be negative"),
             only_violation(c));
}

BOOST_AUTO_TEST_CASE(cooldown_must_not_exceed_the_planned_scale_window) {
  node_config c;
  c.cooldown = c.planned_scale_window;
  BOOST_TEST(c.violations().empty());
  c.cooldown = c.planned_scale_window + 1ns;
  auto v = only_violation(c);
  BOOST_TEST(starts_with(v, "cooldown: must not exceed planned_scale_window"), v);
}

BOOST_AUTO_TEST_CASE(election_ttl_must_be_at_least_one_second) {
  node_config c;
  c.kv_operation_timeout = 300ms;  // <= TTL/3 for both values below
  c.election_ttl = 1s;
  BOOST_TEST(c.violations().empty());
  c.election_ttl = 1s - 1ns;
  auto v = only_violation(c);
  BOOST_TEST(starts_with(v, "election_ttl: must be at least 1s"), v);
}

BOOST_AUTO_TEST_CASE(kv_operation_timeout_must_fit_a_third_of_the_election_ttl) {
  node_config c;
  c.election_ttl = 6s;
  c.heartbeat_ttl = 4s;  // room for the lease rule: 1s + 2s + 300ms < 4s
  c.id_ttl = 30s;
  c.degraded.recovery_grace = 6s;
  c.kv_operation_timeout = 2s;
  BOOST_TEST(c.violations().empty());
  c.kv_operation_timeout = 2s + 1ns;
  auto v = only_violation(c);
  BOOST_TEST(starts_with(v, "kv_operation_timeout: must not exceed election_ttl / 3"), v);
}

BOOST_AUTO_TEST_CASE(recovery_grace_must_cover_a_heartbeat_ttl) {
  node_config c;
  c.degraded.recovery_grace = c.heartbeat_ttl;
  BOOST_TEST(c.violations().empty());
  c.degraded.recovery_grace = c.heartbeat_ttl - 1ns;
  auto v = only_violation(c);
  BOOST_TEST(starts_with(v, "degraded.recovery_grace: must be at least heartbeat_ttl"), v);
}

BOOST_AUTO_TEST_CASE(every_duration_must_be_positive) {
  struct field {
    const char* name;
    duration node_config::*member;
  };
  const std::vector<field> fields{{"heartbeat_interval", &node_config::heartbeat_interval},
                                  {"heartbeat_ttl", &node_config::heartbeat_ttl},
                                  {"emergency_grace", &node_config::emergency_grace},
                                  {"id_ttl", &node_config::id_ttl},
                                  {"election_ttl", &node_config::election_ttl},
                                  {"cold_start_window", &node_config::cold_start_window},
                                  {"planned_scale_window", &node_config::planned_scale_window},
                                  {"cooldown", &node_config::cooldown},
                                  {"restart_grace", &node_config::restart_grace},
                                  {"drain_timeout", &node_config::drain_timeout},
                                  {"hand_off_timeout", &node_config::hand_off_timeout},
                                  {"kv_operation_timeout", &node_config::kv_operation_timeout}};
  for (const auto& f : fields) {
    for (duration bad : {duration::zero(), duration(-1)}) {
      node_config c;
      c.*f.member = bad;
      auto expected = std::string(f.name) + ": must be greater than 0";
      bool found = false;
      for (const auto& v : c.violations()) found = found || starts_with(v.text(), expected);
      BOOST_TEST(found, f.name << " = " << bad.count() << "ns was not rejected as non-positive");
    }
  }
  node_config c;
  c.degraded.threshold = 0s;
  BOOST_TEST(starts_with(only_violation(c), "degraded.threshold: must be greater than 0"));
}

// -- shares and counts ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(shares_must_lie_in_zero_excluded_to_one_included) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double ok : {1.0, 0.5, 1e-9}) {
    node_config c;
    c.restart_detection_ratio = ok;
    c.degraded.mass_disappearance_share = ok;
    BOOST_TEST(c.violations().empty(), "share " << ok);
  }
  for (double bad : {0.0, -0.1, 1.0 + 1e-9, nan}) {
    node_config c;
    c.restart_detection_ratio = bad;
    BOOST_TEST(starts_with(only_violation(c), "restart_detection_ratio: must be within (0, 1]"),
               "ratio " << bad);
    node_config d;
    d.degraded.mass_disappearance_share = bad;
    BOOST_TEST(
        starts_with(only_violation(d), "degraded.mass_disappearance_share: must be within (0, 1]"),
        "share " << bad);
  }
}

BOOST_AUTO_TEST_CASE(id_range_and_preferred_id) {
  node_config c;
  c.id_min = 5;
  c.id_max = 5;
  c.preferred_id = 5;
  BOOST_TEST(c.violations().empty());
  c.id_min = 6;
  c.preferred_id.reset();
  BOOST_TEST(starts_with(only_violation(c), "id_min: must not exceed id_max (5), is 6"));

  node_config d;
  d.id_min = 10;
  d.id_max = 20;
  for (std::uint32_t ok : {10u, 20u}) {
    d.preferred_id = ok;
    BOOST_TEST(d.violations().empty());
  }
  for (std::uint32_t bad : {9u, 21u}) {
    d.preferred_id = bad;
    BOOST_TEST(starts_with(only_violation(d), "preferred_id: must be within [id_min, id_max]"));
  }
}

BOOST_AUTO_TEST_CASE(bucket_replicas_between_one_and_five) {
  for (int ok : {1, 5}) {
    node_config c;
    c.bucket_replicas = ok;
    BOOST_TEST(c.violations().empty());
  }
  for (int bad : {0, 6, -1}) {
    node_config c;
    c.bucket_replicas = bad;
    BOOST_TEST(starts_with(only_violation(c), "bucket_replicas: must be within [1, 5]"));
  }
}

// -- names --------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(group_must_be_valid_in_a_bucket_name) {
  for (const char* ok : {"parti", "my_group-1", "A"}) {
    node_config c;
    c.group = ok;
    BOOST_TEST(c.violations().empty(), ok);
  }
  node_config empty;
  empty.group = "";
  BOOST_TEST(only_violation(empty) == "group: must not be empty");
  for (const char* bad : {"a.b", "a b", "a/b", "a=b", "a*", "a>"}) {
    node_config c;
    c.group = bad;
    auto v = only_violation(c);
    BOOST_TEST(starts_with(v, "group: must be valid in a bucket name"), bad << ": " << v);
    BOOST_TEST(contains(v, bad));
  }
}

BOOST_AUTO_TEST_CASE(id_prefix_must_make_valid_kv_keys) {
  for (const char* ok : {"worker", "w", "a-b/c=d.e_f", "X9"}) {
    node_config c;
    c.id_prefix = ok;
    BOOST_TEST(c.violations().empty(), ok);
  }
  node_config empty;
  empty.id_prefix = "";
  BOOST_TEST(only_violation(empty) == "id_prefix: must not be empty");
  for (const char* bad : {"a b", ".a", "_a", "a..b", "a*", "a>", "w\xC3\xB6rker", "a:b"}) {
    node_config c;
    c.id_prefix = bad;
    auto v = only_violation(c);
    BOOST_TEST(starts_with(v, "id_prefix: must use only [-/_=.a-zA-Z0-9]"), bad << ": " << v);
  }
}

BOOST_AUTO_TEST_CASE(strategy_must_be_named) {
  node_config c;
  c.strategy.clear();
  BOOST_TEST(only_violation(c) == "strategy: must not be empty");
}

BOOST_AUTO_TEST_CASE(validate_lists_every_violation) {
  node_config c;
  c.group = "a.b";
  c.heartbeat_ttl = 1500ms;  // < 2 x 1 s, and emergency grace 1 s is still <= TTL
  c.degraded.recovery_grace = 3s;
  c.kv_operation_timeout = 100ms;  // keeps the lease rule (1s + 100ms + 300ms < 1.5s) out of it
  auto all = c.violations();
  BOOST_TEST(all.size() == 2u);
  auto s = c.validate();
  BOOST_TEST(!s.ok());
  BOOST_TEST(starts_with(s.error(), "invalid node configuration: "));
  BOOST_TEST(contains(s.error(), "group: must be valid in a bucket name"));
  BOOST_TEST(contains(s.error(),
                      "; heartbeat_ttl: must be at least 2 x heartbeat_interval (2s), is 1.5s"));
}

BOOST_AUTO_TEST_CASE(a_violation_is_its_field_and_rule_named_as_the_caller_names_fields) {
  node_config c;
  c.heartbeat_ttl = 1500ms;
  c.kv_operation_timeout = 100ms;
  auto plain = c.violations();
  BOOST_REQUIRE(plain.size() == 1u);
  BOOST_TEST(plain[0].field == "heartbeat_ttl");
  BOOST_TEST(plain[0].name == "heartbeat_ttl");
  BOOST_TEST(plain[0].rule == "must be at least 2 x heartbeat_interval (2s), is 1.5s");

  // A program names the fields it has names for (the field, and those the rule mentions); the
  // others keep the struct's names.
  auto dashed = [](std::string_view field) -> std::string {
    if (field == "kv_operation_timeout") return {};
    std::string name = "--" + std::string(field);
    std::replace(name.begin(), name.end(), '_', '-');
    return name;
  };
  auto named = c.violations(dashed);
  BOOST_REQUIRE(named.size() == 1u);
  BOOST_TEST(named[0].field == "heartbeat_ttl");
  BOOST_TEST(named[0].text() ==
             "--heartbeat-ttl: must be at least 2 x --heartbeat-interval (2s), is 1.5s");

  c.heartbeat_interval = 400ms;
  c.heartbeat_ttl = 800ms;  // 2 x the interval, but not above 400ms + 100ms + 300ms
  c.emergency_grace = 500ms;
  auto lease = c.violations(dashed);
  BOOST_REQUIRE_MESSAGE(lease.size() == 1u, only_violation(c));
  BOOST_TEST(lease[0].text() ==
             "--heartbeat-ttl: must exceed --heartbeat-interval + kv_operation_timeout + "
             "--lease-margin (400ms + 100ms + 300ms), is 800ms");
}

BOOST_AUTO_TEST_CASE(bucket_names_join_group_and_role) {
  BOOST_TEST(bucket_name("parti", bucket_role::ids) == "parti-ids");
  BOOST_TEST(bucket_name("g", bucket_role::election) == "g-election");
  BOOST_TEST(bucket_name("g", bucket_role::heartbeats) == "g-heartbeats");
  BOOST_TEST(bucket_name("g", bucket_role::assignments) == "g-assignments");
  BOOST_TEST(is_valid_bucket_name("parti-assignments"));
  BOOST_TEST(!is_valid_bucket_name(""));
  BOOST_TEST(!is_valid_bucket_name("a.b"));
}

BOOST_AUTO_TEST_CASE(kv_key_rules) {
  BOOST_TEST(is_valid_kv_key("worker-7"));
  BOOST_TEST(is_valid_kv_key("a/b=c_d.e-f"));
  BOOST_TEST(!is_valid_kv_key(""));
  BOOST_TEST(!is_valid_kv_key(".a"));
  BOOST_TEST(!is_valid_kv_key("a."));
  BOOST_TEST(!is_valid_kv_key("a..b"));
  BOOST_TEST(!is_valid_kv_key("a b"));
  BOOST_TEST(!is_valid_kv_key("a*"));
}

// -- enumerations and presets -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(enumerations_round_trip_and_reject_unknown_text) {
  for (auto m : {hand_off_mode::cooperative, hand_off_mode::eager})
    BOOST_TEST((*parse_hand_off_mode(to_string(m)) == m));
  for (auto i : {shutdown_intent::drain, shutdown_intent::restart})
    BOOST_TEST((*parse_shutdown_intent(to_string(i)) == i));
  for (auto p :
       {degraded_preset::conservative, degraded_preset::balanced, degraded_preset::aggressive})
    BOOST_TEST((*parse_degraded_preset(to_string(p)) == p));
  BOOST_TEST(parse_hand_off_mode("Eager").error() ==
             "hand_off: expected cooperative|eager, got \"Eager\"");
  BOOST_TEST(parse_shutdown_intent("stop").error() ==
             "shutdown: expected drain|restart, got \"stop\"");
  BOOST_TEST(!parse_degraded_preset("").ok());
  for (auto m : {cold_start_mode::immediate, cold_start_mode::wait})
    BOOST_TEST((*parse_cold_start_mode(to_string(m)) == m));
  BOOST_TEST(parse_cold_start_mode("now").error() ==
             "cold_start: expected immediate|wait, got \"now\"");
}

BOOST_AUTO_TEST_CASE(degraded_presets_are_valid_and_ordered) {
  auto conservative = degraded_settings_for(degraded_preset::conservative);
  auto balanced = degraded_settings_for(degraded_preset::balanced);
  auto aggressive = degraded_settings_for(degraded_preset::aggressive);
  for (auto preset : {conservative, balanced, aggressive}) {
    node_config c;
    c.degraded = preset;
    BOOST_TEST(c.violations().empty());
  }
  // conservative keeps things still: slower to flip, longer grace, suspects the store sooner.
  BOOST_TEST((conservative.threshold > balanced.threshold));
  BOOST_TEST((balanced.threshold > aggressive.threshold));
  BOOST_TEST((conservative.recovery_grace > balanced.recovery_grace));
  BOOST_TEST((balanced.recovery_grace > aggressive.recovery_grace));
  BOOST_TEST(conservative.mass_disappearance_share < balanced.mass_disappearance_share);
  BOOST_TEST(balanced.mass_disappearance_share < aggressive.mass_disappearance_share);
}

// -- durations ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(parse_duration_reads_every_unit) {
  BOOST_TEST((*parse_duration("7ns") == 7ns));
  BOOST_TEST((*parse_duration("250us") == 250us));
  BOOST_TEST((*parse_duration("250\xC2\xB5s") == 250us));
  BOOST_TEST((*parse_duration("500ms") == 500ms));
  BOOST_TEST((*parse_duration("3s") == 3s));
  BOOST_TEST((*parse_duration("1m") == 60s));
  BOOST_TEST((*parse_duration("2h") == 7200s));
  BOOST_TEST((*parse_duration("0s") == 0s));
}

BOOST_AUTO_TEST_CASE(parse_duration_reads_exact_fractions) {
  BOOST_TEST((*parse_duration("1.5s") == 1500ms));
  BOOST_TEST((*parse_duration("0.25ms") == 250us));
  BOOST_TEST((*parse_duration("1.5m") == 90s));
  BOOST_TEST((*parse_duration("0.001us") == 1ns));
  BOOST_TEST((*parse_duration("1.000000001s") == 1000000001ns));
  BOOST_TEST((*parse_duration("2.50000s") == 2500ms));     // trailing zeros do not count
  BOOST_TEST((*parse_duration("0.00000000005m") == 3ns));  // exact although 6e10 * 5e-11
  auto too_fine = parse_duration("1.5ns");
  BOOST_TEST(too_fine.error() == "invalid duration \"1.5ns\": finer than one nanosecond");
  BOOST_TEST(!parse_duration("0.0001us").ok());
}

BOOST_AUTO_TEST_CASE(parse_duration_explains_what_it_expected) {
  const std::string syntax = "expected a number followed by a unit ns|us|ms|s|m|h";
  for (const char* bad : {"", "s", "-1s", ".5s", "1.s", "abc", " 1s", "1e3s", "+1s"}) {
    auto r = parse_duration(bad);
    BOOST_TEST(!r.ok(), bad);
    BOOST_TEST(contains(r.error(), syntax), bad << ": " << r.error());
    BOOST_TEST(contains(r.error(), "\"" + std::string(bad) + "\""));
  }
  BOOST_TEST(contains(parse_duration("3").error(), "missing unit"));
  BOOST_TEST(contains(parse_duration("3 s").error(), "unknown unit \" s\""));
  BOOST_TEST(contains(parse_duration("3sec").error(), "unknown unit \"sec\""));
  BOOST_TEST(contains(parse_duration("3S").error(), syntax));
}

BOOST_AUTO_TEST_CASE(parse_duration_rejects_overflow_at_the_exact_limit) {
  BOOST_TEST((*parse_duration("9223372036854775807ns") == duration::max()));
  BOOST_TEST(contains(parse_duration("9223372036854775808ns").error(), "out of range"));
  BOOST_TEST(contains(parse_duration("2562048h").error(), "out of range"));  // > 292 years
  BOOST_TEST(parse_duration("2562047h").ok());
  BOOST_TEST(contains(parse_duration("99999999999999999999999999s").error(), "out of range"));
}

BOOST_AUTO_TEST_CASE(format_duration_is_short_and_exact) {
  BOOST_TEST(format_duration(0s) == "0s");
  BOOST_TEST(format_duration(3s) == "3s");
  BOOST_TEST(format_duration(1500ms) == "1.5s");
  BOOST_TEST(format_duration(500ms) == "500ms");
  BOOST_TEST(format_duration(250us) == "250us");
  BOOST_TEST(format_duration(7ns) == "7ns");
  BOOST_TEST(format_duration(1001ns) == "1.001us");
  BOOST_TEST(format_duration(60s) == "1m");
  BOOST_TEST(format_duration(90s) == "90s");
  BOOST_TEST(format_duration(7200s) == "2h");
  BOOST_TEST(format_duration(1000000001ns) == "1.000000001s");
  BOOST_TEST(format_duration(-1500ms) == "-1.5s");
  BOOST_TEST(format_duration(duration::min()) == "-9223372036.854775808s");
}

BOOST_AUTO_TEST_CASE(format_then_parse_gives_the_same_duration) {
  for (duration d : std::vector<duration>{1ns, 999ns, 1us, 1234567ns, 1ms, 1500ms, 3s, 61s, 60s,
                                          59min, 2h, 25h, 1000000001ns, duration::max()}) {
    auto text = format_duration(d);
    auto back = parse_duration(text);
    BOOST_TEST(back.ok(), text << ": " << back.error());
    BOOST_TEST((back.ok() && *back == d), text);
  }
}
