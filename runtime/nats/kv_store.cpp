#include "parti/runtime/nats/kv_store.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>
#include <unordered_map>

#include "parti/runtime/config.hpp"

namespace parti {

const char* to_string(kv_errc code) {
  switch (code) {
    case kv_errc::not_found:
      return "not_found";
    case kv_errc::key_exists:
      return "key_exists";
    case kv_errc::wrong_revision:
      return "wrong_revision";
    case kv_errc::outcome_unknown:
      return "outcome_unknown";
    case kv_errc::not_connected:
      return "not_connected";
    case kv_errc::bucket_mismatch:
      return "bucket_mismatch";
    case kv_errc::invalid_argument:
      return "invalid_argument";
    case kv_errc::io_error:
      return "io_error";
  }
  return "unknown";
}

kv_error kv_error_from(natsStatus s, const std::string& what, kv_errc conflict) {
  // Read the thread-local detail right away: it is sticky and later calls overwrite it.
  const char* detail_c = nats_GetLastError(nullptr);
  std::string detail = detail_c ? detail_c : "";
  std::string text = what + ": " + natsStatus_GetText(s);
  if (!detail.empty() && detail != natsStatus_GetText(s)) text += " (" + detail + ")";
  switch (s) {
    case NATS_NOT_FOUND:
      return {kv_errc::not_found, text};
    case NATS_TIMEOUT:
      return {kv_errc::outcome_unknown, text + "; the write may still land"};
    case NATS_INVALID_ARG:
      return {kv_errc::invalid_argument, text};
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
    case NATS_NOT_YET_CONNECTED:
    case NATS_STALE_CONNECTION:
      return {kv_errc::not_connected, text};
    case NATS_ERR:
      if (detail.find("wrong last sequence") != std::string::npos) return {conflict, text};
      return {kv_errc::io_error, text};
    default:
      return {kv_errc::io_error, text};
  }
}

status bucket_settings::validate() const {
  if (name.empty()) return failure{"bucket: name must not be empty"};
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
      return failure{"bucket '" + name + "': only letters, digits, '-' and '_' are allowed"};
  if (history < 1 || history > 64) return failure{"bucket history: must be within 1..64"};
  if (replicas < 1 || replicas > 5) return failure{"bucket replicas: must be within 1..5"};
  if (ttl < duration::zero()) return failure{"bucket TTL: must not be negative"};
  if (ttl > duration::zero() && ttl < std::chrono::milliseconds(100))
    return failure{"bucket TTL: must be at least 100ms (a JetStream limit)"};
  return done{};
}

struct kv_store::batch {
  std::mutex mutex;
  std::unordered_map<std::string, std::size_t> index_of_subject;
  std::vector<std::uint64_t> revisions;
  std::vector<std::string> errors;
  std::size_t acked = 0;
};

namespace {

void on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* b = static_cast<kv_store::batch*>(closure);
  std::lock_guard<std::mutex> guard(b->mutex);
  auto it = b->index_of_subject.find(natsMsg_GetSubject(msg));
  if (it != b->index_of_subject.end()) {
    if (pa) b->revisions[it->second] = pa->Sequence;
    if (pae)
      b->errors.push_back(std::string(natsMsg_GetSubject(msg)) + ": " +
                          (pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err)));
    ++b->acked;
  }
  natsMsg_Destroy(msg);
}

int byte_length(const std::string& value) {
  return static_cast<int>(value.size());
}

}  // namespace

kv_entry to_entry(kvEntry* e) {
  kv_entry out;
  out.key = kvEntry_Key(e);
  if (auto* v = static_cast<const char*>(kvEntry_Value(e)))
    out.value.assign(v, static_cast<std::size_t>(kvEntry_ValueLen(e)));
  out.revision = kvEntry_Revision(e);
  switch (kvEntry_Operation(e)) {
    case kvOp_Delete:
      out.op = kv_op::del;
      break;
    case kvOp_Purge:
      out.op = kv_op::purge;
      break;
    default:
      out.op = kv_op::put;
      break;
  }
  auto created = kvEntry_Created(e);
  out.created_ms = created > 0 ? static_cast<std::uint64_t>(created / 1000000) : 0;
  return out;
}

