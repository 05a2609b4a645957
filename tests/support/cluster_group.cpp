#include "tests/support/cluster_group.hpp"

#include <stdexcept>

namespace parti::test {

using namespace std::chrono_literals;

// -- cluster_fixture --------------------------------------------------------------------------

cluster_fixture::cluster_fixture() {
  auto c = connection::open(options());
  if (!c) throw std::runtime_error(c.error());
  conn = *c;
}

cluster_fixture::~cluster_fixture() {
  // Stop every actor before the connection and the servers go away (~actor_system waits for every
  // actor).
  sys.await_all_actors_done();
}

connection_options cluster_fixture::options() const {
  connection_options o;
  o.urls = cluster.url_list();
  o.reconnect_wait = 50ms;
  o.request_timeout = 1s;
  o.ping_interval = 500ms;
  return o;
}

std::optional<std::size_t> cluster_fixture::connected_member() const {
  if (!conn->connected()) return std::nullopt;
  return cluster.index_of(conn->connected_url());
}

// -- cluster_group ----------------------------------------------------------------------------

node_config cluster_group::short_ttl_config() {
  node_config c = fast_config("c");
  c.bucket_replicas = 3;
  return c;
}

node_config cluster_group::cluster_config() {
  node_config c = short_ttl_config();
  const node_config defaults;
  c.heartbeat_interval = defaults.heartbeat_interval;
  c.heartbeat_ttl = defaults.heartbeat_ttl;
  c.emergency_grace = defaults.emergency_grace;
  c.id_ttl = defaults.id_ttl;
  c.election_ttl = defaults.election_ttl;
  c.kv_operation_timeout = defaults.kv_operation_timeout;
  c.hand_off_timeout = 5s;
  c.degraded = defaults.degraded;
  return c;
}

cluster_group::cluster_group() {
  leader_settings s;
  auto n = count;
  s.partitions = callback_source(
      [n]() -> result<std::vector<partition>> { return count_source(n->load())->load(); });
  leader = make_leader_factory(s);
}

cluster_group::~cluster_group() {
  for (auto& n : nodes) caf::anon_send_exit(n, caf::exit_reason::kill);
  if (group) group->close();
}

caf::actor cluster_group::add_node() {
  node_options o;
  o.config = config;
  o.leader = leader;
  auto n = spawn_test_node(sys, conn, group, o);
  nodes.push_back(n);
  return n;
}

node_status cluster_group::status(const caf::actor& node) {
  return query_status(sys, node);
}

std::vector<node_status> cluster_group::statuses() {
  std::vector<node_status> out;
  for (auto& n : nodes) out.push_back(status(n));
  return out;
}

std::optional<node_status> cluster_group::sole_leader() {
  return sole_leader_of(statuses());
}

std::map<std::string, std::set<std::string>> cluster_group::owners() {
  return owners_of(statuses());
}

std::map<std::string, std::string> cluster_group::suspended_map() {
  std::map<std::string, std::string> out;
  for (const auto& s : statuses())
    for (const auto& p : s.suspended) out[p.keys.front()] = s.worker;
  return out;
}

bool cluster_group::fully_covered() {
  return covers_exactly_once(owners(), count->load());
}

std::map<std::string, std::string> cluster_group::owner_map() {
  return single_owners(owners());
}

std::map<std::string, std::uint64_t> cluster_group::heartbeat_revisions() {
  std::map<std::string, std::uint64_t> out;
  if (!group) return out;
  for (const auto& s : statuses()) {
    if (s.worker.empty() || s.state == "Gone") continue;
    auto e = group->heartbeats->get(s.worker);
    if (e) out[s.worker] = e->revision;
  }
  return out;
}

}  // namespace parti::test
