#include "apps/lib/status_cache.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <limits>
#include <set>

#include "parti/runtime/clock.hpp"

namespace parti::node_app {

status_cache::status_cache(process_info info, int nodes)
    : info_(std::move(info)), nodes_(static_cast<std::size_t>(nodes)) {}

status_cache::entry& status_cache::at(int node) {
  return nodes_.at(static_cast<std::size_t>(node));
}

void status_cache::on_state(int node, const node_state_update& u) {
  std::lock_guard<std::mutex> guard(mutex_);
  auto& e = at(node);
  // Claiming (again) means no id is held: the update still names the id that was lost.
  e.worker = u.to == "ClaimingID" ? std::string() : u.worker;
  if (!e.worker.empty()) e.last_worker = e.worker;
  e.state = u.to;
  if (e.worker.empty()) {
    e.leader = false;
    e.epoch = 0;
  }
}

void status_cache::on_leadership(int node, const leadership_update& u) {
  std::lock_guard<std::mutex> guard(mutex_);
  auto& e = at(node);
  e.leader = u.leader;
  e.epoch = u.leader ? u.epoch : 0;
  e.leader_id = u.leader_id;
}

namespace {

std::int64_t boot_ns() {
  return boot_now().time_since_epoch().count();
}

constexpr std::size_t max_spans = 100'000;

}  // namespace

void status_cache::close_assignment(int node, entry& e, const std::string& key, std::int64_t at) {
  auto it = e.assigned_since.find(key);
  if (it == e.assigned_since.end()) return;
  closed_.push_back(span{node, e.worker, key, it->second, at});
  if (closed_.size() > max_spans) closed_.pop_front();
  e.assigned_since.erase(it);
}

void status_cache::on_assignment(int node, const assignment_update& u) {
  std::lock_guard<std::mutex> guard(mutex_);
  auto& e = at(node);
  const auto t = boot_ns();
  std::set<std::string> now_owned;
  for (const auto& p : u.owned)
    if (!p.keys.empty()) now_owned.insert(p.keys.front());
  std::vector<std::string> ended;
  for (const auto& [key, since] : e.assigned_since)
    if (now_owned.count(key) == 0) ended.push_back(key);
  for (const auto& key : ended) close_assignment(node, e, key, t);
  for (const auto& key : now_owned) e.assigned_since.emplace(key, t);
  // The node's own drop of everything when its id is lost is not an assignment it received.
  if (u.reason != "id_lost") e.assignment_applied = true;
  e.owned = u.owned;
  e.grants = u.grants;
  e.applied_epoch = u.epoch;
  e.applied_version = u.version;
}

void status_cache::on_lease(int node, const lease_update& u) {
  std::lock_guard<std::mutex> guard(mutex_);
  auto& e = at(node);
  e.lease = u.state;
  e.serving_until_ns = u.serving_until_ns;
  // The lease spans: extended while it holds, cut short when it ends early (a fence).
  const auto t = boot_ns();
  bool open = !e.serving.empty() && e.serving.back().second > t;
  if (u.serving_until_ns > t) {
    if (open)
      e.serving.back().second = u.serving_until_ns;
    else
      e.serving.emplace_back(t, u.serving_until_ns);
  } else if (open) {
    e.serving.back().second = t;
  }
  if (e.serving.size() > max_spans) e.serving.erase(e.serving.begin());
}

std::string status_cache::ownership_json() const {
  using nlohmann::json;
  std::lock_guard<std::mutex> guard(mutex_);
  const auto t = boot_ns();
  json intervals = json::array();
  auto served = [&](const span& a) {
    for (const auto& [from, until] : nodes_.at(static_cast<std::size_t>(a.node)).serving) {
      auto begin = std::max(a.from, from), end = std::min({a.to, until, t});
      if (begin < end)
        intervals.push_back({{"node", a.node},
                             {"worker", a.worker},
                             {"partition", a.partition},
                             {"from", begin},
                             {"to", end}});
    }
  };
  for (const auto& a : closed_) served(a);
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    for (const auto& [key, since] : nodes_[i].assigned_since)
      served(span{static_cast<int>(i), nodes_[i].worker, key, since, t});
  return json{{"clock", "CLOCK_BOOTTIME ns"}, {"now", t}, {"intervals", std::move(intervals)}}
      .dump();
}

std::string status_cache::worker(int node) const {
  std::lock_guard<std::mutex> guard(mutex_);
  return nodes_.at(static_cast<std::size_t>(node)).worker;
}

std::string status_cache::last_worker(int node) const {
  std::lock_guard<std::mutex> guard(mutex_);
  return nodes_.at(static_cast<std::size_t>(node)).last_worker;
}

std::string status_cache::json() const {
  using nlohmann::json;
  json out{{"group", info_.group},
           {"pid", ::getpid()},
           {"nats", info_.nats},
           {"embedded_nats", info_.embedded_nats},
           {"partitions", info_.partitions},
           {"nodes", json::array()}};
  std::lock_guard<std::mutex> guard(mutex_);
  const auto now_ns = boot_now().time_since_epoch().count();  // read under the lock
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const auto& e = nodes_[i];
    const bool serving = now_ns < e.serving_until_ns;
    json parts = json::array();
    json suspended = json::array();
    for (const auto& p : e.owned) {
      json part{{"keys", p.keys}, {"weight", p.weight}};
      for (const auto& g : e.grants)
        if (g.keys == p.keys) part["token"] = {{"epoch", g.epoch}, {"version", g.version}};
      (serving ? parts : suspended).push_back(std::move(part));
    }
    const auto remaining_ms =
        serving && e.serving_until_ns != std::numeric_limits<std::int64_t>::max()
            ? (e.serving_until_ns - now_ns) / 1'000'000
            : 0;
    const auto served = parts.size();
    out["nodes"].push_back({{"index", i},
                            {"worker", e.worker},
                            {"state", e.state},
                            {"leader", e.leader},
                            {"epoch", e.epoch},
                            {"leader_id", e.leader_id},
                            {"applied_epoch", e.applied_epoch},
                            {"applied_version", e.applied_version},
                            {"partition_count", served},
                            {"partitions", std::move(parts)},
                            {"suspended_partitions", std::move(suspended)},
                            {"lease", serving || e.lease != "valid" ? e.lease : "lapsed"},
                            {"lease_remaining_ms", remaining_ms}});
  }
  return out.dump();
}