kv_store::kv_store(std::shared_ptr<connection> conn, bucket_settings settings, kvStore* kv)
    : conn_(std::move(conn)),
      settings_(std::move(settings)),
      kv_(kv),
      batch_(std::make_unique<batch>()) {}

kv_store::~kv_store() {
  if (async_js_) jsCtx_Destroy(async_js_);
  if (kv_) kvStore_Destroy(kv_);
}

namespace {

/// A setting as the messages name it.
std::string in_words(const std::string& setting) {
  if (setting == "max_age") return "max age (TTL)";
  return setting;
}

std::string stream_of(const std::string& bucket) {
  return "KV_" + bucket;  // the stream behind a KV bucket (nats.c, every NATS client)
}

/// Updating a bucket's stream may wait for a stream leader election or a new replica's placement
/// in a cluster: more than one KV request's timeout. Only a reconcile does it.
constexpr auto admin_wait = std::chrono::seconds(10);

jsOptions admin_options() {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = std::chrono::duration_cast<std::chrono::milliseconds>(admin_wait).count();
  return o;
}

/// The duplicate window nats.c gives a new bucket: its TTL up to two minutes. JetStream refuses a
/// window longer than the max age, so a changed max age brings its window along.
std::int64_t duplicate_window(duration ttl) {
  const duration two_minutes = std::chrono::minutes(2);
  return (ttl > duration::zero() && ttl < two_minutes ? ttl : two_minutes).count();
}

/// Owns a jsStreamInfo.
struct stream_info {
  jsStreamInfo* info = nullptr;
  ~stream_info() {
    if (info) jsStreamInfo_Destroy(info);
  }
};

kv_error stream_error(natsStatus s, jsErrCode code, const std::string& what) {
  auto e = kv_error_from(s, what);
  if (code != 0) e.message += " [JetStream error " + std::to_string(static_cast<int>(code)) + "]";
  return e;
}

/// Updates max age (with its duplicate window) and replicas of the bucket's stream to `wanted`,
/// keeping the rest of its configuration as it is.
kv_result<done> update_stream(connection& conn, const bucket_settings& wanted) {
  const auto stream = stream_of(wanted.name);
  auto options = admin_options();
  stream_info current;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&current.info, conn.jetstream(), stream.c_str(), &options, &code);
  if (s != NATS_OK) return stream_error(s, code, "stream " + stream + " info");
  jsStreamConfig* config = current.info->Config;
  if (config->MaxAge != wanted.ttl.count()) {
    config->MaxAge = wanted.ttl.count();
    config->Duplicates = duplicate_window(wanted.ttl);
  }
  config->Replicas = wanted.replicas;
  stream_info updated;
  code = static_cast<jsErrCode>(0);
  s = js_UpdateStream(&updated.info, conn.jetstream(), config, &options, &code);
  if (s != NATS_OK) return stream_error(s, code, "update stream " + stream);
  return done{};
}

/// "bucket g-ids: max age (TTL) 10s -> 30s, replicas 1 -> 3"
std::string describe_change(const std::string& bucket,
                            const std::vector<bucket_difference>& differences) {
  std::string text = "bucket " + bucket + ":";
  for (std::size_t i = 0; i < differences.size(); ++i)
    text += (i ? ", " : " ") + in_words(differences[i].setting) + " " + differences[i].actual +
            " -> " + differences[i].wanted;
  return text;
}

}  // namespace

std::vector<bucket_difference> bucket_differences(const bucket_settings& actual,
                                                  const bucket_settings& wanted) {
  std::vector<bucket_difference> out;
  if (actual.ttl != wanted.ttl)
    out.push_back({"max_age", format_duration(actual.ttl), format_duration(wanted.ttl), true});
  if (actual.history != wanted.history)
    out.push_back(
        {"history", std::to_string(actual.history), std::to_string(wanted.history), false});
  if (actual.replicas != wanted.replicas)
    out.push_back(
        {"replicas", std::to_string(actual.replicas), std::to_string(wanted.replicas), true});
  if (actual.storage != wanted.storage)
    out.push_back({"storage", std::string(to_string(actual.storage)),
                   std::string(to_string(wanted.storage)), false});
  return out;
}

