#pragma once
// CAF 0.17 inspectors: every record and event also travels as a (serializable) actor message.
#include <caf/meta/type_name.hpp>

#include <tuple>

#include "parti/messages/consume_events.hpp"
#include "parti/messages/events.hpp"
#include "parti/messages/leader_events.hpp"
#include "parti/messages/node_events.hpp"
#include "parti/messages/records.hpp"

namespace parti {

namespace detail {
template <class Inspector, class Tuple>
typename Inspector::result_type inspect_fields(Inspector& f, const char* name, Tuple fields) {
  return std::apply([&](auto&... xs) { return f(caf::meta::type_name(name), xs...); }, fields);
}
}  // namespace detail

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, partition& x) {
  return detail::inspect_fields(f, "parti.partition", tie_fields(x));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, partition_grant& x) {
  return detail::inspect_fields(f, "parti.partition_grant", tie_fields(x));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, id_claim& x) {
  return detail::inspect_fields(f, "parti.id_claim", tie_fields(x));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, leader_lease& x) {
  return detail::inspect_fields(f, "parti.leader_lease", tie_fields(x));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, heartbeat_record& x) {
  return detail::inspect_fields(f, "parti.heartbeat", tie_fields(x));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, assignment_record& x) {
  return detail::inspect_fields(f, "parti.assignment", tie_fields(x));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, manifest_record& x) {
  return detail::inspect_fields(f, "parti.manifest", tie_fields(x));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, control_record& x) {
  return detail::inspect_fields(f, "parti.control", tie_fields(x));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, kv_entry& x) {
  return f(caf::meta::type_name("parti.kv_entry"), x.key, x.value, x.revision, x.op, x.created_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, kv_write& x) {
  return f(caf::meta::type_name("parti.kv_write"), x.key, x.value, x.erase);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, watch_update& x) {
  return f(caf::meta::type_name("parti.watch_update"), x.bucket, x.entry, x.initial);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, watch_ready& x) {
  return f(caf::meta::type_name("parti.watch_ready"), x.bucket, x.resumed, x.present, x.restarts);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, watch_stats& x) {
  return f(caf::meta::type_name("parti.watch_stats"), x.delivered, x.duplicates_dropped, x.failures,
           x.restarts);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connection_event& x) {
  return f(caf::meta::type_name("parti.connection_event"), x.state, x.url, x.detail);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_write_health& x) {
  return f(caf::meta::type_name("parti.store_write_health"), x.bucket, x.ok, x.error);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, assignment_update& x) {
  return f(caf::meta::type_name("parti.assignment_update"), x.worker, x.owned, x.added, x.removed,
           x.epoch, x.version, x.reason, x.grants);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ownership_suspended& x) {
  return f(caf::meta::type_name("parti.ownership_suspended"), x.worker, x.partitions, x.reason);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ownership_resumed& x) {
  return f(caf::meta::type_name("parti.ownership_resumed"), x.worker, x.partitions);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_state_update& x) {
  return f(caf::meta::type_name("parti.node_state_update"), x.worker, x.from, x.to, x.reason,
           x.seq);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, leadership_update& x) {
  return f(caf::meta::type_name("parti.leadership_update"), x.worker, x.leader, x.epoch,
           x.leader_id, x.lease_epoch);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, group_state_update& x) {
  return f(caf::meta::type_name("parti.group_state_update"), x.state);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, id_claimed& x) {
  return f(caf::meta::type_name("parti.id_claimed"), x.id, x.revision);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, claim_validity& x) {
  return f(caf::meta::type_name("parti.claim_validity"), x.id, x.safe_until_ns);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, id_lost& x) {
  return f(caf::meta::type_name("parti.id_lost"), x.id, x.reason);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease_update& x) {
  return f(caf::meta::type_name("parti.lease_update"), x.worker, x.state, x.serving_until_ns);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, heartbeat_outcome& x) {
  return f(caf::meta::type_name("parti.heartbeat_outcome"), x.sent_at_ns, x.result, x.detail);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_state_changed& x) {
  return f(caf::meta::type_name("parti.node_state_changed"), x.state);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_status& x) {
  return f(caf::meta::type_name("parti.node_status"), x.worker, x.instance, x.state, x.leader,
           x.epoch, x.leader_id, x.applied_epoch, x.applied_version, x.owned, x.ids_lost,
           x.suspended, x.lease, x.lease_remaining_ms, x.grants, x.lease_horizon_ns,
           x.lease_enforced);
}

// -- the leader subtree (leader_events.hpp) --

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, version_stamp& x) {
  return f(caf::meta::type_name("parti.version_stamp"), x.epoch, x.version);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, liveness_notice& x) {
  return f(caf::meta::type_name("parti.liveness_notice"), x.change, x.worker, x.workers,
           x.since_ns);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, heartbeat_seen& x) {
  return f(caf::meta::type_name("parti.heartbeat_seen"), x.revision, x.seen_ns, x.ttl_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, applied_snapshot& x) {
  return f(caf::meta::type_name("parti.applied_snapshot"), x.applied, x.heartbeat_age_max_ms,
           x.seen);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, monitor_ready& x) {
  return f(caf::meta::type_name("parti.monitor_ready"), x.live);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, emergency_notice& x) {
  return f(caf::meta::type_name("parti.emergency_notice"), x.worker, x.owned);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rebalance_order& x) {
  return f(caf::meta::type_name("parti.rebalance_order"), x.round, x.reason, x.workers,
           x.reload_partitions);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, target_ready& x) {
  return f(caf::meta::type_name("parti.target_ready"), x.round, x.reason, x.target,
           x.partition_count);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, round_done& x) {
  return f(caf::meta::type_name("parti.round_done"), x.round, x.ok, x.error);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, owners_notice& x) {
  return f(caf::meta::type_name("parti.owners_notice"), x.owners);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, control_notice& x) {
  return f(caf::meta::type_name("parti.control_notice"), x.frozen, x.rebalance, x.refresh, x.drain);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, partition_load& x) {
  return f(caf::meta::type_name("parti.partition_load"), x.loaded, x.fresh, x.partitions,
           x.problem);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, source_loaded& x) {
  return f(caf::meta::type_name("parti.source_loaded"), x.ok, x.partitions, x.error);
}

// -- partition consumption (consume_events.hpp); CAF serializes its enums itself ---------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, consume_reply& x) {
  return f(caf::meta::type_name("parti.consume_reply"), x.verdict, x.delay_ns);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, consumed_message& x) {
  return f(caf::meta::type_name("parti.consumed_message"), x.partition, x.subject, x.data,
           x.headers, x.stream_seq, x.delivery_count, x.grant, x.valid_until_ns);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pulled_message& x) {
  return f(caf::meta::type_name("parti.pulled_message"), x.pull_id, x.subject, x.reply, x.data,
           x.headers);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pull_status& x) {
  return f(caf::meta::type_name("parti.pull_status"), x.pull_id, x.code, x.description);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reader_lease& x) {
  return f(caf::meta::type_name("parti.reader_lease"), x.until_ns);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, handler_result& x) {
  return f(caf::meta::type_name("parti.handler_result"), x.id, x.ok, x.reply);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reader_call_result& x) {
  return f(caf::meta::type_name("parti.reader_call_result"), x.what, x.id, x.ok, x.error, x.value);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reader_call_request& x) {
  return f(caf::meta::type_name("parti.reader_call_request"), x.what, x.id, x.consumer, x.subject,
           x.data, x.headers, x.sent_at);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, partition_lag& x) {
  return f(caf::meta::type_name("parti.partition_lag"), x.partition, x.pending);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, consumer_stats& x) {
  return f(caf::meta::type_name("parti.consumer_stats"), x.readers, x.attached, x.handled, x.acked,
           x.naked, x.termed, x.redelivered, x.dead_lettered, x.reader_restarts, x.releases,
           x.exhausted);
}

}  // namespace parti
