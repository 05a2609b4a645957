#include "tests/support/fake_kv.hpp"

#include "parti/messages/codec.hpp"
#include "parti/runtime/nats/kv_actor.hpp"

namespace parti::test {

namespace {

using fake_kv_ptr = kv_actor::stateful_pointer<fake_kv_state>;

std::string describe_value(const std::string& key, const std::string& value) {
  if (key == "_manifest") {
    auto m = decode<manifest_record>(value);
    return m ? "manifest e" + std::to_string(m->epoch) + " v" + std::to_string(m->version) : "?";
  }
  if (auto r = decode<assignment_record>(value); r && !r->worker.empty() && r->epoch != 0)
    return "e" + std::to_string(r->epoch) + " v" + std::to_string(r->version) + " " +
           std::to_string(r->partitions.size()) + " partitions (" + r->reason + ")";
  if (auto h = decode<heartbeat_record>(value); h && !h->fenced_by.empty())
    return "fenced by " + h->fenced_by;
  return "bytes";
}

std::uint64_t put(fake_kv_ptr self, const std::string& key, const std::string& value) {
  auto& st = self->state;
  auto& e = st.keys[key];
  e.key = key;
  e.value = value;
  e.revision = ++st.revision;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(self->clock().now() - st.origin);
  st.log->writes.push_back({ms.count(), key, describe_value(key, value)});
  return e.revision;
}

caf::error kv_fail(kv_errc code, const std::string& key) {
  return caf::make_error(code, key);
}

/// Cut off: the answer a client without a connection gets at once.
bool cut_off(fake_kv_ptr self) {
  return self->state.log->unreachable;
}

caf::error no_store() {
  return kv_fail(kv_errc::not_connected, "the fake bucket is unreachable");
}

}  // namespace

kv_actor::behavior_type fake_kv(fake_kv_ptr self, std::shared_ptr<kv_log> log,
                                caf::actor_clock::time_point origin) {
  self->state.log = std::move(log);
  self->state.origin = origin;
  return {
      [=](caf::get_atom, const std::string& key) -> caf::result<kv_entry> {
        if (cut_off(self)) return no_store();
        auto it = self->state.keys.find(key);
        if (it == self->state.keys.end()) return kv_fail(kv_errc::not_found, key);
        return it->second;
      },
      [=](caf::put_atom, const std::string& key,
          const std::string& value) -> caf::result<std::uint64_t> {
        if (cut_off(self)) return no_store();
        return put(self, key, value);
      },
      [=](create_atom, const std::string& key,
          const std::string& value) -> caf::result<std::uint64_t> {
        if (cut_off(self)) return no_store();
        if (self->state.keys.count(key)) return kv_fail(kv_errc::key_exists, key);
        return put(self, key, value);
      },
      [=](caf::update_atom, const std::string& key, const std::string& value,
          std::uint64_t last) -> caf::result<std::uint64_t> {
        if (cut_off(self)) return no_store();
        auto it = self->state.keys.find(key);
        if (it == self->state.keys.end() || it->second.revision != last)
          return kv_fail(kv_errc::wrong_revision, key);
        return put(self, key, value);
      },
      [=](caf::delete_atom, const std::string& key) -> caf::result<caf::ok_atom> {
        if (cut_off(self)) return no_store();
        self->state.keys.erase(key);
        return caf::ok_atom::value;
      },
      [=](purge_atom, const std::string& key) -> caf::result<caf::ok_atom> {
        if (cut_off(self)) return no_store();
        self->state.keys.erase(key);
        return caf::ok_atom::value;
      },
      [=](keys_atom) -> caf::result<std::vector<std::string>> {
        if (cut_off(self)) return no_store();
        std::vector<std::string> out;
        for (const auto& [k, e] : self->state.keys) out.push_back(k);
        return out;
      },
      [=](caf::get_atom, keys_atom) -> caf::result<std::vector<kv_entry>> {
        if (cut_off(self)) return no_store();
        std::vector<kv_entry> out;
        for (const auto& [k, e] : self->state.keys) out.push_back(e);
        return out;
      },
      [=](write_atom,
          const std::vector<kv_write>& writes) -> caf::result<std::vector<std::uint64_t>> {
        if (cut_off(self)) return no_store();
        std::vector<std::uint64_t> revisions;
        for (const auto& w : writes) {
          if (w.erase) {
            self->state.keys.erase(w.key);
            self->state.log->writes.push_back({-1, w.key, "deleted"});
            revisions.push_back(0);
          } else {
            revisions.push_back(put(self, w.key, w.value));
          }
        }
        return revisions;
      },
  };
}

}  // namespace parti::test
