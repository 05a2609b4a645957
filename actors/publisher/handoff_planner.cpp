#include "parti/actors/publisher/handoff_planner.hpp"

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

/// One token per partition of the key; a record without one got its partition at the latest
/// with the key's version.
void complete_tokens(published_key& key) {
  std::map<std::vector<std::string>, version_stamp> tokens;
  for (const auto& p : key.partitions) {
    auto it = key.granted.find(p.keys);
    tokens[p.keys] = it != key.granted.end() ? it->second : key.version;
  }
  key.granted = std::move(tokens);
}

}  // namespace

handoff_planner::handoff_planner(handoff_options options, published_map current, time_point now)
    : options_(std::move(options)) {
  adopt(std::move(current), now);
}

void handoff_planner::adopt(published_map current, time_point now) {
  published_ = std::move(current);
  for (auto& [worker, key] : published_) {
    std::sort(key.partitions.begin(), key.partitions.end(), by_keys);
    complete_tokens(key);
  }
  target_ = contents_of(published_);
  revocations_.clear();
  // A fence requested before may have run before a write of unknown outcome landed: it proves
  // nothing about the keys read now.
  fences_requested_.clear();
  releases_.clear();
  adopted_at_ = now;
  saw(now);
}

void handoff_planner::set_target(assignment_map target) {
  for (auto& [worker, parts] : target) std::sort(parts.begin(), parts.end(), by_keys);
  target_ = std::move(target);
}

void handoff_planner::saw(time_point now) {
  last_seen_ = last_seen_ ? std::max(*last_seen_, now) : now;
}

// -- planning -------------------------------------------------------------------------------

handoff_step handoff_planner::plan(const applied_map& heard, time_point now) {
  saw(now);
  if (options_.mode == handoff_mode::eager) return plan_eager();
  return plan_cooperative(heard, now);
}

handoff_step handoff_planner::plan_eager() const {
  handoff_step step;
  step.assignment = target_;
  step.target_reached = true;
  diff_against_published(step);
  return step;
}

handoff_step handoff_planner::plan_cooperative(const applied_map& heard, time_point now) {
  forget_resolved_revocations(heard, now);
  end_adoption_guard_if_settled(heard, now);
  forget_lapsed_releases(now);
  auto current_holders = holders();
  handoff_step step;
  // Target workers: keep what they already hold, take new partitions only when safe.
  for (const auto& [worker, parts] : target_) {
    auto& next = step.assignment[worker];
    const auto* held = published_.count(worker) ? &published_.at(worker).partitions : nullptr;
    for (const auto& p : parts) {
      bool already_held = held != nullptr && holds(*held, p.keys);
      if (already_held || may_grant(p, worker, current_holders))
        next.push_back(p);
      else
        step.in_handoff.push_back(p);
    }
  }
  // Workers leaving the assignment: an empty key revokes what they hold; the key is deleted
  // once there is nothing left to wait for.
  for (const auto& [worker, key] : published_)
    if (target_.count(worker) == 0 && keeps_empty_key(worker, heard, now))
      step.assignment[worker] = {};
  step.target_reached = step.assignment == target_;
  std::sort(step.in_handoff.begin(), step.in_handoff.end(), by_keys);
  diff_against_published(step);
  step.to_fence = fences_needed(step, heard, now);
  request_fences(step.to_fence);
  step.next_deadline = next_deadline();
  return step;
}

bool handoff_planner::may_grant(
    const partition& p, const std::string& to,
    const std::map<partition_id, std::set<std::string>>& current_holders) const {
  // Another key still holds it: revoke first (this step), grant in a later one. Whether that
  // holder is heard does not matter: silent, it may still serve until its lease lapses.
  auto it = current_holders.find(p.keys);
  if (it != current_holders.end())
    for (const auto& holder : it->second)
      if (holder != to) return false;
  // An unresolved revocation from another worker (resolved ones were forgotten before planning).
  // Given back to the worker it was revoked from is safe: it never has two owners.
  for (const auto& [key, rev] : revocations_)
    if (key.first == p.keys && key.second != to) return false;
  // No key holds it: after a leader change someone we cannot name might, until the adoption
  // guard ends.
  return !adopted_at_;
}

bool handoff_planner::keeps_empty_key(const std::string& worker, const applied_map& heard,
                                      time_point now) const {
  if (!published_.at(worker).partitions.empty()) return true;  // revoke by an empty key first
  bool revoking = std::any_of(revocations_.begin(), revocations_.end(),
                              [&worker](const auto& kv) { return kv.first.second == worker; });
  if (revoking) return true;
  // Under the guard the key is what tells whether its worker settled: keep it until then.
  return adopted_at_ && !settled(worker, heard, now);
}

