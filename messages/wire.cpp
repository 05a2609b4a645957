#include "parti/messages/wire.hpp"

#include "parti/messages/codec.hpp"

namespace parti {

std::string bucket_name(std::string_view group, std::string_view role) {
  std::string name(group);
  name += '-';
  name += role;
  return name;
}

bool is_reserved_key(std::string_view key) {
  return !key.empty() && key.front() == '_';
}

assignments_bucket decode_assignments(const std::vector<kv_entry>& entries) {
  assignments_bucket out;
  for (const auto& e : entries) {
    if (e.op != kv_op::put) continue;
    if (e.key == manifest_key) {
      out.manifest = decode_noted<manifest_record>(e, out.undecodable);
    } else if (e.key == control_key) {
      out.control = decode_noted<control_record>(e, out.undecodable);
    } else if (!e.key.empty() && !is_reserved_key(e.key)) {
      if (auto record = decode_noted<assignment_record>(e, out.undecodable))
        out.workers[e.key] = std::move(*record);
    }
  }
  return out;
}

}  // namespace parti
