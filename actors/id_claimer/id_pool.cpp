#include "parti/actors/id_claimer/id_pool.hpp"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

namespace parti {

std::string format_worker_id(std::string_view prefix, std::uint32_t n) {
  std::string id(prefix);
  id += '-';
  id += std::to_string(n);
  return id;
}

std::optional<std::uint32_t> parse_worker_id(std::string_view prefix, std::string_view key) {
  if (key.size() <= prefix.size() + 1 || key.substr(0, prefix.size()) != prefix ||
      key[prefix.size()] != '-')
    return std::nullopt;
  auto digits = key.substr(prefix.size() + 1);
  // Canonical form only, so that one n has exactly one key: "worker-07" is not worker 7.
  if (digits.size() > 1 && digits.front() == '0') return std::nullopt;
  std::uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
    if (n > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  }
  return static_cast<std::uint32_t>(n);
}

id_pool::id_pool(std::string prefix, std::uint32_t min, std::uint32_t max,
                 std::optional<std::uint32_t> preferred)
    : prefix_(std::move(prefix)), min_(min), max_(max), preferred_(preferred) {
  if (preferred_ && (*preferred_ < min_ || *preferred_ > max_)) preferred_.reset();
}

std::optional<std::uint32_t> id_pool::parse(std::string_view key) const {
  auto n = parse_worker_id(prefix_, key);
  if (n && (*n < min_ || *n > max_)) return std::nullopt;
  return n;
}

void id_pool::prefer(std::string_view id) {
  if (auto n = parse(id)) preferred_ = n;
}

namespace {

/// How many of the lowest free ids a candidate is drawn from after `races_lost` lost races: 2^k,
/// bounded so that the walk over the free ids stays short.
std::uint64_t spread_window(std::uint32_t races_lost) {
  constexpr std::uint32_t max_shift = 16;  // 65536 ids
  return std::uint64_t{1} << std::min(races_lost, max_shift);
}

}  // namespace

result<std::string> id_pool::next_candidate(const std::set<std::string>& taken_keys,
                                            std::uint32_t races_lost, double draw) const {
  std::set<std::uint32_t> taken;
  for (const auto& key : taken_keys)
    if (auto n = parse(key)) taken.insert(*n);
  if (preferred_ && taken.count(*preferred_) == 0) return format(*preferred_);
  // The lowest free ids, up to the window, in order (`taken` is sorted).
  auto window = spread_window(races_lost);
  std::vector<std::uint32_t> free;
  auto next_taken = taken.begin();
  for (std::uint64_t n = min_; n <= max_ && free.size() < window; ++n) {
    while (next_taken != taken.end() && *next_taken < n) ++next_taken;
    if (next_taken != taken.end() && *next_taken == n) continue;
    free.push_back(static_cast<std::uint32_t>(n));
  }
  if (free.empty())
    return failure{"no free worker id: all " + std::to_string(size()) + " ids " + format(min_) +
                   " .. " + format(max_) + " are taken (raise id_max or stop a worker)"};
  auto pick =
      static_cast<std::size_t>(std::clamp(draw, 0.0, 1.0) * static_cast<double>(free.size()));
  return format(free[std::min(pick, free.size() - 1)]);
}

// -- claim_keeper -------------------------------------------------------------------------------

std::string_view to_string(claim_health x) {
  switch (x) {
    case claim_health::held:
      return "held";
    case claim_health::uncertain:
      return "uncertain";
    case claim_health::lost:
      return "lost";
  }
  return "unknown";
}

std::string_view to_string(claim_action x) {
  switch (x) {
    case claim_action::wait:
      return "wait";
    case claim_action::renew:
      return "renew";
    case claim_action::read_back:
      return "read_back";
    case claim_action::stop_using:
      return "stop_using";
  }
  return "unknown";
}

claim_keeper::claim_keeper(duration ttl, std::uint64_t revision, time_point sent_at,
                           std::optional<duration> retry_interval)
    : ttl_(ttl),
      retry_interval_(retry_interval.value_or(std::max(ttl / 30, duration(1)))),
      revision_(revision),
      confirmed_at_(sent_at) {}

time_point claim_keeper::next_deadline() const {
  switch (health_) {
    case claim_health::held:
      return confirmed_at_ + ttl_ / 3;
    case claim_health::uncertain:
      return std::min(retry_at_, safe_until());
    case claim_health::lost:
      break;
  }
  return time_point::max();  // nothing more to do: the caller claims again
}

claim_action claim_keeper::due(time_point now) {
  if (health_ == claim_health::lost) return claim_action::stop_using;
  // Also when held: a renewal that could not run in time (a paused process) cannot save a claim
  // that may already belong to someone else.
  if (could_have_expired(now)) {
    health_ = claim_health::lost;
    return claim_action::stop_using;
  }
  if (now < next_deadline()) return claim_action::wait;
  if (health_ == claim_health::held || verified_) return claim_action::renew;
  return claim_action::read_back;
}

void claim_keeper::become_uncertain(time_point now) {
  health_ = claim_health::uncertain;
  verified_ = false;
  retry_at_ = now + retry_interval_;
}

claim_health claim_keeper::on_renew(renew_outcome outcome, std::uint64_t new_revision,
                                    time_point sent_at, time_point now) {
  if (health_ == claim_health::lost) return health_;  // lost is final: claim again instead
  switch (outcome) {
    case renew_outcome::renewed:
      revision_ = new_revision;
      confirmed_at_ = std::max(confirmed_at_, sent_at);
      health_ = claim_health::held;
      verified_ = false;
      break;
    case renew_outcome::wrong_revision:
    case renew_outcome::not_found:
      health_ = claim_health::lost;
      break;
    case renew_outcome::unknown:
      become_uncertain(now);
      break;
  }
  if (health_ != claim_health::held && could_have_expired(now)) health_ = claim_health::lost;
  return health_;
}

claim_health claim_keeper::on_read(read_outcome outcome, std::uint64_t revision, time_point now) {
  if (health_ != claim_health::uncertain) return health_;  // a late answer changes nothing
  switch (outcome) {
    case read_outcome::ours:
      // A timed-out renewal may have landed: continue from its revision, renewing at once.
      // The claim stays uncertain until that renewal confirms a new sent_at.
      revision_ = revision;
      verified_ = true;
      retry_at_ = now;
      break;
    case read_outcome::not_ours:
    case read_outcome::not_found:
      health_ = claim_health::lost;
      break;
    case read_outcome::unknown:
      become_uncertain(now);
      break;
  }
  if (could_have_expired(now)) health_ = claim_health::lost;
  return health_;
}

}  // namespace parti