std::string describe_mismatch(const std::string& bucket,
                              const std::vector<bucket_difference>& differences,
                              const field_namer& names) {
  auto name_of = [&](const std::string& thing) { return names ? names(thing) : std::string(); };
  std::string text = "bucket " + bucket + " exists with other settings:";
  std::string fixed;      // what no reconcile can change, "history and storage"
  std::string as_it_is;   // the settings the bucket has, as options where they are named
  bool all_named = true;  // every difference can be set to what the bucket has
  for (std::size_t i = 0; i < differences.size(); ++i) {
    const auto& d = differences[i];
    text +=
        (i ? ", " : " ") + in_words(d.setting) + " " + d.actual + " (expected " + d.wanted + ")";
    if (!d.changeable) fixed += (fixed.empty() ? "" : " and ") + in_words(d.setting);
    auto option = name_of(d.setting);
    all_named = all_named && !option.empty();
    as_it_is += (i ? ", " : "") +
                (option.empty() ? in_words(d.setting) + " " + d.actual : option + "=" + d.actual);
  }
  auto reconcile = name_of("reconcile");
  text += ". To fix it: ";
  if (fixed.empty())
    text +=
        (reconcile.empty() ? "reconcile it (on_mismatch::reconcile)" : "start with " + reconcile) +
        ", which updates max age and replicas of the live bucket; or ";
  else
    text += fixed + " cannot change on a live bucket (" +
            (reconcile.empty() ? "reconciling" : reconcile) +
            " updates only max age and replicas, and changes nothing here): ";
  if (!names || all_named) text += "start with the settings the bucket has (" + as_it_is + "); or ";
  text += "delete the bucket while no node uses it (nats kv rm " + bucket +
          "; its entries are lost), and it is created anew";
  return text;
}

kv_result<bucket_settings> kv_store::existing(const std::shared_ptr<connection>& conn,
                                              const std::string& bucket) {
  const auto stream = stream_of(bucket);
  stream_info si;
  jsErrCode code = static_cast<jsErrCode>(0);
  // The connection's request timeout, as for any KV request: a caller waiting for an unreachable
  // store (open_group's retries, an embedder's start deadline) is not held up longer.
  natsStatus s = js_GetStreamInfo(&si.info, conn->jetstream(), stream.c_str(), nullptr, &code);
  if (s == NATS_NOT_FOUND || (s != NATS_OK && code == JSStreamNotFoundErr))
    return kv_error{kv_errc::not_found, "bucket " + bucket + " does not exist"};
  if (s != NATS_OK) return stream_error(s, code, "bucket " + bucket + " (stream " + stream + ")");
  const jsStreamConfig& c = *si.info->Config;
  bucket_settings out;
  out.name = bucket;
  out.ttl = duration(c.MaxAge);  // nanoseconds
  out.history = static_cast<int>(c.MaxMsgsPerSubject);
  out.replicas = static_cast<int>(c.Replicas);
  out.storage = c.Storage == js_MemoryStorage ? storage_type::memory : storage_type::file;
  return out;
}

