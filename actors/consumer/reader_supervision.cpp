#include "parti/actors/consumer/reader_supervision.hpp"

#include <algorithm>
#include <utility>

namespace parti {

namespace {

/// The grant of `p` in `u`, or the assignment's own stamp from a leader that wrote no grants.
partition_grant grant_of(const assignment_update& u, const partition& p) {
  for (const auto& g : u.grants)
    if (g.keys == p.keys) return g;
  return partition_grant{p.keys, u.epoch, u.version};
}

}  // namespace

reader_supervision::reader_supervision(backoff_policy restart_backoff, random_source random)
    : policy_(restart_backoff), random_(std::make_shared<random_source>(std::move(random))) {}

bool reader_supervision::same_grant(const partition_grant& a, const partition_grant& b) {
  return a.keys == b.keys && a.epoch == b.epoch && a.version == b.version;
}

// -- events -----------------------------------------------------------------------------------

void reader_supervision::assignment(const assignment_update& u,
                                    std::optional<std::uint64_t> revocation, time_point now) {
  std::set<partition_keys> owned;
  for (const auto& p : u.owned) owned.insert(p.keys);
  // Taken away by this update: listed as removed, or no longer in the owned set.
  std::set<partition_keys> taken;
  for (const auto& p : u.removed)
    if (owned.count(p.keys) == 0) taken.insert(p.keys);

  for (auto it = entries_.begin(); it != entries_.end();) {
    entry& e = it->second;
    if (owned.count(it->first) != 0 || !e.owned) {
      ++it;
      continue;
    }
    e.owned = false;
    taken.insert(it->first);
    if (e.at == entry::phase::running) {
      release(e);
      ++it;
    } else if (e.at == entry::phase::releasing) {
      ++it;
    } else {  // waiting to restart, or refused: no reader to end
      it = entries_.erase(it);
    }
  }

  if (!stopped_) {
    for (const auto& p : u.owned) {
      const auto grant = grant_of(u, p);
      auto it = entries_.find(p.keys);
      if (it == entries_.end()) {
        entry& e = entries_[p.keys];
        e.part = p;
        e.grant = grant;
        start(e, false, now);
        continue;
      }
      entry& e = it->second;
      e.owned = true;  // a releasing reader's partition given back starts again once released
      e.part = p;
      if (!same_grant(e.grant, grant)) {
        e.grant = grant;
        if (e.at == entry::phase::running) out_.push_back(regrant_reader{grant});
      }
    }
  }

  if (!revocation) return;
  pending_revocation r{*revocation, {}};
  for (const auto& keys : taken)
    if (has_reader(keys)) r.waiting.insert(keys);
  if (r.waiting.empty())
    out_.push_back(acknowledge_revocation{r.ticket});
  else
    revocations_.push_back(std::move(r));
}

void reader_supervision::released(const partition_keys& keys, time_point now) {
  auto it = entries_.find(keys);
  if (it == entries_.end()) return;
  entry& e = it->second;
  if (e.at == entry::phase::running) {
    // Ended without being asked to: as good as failed (it reads nothing any more).
    return failed(keys, now);
  }
  if (e.at != entry::phase::releasing) return;
  if (e.owned && !stopped_) {
    reader_gone(keys);  // the old reader is gone before the new one starts
    start(e, false, now);
    return;
  }
  entries_.erase(it);
  reader_gone(keys);
}

void reader_supervision::failed(const partition_keys& keys, time_point now) {
  auto it = entries_.find(keys);
  if (it == entries_.end()) return;
  entry& e = it->second;
  if (e.at != entry::phase::running && e.at != entry::phase::releasing) return;
  if (!e.owned || stopped_) {
    entries_.erase(it);
    reader_gone(keys);
    return;
  }
  schedule_restart(e, now);
  reader_gone(keys);
}

void reader_supervision::refused(const partition_keys& keys) {
  auto it = entries_.find(keys);
  if (it == entries_.end()) return;
  entry& e = it->second;
  if (e.at != entry::phase::running && e.at != entry::phase::releasing) return;
  if (e.owned && !stopped_)
    e.at = entry::phase::refused;
  else
    entries_.erase(it);
  reader_gone(keys);
}

void reader_supervision::restart_due(std::uint64_t ticket, time_point now) {
  if (stopped_) return;
  for (auto& [keys, e] : entries_) {
    if (e.at != entry::phase::waiting_restart || e.ticket != ticket) continue;
    ++restarts_;
    start(e, true, now);
    return;
  }
}

void reader_supervision::release_all() {
  stopped_ = true;
  for (auto it = entries_.begin(); it != entries_.end();) {
    entry& e = it->second;
    e.owned = false;
    if (e.at == entry::phase::running) release(e);
    if (e.at == entry::phase::releasing) {
      ++it;
    } else {
      it = entries_.erase(it);
    }
  }
}

std::vector<supervision_output> reader_supervision::take() {
  return std::exchange(out_, {});
}

// -- queries ----------------------------------------------------------------------------------

std::size_t reader_supervision::readers() const {
  return static_cast<std::size_t>(
      std::count_if(entries_.begin(), entries_.end(), [](const auto& x) {
        return x.second.at == entry::phase::running || x.second.at == entry::phase::releasing;
      }));
}

bool reader_supervision::has_reader(const partition_keys& keys) const {
  auto it = entries_.find(keys);
  return it != entries_.end() &&
         (it->second.at == entry::phase::running || it->second.at == entry::phase::releasing);
}

// -- steps ------------------------------------------------------------------------------------

void reader_supervision::start(entry& e, bool restart, time_point now) {
  e.at = entry::phase::running;
  e.started_at = now;
  out_.push_back(start_reader{e.part, e.grant, restart});
}

void reader_supervision::release(entry& e) {
  e.at = entry::phase::releasing;
  out_.push_back(release_reader{e.part.keys});
}

void reader_supervision::schedule_restart(entry& e, time_point now) {
  if (!e.restart_backoff)
    e.restart_backoff = std::make_unique<backoff>(policy_, [r = random_] { return (*r)(); });
  // A reader that ran a good while failed for a new reason: start over from the initial delay.
  else if (now - e.started_at >= policy_.max)
    e.restart_backoff->reset();
  e.at = entry::phase::waiting_restart;
  e.ticket = next_ticket_++;
  out_.push_back(restart_later{e.part.keys, e.ticket, e.restart_backoff->next()});
}

void reader_supervision::reader_gone(const partition_keys& keys) {
  for (auto it = revocations_.begin(); it != revocations_.end();) {
    it->waiting.erase(keys);
    if (it->waiting.empty()) {
      out_.push_back(acknowledge_revocation{it->ticket});
      it = revocations_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace parti