status_cache::readiness status_cache::ready_locked(const entry& e, std::int64_t now_ns) const {
  readiness r{false, {}, e.worker, e.state};
  if (e.worker.empty())
    r.reason = "no_worker_id";
  else if (!e.assignment_applied)
    r.reason = "no_assignment";
  else if (e.state == "Failed")
    r.reason = "failed";
  else if (e.state == "Shutdown")
    r.reason = "stopping";
  else if (e.state == "Degraded")
    r.reason = "degraded";
  else if (now_ns >= e.serving_until_ns)
    r.reason = "suspended";
  else
    r.ready = true;
  return r;
}

status_cache::readiness status_cache::ready(int node) const {
  std::lock_guard<std::mutex> guard(mutex_);
  return ready_locked(nodes_.at(static_cast<std::size_t>(node)), boot_ns());
}

namespace {

nlohmann::json readiness_object(int index, const status_cache::readiness& r) {
  nlohmann::json out{
      {"index", index}, {"ready", r.ready}, {"worker", r.worker}, {"state", r.state}};
  if (!r.ready) out["reason"] = r.reason;
  return out;
}

}  // namespace

status_cache::readiness_page status_cache::readiness_report(int node) const {
  auto r = ready(node);
  return {r.ready, readiness_object(node, r).dump()};
}

status_cache::readiness_page status_cache::readiness_report() const {
  using nlohmann::json;
  std::lock_guard<std::mutex> guard(mutex_);
  const auto now_ns = boot_ns();
  json out{{"ready", true}, {"nodes", json::array()}};
  bool all_ready = true;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    auto r = ready_locked(nodes_[i], now_ns);
    if (!r.ready && all_ready) {
      all_ready = false;
      out["ready"] = false;
      out["reason"] = "node " + std::to_string(i) + ": " + r.reason;
    }
    out["nodes"].push_back(readiness_object(static_cast<int>(i), r));
  }
  return {all_ready, out.dump()};
}

}  // namespace parti::node_app
