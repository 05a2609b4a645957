#include "parti/runtime/nats/jetstream_consumers.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <chrono>

#include "parti/runtime/config.hpp"
#include "parti/runtime/nats/connection.hpp"

namespace parti {

namespace {

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '.' || c == '*' || c == '>' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
  });
}

status check_names(const std::string& stream, const std::string& consumer) {
  if (!valid_name(stream))
    return failure{"invalid stream name \"" + stream +
                   "\" (empty, or has '.', '*', '>' or a space)"};
  if (!valid_name(consumer))
    return failure{"invalid consumer name \"" + consumer +
                   "\" (empty, or has '.', '*', '>' or a space)"};
  return done{};
}

/// Settings the server would not refuse but replace by its defaults (an ack wait of 0 becomes
/// 30s, a max deliver of 0 unlimited): checked before a consumer is created with them.
status check_settings(const consumer_settings& s) {
  std::vector<std::string> wrong;
  if (s.ack_wait <= duration::zero())
    wrong.push_back("ack_wait must be positive, is " + format_duration(s.ack_wait));
  if (s.max_deliver != -1 && s.max_deliver < 1)
    wrong.push_back("max_deliver must be -1 (unlimited) or at least 1, is " +
                    std::to_string(s.max_deliver));
  if (s.max_ack_pending < 1)
    wrong.push_back("max_ack_pending must be at least 1, is " + std::to_string(s.max_ack_pending));
  if (s.replicas < 1 || s.replicas > 5)
    wrong.push_back("replicas must be within 1..5, is " + std::to_string(s.replicas));
  if (s.start == consume_start::sequence && s.start_sequence < 1)
    wrong.push_back("start_sequence must be at least 1 with start sequence");
  if (s.inactive_threshold < duration::zero())
    wrong.push_back("inactive_threshold must not be negative");
  if (wrong.empty()) return done{};
  std::string text = "consumer settings: ";
  for (std::size_t i = 0; i < wrong.size(); ++i) text += (i ? "; " : "") + wrong[i];
  return failure{text};
}

/// A failed JetStream call's text: the status, the thread's last error detail and the API's
/// error code. Read right after the call (the detail is thread-local and sticky).
std::string js_error_text(natsStatus s, jsErrCode code) {
  std::string text = nats_error_text(s);
  if (code != 0) text += " [JetStream error " + std::to_string(static_cast<int>(code)) + "]";
  return text;
}

/// Owns a jsConsumerInfo.
struct consumer_info {
  jsConsumerInfo* info = nullptr;
  ~consumer_info() {
    if (info) jsConsumerInfo_Destroy(info);
  }
};

const char* ack_policy_text(jsAckPolicy p) {
  switch (p) {
    case js_AckExplicit:
      return "explicit";
    case js_AckNone:
      return "none";
    case js_AckAll:
      return "all";
  }
  return "unknown";
}

/// Every setting of an existing consumer that differs from the wanted one, as
/// "<field> <existing>, configured <wanted>".
std::vector<std::string> differences(const jsConsumerConfig& have, const std::string& filter,
                                     const consumer_settings& want) {
  std::vector<std::string> out;
  auto differ = [&](const std::string& field, const std::string& existing,
                    const std::string& configured) {
    if (existing != configured)
      out.push_back(field + " " + existing + ", configured " + configured);
  };
  auto quoted = [](const char* s) { return "\"" + std::string(s ? s : "") + "\""; };
  differ("filter_subject", quoted(have.FilterSubject), quoted(filter.c_str()));
  if (have.DeliverSubject != nullptr && *have.DeliverSubject != '\0')
    out.push_back("deliver_subject " + quoted(have.DeliverSubject) +
                  " (a push consumer), configured none (a pull consumer)");
  differ("ack_policy", ack_policy_text(have.AckPolicy), ack_policy_text(js_AckExplicit));
  differ("ack_wait", format_duration(duration(have.AckWait)), format_duration(want.ack_wait));
  differ("max_deliver", std::to_string(have.MaxDeliver), std::to_string(want.max_deliver));
  differ("max_ack_pending", std::to_string(have.MaxAckPending),
         std::to_string(want.max_ack_pending));
  // 0 is how the server reports "as many as the stream", which a single-replica stream on one
  // server shows for a consumer created with 1.
  const auto replicas = have.Replicas == 0 ? 1 : have.Replicas;
  differ("replicas", std::to_string(replicas), std::to_string(want.replicas));
  return out;
}

