#include "parti/actors/emergency_detector/emergency_rules.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace parti {

status emergency_options::validate() const {
  if (grace < duration::zero()) return failure{"emergency: grace must not be negative"};
  return done{};
}

emergency_rules::emergency_rules(emergency_options options) : options_(std::move(options)) {}

void emergency_rules::set_owners(std::set<std::string> owners) {
  owners_ = std::move(owners);
  for (auto it = gone_.begin(); it != gone_.end();) {
    if (owners_.count(it->first) == 0) {
      ++it;
      continue;
    }
    pending_.emplace(it->first, it->second);  // its grace has passed: due at the next poll
    it = gone_.erase(it);
  }
}

bool emergency_rules::worker_expired(const std::string& worker, time_point now) {
  if (gone_.count(worker) != 0) return false;
  return pending_.emplace(worker, now).second;
}

bool emergency_rules::worker_returned(const std::string& worker) {
  gone_.erase(worker);
  return pending_.erase(worker) != 0;
}

bool emergency_rules::worker_left(const std::string& worker) {
  gone_.erase(worker);
  return pending_.erase(worker) != 0;
}

std::vector<confirmed_emergency> emergency_rules::poll(time_point now) {
  std::vector<confirmed_emergency> confirmed;
  for (auto it = pending_.begin(); it != pending_.end();) {
    bool due = it->second + options_.grace <= now;
    if (due) {
      bool owned = owners_.count(it->first) != 0;
      confirmed.push_back({it->first, it->second, owned});
      if (!owned) gone_.emplace(it->first, it->second);
    }
    it = due ? pending_.erase(it) : std::next(it);
  }
  // Oldest first, so the log and the hooks tell the story in the order it happened.
  std::stable_sort(confirmed.begin(), confirmed.end(),
                   [](const auto& a, const auto& b) { return a.expired_at < b.expired_at; });
  return confirmed;
}

std::optional<time_point> emergency_rules::next_deadline() const {
  std::optional<time_point> next;
  for (const auto& [worker, expired_at] : pending_) {
    auto due = expired_at + options_.grace;
    next = next ? std::min(*next, due) : due;
  }
  return next;
}

std::vector<std::string> emergency_rules::pending() const {
  std::vector<std::string> out;
  for (const auto& [worker, expired_at] : pending_) out.push_back(worker);
  return out;
}

}  // namespace parti
