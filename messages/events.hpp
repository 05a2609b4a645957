#pragma once
// Messages that the NATS runtime sends to actors: KV entries from watches and connection events.
// Plain structs; their CAF inspectors are in inspect.hpp.
#include <cstdint>
#include <string>
#include <vector>

namespace parti {

enum class kv_op : std::uint8_t { put = 0, del = 1, purge = 2 };

inline const char* to_string(kv_op op) {
  switch (op) {
    case kv_op::put:
      return "put";
    case kv_op::del:
      return "delete";
    case kv_op::purge:
      return "purge";
  }
  return "unknown";
}

/// One KV entry as read or watched. `value` holds raw bytes (empty for delete and purge).
struct kv_entry {
  std::string key;
  std::string value;
  std::uint64_t revision = 0;
  kv_op op = kv_op::put;
  std::uint64_t created_ms = 0;  // server time of the write, unix ms
};

/// A key to write (put) or, when `erase` is set, to delete; for pipelined batches.
struct kv_write {
  std::string key;
  std::string value;
  bool erase = false;
};

/// A watched change, delivered to the watch's consumer. `initial` marks the replay of current
/// values that every (re)started watch begins with.
struct watch_update {
  std::string bucket;
  kv_entry entry;
  bool initial = false;
};

/// The replay of current values is complete. After a restart of the watch (`resumed`), `present`
/// lists every key that exists now, so a consumer can notice keys that vanished while the watch
/// was down (expired keys give no event at all in NATS 2.9).
struct watch_ready {
  std::string bucket;
  bool resumed = false;
  std::vector<std::string> present;
  std::uint32_t restarts = 0;
};

/// Counters of one supervised watch (runtime/nats/watch.hpp); its answer to `stats_atom`.
struct watch_stats {
  std::uint64_t delivered = 0;
  std::uint64_t duplicates_dropped = 0;
  std::uint32_t failures = 0;
  std::uint32_t restarts = 0;
};

enum class connection_state : std::uint8_t {
  connected = 0,
  disconnected = 1,
  reconnected = 2,
  closed = 3,
  error = 4,  // an asynchronous error reported by the client (slow consumer, permissions, ...)
};

inline const char* to_string(connection_state s) {
  switch (s) {
    case connection_state::connected:
      return "connected";
    case connection_state::disconnected:
      return "disconnected";
    case connection_state::reconnected:
      return "reconnected";
    case connection_state::closed:
      return "closed";
    case connection_state::error:
      return "error";
  }
  return "unknown";
}

struct connection_event {
  connection_state state = connection_state::connected;
  std::string url;     // the server we are (re)connected to, when known
  std::string detail;  // error text for `error`
};

/// Whether the store takes this node's writes, judged from its own heartbeats: sent when a put
/// fails after one that worked (ok false) and when one works after failures (ok true). The
/// connection can be up while a stream cannot take writes (a JetStream cluster electing a new
/// stream leader), so this is evidence of its own for Degraded.
struct store_write_health {
  std::string bucket;
  bool ok = true;
  std::string error;  // the first failure's text when !ok
};

}  // namespace parti