result<consumer_attach> compare(const jsConsumerInfo& info, const std::string& name,
                                const std::string& filter, const consumer_settings& want,
                                bool created) {
  if (info.Config == nullptr) return failure{"consumer " + name + ": the server sent no config"};
  auto diff = differences(*info.Config, filter, want);
  if (!diff.empty()) {
    std::string text = "consumer " + name + " exists with ";
    for (std::size_t i = 0; i < diff.size(); ++i) text += (i ? "; " : "") + diff[i];
    return failure{text};
  }
  consumer_attach out;
  out.created = created;
  out.num_pending = info.NumPending;
  out.num_ack_pending = static_cast<std::uint64_t>(std::max<int64_t>(0, info.NumAckPending));
  return out;
}

std::string stream_missing(const std::string& stream) {
  return "stream " + stream + " not found";
}

result<consumer_attach> create_consumer(connection& conn, const std::string& stream,
                                        const std::string& name, const std::string& filter,
                                        const consumer_settings& settings) {
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = name.c_str();
  cc.FilterSubject = filter.c_str();
  cc.AckPolicy = js_AckExplicit;
  cc.AckWait = settings.ack_wait.count();  // ns
  cc.MaxDeliver = settings.max_deliver;
  cc.MaxAckPending = settings.max_ack_pending;
  cc.Replicas = settings.replicas;
  switch (settings.start) {
    case consume_start::new_messages:
      cc.DeliverPolicy = js_DeliverNew;
      break;
    case consume_start::all:
      cc.DeliverPolicy = js_DeliverAll;
      break;
    case consume_start::sequence:
      cc.DeliverPolicy = js_DeliverByStartSequence;
      cc.OptStartSeq = settings.start_sequence;
      break;
  }
  if (settings.inactive_threshold > duration::zero())
    cc.InactiveThreshold = settings.inactive_threshold.count();
  consumer_info created;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s =
      js_AddConsumer(&created.info, conn.jetstream(), stream.c_str(), &cc, nullptr, &code);
  if (s == NATS_OK) return compare(*created.info, name, filter, settings, true);
  std::string add_error = js_error_text(s, code);
  if (code == JSStreamNotFoundErr) return failure{stream_missing(stream)};
  // Another process may have created it meanwhile: then it is judged like any existing one.
  consumer_info again;
  code = static_cast<jsErrCode>(0);
  if (js_GetConsumerInfo(&again.info, conn.jetstream(), stream.c_str(), name.c_str(), nullptr,
                         &code) == NATS_OK)
    return compare(*again.info, name, filter, settings, false);
  return failure{"create consumer " + name + " on stream " + stream + ": " + add_error};
}

}  // namespace

result<bool> ensure_stream(connection& conn, const stream_settings& settings) {
  const auto& name = settings.name;
  if (auto exists = stream_exists(conn, name); exists.ok()) return false;
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  std::vector<const char*> subjects;
  for (const auto& subject : settings.subjects) subjects.push_back(subject.c_str());
  config.Name = name.c_str();
  config.Subjects = subjects.data();
  config.SubjectsLen = static_cast<int>(subjects.size());
  config.Storage = settings.memory ? js_MemoryStorage : js_FileStorage;
  config.Retention = js_LimitsPolicy;
  config.Replicas = settings.replicas;
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  auto s = js_AddStream(&info, conn.jetstream(), &config, nullptr, &code);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(info);
    return true;
  }
  // Another process created it in the meantime, with other settings (the same ones are OK).
  if (code == JSStreamNameExistErr) return false;
  return failure{"cannot create stream " + name + ": " + nats_error_text(s) + " (" +
                 std::to_string(static_cast<int>(code)) + ")"};
}

status stream_exists(connection& conn, const std::string& name) {
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  auto s = js_GetStreamInfo(&info, conn.jetstream(), name.c_str(), nullptr, &code);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(info);
    return done{};
  }
  if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr)
    return failure{"stream " + name + " does not exist"};
  return failure{"stream " + name + ": " + nats_error_text(s)};
}

result<consumer_attach> ensure_consumer(connection& conn, const std::string& stream,
                                        const std::string& name, const std::string& filter_subject,
                                        const consumer_settings& settings) {
  if (auto ok = check_names(stream, name); !ok) return failure{ok.error()};
  if (filter_subject.empty()) return failure{"consumer " + name + ": empty filter subject"};
  if (auto ok = check_settings(settings); !ok)
    return failure{"consumer " + name + ": " + ok.error()};
  consumer_info existing;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&existing.info, conn.jetstream(), stream.c_str(), name.c_str(),
                                    nullptr, &code);
  if (s == NATS_OK) return compare(*existing.info, name, filter_subject, settings, false);
  if (code == JSStreamNotFoundErr) return failure{stream_missing(stream)};
  if (code == JSConsumerNotFoundErr || (s == NATS_NOT_FOUND && code == 0))
    return create_consumer(conn, stream, name, filter_subject, settings);
  return failure{"consumer " + name + " on stream " + stream + ": " + js_error_text(s, code)};
}

