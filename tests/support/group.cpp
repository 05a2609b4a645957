#include "tests/support/group.hpp"

#include <stdexcept>

namespace parti::test {

using namespace std::chrono_literals;

node_config fast_config(const std::string& group) {
  node_config c;
  c.group = group;
  c.heartbeat_interval = 200ms;
  c.heartbeat_ttl = 600ms;
  c.emergency_grace = 200ms;
  c.id_ttl = 1500ms;
  c.election_ttl = 1200ms;
  c.kv_operation_timeout = 300ms;  // 200 + 300 + 50 < 600: see node_config::lease_margin
  c.lease_margin = 50ms;
  c.cold_start_window = 2s;
  c.planned_scale_window = 1s;
  c.cooldown = 1s;
  c.restart_grace = 3s;
  c.drain_timeout = 5s;
  c.hand_off_timeout = 2s;
  c.degraded.recovery_grace = 600ms;
  c.degraded.threshold = 1s;
  return c;
}

// The nodes' connection as parti-node and embedded_node make it: request_timeout is the KV
// operation timeout, so a blocking KV call holds its shard no longer than its caller waits.
// With the fixture's 1 s, a call stuck across a server restart held the shard past the fast
// heartbeat TTL (600 ms), and the heartbeats queued behind it lapsed their nodes' leases.
node_group::node_group() : nats_fixture(fast_config().kv_operation_timeout) {}

node_group::~node_group() {
  for (auto& n : nodes) caf::anon_send_exit(n, caf::exit_reason::kill);
  if (group) group->close();
}

caf::actor spawn_test_node(caf::actor_system& sys, const std::shared_ptr<connection>& conn,
                           std::shared_ptr<group_buckets>& group, node_options options) {
  if (!group) {
    auto g = open_group(sys, conn, options.config);
    if (!g) throw std::runtime_error(g.error());
    group = *g;
  }
  options.group = group;
  auto n = spawn_node(sys, options);
  if (!n) throw std::runtime_error(n.error());
  return *n;
}

node_status query_status(caf::actor_system& sys, const caf::actor& node) {
  node_status out;
  caf::scoped_actor self{sys};
  self->request(node, 5s, caf::get_atom::value)
      .receive([&](const node_status& s) { out = s; },
               [&](const caf::error&) { out.state = "Gone"; });
  return out;
}

std::optional<node_status> sole_leader_of(const std::vector<node_status>& statuses) {
  std::optional<node_status> found;
  int count = 0;
  for (const auto& s : statuses)
    if (s.state != "Gone" && s.leader) {
      ++count;
      found = s;
    }
  if (count != 1) return std::nullopt;
  return found;
}

ownership owners_of(const std::vector<node_status>& statuses) {
  ownership out;
  for (const auto& s : statuses)
    if (s.state != "Gone")
      for (const auto& p : s.owned) out[p.keys.at(0)].insert(s.worker);
  return out;
}

bool covers_exactly_once(const ownership& o, std::size_t count) {
  if (o.size() != count) return false;
  for (const auto& [key, set] : o)
    if (set.size() != 1) return false;
  return true;
}

std::map<std::string, std::string> single_owners(const ownership& o) {
  std::map<std::string, std::string> out;
  for (const auto& [key, set] : o)
    if (set.size() == 1) out[key] = *set.begin();
  return out;
}

caf::actor node_group::add_node(std::optional<std::uint32_t> preferred, caf::actor subscriber) {
  node_options o;
  o.config = config;
  o.config.preferred_id = preferred;
  o.subscriber = subscriber;
  o.leader = leaders;
  auto n = spawn_test_node(sys, conn, group, o);
  nodes.push_back(n);
  return n;
}

node_status node_group::status(const caf::actor& node) {
  return query_status(sys, node);
}

std::vector<node_status> node_group::statuses() {
  std::vector<node_status> out;
  for (auto& n : nodes) out.push_back(status(n));
  return out;
}

void node_group::crash(const caf::actor& node) {
  caf::anon_send_exit(node, caf::exit_reason::kill);
  caf::scoped_actor self{sys};
  self->wait_for(node);
}

void node_group::stop(const caf::actor& node, shutdown_intent intent) {
  caf::scoped_actor self{sys};
  self->request(node, 30s, caf::leave_atom::value, intent)
      .receive([](caf::ok_atom) {}, [](const caf::error&) {});
  self->wait_for(node);
}

std::optional<node_status> node_group::sole_leader() {
  return sole_leader_of(statuses());
}

}  // namespace parti::test
