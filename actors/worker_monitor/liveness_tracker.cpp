#include "parti/actors/worker_monitor/liveness_tracker.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace parti {

status liveness_options::validate() const {
  if (heartbeat_ttl <= duration::zero()) return failure{"liveness: heartbeat_ttl must be positive"};
  if (restart_grace < duration::zero())
    return failure{"liveness: restart_grace must not be negative"};
  if (recovery_grace < duration::zero())
    return failure{"liveness: recovery_grace must not be negative"};
  if (rebuild_grace < duration::zero())
    return failure{"liveness: rebuild_grace must not be negative"};
  if (!(mass_expiry_share > 0.0 && mass_expiry_share <= 1.0))
    return failure{"liveness: mass_expiry_share must be in (0, 1] (1 disables the guard)"};
  if (mass_expiry_min_workers < 1)
    return failure{"liveness: mass_expiry_min_workers must be at least 1"};
  if (mass_expiry_hold < duration::zero())
    return failure{"liveness: mass_expiry_hold must not be negative"};
  // At or above heartbeat_ttl the silence guard protects nobody, but it does no harm either.
  if (silence_threshold < duration::zero())
    return failure{"liveness: silence_threshold must not be negative (0 disables the guard)"};
  return done{};
}

namespace {

liveness_event event(liveness_change change, const std::string& worker) {
  return liveness_event{change, worker, {}};
}

void append(std::vector<liveness_event>& to, std::vector<liveness_event> more) {
  for (auto& e : more) to.push_back(std::move(e));
}

}  // namespace

liveness_tracker::liveness_tracker(liveness_options options) : options_(std::move(options)) {}

// -- rebuild --------------------------------------------------------------------------------

std::vector<liveness_event> liveness_tracker::rebuild(
    const std::vector<observed_heartbeat>& initial,
    const std::vector<std::string>& assigned_workers, time_point now) {
  workers_.clear();
  held_.clear();
  outage_ = false;
  silence_since_.reset();
  last_heard_ = now;
  std::vector<liveness_event> events;
  for (const auto& seen : initial) {
    // Heard now, whatever its sent_at says: that is the worker's wall clock, and comparing it
    // with ours would let the skew between the two hosts decide who is alive (see the header).
    entry e;
    e.last_seen = now;
    e.last = seen.record;
    e.has_record = true;
    if (seen.record.leaving) {
      e.state = worker_liveness::leaving;
      events.push_back(event(liveness_change::left, seen.worker));
    } else if (seen.record.restarting) {
      e.state = worker_liveness::restarting;
      e.restart_deadline = now + options_.restart_grace;
      events.push_back(event(liveness_change::restarting, seen.worker));
    }
    workers_[seen.worker] = e;
  }
  // An owner with no heartbeat key is counted as heard now too: its key may have expired while
  // the store was down (a restarted server drops every message older than the bucket's max
  // age), and its client may reconnect a moment after ours. It gets a full TTL to heartbeat.
  for (const auto& worker : assigned_workers) {
    if (workers_.count(worker) != 0) continue;
    entry e;
    e.last_seen = now;
    workers_[worker] = e;
  }
  start_grace(now, options_.rebuild_grace);
  return events;
}

// -- watch events ---------------------------------------------------------------------------

std::vector<liveness_event> liveness_tracker::heartbeat_put(const std::string& worker,
                                                            const heartbeat_record& record,
                                                            time_point now) {
  std::vector<liveness_event> events;
  hear(now, events);  // whoever it is from: the store takes writes and the watch delivers
  auto it = workers_.find(worker);
  if (it == workers_.end()) {
    // Not tracked: a leaving or restarting announcement has nothing of ours to hand back (owners
    // are tracked from rebuild), so it reports nothing. A leaving worker is still tracked: it
    // was forgotten or expired while it drained, yet it may still hold partitions it has not
    // reported revoked, and the publisher must know it hears it (heard_workers()).
    if (record.restarting) return events;
    entry e;
    e.state = record.leaving ? worker_liveness::leaving : worker_liveness::alive;
    e.last_seen = now;
    e.last = record;
    e.has_record = true;
    workers_[worker] = e;
    if (!record.leaving) events.push_back(event(liveness_change::joined, worker));
    return events;
  }
  entry& e = it->second;
  switch (e.state) {
    case worker_liveness::alive:
      append(events, on_heartbeat_from_alive(e, worker, record, now));
      break;
    case worker_liveness::leaving:
      // Still draining, or (without the flag) a new start under the same id.
      if (!record.leaving && !record.restarting) {
        e.state = worker_liveness::alive;
        events.push_back(event(liveness_change::joined, worker));
      }
      break;
    case worker_liveness::restarting:
      if (record.leaving) {
        e.state = worker_liveness::leaving;
        events.push_back(event(liveness_change::left, worker));
      } else if (!record.restarting) {
        e.state = worker_liveness::alive;
        events.push_back(event(liveness_change::restarted, worker));
      }
      // A repeated `restarting` heartbeat does not extend the grace: it runs from the first.
      break;
    case worker_liveness::unknown:
      break;
  }
  e.last_seen = now;
  e.last = record;
  e.has_record = true;
  return events;
}

