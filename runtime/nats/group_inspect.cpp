#include "parti/runtime/nats/group_inspect.hpp"

#include <algorithm>
#include <set>

#include "parti/messages/codec.hpp"
#include "parti/runtime/config.hpp"

namespace parti {

namespace {

/// The settings an existing bucket has, so that kv_store::ensure binds to it as it is.
kv_result<bucket_settings> existing_settings(connection& conn, const std::string& name) {
  kvStore* kv = nullptr;
  natsStatus s = js_KeyValue(&kv, conn.jetstream(), name.c_str());
  if (s == NATS_NOT_FOUND)
    return kv_error{kv_errc::not_found,
                    "bucket " + name + " does not exist (has no node run in this group yet?)"};
  if (s != NATS_OK) return kv_error_from(s, "bind bucket " + name);
  kvStatus* st = nullptr;
  s = kvStore_Status(&st, kv);
  kvStore_Destroy(kv);
  if (s != NATS_OK) return kv_error_from(s, "status of bucket " + name);
  bucket_settings settings;
  settings.name = name;
  settings.ttl = duration(kvStatus_TTL(st));
  settings.history = static_cast<int>(kvStatus_History(st));
  settings.replicas = static_cast<int>(kvStatus_Replicas(st));
  kvStatus_Destroy(st);
  return settings;
}

kv_result<std::shared_ptr<kv_store>> bind_existing(const std::shared_ptr<connection>& conn,
                                                   const std::string& name) {
  auto settings = existing_settings(*conn, name);
  if (!settings) return settings.failure_value();
  return kv_store::ensure(conn, *settings);
}

/// Notes a value that does not decode as "<bucket>/<key>: why".
void note_skipped(const kv_store& store, const std::string& key, const std::string& why,
                  std::vector<std::string>& skipped) {
  skipped.push_back(store.bucket() + "/" + key + ": " + why);
}

/// Decodes one value; an undecodable one is noted in `skipped` and yields nothing.
template <class Record>
std::optional<Record> decode_or_note(const kv_store& store, const kv_entry& entry,
                                     std::vector<std::string>& skipped) {
  std::vector<undecodable_value> bad;
  auto record = decode_noted<Record>(entry, bad);
  for (const auto& b : bad) note_skipped(store, b.key, b.error, skipped);
  return record;
}

kv_result<done> read_election(const group_stores& stores, group_state& out) {
  auto entry = stores.election->get(leader_key);
  if (!entry) {
    if (entry.failure_value().code == kv_errc::not_found) return done{};
    return entry.failure_value();
  }
  if (entry->op == kv_op::put)
    out.leader = decode_or_note<leader_lease>(*stores.election, *entry, out.skipped);
  return done{};
}

kv_result<done> read_assignments(const group_stores& stores, group_state& out) {
  auto entries = stores.assignments->get_all();
  if (!entries) return entries.failure_value();
  auto bucket = decode_assignments(*entries);
  for (const auto& bad : bucket.undecodable)
    note_skipped(*stores.assignments, bad.key, bad.error, out.skipped);
  out.manifest = std::move(bucket.manifest);
  out.control = std::move(bucket.control);
  for (auto& [id, record] : bucket.workers) {
    auto& w = out.workers[id];
    w.id = id;
    w.assignment = std::move(record);
  }
  if (out.manifest)
    for (const auto& id : out.manifest->workers) {
      auto& w = out.workers[id];
      w.id = id;
      w.in_manifest = true;
    }
  return done{};
}

kv_result<done> read_heartbeats(const group_stores& stores, group_state& out) {
  auto entries = stores.heartbeats->get_all();
  if (!entries) return entries.failure_value();
  for (const auto& e : *entries) {
    if (e.op != kv_op::put) continue;
    if (auto hb = decode_or_note<heartbeat_record>(*stores.heartbeats, e, out.skipped)) {
      auto& w = out.workers[e.key];
      w.id = e.key;
      w.heartbeat = std::move(*hb);
    }
  }
  return done{};
}

kv_result<done> read_claims(const group_stores& stores, group_state& out) {
  auto entries = stores.ids->get_all();
  if (!entries) return entries.failure_value();
  for (const auto& e : *entries) {
    if (e.op != kv_op::put) continue;
    if (auto claim = decode_or_note<id_claim>(*stores.ids, e, out.skipped)) {
      auto& w = out.workers[e.key];
      w.id = e.key;
      w.claim = std::move(*claim);
    }
  }
  return done{};
}

/// A partition's identity is its keys (strategy.hpp); sorted, so the order written is no matter.
std::vector<std::string> identity_of(const partition& p) {
  auto keys = p.keys;
  std::sort(keys.begin(), keys.end());
  return keys;
}

partition_counts count_partitions(const group_state& state) {
  partition_counts c;
  std::map<std::vector<std::string>, int> owners;
  for (const auto& [id, w] : state.workers) {
    if (!w.assignment) continue;
    for (const auto& p : w.assignment->partitions) {
      ++owners[identity_of(p)];
      if (!w.heartbeat) ++c.orphaned;
    }
  }
  c.assigned = owners.size();
  for (const auto& [keys, n] : owners)
    if (n > 1) ++c.doubly_assigned;
  if (state.manifest) c.expected = state.manifest->partition_count;
  c.unassigned = c.expected > c.assigned ? c.expected - c.assigned : 0;
  return c;
}

}  // namespace

kv_result<group_stores> group_stores::open(const std::shared_ptr<connection>& conn,
                                           const std::string& group) {
  if (!is_valid_bucket_name(bucket_name(group, bucket_role::assignments)))
    return kv_error{kv_errc::invalid_argument,
                    "group: \"" + group + "\" is not valid in a bucket name ([-_a-zA-Z0-9]+)"};
  group_stores out;
  out.group = group;
  std::pair<std::string_view, std::shared_ptr<kv_store>*> roles[] = {
      {bucket_role::ids, &out.ids},
      {bucket_role::election, &out.election},
      {bucket_role::heartbeats, &out.heartbeats},
      {bucket_role::assignments, &out.assignments}};
  for (auto& [role, store] : roles) {
    auto bound = bind_existing(conn, bucket_name(group, role));
    if (!bound) return bound.failure_value();
    *store = std::move(*bound);
  }
  return out;
}

kv_result<group_state> read_group(const group_stores& stores) {
  group_state out;
  out.group = stores.group;
  out.read_at = unix_millis();
  for (auto step : {read_election, read_assignments, read_heartbeats, read_claims})
    if (auto ok = step(stores, out); !ok) return ok.failure_value();
  return out;
}

std::size_t partitions_of(const worker_view& worker) {
  return worker.assignment ? worker.assignment->partitions.size() : 0;
}

group_health assess(const group_state& state) {
  group_health h;
  h.partitions = count_partitions(state);
  const auto& c = h.partitions;
  if (!state.leader) h.problems.push_back("no leader");
  if (!state.manifest) h.problems.push_back("no assignment published yet (no _manifest)");
  if (c.unassigned > 0)
    h.problems.push_back(std::to_string(c.unassigned) + " of " + std::to_string(c.expected) +
                         " partitions unassigned");
  if (c.doubly_assigned > 0)
    h.problems.push_back(std::to_string(c.doubly_assigned) + " partitions have two owners");
  if (c.orphaned > 0)
    h.warnings.push_back(std::to_string(c.orphaned) +
                         " partitions are assigned to workers without a heartbeat");
  if (state.control && state.control->frozen)
    h.warnings.push_back("frozen: the leader publishes nothing");
  for (const auto& s : state.skipped) h.warnings.push_back("undecodable " + s);
  h.healthy = h.problems.empty();
  return h;
}

std::vector<key_owner> owners_of_key(const group_state& state, const std::string& key) {
  std::vector<key_owner> out;
  for (const auto& [id, w] : state.workers) {
    if (!w.assignment) continue;
    for (const auto& p : w.assignment->partitions) {
      if (std::find(p.keys.begin(), p.keys.end(), key) == p.keys.end()) continue;
      key_owner owner{id, p, *w.assignment};
      owner.record.partitions.clear();
      out.push_back(std::move(owner));
    }
  }
  return out;
}

kv_result<control_update> update_control(kv_store& assignments,
                                         const std::function<void(control_record&)>& change,
                                         int max_attempts) {
  kv_error last{kv_errc::wrong_revision, "update _control: no attempt made"};
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    control_record record;
    std::uint64_t read_revision = 0;  // 0: there is no _control yet (or it was deleted)
    auto current = assignments.get(control_key);
    if (current && current->op == kv_op::put) {
      auto decoded = decode<control_record>(current->value);
      if (!decoded)
        return kv_error{kv_errc::invalid_argument,
                        "_control does not decode (" + decoded.error() +
                            "); not overwriting it: fix or delete the key first"};
      record = std::move(*decoded);
      read_revision = current->revision;
    } else if (current) {
      read_revision = current->revision;  // a delete marker: update over it by revision
    } else if (current.failure_value().code != kv_errc::not_found) {
      return current.failure_value();
    }
    change(record);
    record.updated_at = unix_millis();
    auto written = read_revision == 0
                       ? assignments.create(control_key, encode(record))
                       : assignments.update(control_key, encode(record), read_revision);
    if (written) return control_update{std::move(record), *written, attempt};
    auto code = written.failure_value().code;
    if (code != kv_errc::key_exists && code != kv_errc::wrong_revision)
      return written.failure_value();
    last = written.failure_value();  // someone wrote in between: read again, apply again
  }
  last.message = "update _control: still conflicting after " + std::to_string(max_attempts) +
                 " attempts: " + last.message;
  return last;
}

}  // namespace parti