kv_result<std::shared_ptr<kv_store>> kv_store::ensure(std::shared_ptr<connection> conn,
                                                      const bucket_settings& settings,
                                                      const bucket_policy& policy) {
  if (auto ok = settings.validate(); !ok) return kv_error{kv_errc::invalid_argument, ok.error()};
  kvStore* kv = nullptr;
  natsStatus s = NATS_OK;
  auto actual = existing(conn, settings.name);
  if (actual) {
    auto differences = bucket_differences(*actual, settings);
    bool changeable = std::all_of(differences.begin(), differences.end(),
                                  [](const bucket_difference& d) { return d.changeable; });
    if (!differences.empty()) {
      if (policy.mismatch == on_mismatch::fail || !changeable)
        return kv_error{kv_errc::bucket_mismatch,
                        describe_mismatch(settings.name, differences, policy.names)};
      if (auto updated = update_stream(*conn, settings); !updated) return updated.failure_value();
      if (policy.on_change) policy.on_change(describe_change(settings.name, differences));
    }
    if ((s = js_KeyValue(&kv, conn->jetstream(), settings.name.c_str())) != NATS_OK)
      return kv_error_from(s, "bind bucket " + settings.name);
  } else if (actual.failure_value().code == kv_errc::not_found) {
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = settings.name.c_str();
    kc.History = static_cast<uint8_t>(settings.history);
    kc.TTL = settings.ttl.count();  // nanoseconds
    kc.Replicas = settings.replicas;
    kc.StorageType = settings.storage == storage_type::memory ? js_MemoryStorage : js_FileStorage;
    if ((s = js_CreateKeyValue(&kv, conn->jetstream(), &kc)) != NATS_OK) {
      auto error = kv_error_from(s, "create bucket " + settings.name);
      // A server outside any cluster refuses replicas for good: retrying cannot help.
      if (error.message.find("not supported in non-clustered mode") != std::string::npos)
        return kv_error{kv_errc::invalid_argument,
                        error.message +
                            "; a server that is not part of a JetStream cluster "
                            "keeps one replica only (bucket replicas 1)"};
      return error;
    }
  } else {
    return actual.failure_value();
  }
  std::shared_ptr<kv_store> store(new kv_store(conn, settings, kv));
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = std::chrono::duration_cast<std::chrono::milliseconds>(conn->options().request_timeout)
                .count();
  jo.PublishAsync.MaxPending = 1 << 20;
  jo.PublishAsync.AckHandler = on_ack;
  jo.PublishAsync.AckHandlerClosure = store->batch_.get();
  if ((s = natsConnection_JetStream(&store->async_js_, conn->raw(), &jo)) != NATS_OK)
    return kv_error_from(s, "JetStream context for " + settings.name);
  return store;
}

kv_result<kv_entry> kv_store::get(const std::string& key) {
  kvEntry* e = nullptr;
  natsStatus s = kvStore_Get(&e, kv_, key.c_str());
  if (s != NATS_OK) return kv_error_from(s, "get " + bucket() + "/" + key);
  kv_entry out = to_entry(e);
  kvEntry_Destroy(e);
  return out;
}

kv_result<std::uint64_t> kv_store::put(const std::string& key, const std::string& value) {
  std::uint64_t rev = 0;
  natsStatus s = kvStore_Put(&rev, kv_, key.c_str(), value.data(), byte_length(value));
  if (s != NATS_OK) return kv_error_from(s, "put " + bucket() + "/" + key);
  return rev;
}

kv_result<std::uint64_t> kv_store::create(const std::string& key, const std::string& value) {
  std::uint64_t rev = 0;
  natsStatus s = kvStore_Create(&rev, kv_, key.c_str(), value.data(), byte_length(value));
  if (s != NATS_OK) return kv_error_from(s, "create " + bucket() + "/" + key, kv_errc::key_exists);
  return rev;
}

kv_result<std::uint64_t> kv_store::update(const std::string& key, const std::string& value,
                                          std::uint64_t last_revision) {
  std::uint64_t rev = 0;
  natsStatus s =
      kvStore_Update(&rev, kv_, key.c_str(), value.data(), byte_length(value), last_revision);
  if (s != NATS_OK)
    return kv_error_from(s, "update " + bucket() + "/" + key, kv_errc::wrong_revision);
  return rev;
}

kv_result<done> kv_store::erase(const std::string& key) {
  natsStatus s = kvStore_Delete(kv_, key.c_str());
  if (s != NATS_OK) return kv_error_from(s, "delete " + bucket() + "/" + key);
  return done{};
}

kv_result<done> kv_store::purge(const std::string& key) {
  natsStatus s = kvStore_Purge(kv_, key.c_str(), nullptr);
  if (s != NATS_OK) return kv_error_from(s, "purge " + bucket() + "/" + key);
  return done{};
}

kv_result<std::vector<std::string>> kv_store::keys() {
  kvKeysList list{};
  // Without a timeout, kvStore_Keys can wait forever (seen once with a JetStream cluster). It
  // bounds the whole listing, one message per key, not one request: a bucket of hundreds of keys
  // on a loaded machine took more than one request timeout (integration.kv under a parallel
  // ctest), so it gets bulk_timeout(), as the callers that list whole buckets allow for.
  kvWatchOptions wo;
  kvWatchOptions_Init(&wo);
  wo.Timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
                   bulk_timeout(conn_->options().request_timeout))
                   .count();
  natsStatus s = kvStore_Keys(&list, kv_, &wo);
  if (s == NATS_NOT_FOUND) return std::vector<std::string>{};  // empty bucket
  if (s != NATS_OK) return kv_error_from(s, "keys " + bucket());
  std::vector<std::string> out(list.Keys, list.Keys + list.Count);
  kvKeysList_Destroy(&list);
  return out;
}