std::vector<liveness_event> liveness_tracker::on_heartbeat_from_alive(
    entry& e, const std::string& worker, const heartbeat_record& record, time_point now) {
  std::vector<liveness_event> events;
  release_from_hold(worker, events);
  if (record.leaving) {
    e.state = worker_liveness::leaving;
    events.push_back(event(liveness_change::left, worker));
  } else if (record.restarting) {
    e.state = worker_liveness::restarting;
    e.restart_deadline = now + options_.restart_grace;
    events.push_back(event(liveness_change::restarting, worker));
  } else if (e.has_record && !e.last.instance.empty() && e.last.instance != record.instance) {
    // Crashed and came back within the TTL: still the same id, with a fresh process.
    events.push_back(event(liveness_change::restarted, worker));
  }
  return events;
}

std::vector<liveness_event> liveness_tracker::heartbeat_deleted(const std::string& worker,
                                                                time_point /*now*/) {
  auto it = workers_.find(worker);
  if (it == workers_.end()) return {};
  std::vector<liveness_event> events;
  switch (it->second.state) {
    case worker_liveness::alive:
      workers_.erase(it);
      release_from_hold(worker, events);
      events.push_back(event(liveness_change::left, worker));
      break;
    case worker_liveness::leaving:
      workers_.erase(it);  // its leave was reported already
      break;
    case worker_liveness::restarting:
    case worker_liveness::unknown:
      break;  // the restart intent stands until it returns or its grace ends
  }
  return events;
}

// -- time -----------------------------------------------------------------------------------

std::vector<liveness_event> liveness_tracker::expire(time_point now) {
  std::vector<liveness_event> events;
  if (outage_) return events;  // heartbeats we cannot see prove nothing
  // In a silence, act only on what was due before it began: those deadlines passed while
  // others were still heard, so the worker, not the store, went quiet.
  auto silence = silence_start();
  bool silent = silence && now >= *silence;
  auto due = silent ? *silence - duration(1) : now;
  forget_silent_leavers(due);
  append(events, expire_restarts(due));
  append(events, expire_alive(due, now));
  if (silent && !silence_since_ && any_alive()) {
    silence_since_ = *silence;
    events.push_back(silence_event(*silence));
  }
  return events;
}

void liveness_tracker::forget_silent_leavers(time_point due) {
  // Held like an expiry: a leaver dropped from heard_workers() is one the publisher no longer
  // waits for (it fences it instead), so a leader that could not hear must not drop it either.
  for (auto it = workers_.begin(); it != workers_.end();) {
    bool gone = it->second.state == worker_liveness::leaving &&
                not_before(heard_deadline(it->second)) <= due;
    it = gone ? workers_.erase(it) : std::next(it);
  }
}

std::vector<liveness_event> liveness_tracker::expire_restarts(time_point now) {
  std::vector<liveness_event> events;
  for (auto it = workers_.begin(); it != workers_.end();) {
    bool ended = it->second.state == worker_liveness::restarting &&
                 not_before(it->second.restart_deadline) <= now;
    if (ended) events.push_back(event(liveness_change::restart_expired, it->first));
    it = ended ? workers_.erase(it) : std::next(it);
  }
  return events;
}

std::vector<liveness_event> liveness_tracker::expire_alive(time_point due, time_point now) {
  std::vector<std::string> overdue;
  std::size_t newly_overdue = 0;
  for (const auto& [worker, e] : workers_) {
    if (e.state != worker_liveness::alive || not_before(heard_deadline(e)) > due) continue;
    overdue.push_back(worker);
    if (held_.count(worker) == 0) ++newly_overdue;
  }
  std::vector<liveness_event> events;
  if (overdue.empty()) return events;
  if (newly_overdue > 0 && looks_like_mass_disappearance(newly_overdue)) {
    // Hold every overdue worker (again) and look once more after the hold.
    held_.insert(overdue.begin(), overdue.end());
    expiry_floor_ = now + options_.mass_expiry_hold;
    events.push_back(liveness_event{liveness_change::store_suspected,
                                    {},
                                    std::vector<std::string>(held_.begin(), held_.end())});
    return events;
  }
  for (const auto& worker : overdue) {
    auto expired = event(liveness_change::expired, worker);
    expired.since = std::min(now, heard_deadline(workers_.at(worker)));
    workers_.erase(worker);
    events.push_back(std::move(expired));
    release_from_hold(worker, events);
  }
  return events;
}

bool liveness_tracker::looks_like_mass_disappearance(std::size_t newly_overdue) const {
  auto alive = static_cast<double>(alive_count());
  return newly_overdue >= options_.mass_expiry_min_workers &&
         static_cast<double>(newly_overdue) > options_.mass_expiry_share * alive;
}

// -- store outages --------------------------------------------------------------------------

void liveness_tracker::store_outage_began(time_point /*now*/) {
  outage_ = true;
}

