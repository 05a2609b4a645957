#pragma once
// A KV bucket in memory behind the kv_actor interface, scheduled like any actor: for actor tests
// under CAF's test coordinator, where the real KV actor (a detached thread) cannot run. Compare-
// and-set like JetStream KV. Every write is logged with its virtual time, and the bucket can be
// made unreachable: every request then fails as a timed-out one would.
#include <caf/all.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "parti/messages/interfaces.hpp"

namespace parti::test {

/// One write as a fake bucket saw it: when (virtual ms since `origin`), which key, and the
/// decoded record's stamp and partition count (or "deleted", "fenced by ...", "bytes").
struct write_seen {
  long long at_ms;
  std::string key;
  std::string what;
};

/// What the test sees of a fake bucket: its writes, and the switch that cuts it off.
struct kv_log {
  std::vector<write_seen> writes;
  bool unreachable = false;
};

struct fake_kv_state {
  std::map<std::string, kv_entry> keys;
  std::uint64_t revision = 0;
  std::shared_ptr<kv_log> log;
  caf::actor_clock::time_point origin;
  static inline const char* name = "test.fake_kv";
};

kv_actor::behavior_type fake_kv(kv_actor::stateful_pointer<fake_kv_state> self,
                                std::shared_ptr<kv_log> log, caf::actor_clock::time_point origin);

}  // namespace parti::test
