#include "actors/publisher/handoff_planner.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace parti {

status handoff_options::validate() const {
  if (handoff_timeout < duration::zero())
    return failure{"handoff: handoff_timeout must not be negative"};
  return done{};
}

namespace {

bool holds(const std::vector<partition>& parts, const std::vector<std::string>& keys) {
  return std::any_of(parts.begin(), parts.end(), [&keys](const auto& p) { return p.keys == keys; });
}

bool by_keys(const partition& a, const partition& b) {
  return a.keys < b.keys;
}

assignment_map contents_of(const published_map& published) {
  assignment_map out;
  for (const auto& [worker, key] : published) out[worker] = key.partitions;
  return out;
}

}  // namespace

handoff_planner::handoff_planner(handoff_options options, published_map current, time_point now)
    : options_(std::move(options)) {
  adopt(std::move(current), now);
}

void handoff_planner::adopt(published_map current, time_point now) {
  published_ = std::move(current);
  for (auto& [worker, key] : published_)
    std::sort(key.partitions.begin(), key.partitions.end(), by_keys);
  target_ = contents_of(published_);
  revocations_.clear();
  adopted_at_ = now;
}

void handoff_planner::set_target(assignment_map target) {
  for (auto& [worker, parts] : target) std::sort(parts.begin(), parts.end(), by_keys);
  target_ = std::move(target);
}

// -- planning -------------------------------------------------------------------------------

handoff_step handoff_planner::plan(const applied_map& live_applied, time_point now) {
  if (options_.mode == handoff_mode::eager) return plan_eager();
  return plan_cooperative(live_applied, now);
}

handoff_step handoff_planner::plan_eager() const {
  handoff_step step;
  step.assignment = target_;
  step.target_reached = true;
  diff_against_published(step);
  return step;
}

handoff_step handoff_planner::plan_cooperative(const applied_map& live_applied, time_point now) {
  forget_resolved_revocations(live_applied, now);
  end_adoption_guard_if_settled(live_applied, now);
  auto current_holders = holders();
  handoff_step step;
  // Target workers: keep what they already hold, take new partitions only when safe.
  for (const auto& [worker, parts] : target_) {
    auto& next = step.assignment[worker];
    const auto* held = published_.count(worker) ? &published_.at(worker).partitions : nullptr;
    for (const auto& p : parts) {
      bool already_held = held != nullptr && holds(*held, p.keys);
      if (already_held || may_grant(p, worker, live_applied, current_holders))
        next.push_back(p);
      else
        step.in_handoff.push_back(p);
    }
  }
  // Workers leaving the assignment: an empty key revokes what they hold; the key is deleted
  // once there is nothing left to wait for (or the worker is gone).
  for (const auto& [worker, key] : published_)
    if (target_.count(worker) == 0 && keeps_empty_key(worker, live_applied))
      step.assignment[worker] = {};
  step.target_reached = step.assignment == target_;
  std::sort(step.in_handoff.begin(), step.in_handoff.end(), by_keys);
  diff_against_published(step);
  step.next_deadline = next_deadline();
  return step;
}

bool handoff_planner::may_grant(
    const partition& p, const std::string& to, const applied_map& live_applied,
    const std::map<partition_id, std::set<std::string>>& current_holders) const {
  bool held_by_other = false;
  auto it = current_holders.find(p.keys);
  if (it != current_holders.end()) {
    for (const auto& holder : it->second) {
      if (holder == to) continue;
      held_by_other = true;
      // A live holder still has it: revoke first (this step), grant in a later one.
      if (live_applied.count(holder) != 0) return false;
    }
  }
  // An unresolved revocation from another worker (resolved ones were forgotten before planning).
  // Given back to the worker it was revoked from is safe: it never has two owners.
  for (const auto& [key, rev] : revocations_)
    if (key.first == p.keys && key.second != to) return false;
  // Nobody we know of holds it: after a leader change someone we cannot name might, until the
  // adoption guard ends.
  if (!held_by_other && adopted_at_) return false;
  return true;
}