result<std::uint64_t> consumer_pending(connection& conn, const std::string& stream,
                                       const std::string& name) {
  if (auto ok = check_names(stream, name); !ok) return failure{ok.error()};
  consumer_info info;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&info.info, conn.jetstream(), stream.c_str(), name.c_str(),
                                    nullptr, &code);
  if (s == NATS_OK) return info.info->NumPending;
  if (code == JSStreamNotFoundErr) return failure{stream_missing(stream)};
  if (code == JSConsumerNotFoundErr)
    return failure{"consumer " + name + " not found on stream " + stream};
  return failure{"consumer " + name + " on stream " + stream + ": " + js_error_text(s, code)};
}

result<std::vector<std::string>> list_consumers(connection& conn, const std::string& stream,
                                                const std::string& prefix) {
  if (!valid_name(stream)) return failure{"invalid stream name \"" + stream + "\""};
  if (prefix.empty()) return failure{"list consumers: empty prefix"};
  jsConsumerNamesList* list = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_ConsumerNames(&list, conn.jetstream(), stream.c_str(), nullptr, &code);
  std::vector<std::string> out;
  if (s == NATS_NOT_FOUND && code != JSStreamNotFoundErr) return out;  // no consumers at all
  if (s != NATS_OK) {
    if (code == JSStreamNotFoundErr) return failure{stream_missing(stream)};
    return failure{"list consumers of stream " + stream + ": " + js_error_text(s, code)};
  }
  const std::string start = prefix + "_";
  for (int i = 0; i < list->Count; ++i) {
    std::string name = list->List[i] ? list->List[i] : "";
    if (name.compare(0, start.size(), start) == 0) out.push_back(std::move(name));
  }
  jsConsumerNamesList_Destroy(list);
  std::sort(out.begin(), out.end());
  return out;
}

result<std::vector<std::string>> prune_consumers(connection& conn, const std::string& stream,
                                                 const std::string& prefix,
                                                 const std::vector<std::string>& keep) {
  auto names = list_consumers(conn, stream, prefix);
  if (!names) return failure{names.error()};
  std::vector<std::string> deleted;
  std::string errors;
  for (const auto& name : *names) {
    if (std::find(keep.begin(), keep.end(), name) != keep.end()) continue;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s =
        js_DeleteConsumer(conn.jetstream(), stream.c_str(), name.c_str(), nullptr, &code);
    if (s == NATS_OK) {
      deleted.push_back(name);
    } else if (code != JSConsumerNotFoundErr) {  // gone meanwhile: what pruning wants anyway
      errors += (errors.empty() ? "" : "; ") + name + ": " + js_error_text(s, code);
    }
  }
  if (!errors.empty()) {
    std::string done_text;
    for (const auto& name : deleted) done_text += (done_text.empty() ? "" : ", ") + name;
    return failure{"prune consumers of stream " + stream + ": " + errors +
                   (deleted.empty() ? "" : " (deleted: " + done_text + ")")};
  }
  return deleted;
}

status publish_acknowledged(connection& conn, const std::string& subject, const std::string& data,
                            const std::vector<std::pair<std::string, std::string>>& headers) {
  if (subject.empty()) return failure{"publish: empty subject"};
  natsMsg* msg = nullptr;
  natsStatus s =
      natsMsg_Create(&msg, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size()));
  if (s != NATS_OK) return failure{"publish to " + subject + ": " + nats_error_text(s)};
  for (const auto& [key, value] : headers) {
    if ((s = natsMsgHeader_Add(msg, key.c_str(), value.c_str())) != NATS_OK) {
      std::string text = nats_error_text(s);
      natsMsg_Destroy(msg);
      return failure{"publish to " + subject + ": header \"" + key + "\": " + text};
    }
  }
  jsPubAck* ack = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  s = js_PublishMsg(&ack, conn.jetstream(), msg, nullptr, &code);
  std::string text = s == NATS_OK ? "" : js_error_text(s, code);
  natsMsg_Destroy(msg);
  if (ack) jsPubAck_Destroy(ack);
  if (s == NATS_OK) return done{};
  if (s == NATS_NO_RESPONDERS) return failure{"publish to " + subject + ": no stream captures it"};
  if (s == NATS_TIMEOUT)
    return failure{"publish to " + subject +
                   ": no acknowledgement in time (it may still land): " + text};
  return failure{"publish to " + subject + ": " + text};
}

}  // namespace parti
