#pragma once
// One JetStream KV bucket, with blocking calls and typed error kinds.
//
// Every call here may block on the network (up to the connection's request timeout), so actors
// never call it from a scheduler thread: they go through kv_actor (kv_actor.hpp), which runs it
// on a thread of its own. A timeout is "outcome unknown": nats.c keeps the write in its reconnect
// buffer and it may still land, so callers re-read or write by CAS.
#include <nats/nats.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "parti/messages/events.hpp"
#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/nats/connection.hpp"

namespace parti {

enum class kv_errc : std::uint8_t {
  not_found = 1,
  key_exists = 2,       // create on a key that exists
  wrong_revision = 3,   // update whose expected revision is not the key's latest
  outcome_unknown = 4,  // timed out: the write may or may not have happened
  not_connected = 5,
  bucket_mismatch = 6,  // the bucket exists with other settings
  invalid_argument = 7,
  io_error = 8,
};

const char* to_string(kv_errc code);
inline std::ostream& operator<<(std::ostream& os, kv_errc code) {
  return os << to_string(code);
}

struct kv_error {
  kv_errc code = kv_errc::io_error;
  std::string message;
};

template <class T>
using kv_result = result<T, kv_error>;

struct bucket_settings {
  std::string name;
  duration ttl = duration::zero();  // the stream's max age; zero: keep forever
  int history = 1;
  int replicas = 1;
  storage_type storage = storage_type::file;

  status validate() const;
};

/// One setting in which an existing bucket differs from the wanted one.
struct bucket_difference {
  std::string setting;  // "max_age", "history", "replicas" or "storage"
  std::string actual;   // as the bucket has it: "10s", "5", "file"
  std::string wanted;
  /// A live bucket takes the wanted value (max age and replicas); history and storage do not.
  bool changeable = false;
};

/// The settings (other than the name) in which `actual` differs from `wanted`, in the order
/// max_age, history, replicas, storage.
std::vector<bucket_difference> bucket_differences(const bucket_settings& actual,
                                                  const bucket_settings& wanted);

/// What kv_store::ensure does with an existing bucket whose settings differ.
enum class on_mismatch {
  fail,       // bucket_mismatch naming every difference and how to fix it; nothing is changed
  reconcile,  // max age and replicas are updated in place; a history or storage difference is
              // still bucket_mismatch, and then nothing is changed
};

struct bucket_policy {
  on_mismatch mismatch = on_mismatch::fail;
  /// Names things in a mismatch's advice as the caller's configuration does: a setting
  /// ("max_age", "history", "replicas", "storage") as the option that sets it, and "reconcile"
  /// as the switch that turns on_mismatch::reconcile on (parti-node: "--reconcile-buckets").
  /// Empty, or empty for a name: the advice says it in general words.
  field_namer names;
  /// Told of every change made to a live bucket, e.g. "bucket g-ids: replicas 1 -> 3".
  std::function<void(const std::string&)> on_change;
};

/// One message for a bucket that exists with other settings: which bucket, each difference
/// (actual and wanted), and the ways out (reconcile what can change, run with the settings the
/// bucket has, or delete the bucket so that it is created anew).
std::string describe_mismatch(const std::string& bucket,
                              const std::vector<bucket_difference>& differences,
                              const field_namer& names = {});

class kv_store {
 public:
  /// Binds to the bucket, creating it when missing. An existing bucket whose settings differ is
  /// reported as bucket_mismatch (describe_mismatch), or with on_mismatch::reconcile updated
  /// where a live stream allows it (js_UpdateStream on the bucket's stream KV_<name>).
  static kv_result<std::shared_ptr<kv_store>> ensure(std::shared_ptr<connection> conn,
                                                     const bucket_settings& settings,
                                                     const bucket_policy& policy = {});
  /// The settings of an existing bucket (from its stream); not_found when there is none.
  static kv_result<bucket_settings> existing(const std::shared_ptr<connection>& conn,
                                             const std::string& bucket);
  ~kv_store();
  kv_store(const kv_store&) = delete;
  kv_store& operator=(const kv_store&) = delete;

  kv_result<kv_entry> get(const std::string& key);
  kv_result<std::uint64_t> put(const std::string& key, const std::string& value);
  kv_result<std::uint64_t> create(const std::string& key, const std::string& value);
  kv_result<std::uint64_t> update(const std::string& key, const std::string& value,
                                  std::uint64_t last_revision);
  kv_result<done> erase(const std::string& key);
  kv_result<done> purge(const std::string& key);
  kv_result<std::vector<std::string>> keys();
  /// Every current entry (keys, then a get of each; a key deleted in between is skipped).
  kv_result<std::vector<kv_entry>> get_all();

  /// Writes many keys in one pipeline (asynchronous publishes, then one wait for every
  /// acknowledgement): one round trip in all, not one per key. Returns each write's revision in
  /// order. Fails as a whole (outcome_unknown) when any acknowledgement is missing.
  kv_result<std::vector<std::uint64_t>> write_many(const std::vector<kv_write>& writes);

  /// The revision of the newest entry (put, delete or purge marker) whose key matches
  /// `key_filter` (a key or a pattern, as for a watch); 0 when there is none. One request to
  /// the stream leader: it fails (outcome_unknown) while the stream has no leader. A watch
  /// uses it to tell a silent bucket from a stalled watch (watch.hpp).
  kv_result<std::uint64_t> latest_revision(const std::string& key_filter);

  const std::string& bucket() const { return settings_.name; }
  const bucket_settings& settings() const { return settings_; }
  kvStore* raw() const { return kv_; }
  const std::shared_ptr<connection>& conn() const { return conn_; }

  struct batch;  // acknowledgements of one write_many, filled by the nats.c ack callback

 private:
  kv_store(std::shared_ptr<connection> conn, bucket_settings settings, kvStore* kv);

  std::shared_ptr<connection> conn_;
  bucket_settings settings_;
  kvStore* kv_ = nullptr;
  jsCtx* async_js_ = nullptr;  // a context of its own, so its pending acks are only ours
  std::unique_ptr<batch> batch_;
  std::mutex write_many_mutex_;
};

/// Maps a failed nats.c call to an error kind. `conflict` is the kind that "wrong last
/// sequence" means for this call (key_exists for create, wrong_revision for update).
kv_error kv_error_from(natsStatus s, const std::string& what, kv_errc conflict = kv_errc::io_error);

/// A nats.c entry (read or watched) as a kv_entry; `e` stays owned by the caller.
kv_entry to_entry(kvEntry* e);

}  // namespace parti
