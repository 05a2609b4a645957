#include "apps/lib/partition_stream.hpp"

#include <nats/nats.h>

#include <map>
#include <memory>

#include "parti/runtime/config.hpp"
#include "parti/runtime/consume/consumer_naming.hpp"
#include "parti/runtime/nats/connection.hpp"
#include "parti/runtime/nats/jetstream_consumers.hpp"
#include "parti/runtime/partition_source.hpp"

namespace parti::consume_app {

namespace {

/// "{{" and "}}" as the braces they stand for; false when `token` holds a placeholder.
bool literal_token(const std::string& token, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < token.size(); ++i) {
    char c = token[i];
    if ((c == '{' || c == '}') && i + 1 < token.size() && token[i + 1] == c) {
      out += c;
      ++i;
    } else if (c == '{') {
      return false;
    } else {
      out += c;
    }
  }
  return true;
}

}  // namespace

std::string stream_subject(const std::string& template_text) {
  std::string subject, token, literal;
  std::size_t start = 0;
  while (true) {
    auto dot = template_text.find('.', start);
    token = template_text.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    subject += literal_token(token, literal) ? literal : "*";
    if (dot == std::string::npos) return subject;
    subject += '.';
    start = dot + 1;
  }
}

result<std::vector<partition_subject>> partition_subjects(
    const std::string& template_text, const std::vector<partition>& partitions) {
  auto subjects = subject_template::parse(template_text);
  if (!subjects) return failure{"--subject-template: " + subjects.error()};
  // The consumer prefix only names consumers, which are not needed here.
  auto consumers = check_partition_consumers("check", *subjects, partitions);
  if (!consumers) return failure{consumers.error()};
  std::vector<partition_subject> out;
  for (const auto& c : *consumers) out.push_back({partition_label(c.part.keys), c.filter_subject});
  return out;
}

result<std::vector<partition_subject>> partition_subjects(const std::string& template_text,
                                                          std::uint32_t count) {
  auto partitions = count_source(count)->load();
  if (!partitions) return failure{partitions.error()};
  return partition_subjects(template_text, *partitions);
}

namespace {}  // namespace

result<std::map<std::string, std::int64_t>> consumer_creations(connection& conn,
                                                               const std::string& stream) {
  jsConsumerInfoList* list = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  auto s = js_Consumers(&list, conn.jetstream(), stream.c_str(), nullptr, &code);
  std::map<std::string, std::int64_t> out;
  if (s == NATS_NOT_FOUND && code != JSStreamNotFoundErr) return out;  // no consumer at all
  if (s != NATS_OK) return failure{"consumers of stream " + stream + ": " + nats_error_text(s)};
  for (int i = 0; i < list->Count; ++i) out[list->List[i]->Name] = list->List[i]->Created;
  jsConsumerInfoList_Destroy(list);
  return out;
}

result<bool> ensure_stream(connection& conn, const std::string& name, const std::string& subject) {
  auto created = parti::ensure_stream(conn, stream_settings{name, {subject}});
  if (!created) return failure{created.error() + " on " + subject};
  return created;
}

namespace {

struct subscription_deleter {
  void operator()(natsSubscription* sub) const {
    natsSubscription_Unsubscribe(sub);  // deletes the ephemeral consumer
    natsSubscription_Destroy(sub);
  }
};
using subscription_ptr = std::unique_ptr<natsSubscription, subscription_deleter>;

/// True when the consumer had nothing to deliver when it was made (and has delivered nothing).
bool nothing_to_read(natsSubscription* sub) {
  jsConsumerInfo* info = nullptr;
  if (natsSubscription_GetConsumerInfo(&info, sub, nullptr, nullptr) != NATS_OK) return false;
  bool empty = info->NumPending == 0 && info->Delivered.Consumer == 0;
  jsConsumerInfo_Destroy(info);
  return empty;
}

}  // namespace

result<consume_check::published_set> read_published(
    connection& conn, const std::string& stream, const std::string& filter,
    const std::vector<partition_subject>& partitions, duration wait) {
  std::map<std::string, std::string> label_of;  // subject -> partition
  consume_check::published_set out;
  for (const auto& p : partitions) {
    label_of[p.subject] = p.label;
    out[p.label];
  }
  if (auto ok = stream_exists(conn, stream); !ok) return failure{ok.error()};
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = stream.c_str();
  options.Ordered = true;
  options.Config.DeliverPolicy = js_DeliverAll;
  natsSubscription* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  auto s = js_SubscribeSync(&raw, conn.jetstream(), filter.c_str(), nullptr, &options, &code);
  if (s != NATS_OK)
    return failure{"cannot read stream " + stream + " on " + filter + ": " + nats_error_text(s)};
  subscription_ptr sub(raw);
  if (nothing_to_read(sub.get())) return out;
  const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wait).count();
  while (true) {
    natsMsg* msg = nullptr;
    s = natsSubscription_NextMsg(&msg, sub.get(), wait_ms);
    if (s != NATS_OK)
      return failure{"reading stream " + stream + ": " + nats_error_text(s) + " after " +
                     format_duration(wait)};
    jsMsgMetaData* meta = nullptr;
    s = natsMsg_GetMetaData(&meta, msg);
    if (s != NATS_OK) {
      natsMsg_Destroy(msg);
      return failure{"reading stream " + stream + ": no metadata: " + nats_error_text(s)};
    }
    auto it = label_of.find(natsMsg_GetSubject(msg));
    if (it != label_of.end()) out[it->second].push_back(meta->Sequence.Stream);
    bool last = meta->NumPending == 0;
    jsMsgMetaData_Destroy(meta);
    natsMsg_Destroy(msg);
    if (last) return out;
  }
}

}  // namespace parti::consume_app
