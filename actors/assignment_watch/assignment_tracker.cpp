#include "parti/actors/assignment_watch/assignment_tracker.hpp"

#include <algorithm>
#include <iterator>
#include <tuple>
#include <utility>

namespace parti {

namespace {

bool keys_less(const partition& a, const partition& b) {
  return a.keys < b.keys;
}
bool keys_equal(const partition& a, const partition& b) {
  return a.keys == b.keys;
}

// Sorted by keys, one entry per keys (the first one given wins), so set operations work.
std::vector<partition> normalized(std::vector<partition> parts) {
  std::stable_sort(parts.begin(), parts.end(), keys_less);
  parts.erase(std::unique(parts.begin(), parts.end(), keys_equal), parts.end());
  return parts;
}

std::string label(const partition& p) {
  if (p.keys.empty()) return "<no keys>";
  std::string text = p.keys.front();
  for (std::size_t i = 1; i < p.keys.size(); ++i) text += "/" + p.keys[i];
  return text;
}

std::string list(const std::vector<partition>& parts, std::size_t max_listed) {
  std::string text = "[";
  const std::size_t shown = std::min(parts.size(), max_listed);
  for (std::size_t i = 0; i < shown; ++i) {
    if (i > 0) text += ", ";
    text += label(parts[i]);
  }
  if (parts.size() > shown)
    text += (shown > 0 ? ", ... +" : "... +") + std::to_string(parts.size() - shown) + " more";
  return text + "]";
}

const partition_grant* find_grant(const std::vector<partition_grant>& grants,
                                  const std::vector<std::string>& keys) {
  for (const auto& g : grants)
    if (g.keys == keys) return &g;
  return nullptr;
}

/// One token per partition: the record's grant, else the record's stamp (a writer that wrote no
/// grant gave the partition to us at this version at the latest). A leader reading the bucket
/// takes the same (docs/WIRE.md, "Fencing tokens"), so worker and leader agree on every token.
/// A token held from before is not kept: this worker may have missed the versions in which the
/// partition had another owner, whose token is newer than the one held.
std::vector<partition_grant> tokens_for(const std::vector<partition>& parts,
                                        const std::vector<partition_grant>& from_record,
                                        assignment_stamp stamp) {
  std::vector<partition_grant> out;
  for (const auto& p : parts) {
    if (const auto* g = find_grant(from_record, p.keys))
      out.push_back(*g);
    else
      out.push_back(partition_grant{p.keys, stamp.epoch, stamp.version});
  }
  return out;
}

}  // namespace

std::vector<partition> partitions_minus(std::vector<partition> a, std::vector<partition> b) {
  std::sort(a.begin(), a.end(), keys_less);
  std::sort(b.begin(), b.end(), keys_less);
  std::vector<partition> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out), keys_less);
  return out;
}

std::vector<partition> partitions_common(std::vector<partition> a, std::vector<partition> b) {
  std::sort(a.begin(), a.end(), keys_less);
  std::sort(b.begin(), b.end(), keys_less);
  std::vector<partition> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out), keys_less);
  return out;
}

bool operator<(const assignment_stamp& a, const assignment_stamp& b) {
  return std::tie(a.epoch, a.version) < std::tie(b.epoch, b.version);
}

bool operator==(const assignment_stamp& a, const assignment_stamp& b) {
  return a.epoch == b.epoch && a.version == b.version;
}

std::string_view to_string(offer_outcome x) {
  switch (x) {
    case offer_outcome::accepted:
      return "accepted";
    case offer_outcome::duplicate:
      return "duplicate";
    case offer_outcome::stale:
      return "stale";
    case offer_outcome::other_worker:
      return "other_worker";
  }
  return "unknown";
}

assignment_tracker::assignment_tracker(std::string worker) : worker_(std::move(worker)) {}

offer_outcome assignment_tracker::on_put(const assignment_record& record) {
  if (record.worker != worker_) return offer_outcome::other_worker;
  const assignment_stamp stamp{record.epoch, record.version};
  if (stamp == held_) return offer_outcome::duplicate;
  if (stamp < held_) return offer_outcome::stale;
  held_ = stamp;
  latest_is_delete_ = false;
  set_pending(target{normalized(record.partitions), record.grants, stamp, record.reason, false});
  return offer_outcome::accepted;
}

offer_outcome assignment_tracker::on_delete() {
  // A delete carries no stamp, so it cannot be fenced; it is always safe to obey, since owning
  // nothing never gives a partition two owners. The fence stays where it is.
  if (latest_is_delete_) return offer_outcome::duplicate;
  latest_is_delete_ = true;
  set_pending(target{{}, {}, held_, "deleted", true});
  return offer_outcome::accepted;
}

void assignment_tracker::set_pending(target next) {
  if (pending_) ++coalesced_;  // the one waiting is superseded: latest wins
  pending_ = std::move(next);
}

std::optional<assignment_change> assignment_tracker::deliver() {
  if (in_flight_ || !pending_) return std::nullopt;
  target next = std::move(*pending_);
  pending_.reset();
  assignment_change change;
  change.added = partitions_minus(next.partitions, owned_);
  change.removed = partitions_minus(owned_, next.partitions);
  change.grants = tokens_for(next.partitions, next.grants, next.stamp);
  change.owned = std::move(next.partitions);
  change.stamp = next.stamp;
  change.reason = std::move(next.reason);
  change.key_deleted = next.deleted;
  in_flight_ = change;
  return change;
}

status assignment_tracker::ack() {
  if (!in_flight_) return failure{"ack without a delivered assignment change"};
  owned_ = std::move(in_flight_->owned);
  applied_ = in_flight_->stamp;
  in_flight_.reset();
  return done{};
}

std::string format_change(const assignment_change& change, std::size_t max_listed) {
  std::string text = change.key_deleted ? "assignment deleted at e" : "assignment e";
  text += std::to_string(change.stamp.epoch) + " v" + std::to_string(change.stamp.version);
  if (!change.key_deleted && !change.reason.empty()) text += " (" + change.reason + ")";
  text += ": owns " + std::to_string(change.owned.size()) + ", +" +
          std::to_string(change.added.size()) + " -" + std::to_string(change.removed.size());
  if (!change.added.empty()) text += ", added " + list(change.added, max_listed);
  if (!change.removed.empty())
    text += (change.added.empty() ? ", removed " : " removed ") + list(change.removed, max_listed);
  return text;
}

}  // namespace parti