kv_result<std::uint64_t> kv_store::latest_revision(const std::string& key_filter) {
  // The last message on the bucket's subjects: the server resolves wildcards (last_by_subj).
  // An expired entry is gone from the stream, so it is never reported as missing from a watch.
  const std::string stream = "KV_" + bucket();
  const std::string subject = "$KV." + bucket() + "." + key_filter;
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = std::chrono::duration_cast<std::chrono::milliseconds>(conn_->options().request_timeout)
               .count();
  natsMsg* msg = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s =
      js_GetLastMsg(&msg, conn_->jetstream(), stream.c_str(), subject.c_str(), &o, &jerr);
  if (s == NATS_NOT_FOUND) return std::uint64_t{0};
  if (s != NATS_OK) return kv_error_from(s, "latest revision of " + bucket() + "/" + key_filter);
  std::uint64_t revision = natsMsg_GetSequence(msg);
  natsMsg_Destroy(msg);
  return revision;
}

kv_result<std::vector<kv_entry>> kv_store::get_all() {
  auto names = keys();
  if (!names) return names.failure_value();
  std::vector<kv_entry> out;
  out.reserve(names->size());
  for (const auto& key : *names) {
    auto entry = get(key);
    if (entry) {
      out.push_back(std::move(*entry));
    } else if (entry.failure_value().code != kv_errc::not_found) {
      return entry.failure_value();
    }
  }
  return out;
}

kv_result<std::vector<std::uint64_t>> kv_store::write_many(const std::vector<kv_write>& writes) {
  std::lock_guard<std::mutex> serial(write_many_mutex_);  // one batch at a time per bucket
  {
    std::lock_guard<std::mutex> guard(batch_->mutex);
    batch_->index_of_subject.clear();
    batch_->revisions.assign(writes.size(), 0);
    batch_->errors.clear();
    batch_->acked = 0;
    for (std::size_t i = 0; i < writes.size(); ++i)
      batch_->index_of_subject["$KV." + bucket() + "." + writes[i].key] = i;
  }
  if (batch_->index_of_subject.size() != writes.size())
    return kv_error{kv_errc::invalid_argument, "write_many: a key appears twice in one batch"};
  std::string subject = "$KV." + bucket() + ".";
  const auto prefix = subject.size();
  for (const auto& w : writes) {
    subject.resize(prefix);
    subject += w.key;
    natsStatus s = NATS_OK;
    if (!w.erase) {
      s = js_PublishAsync(async_js_, subject.c_str(), w.value.data(), byte_length(w.value),
                          nullptr);
    } else {  // a delete is a message with a KV-Operation header: it needs a natsMsg
      natsMsg* msg = nullptr;
      s = natsMsg_Create(&msg, subject.c_str(), nullptr, nullptr, 0);
      if (s == NATS_OK) s = natsMsgHeader_Set(msg, "KV-Operation", "DEL");
      if (s == NATS_OK) s = js_PublishMsgAsync(async_js_, &msg, nullptr);
      if (msg) natsMsg_Destroy(msg);  // left to us only when the publish did not take it
    }
    if (s != NATS_OK) return kv_error_from(s, "write_many " + bucket() + "/" + w.key);
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait =
      std::chrono::duration_cast<std::chrono::milliseconds>(conn_->options().request_timeout)
          .count();
  natsStatus s = js_PublishAsyncComplete(async_js_, &po);
  if (s != NATS_OK) {
    natsMsgList pending{};
    if (js_PublishAsyncGetPendingList(&pending, async_js_) == NATS_OK)
      natsMsgList_Destroy(&pending);  // we give up on them; they may still land (unknown)
    return kv_error_from(s, "write_many " + bucket() + ": waiting for acknowledgements");
  }
  std::lock_guard<std::mutex> guard(batch_->mutex);
  if (!batch_->errors.empty())
    return kv_error{kv_errc::io_error, "write_many " + bucket() + ": " + batch_->errors.front()};
  return batch_->revisions;
}

}  // namespace parti
