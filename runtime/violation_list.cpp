#include "parti/runtime/violation_list.hpp"

#include "parti/runtime/config.hpp"

namespace parti {

std::string violation_list::quoted(std::string_view field, duration value) const {
  return name(field) + " (" + format_duration(value) + ")";
}

void violation_list::positive(std::string_view field, duration value) {
  if (value <= duration::zero())
    add(field, "must be greater than 0 (is " + format_duration(value) + ")");
}

void violation_list::non_negative(std::string_view field, duration value) {
  if (value < duration::zero()) add(field, "must not be negative, is " + format_duration(value));
}

void violation_list::share(std::string_view field, double value) {
  if (!(value > 0.0 && value <= 1.0))  // written so that NaN fails too
    add(field, "must be within (0, 1] (is " + std::to_string(value) + ")");
}

void violation_list::at_least(std::string_view field, duration value, std::string_view bound_name,
                              duration bound) {
  if (value < bound)
    add(field, "must be at least " + std::string(bound_name) + " (" + format_duration(bound) +
                   "), is " + format_duration(value));
}

void violation_list::at_most(std::string_view field, duration value, std::string_view bound_name,
                             duration bound) {
  if (value > bound)
    add(field, "must not exceed " + std::string(bound_name) + " (" + format_duration(bound) +
                   "), is " + format_duration(value));
}

void violation_list::below(std::string_view field, duration value, std::string_view bound_name,
                           duration bound) {
  if (value >= bound)
    add(field, "must be below " + std::string(bound_name) + ", is " + format_duration(value));
}

void violation_list::at_least(std::string_view field, std::int64_t value, std::int64_t bound) {
  if (value < bound)
    add(field, "must be at least " + std::to_string(bound) + " (is " + std::to_string(value) + ")");
}

void violation_list::within(std::string_view field, std::int64_t value, std::int64_t low,
                            std::int64_t high) {
  if (value < low || value > high)
    add(field, "must be within [" + std::to_string(low) + ", " + std::to_string(high) + "] (is " +
                   std::to_string(value) + ")");
}

status violations_status(std::string_view heading, const std::vector<violation>& all) {
  if (all.empty()) return done{};
  std::string message = std::string(heading) + ": ";
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i > 0) message += "; ";
    message += all[i].text();
  }
  return failure{std::move(message)};
}

}  // namespace parti