bool handoff_planner::keeps_empty_key(const std::string& worker,
                                      const applied_map& live_applied) const {
  if (live_applied.count(worker) == 0) return false;           // gone: nothing to wait for
  if (!published_.at(worker).partitions.empty()) return true;  // revoke by an empty key first
  return std::any_of(revocations_.begin(), revocations_.end(),
                     [&worker](const auto& kv) { return kv.first.second == worker; });
}

void handoff_planner::diff_against_published(handoff_step& step) const {
  for (const auto& [worker, parts] : step.assignment) {
    auto it = published_.find(worker);
    if (it == published_.end() || it->second.partitions != parts) step.changed.push_back(worker);
  }
  for (const auto& [worker, key] : published_)
    if (step.assignment.count(worker) == 0) step.deleted.push_back(worker);
}

// -- revocations ----------------------------------------------------------------------------

void handoff_planner::forget_resolved_revocations(const applied_map& live_applied, time_point now) {
  for (auto it = revocations_.begin(); it != revocations_.end();) {
    auto applied = live_applied.find(it->first.second);
    bool gone = applied == live_applied.end();
    bool released = !gone && !(applied->second < it->second.version);
    bool timed_out = now >= it->second.at + options_.handoff_timeout;
    it = gone || released || timed_out ? revocations_.erase(it) : std::next(it);
  }
}

void handoff_planner::end_adoption_guard_if_settled(const applied_map& live_applied,
                                                    time_point now) {
  if (!adopted_at_) return;
  if (all_live_settled(live_applied) || now >= *adopted_at_ + options_.handoff_timeout)
    adopted_at_.reset();
}

bool handoff_planner::all_live_settled(const applied_map& live_applied) const {
  for (const auto& [worker, applied] : live_applied) {
    auto it = published_.find(worker);
    // With a key: it must have applied it. Without one: only a worker that never applied any
    // assignment surely holds nothing (a deleted key may not have reached it yet).
    bool settled =
        it != published_.end() ? !(applied < it->second.version) : applied == version_stamp{};
    if (!settled) return false;
  }
  return true;
}

void handoff_planner::published(const handoff_step& step, version_stamp version, time_point now) {
  auto before = published_;
  for (const auto& worker : step.changed)
    published_[worker] = published_key{step.assignment.at(worker), version};
  for (const auto& worker : step.deleted) published_.erase(worker);
  if (options_.mode == handoff_mode::cooperative) record_revocations(before, step, version, now);
}

void handoff_planner::record_revocations(const published_map& before, const handoff_step& step,
                                         version_stamp version, time_point now) {
  auto now_held = holders();
  auto record_for = [&](const std::string& worker) {
    auto it = before.find(worker);
    if (it == before.end()) return;
    auto still = published_.find(worker);
    for (const auto& p : it->second.partitions) {
      bool kept = still != published_.end() && holds(still->second.partitions, p.keys);
      // Granted elsewhere in the same step: its previous owner was gone, nothing to wait for.
      if (kept || now_held.count(p.keys) != 0) continue;
      revocations_[{p.keys, worker}] = revocation{version, now};
    }
  };
  for (const auto& worker : step.changed) record_for(worker);
  for (const auto& worker : step.deleted) record_for(worker);
  // A partition held again (granted, or given back to its owner) is no longer in hand-off.
  for (auto it = revocations_.begin(); it != revocations_.end();)
    it = now_held.count(it->first.first) != 0 ? revocations_.erase(it) : std::next(it);
}

std::map<handoff_planner::partition_id, std::set<std::string>> handoff_planner::holders() const {
  std::map<partition_id, std::set<std::string>> out;
  for (const auto& [worker, key] : published_)
    for (const auto& p : key.partitions) out[p.keys].insert(worker);
  return out;
}

std::optional<time_point> handoff_planner::next_deadline() const {
  std::optional<time_point> next;
  auto consider = [&next](time_point t) { next = next ? std::min(*next, t) : t; };
  for (const auto& [key, rev] : revocations_) consider(rev.at + options_.handoff_timeout);
  if (adopted_at_ && options_.mode == handoff_mode::cooperative)
    consider(*adopted_at_ + options_.handoff_timeout);
  return next;
}

}  // namespace parti