void handoff_planner::diff_against_published(handoff_step& step) const {
  for (const auto& [worker, parts] : step.assignment) {
    auto it = published_.find(worker);
    if (it == published_.end() || it->second.partitions != parts) step.changed.push_back(worker);
  }
  for (const auto& [worker, key] : published_)
    if (step.assignment.count(worker) == 0) step.deleted.push_back(worker);
}

// -- revocations and fences -----------------------------------------------------------------

void handoff_planner::forget_resolved_revocations(const applied_map& heard, time_point now) {
  for (auto it = revocations_.begin(); it != revocations_.end();) {
    const auto& worker = it->first.second;
    auto applied = heard.find(worker);
    bool applied_it = applied != heard.end() && !(applied->second < it->second.version);
    bool resolved = applied_it || released_from(worker, it->second, now);
    it = resolved ? revocations_.erase(it) : std::next(it);
  }
}

bool handoff_planner::release_covers(const std::string& worker, const revocation& rev) const {
  auto it = releases_.find(worker);
  return it != releases_.end() && rev.publication <= it->second.covers;
}

bool handoff_planner::released_from(const std::string& worker, const revocation& rev,
                                    time_point now) const {
  return release_covers(worker, rev) && now >= releases_.at(worker).lapse_at;
}

void handoff_planner::forget_lapsed_releases(time_point now) {
  // A lapsed release has resolved every revocation it covers; only the guard still asks.
  if (adopted_at_) return;
  for (auto it = releases_.begin(); it != releases_.end();)
    it = now >= it->second.lapse_at ? releases_.erase(it) : std::next(it);
}

std::vector<std::string> handoff_planner::fences_needed(const handoff_step& step,
                                                        const applied_map& heard,
                                                        time_point now) const {
  std::set<std::string> needed;
  add_revocation_fences(needed, heard, now);
  if (adopted_at_) add_guard_fences(needed, heard, now);
  // Once requested, wait for its outcome. A key this step writes is fenced after it is
  // published: a fence covers only what was published before it was requested.
  auto written = [&step](const std::string& worker) {
    return std::count(step.changed.begin(), step.changed.end(), worker) != 0 ||
           std::count(step.deleted.begin(), step.deleted.end(), worker) != 0;
  };
  std::vector<std::string> out;
  for (const auto& worker : needed)
    if (fences_requested_.count(worker) == 0 && !written(worker)) out.push_back(worker);
  return out;
}

void handoff_planner::add_revocation_fences(std::set<std::string>& needed, const applied_map& heard,
                                            time_point now) const {
  // Holders of an unresolved revocation that are silent, or heard but slower than the timeout.
  for (const auto& [key, rev] : revocations_) {
    const auto& worker = key.second;
    if (release_covers(worker, rev)) continue;  // fenced already: its lapse is ahead
    bool silent = heard.count(worker) == 0;
    if (silent || now >= rev.at + options_.handoff_timeout) needed.insert(worker);
  }
}

void handoff_planner::add_guard_fences(std::set<std::string>& needed, const applied_map& heard,
                                       time_point now) const {
  // Keyed workers that are not heard at once (nothing else will settle them), heard ones that
  // have not settled within the hand-off timeout from adoption.
  bool overdue = now >= *adopted_at_ + options_.handoff_timeout;
  for (const auto& worker : guarded_workers(heard)) {
    if (releases_.count(worker) != 0 || settled(worker, heard, now)) continue;
    if (heard.count(worker) == 0 || overdue) needed.insert(worker);
  }
}

void handoff_planner::request_fences(const std::vector<std::string>& workers) {
  for (const auto& worker : workers) fences_requested_[worker] = publications_;
}

void handoff_planner::released(const std::string& worker, time_point lapse_at) {
  auto requested = fences_requested_.find(worker);
  if (requested == fences_requested_.end()) return;
  release fresh{lapse_at, requested->second};
  fences_requested_.erase(requested);
  auto [it, inserted] = releases_.emplace(worker, fresh);
  if (inserted) return;
  // An earlier release still pending: together they cover both, from the later lapse on.
  it->second.lapse_at = std::max(it->second.lapse_at, fresh.lapse_at);
  it->second.covers = std::max(it->second.covers, fresh.covers);
}

void handoff_planner::fence_failed(const std::string& worker) {
  fences_requested_.erase(worker);
}

// -- the adoption guard ---------------------------------------------------------------------

void handoff_planner::end_adoption_guard_if_settled(const applied_map& heard, time_point now) {
  if (!adopted_at_) return;
  for (const auto& worker : guarded_workers(heard))
    if (!settled(worker, heard, now)) return;
  adopted_at_.reset();
}

