#include "runtime/nats/group_buckets.hpp"

#include "runtime/nats/watch_hub.hpp"

#include <caf/all.hpp>

namespace parti {

bucket_settings bucket_for(const node_config& cfg, std::string_view role) {
  bucket_settings s;
  s.name = bucket_name(cfg.group, role);
  s.replicas = cfg.bucket_replicas;
  s.history = 1;
  if (role == bucket_role::ids) s.ttl = cfg.id_ttl;
  if (role == bucket_role::election) s.ttl = cfg.election_ttl;
  if (role == bucket_role::heartbeats) s.ttl = cfg.heartbeat_ttl;
  return s;  // assignments: no TTL
}

void group_buckets::close() {
  for (auto* kv : {&ids_kv, &election_kv, &heartbeats_kv, &assignments_kv})
    if (*kv) caf::anon_send_exit(*kv, caf::exit_reason::user_shutdown);
  for (auto* hub : {&election_hub, &assignments_hub})
    if (*hub) caf::anon_send_exit(*hub, caf::exit_reason::user_shutdown);
}

kv_result<std::shared_ptr<group_buckets>> open_group(caf::actor_system& sys,
                                                     std::shared_ptr<connection> conn,
                                                     const node_config& cfg,
                                                     std::shared_ptr<metrics> m) {
  auto group = std::make_shared<group_buckets>();
  group->conn = conn;
  // Without a given registry the metrics are still kept (and readable through the group).
  group->metrics = m ? m : std::make_shared<metrics>();
  struct slot {
    std::string_view role;
    std::shared_ptr<kv_store>* store;
    kv_actor* actor;
  };
  for (auto [role, store, actor] :
       {slot{bucket_role::ids, &group->ids, &group->ids_kv},
        slot{bucket_role::election, &group->election, &group->election_kv},
        slot{bucket_role::heartbeats, &group->heartbeats, &group->heartbeats_kv},
        slot{bucket_role::assignments, &group->assignments, &group->assignments_kv}}) {
    auto s = kv_store::ensure(conn, bucket_for(cfg, role));
    if (!s) {
      group->close();
      return s.failure_value();
    }
    *store = *s;
    kv_actor_options options;
    options.metrics = group->metrics;
    *actor = spawn_kv_actor(sys, *s, options);
  }
  group->election_hub = spawn_watch_hub(sys, group->election, group->metrics);
  group->assignments_hub = spawn_watch_hub(sys, group->assignments, group->metrics);
  return group;
}

}  // namespace parti