void liveness_tracker::store_outage_ended(time_point now) {
  outage_ = false;
  start_grace(now, options_.recovery_grace);
  // Nothing could be heard while the store was unreachable: that quiet was the outage, not a
  // silence. A silence reported before the outage still waits for a heartbeat.
  if (!silence_since_) last_heard_ = now;
}

// -- heartbeat silence ----------------------------------------------------------------------

std::optional<time_point> liveness_tracker::silence_start() const {
  // With nobody alive nobody is expected to heartbeat: quiet proves nothing, and holding a
  // restarting worker's grace on it could keep that worker forever.
  if (!any_alive()) return std::nullopt;
  if (silence_since_) return silence_since_;
  if (options_.silence_threshold <= duration::zero() || !last_heard_) return std::nullopt;
  return *last_heard_ + options_.silence_threshold;
}

void liveness_tracker::hear(time_point now, std::vector<liveness_event>& events) {
  auto start = silence_start();
  bool ended = silence_since_ || (start && now >= *start);
  last_heard_ = last_heard_ ? std::max(*last_heard_, now) : now;
  if (!ended) return;
  // A silence the timer had not reported yet (this heartbeat came first) is still reported,
  // so the log shows why the grace starts.
  if (!silence_since_) events.push_back(silence_event(*start));
  silence_since_.reset();
  // Workers whose writes failed during the silence need time to write again.
  start_grace(now, options_.recovery_grace);
  events.push_back(event(liveness_change::heartbeats_resumed, {}));
}

liveness_event liveness_tracker::silence_event(time_point start) const {
  liveness_event out{liveness_change::heartbeats_silent, {}, {}, start};
  for (const auto& [worker, e] : workers_)
    if (e.state == worker_liveness::alive) out.workers.push_back(worker);
  return out;
}

void liveness_tracker::start_grace(time_point now, duration grace) {
  auto floor = now + grace;
  expiry_floor_ = expiry_floor_ ? std::max(*expiry_floor_, floor) : floor;
}

// -- queries --------------------------------------------------------------------------------

std::optional<time_point> liveness_tracker::next_deadline() const {
  std::optional<time_point> next;
  auto consider = [&next](time_point t) { next = next ? std::min(*next, t) : t; };
  auto silence = outage_ ? std::nullopt : silence_start();
  // Wake up when the silence would begin, to report it and hold what falls after. Once it is
  // reported, what it holds waits for a heartbeat, which re-arms: a deadline of the past would
  // only wake the actor in a loop.
  bool reported = silence && silence_since_;
  if (silence && !reported) consider(*silence);
  auto consider_expiry = [&](time_point t) {
    if (!outage_ && !(reported && t >= *silence)) consider(t);
  };
  for (const auto& [worker, e] : workers_) {
    switch (e.state) {
      case worker_liveness::leaving:
      case worker_liveness::alive:
        consider_expiry(not_before(heard_deadline(e)));
        break;
      case worker_liveness::restarting:
        consider_expiry(not_before(e.restart_deadline));
        break;
      case worker_liveness::unknown:
        break;
    }
  }
  return next;
}

std::vector<std::string> liveness_tracker::live_workers() const {
  std::vector<std::string> out;
  for (const auto& [worker, e] : workers_)
    if (e.state == worker_liveness::alive || e.state == worker_liveness::restarting)
      out.push_back(worker);
  return out;
}

std::vector<std::string> liveness_tracker::heard_workers() const {
  std::vector<std::string> out;
  for (const auto& [worker, e] : workers_)
    if (e.has_record && e.state != worker_liveness::unknown) out.push_back(worker);
  return out;
}

worker_liveness liveness_tracker::state_of(const std::string& worker) const {
  auto it = workers_.find(worker);
  return it == workers_.end() ? worker_liveness::unknown : it->second.state;
}

const heartbeat_record* liveness_tracker::last_heartbeat(const std::string& worker) const {
  auto it = workers_.find(worker);
  return it == workers_.end() || !it->second.has_record ? nullptr : &it->second.last;
}

// -- helpers --------------------------------------------------------------------------------

std::size_t liveness_tracker::alive_count() const {
  return static_cast<std::size_t>(std::count_if(workers_.begin(), workers_.end(), [](auto& kv) {
    return kv.second.state == worker_liveness::alive;
  }));
}

bool liveness_tracker::any_alive() const {
  return std::any_of(workers_.begin(), workers_.end(),
                     [](auto& kv) { return kv.second.state == worker_liveness::alive; });
}

// An alive worker expires, a leaving one is forgotten, once this (and any guard) has passed.
time_point liveness_tracker::heard_deadline(const entry& e) const {
  return e.last_seen + options_.heartbeat_ttl;
}

time_point liveness_tracker::not_before(time_point deadline) const {
  return expiry_floor_ ? std::max(deadline, *expiry_floor_) : deadline;
}

void liveness_tracker::release_from_hold(const std::string& worker,
                                         std::vector<liveness_event>& events) {
  if (held_.erase(worker) != 0 && held_.empty())
    events.push_back(event(liveness_change::store_trusted, {}));
}

}  // namespace parti
