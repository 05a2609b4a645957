#pragma once
// The four buckets of one group (docs/WIRE.md), each as a store (for watches) and as a KV actor
// (for requests). Nodes of one process share them, with one connection.
#include <caf/actor_system.hpp>

#include <memory>

#include "parti/messages/interfaces.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/nats/kv_actor.hpp"
#include "parti/runtime/nats/kv_store.hpp"

namespace parti {

struct group_buckets {
  std::shared_ptr<connection> conn;
  std::shared_ptr<kv_store> ids, election, heartbeats, assignments;
  kv_actor ids_kv, election_kv, heartbeats_kv, assignments_kv;
  std::shared_ptr<parti::metrics> metrics;  // shared by the nodes of this process; never null
  /// One watch per bucket for the per-key watches of every node (watch_hub.hpp).
  watch_hub_actor election_hub, assignments_hub;

  /// Ends the KV actors (call before the actor system goes away).
  void close();
};

/// The bucket settings the configuration implies: TTLs, replicas and storage from the
/// configuration.
bucket_settings bucket_for(const node_config& cfg, std::string_view role);

/// What open_group does with an existing bucket of the group whose settings differ
/// (node_config::reconcile_buckets), its advice naming the node_config fields that set them
/// ("id_ttl", "bucket_replicas", "bucket_storage", "reconcile_buckets") through `names` (empty:
/// the field names themselves). Changes made are logged (warning).
bucket_policy bucket_policy_for(const node_config& cfg, std::string_view role,
                                const field_namer& names = {});

/// Creates (or binds to, checking their settings) the group's buckets and spawns their actors.
/// An existing bucket with other settings is kv_errc::bucket_mismatch with one message saying
/// what differs and how to fix it, or with cfg.reconcile_buckets updated where it can be
/// (bucket_policy_for). `names` names node_config fields in that message (parti-node: as its
/// options).
kv_result<std::shared_ptr<group_buckets>> open_group(caf::actor_system& sys,
                                                     std::shared_ptr<connection> conn,
                                                     const node_config& cfg,
                                                     std::shared_ptr<metrics> m = nullptr,
                                                     const field_namer& names = {});

}  // namespace parti
