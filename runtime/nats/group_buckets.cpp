#include "parti/runtime/nats/group_buckets.hpp"

#include "parti/runtime/nats/watch_hub.hpp"

#include <caf/all.hpp>

#include "parti/runtime/log.hpp"

namespace parti {

bucket_settings bucket_for(const node_config& cfg, std::string_view role) {
  bucket_settings s;
  s.name = bucket_name(cfg.group, role);
  s.replicas = cfg.bucket_replicas;
  s.history = 1;
  s.storage = cfg.bucket_storage;
  if (role == bucket_role::ids) s.ttl = cfg.id_ttl;
  if (role == bucket_role::election) s.ttl = cfg.election_ttl;
  if (role == bucket_role::heartbeats) s.ttl = cfg.heartbeat_ttl;
  return s;  // assignments: no TTL
}

namespace {

/// The node_config field that sets a bucket setting of `role`; empty when none does (history,
/// the max age of the assignments).
std::string node_field_for(std::string_view role, std::string_view setting) {
  if (setting == "max_age") {
    if (role == bucket_role::ids) return "id_ttl";
    if (role == bucket_role::election) return "election_ttl";
    if (role == bucket_role::heartbeats) return "heartbeat_ttl";
    return "";
  }
  if (setting == "replicas") return "bucket_replicas";
  if (setting == "storage") return "bucket_storage";
  if (setting == "reconcile") return "reconcile_buckets";
  return "";
}

}  // namespace

bucket_policy bucket_policy_for(const node_config& cfg, std::string_view role,
                                const field_namer& names) {
  bucket_policy p;
  p.mismatch = cfg.reconcile_buckets ? on_mismatch::reconcile : on_mismatch::fail;
  p.names = [role = std::string(role), names](std::string_view setting) {
    auto field = node_field_for(role, setting);
    if (field.empty() || !names) return field;
    return names(field);
  };
  p.on_change = [](const std::string& change) { log(log_level::warning, "reconciled ", change); };
  return p;
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
                                                     std::shared_ptr<metrics> m,
                                                     const field_namer& names) {
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
    auto s = kv_store::ensure(conn, bucket_for(cfg, role), bucket_policy_for(cfg, role, names));
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