std::set<std::string> handoff_planner::guarded_workers(const applied_map& heard) const {
  std::set<std::string> out;
  for (const auto& [worker, key] : published_) out.insert(worker);
  for (const auto& [worker, applied] : heard) out.insert(worker);
  return out;
}

bool handoff_planner::settled(const std::string& worker, const applied_map& heard,
                              time_point now) const {
  auto rel = releases_.find(worker);
  if (rel != releases_.end() && now >= rel->second.lapse_at) return true;
  auto applied = heard.find(worker);
  auto key = published_.find(worker);
  // With a key: it must have applied it (after restamp() that is the new epoch's version).
  // Without one: only a worker that never applied any assignment surely holds nothing (a
  // deleted key may not have reached it yet). Neither keyed nor heard: no concern of the guard.
  if (key != published_.end())
    return applied != heard.end() && !(applied->second < key->second.version);
  return applied == heard.end() || applied->second == version_stamp{};
}

// -- publishing -----------------------------------------------------------------------------

handoff_step handoff_planner::restamp() const {
  handoff_step step;
  step.assignment = contents_of(published_);
  for (const auto& [worker, key] : published_) step.changed.push_back(worker);
  step.next_deadline = next_deadline();
  return step;
}

std::map<std::vector<std::string>, version_stamp> handoff_planner::grants_for(
    const std::string& worker, const std::vector<partition>& parts, version_stamp version) const {
  std::map<std::vector<std::string>, version_stamp> out;
  auto key = published_.find(worker);
  for (const auto& p : parts) {
    auto token = version;
    if (key != published_.end() && holds(key->second.partitions, p.keys)) {
      auto kept = key->second.granted.find(p.keys);
      token = kept != key->second.granted.end() ? kept->second : key->second.version;
    }
    out[p.keys] = token;
  }
  return out;
}

void handoff_planner::published(const handoff_step& step, version_stamp version, time_point now) {
  saw(now);
  ++publications_;
  auto before = published_;
  for (const auto& worker : step.changed) {
    const auto& parts = step.assignment.at(worker);
    auto tokens = grants_for(worker, parts, version);
    published_[worker] = published_key{parts, version, std::move(tokens)};
  }
  for (const auto& worker : step.deleted) published_.erase(worker);
  if (options_.mode == handoff_mode::cooperative) record_revocations(before, step, version, now);
}

void handoff_planner::record_revocations(const published_map& before, const handoff_step& step,
                                         version_stamp version, time_point now) {
  auto record_for = [&](const std::string& worker) {
    auto it = before.find(worker);
    if (it == before.end()) return;
    auto still = published_.find(worker);
    for (const auto& p : it->second.partitions) {
      bool kept = still != published_.end() && holds(still->second.partitions, p.keys);
      if (!kept) revocations_[{p.keys, worker}] = revocation{version, now, publications_};
    }
  };
  for (const auto& worker : step.changed) record_for(worker);
  for (const auto& worker : step.deleted) record_for(worker);
  // Given back to the worker it was revoked from: that revocation is moot. (A grant to another
  // worker waited for every revocation to resolve, so none is left.)
  for (auto it = revocations_.begin(); it != revocations_.end();) {
    auto key = published_.find(it->first.second);
    bool held_again = key != published_.end() && holds(key->second.partitions, it->first.first);
    it = held_again ? revocations_.erase(it) : std::next(it);
  }
}

std::map<handoff_planner::partition_id, std::set<std::string>> handoff_planner::holders() const {
  std::map<partition_id, std::set<std::string>> out;
  for (const auto& [worker, key] : published_)
    for (const auto& p : key.partitions) out[p.keys].insert(worker);
  return out;
}

std::optional<time_point> handoff_planner::next_deadline() const {
  std::optional<time_point> next;
  // Deadlines up to the latest plan were acted upon then (a timer set in the past would only
  // spin the publisher).
  auto consider = [&](time_point t) {
    if (last_seen_ && t <= *last_seen_) return;
    next = next ? std::min(*next, t) : t;
  };
  for (const auto& [key, rev] : revocations_) {
    const auto& worker = key.second;
    if (fences_requested_.count(worker) != 0 || release_covers(worker, rev)) continue;
    consider(rev.at + options_.handoff_timeout);  // a fence is requested then
  }
  for (const auto& [worker, rel] : releases_) consider(rel.lapse_at);
  if (adopted_at_ && options_.mode == handoff_mode::cooperative)
    consider(*adopted_at_ + options_.handoff_timeout);
  return next;
}

}  // namespace parti
