#pragma once
// parti-ctl's output: readable tables, or JSON for scripts (one object per command).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "parti/runtime/nats/group_inspect.hpp"

namespace parti::ctl {

std::string status_table(const group_state& state, const group_health& health);
nlohmann::json status_json(const group_state& state, const group_health& health);

std::string assignments_table(const group_state& state);
nlohmann::json assignments_json(const group_state& state);

std::string explain_text(const group_state& state, const std::string& key,
                         const std::vector<key_owner>& owners);
nlohmann::json explain_json(const group_state& state, const std::string& key,
                            const std::vector<key_owner>& owners);

nlohmann::json control_json(const control_record& c);
/// "frozen=no rebalance_seq=3 refresh_seq=0 drain=[worker-2]"
std::string control_text(const control_record& c);

/// "0.4s", "12s", "3m5s": the age of a unix-ms time stamp at `now` ("-" when unknown).
std::string age_text(std::uint64_t now_ms, std::uint64_t then_ms);

}  // namespace parti::ctl
