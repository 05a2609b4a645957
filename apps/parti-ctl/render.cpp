#include "apps/parti-ctl/render.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace parti::ctl {

namespace {

using nlohmann::json;

/// Left-aligned columns as wide as their widest cell, two spaces apart.
class table {
 public:
  explicit table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  std::string text() const {
    std::vector<std::size_t> width;
    for (const auto& row : rows_)
      for (std::size_t i = 0; i < row.size(); ++i) {
        if (width.size() <= i) width.push_back(0);
        width[i] = std::max(width[i], row[i].size());
      }
    std::ostringstream out;
    for (const auto& row : rows_) {
      std::string line;
      for (std::size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out << line << "\n";
    }
    return out.str();
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
  return out;
}

std::string keys_text(const partition& p) {
  auto text = join(p.keys, ",");
  return p.weight == 1 ? text : text + "(" + std::to_string(p.weight) + ")";
}

std::string stamp(std::uint64_t epoch, std::uint64_t version) {
  return "e" + std::to_string(epoch) + " v" + std::to_string(version);
}

json age_ms(std::uint64_t now, std::uint64_t then) {
  if (then == 0) return nullptr;
  return now > then ? now - then : 0;  // clocks of two hosts may disagree a little
}

json partition_json(const partition& p) {
  return {{"keys", p.keys}, {"weight", p.weight}};
}

std::string worker_note(const group_state& state, const worker_view& w) {
  std::vector<std::string> notes;
  if (state.leader && state.leader->worker == w.id) notes.push_back("leader");
  if (!w.heartbeat) notes.push_back("no heartbeat");
  if (w.heartbeat && w.heartbeat->leaving) notes.push_back("leaving");
  if (w.heartbeat && w.heartbeat->restarting) notes.push_back("restarting");
  if (state.manifest && !w.in_manifest && w.assignment) notes.push_back("not in manifest");
  if (state.manifest && w.in_manifest && !w.assignment) notes.push_back("no assignment key");
  if (state.control) {
    const auto& d = state.control->drain;
    if (std::find(d.begin(), d.end(), w.id) != d.end()) notes.push_back("draining");
  }
  return join(notes, ", ");
}

std::string leader_line(const group_state& state) {
  if (!state.leader) return "leader: none";
  const auto& l = *state.leader;
  return "leader: " + l.worker + " (epoch " + std::to_string(l.epoch) + ", renewed " +
         age_text(state.read_at, l.renewed_at) + " ago)";
}

std::string manifest_line(const group_state& state) {
  if (!state.manifest) return "assignment: none published yet";
  const auto& m = *state.manifest;
  return "assignment: " + stamp(m.epoch, m.version) + " (" + m.reason + ", " +
         age_text(state.read_at, m.issued_at) + " ago), " + std::to_string(m.workers.size()) +
         " workers, " + std::to_string(m.partition_count) + " partitions";
}

std::string counts_line(const partition_counts& c) {
  return "partitions: " + std::to_string(c.expected) + " expected, " + std::to_string(c.assigned) +
         " assigned, " + std::to_string(c.unassigned) + " unassigned, " +
         std::to_string(c.doubly_assigned) + " doubly assigned";
}

}  // namespace

std::string age_text(std::uint64_t now_ms, std::uint64_t then_ms) {
  if (then_ms == 0) return "-";
  auto ms = now_ms > then_ms ? now_ms - then_ms : 0;
  char buffer[32];
  if (ms < 10'000)
    std::snprintf(buffer, sizeof buffer, "%.1fs", static_cast<double>(ms) / 1000.0);
  else if (ms < 120'000)
    std::snprintf(buffer, sizeof buffer, "%llus", static_cast<unsigned long long>(ms / 1000));
  else
    std::snprintf(buffer, sizeof buffer, "%llum%llus", static_cast<unsigned long long>(ms / 60'000),
                  static_cast<unsigned long long>(ms / 1000 % 60));
  return buffer;
}

std::string status_table(const group_state& state, const group_health& health) {
  std::ostringstream out;
  out << "group: " << state.group << "\n" << leader_line(state) << "\n";
  out << manifest_line(state) << "\n";
  if (state.control) out << "control: " << control_text(*state.control) << "\n";
  out << "\n";
  table t({"WORKER", "STATE", "HEARTBEAT", "APPLIED", "ASSIGNED", "PARTITIONS", "NOTE"});
  for (const auto& [id, w] : state.workers) {
    const auto* hb = w.heartbeat ? &*w.heartbeat : nullptr;
    t.add({id, hb ? hb->state : "-", hb ? age_text(state.read_at, hb->sent_at) : "-",
           hb ? stamp(hb->applied_epoch, hb->applied_version) : "-",
           w.assignment ? stamp(w.assignment->epoch, w.assignment->version) : "-",
           std::to_string(partitions_of(w)), worker_note(state, w)});
  }
  out << t.text() << "\n" << counts_line(health.partitions) << "\n";
  for (const auto& w : health.warnings) out << "warning: " << w << "\n";
  if (health.healthy)
    out << "health: ok\n";
  else
    out << "health: UNHEALTHY: " << join(health.problems, "; ") << "\n";
  return out.str();
}

json status_json(const group_state& state, const group_health& health) {
  json j;
  j["group"] = state.group;
  j["read_at"] = state.read_at;
  j["healthy"] = health.healthy;
  j["problems"] = health.problems;
  j["warnings"] = health.warnings;
  j["leader"] = nullptr;
  if (state.leader)
    j["leader"] = {{"worker", state.leader->worker},
                   {"instance", state.leader->instance},
                   {"epoch", state.leader->epoch},
                   {"renewed_age_ms", age_ms(state.read_at, state.leader->renewed_at)}};
  j["manifest"] = nullptr;
  if (state.manifest)
    j["manifest"] = {{"epoch", state.manifest->epoch},
                     {"version", state.manifest->version},
                     {"reason", state.manifest->reason},
                     {"workers", state.manifest->workers},
                     {"partition_count", state.manifest->partition_count},
                     {"issued_age_ms", age_ms(state.read_at, state.manifest->issued_at)}};
  j["control"] = state.control ? control_json(*state.control) : json(nullptr);
  const auto& c = health.partitions;
  j["partitions"] = {{"expected", c.expected},
                     {"assigned", c.assigned},
                     {"unassigned", c.unassigned},
                     {"doubly_assigned", c.doubly_assigned},
                     {"orphaned", c.orphaned}};
  j["workers"] = json::array();
  for (const auto& [id, w] : state.workers) {
    json wj{{"id", id}, {"partitions", partitions_of(w)}, {"in_manifest", w.in_manifest}};
    wj["leader"] = state.leader && state.leader->worker == id;
    wj["claimed"] = w.claim.has_value();
    wj["heartbeat"] = nullptr;
    if (w.heartbeat) {
      const auto& hb = *w.heartbeat;
      wj["heartbeat"] = {{"state", hb.state},
                         {"age_ms", age_ms(state.read_at, hb.sent_at)},
                         {"seq", hb.seq},
                         {"applied_epoch", hb.applied_epoch},
                         {"applied_version", hb.applied_version},
                         {"leaving", hb.leaving},
                         {"restarting", hb.restarting}};
    }
    wj["assignment"] = nullptr;
    if (w.assignment)
      wj["assignment"] = {{"epoch", w.assignment->epoch},
                          {"version", w.assignment->version},
                          {"reason", w.assignment->reason}};
    j["workers"].push_back(std::move(wj));
  }
  return j;
}

std::string assignments_table(const group_state& state) {
  std::ostringstream out;
  out << manifest_line(state) << "\n";
  table t({"WORKER", "ASSIGNED", "COUNT", "PARTITIONS"});
  for (const auto& [id, w] : state.workers) {
    if (!w.assignment) continue;
    std::vector<std::string> keys;
    for (const auto& p : w.assignment->partitions) keys.push_back(keys_text(p));
    t.add({id, stamp(w.assignment->epoch, w.assignment->version), std::to_string(keys.size()),
           join(keys, " ")});
  }
  out << t.text();
  return out.str();
}

json assignments_json(const group_state& state) {
  json j;
  j["group"] = state.group;
  j["version"] = state.manifest ? json(state.manifest->version) : json(nullptr);
  j["epoch"] = state.manifest ? json(state.manifest->epoch) : json(nullptr);
  j["workers"] = json::object();
  for (const auto& [id, w] : state.workers) {
    if (!w.assignment) continue;
    json parts = json::array();
    for (const auto& p : w.assignment->partitions) parts.push_back(partition_json(p));
    j["workers"][id] = {{"epoch", w.assignment->epoch},
                        {"version", w.assignment->version},
                        {"reason", w.assignment->reason},
                        {"partitions", std::move(parts)}};
  }
  return j;
}

std::string explain_text(const group_state& state, const std::string& key,
                         const std::vector<key_owner>& owners) {
  std::ostringstream out;
  if (owners.empty()) {
    out << "no worker owns a partition with key \"" << key << "\"";
    if (state.manifest)
      out << " (assignment " << stamp(state.manifest->epoch, state.manifest->version) << ")";
    out << "\n";
    return out.str();
  }
  for (const auto& o : owners) {
    out << "key \"" << key << "\" is in partition " << keys_text(o.owned) << ", owned by "
        << o.worker << "\n  because assignment " << stamp(o.record.epoch, o.record.version)
        << " (reason: " << (o.record.reason.empty() ? "-" : o.record.reason) << ", issued "
        << age_text(state.read_at, o.record.issued_at) << " ago) says so";
    if (state.leader && state.leader->epoch == o.record.epoch)
      out << ", written by the current leader " << state.leader->worker;
    out << "\n";
    auto w = state.workers.find(o.worker);
    if (w != state.workers.end() && w->second.heartbeat) {
      const auto& hb = *w->second.heartbeat;
      bool applied = hb.applied_epoch == o.record.epoch && hb.applied_version == o.record.version;
      out << "  " << o.worker << " is " << hb.state << ", "
          << (applied ? "has applied it"
                      : "has not applied it yet (applied " +
                            stamp(hb.applied_epoch, hb.applied_version) + ")")
          << "\n";
    } else {
      out << "  " << o.worker << " has no heartbeat: nobody processes this partition now\n";
    }
  }
  if (owners.size() > 1) out << "warning: " << owners.size() << " owners\n";
  return out.str();
}

json explain_json(const group_state& state, const std::string& key,
                  const std::vector<key_owner>& owners) {
  json j{{"key", key}, {"owners", json::array()}};
  for (const auto& o : owners) {
    json oj{
        {"worker", o.worker},        {"partition", partition_json(o.owned)},
        {"epoch", o.record.epoch},   {"version", o.record.version},
        {"reason", o.record.reason}, {"issued_age_ms", age_ms(state.read_at, o.record.issued_at)}};
    auto w = state.workers.find(o.worker);
    oj["alive"] = w != state.workers.end() && w->second.heartbeat.has_value();
    j["owners"].push_back(std::move(oj));
  }
  return j;
}

json control_json(const control_record& c) {
  return {{"frozen", c.frozen},
          {"rebalance_seq", c.rebalance_seq},
          {"refresh_seq", c.refresh_seq},
          {"drain", c.drain},
          {"updated_at", c.updated_at}};
}

std::string control_text(const control_record& c) {
  return std::string("frozen=") + (c.frozen ? "yes" : "no") +
         " rebalance_seq=" + std::to_string(c.rebalance_seq) +
         " refresh_seq=" + std::to_string(c.refresh_seq) + " drain=[" + join(c.drain, ",") + "]";
}

}  // namespace parti::ctl
