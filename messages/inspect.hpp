#pragma once
// CAF 0.17 inspectors: every record and event also travels as a (serializable) actor message.
#include <caf/meta/type_name.hpp>

#include <tuple>

#include "messages/events.hpp"
#include "messages/records.hpp"

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
typename Inspector::result_type inspect(Inspector& f, connection_event& x) {
  return f(caf::meta::type_name("parti.connection_event"), x.state, x.url, x.detail);
}

}  // namespace parti
