#include "parti/runtime/nats/pull_inbox.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>

#include "parti/runtime/consume/ack_metadata.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/nats/connection.hpp"

namespace parti {

namespace {

void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  static_cast<pull_inbox*>(closure)->deliver(msg);
}

void on_complete(void* closure) {
  static_cast<pull_inbox*>(closure)->subscription_done();
}

/// Frees a natsMsg however the delivery ends.
struct msg_guard {
  natsMsg* msg;
  ~msg_guard() { natsMsg_Destroy(msg); }
};

std::string binding_key(std::string_view stream, std::string_view consumer) {
  std::string key(stream);
  key += ' ';  // no stream or consumer name has a space
  key += consumer;
  return key;
}

/// "<token>.<pull id>" after the inbox prefix; false when the rest is not two numbers.
bool parse_token_and_pull(std::string_view rest, std::uint64_t& token, std::uint64_t& pull_id) {
  auto dot = rest.find('.');
  if (dot == std::string_view::npos) return false;
  auto number = [](std::string_view text, std::uint64_t& out) {
    if (text.empty() || text.size() > 20) return false;
    std::uint64_t value = 0;
    for (char c : text) {
      if (c < '0' || c > '9') return false;
      std::uint64_t next = value * 10 + static_cast<std::uint64_t>(c - '0');
      if (next < value) return false;  // overflow
      value = next;
    }
    out = value;
    return true;
  };
  return number(rest.substr(0, dot), token) && number(rest.substr(dot + 1), pull_id);
}

std::string header(natsMsg* msg, const char* key) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, key, &value) == NATS_OK && value != nullptr) return value;
  return {};
}

/// Every header in key order as nats.c keeps them, each key's values in message order.
std::vector<std::pair<std::string, std::string>> copy_headers(natsMsg* msg) {
  std::vector<std::pair<std::string, std::string>> out;
  const char** keys = nullptr;
  int key_count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &key_count) != NATS_OK) return out;  // none
  for (int k = 0; k < key_count; ++k) {
    const char** values = nullptr;
    int value_count = 0;
    if (natsMsgHeader_Values(msg, keys[k], &values, &value_count) != NATS_OK) continue;
    for (int v = 0; v < value_count; ++v) out.emplace_back(keys[k], values[v] ? values[v] : "");
    std::free(static_cast<void*>(values));
  }
  std::free(static_cast<void*>(keys));
  return out;
}

/// How long a removed route's last pull is remembered after its end.
constexpr auto retired_memory = std::chrono::minutes(1);
/// Added to the remaining life of a removed route's pull when its late messages are nak'ed.
constexpr auto orphan_nak_margin = std::chrono::seconds(1);

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name)
    if (c == '.' || c == '*' || c == '>' || c == ' ' || c == '\t' || c == '\r' || c == '\n')
      return false;
  return true;
}

}  // namespace

pull_inbox::pull_inbox(std::shared_ptr<connection> conn) : conn_(std::move(conn)) {}

result<std::shared_ptr<pull_inbox>> pull_inbox::open(std::shared_ptr<connection> conn) {
  if (!conn || conn->raw() == nullptr) return failure{"pull inbox: no connection"};
  natsInbox* inbox = nullptr;
  natsStatus s = natsInbox_Create(&inbox);
  if (s != NATS_OK) return failure{"pull inbox: " + nats_error_text(s)};
  std::shared_ptr<pull_inbox> self(new pull_inbox(std::move(conn)));
  self->prefix_ = inbox;
  natsInbox_Destroy(inbox);
  const std::string wildcard = self->prefix_ + ".>";
  s = natsConnection_Subscribe(&self->sub_, self->conn_->raw(), wildcard.c_str(), on_message,
                               self.get());
  if (s != NATS_OK) {
    self->sub_ = nullptr;
    return failure{"pull inbox: subscribe " + wildcard + ": " + nats_error_text(s)};
  }
  // Nobody publishes to a fresh inbox yet, so no message can be delivered before this is set.
  s = natsSubscription_SetOnCompleteCB(self->sub_, on_complete, self.get());
  if (s != NATS_OK) {
    std::string text = nats_error_text(s);
    natsSubscription_Destroy(self->sub_);  // closed already (the connection closed meanwhile)
    self->sub_ = nullptr;
    return failure{"pull inbox: " + text};
  }
  return self;
}

pull_inbox::~pull_inbox() {
  if (sub_ == nullptr) return;
  // Closed (by this or by the connection's close), the subscription's thread leaves its loop
  // and calls on_complete after the last on_message returned. Only then may `this` go.
  natsSubscription_Unsubscribe(sub_);
  {
    std::unique_lock<std::mutex> lock(done_mutex_);
    done_cv_.wait(lock, [this] { return done_; });
  }
  natsSubscription_Destroy(sub_);
}

void pull_inbox::subscription_done() {
  std::lock_guard<std::mutex> guard(done_mutex_);
  done_ = true;
  done_cv_.notify_all();
}

std::uint64_t pull_inbox::add(message_route on_message, status_route on_status) {
  auto r = std::make_shared<route>();
  r->on_message = std::move(on_message);
  r->on_status = std::move(on_status);
  std::lock_guard<std::mutex> guard(mutex_);
  auto token = next_token_++;
  routes_.emplace(token, std::move(r));
  return token;
}

void pull_inbox::remove(std::uint64_t token) {
  std::shared_ptr<route> r;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    auto it = routes_.find(token);
    if (it == routes_.end()) return;
    r = std::move(it->second);
    routes_.erase(it);
    const auto now = std::chrono::steady_clock::now();
    for (auto old = retired_.begin(); old != retired_.end();)  // long over: nothing comes late
      old = old->second + retired_memory < now ? retired_.erase(old) : std::next(old);
    for (auto b = bindings_.begin(); b != bindings_.end();) {
      if (b->second.token != token) {
        ++b;
        continue;
      }
      retired_[b->first] = b->second.expires_at;
      b = bindings_.erase(b);
    }
  }
  if (delivering_.load() == std::this_thread::get_id()) {
    // Called from a route: the delivery thread is right here, so no other call runs; the route
    // may be the one running, whose `calling` lock this thread holds.
    r->removed = true;
    return;
  }
  std::lock_guard<std::mutex> wait_out_a_running_call(r->calling);
  r->removed = true;
}

std::shared_ptr<pull_inbox::route> pull_inbox::find(std::uint64_t token) {
  std::lock_guard<std::mutex> guard(mutex_);
  auto it = routes_.find(token);
  return it == routes_.end() ? nullptr : it->second;
}

template <class Fn>
bool pull_inbox::call(const std::shared_ptr<route>& r, Fn&& fn) {
  std::lock_guard<std::mutex> guard(r->calling);
  if (r->removed) return false;
  try {
    fn(*r);
  } catch (const std::exception& e) {
    // nats.c's thread must survive a faulty route.
    log(log_level::error, "pull inbox ", prefix_, ": a route threw: ", e.what());
  } catch (...) {
    log(log_level::error, "pull inbox ", prefix_, ": a route threw");
  }
  return true;
}

status pull_inbox::pull(std::uint64_t token, std::uint64_t pull_id, const std::string& stream,
                        const std::string& consumer, int batch, duration expires) {
  if (!valid_name(stream) || !valid_name(consumer))
    return failure{"pull: invalid stream or consumer name \"" + stream + "\" / \"" + consumer +
                   "\""};
  if (batch < 1) return failure{"pull: batch must be at least 1, is " + std::to_string(batch)};
  if (expires <= duration::zero()) return failure{"pull: expires must be positive"};
  const std::string key = binding_key(stream, consumer);
  std::optional<binding> previous;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (routes_.count(token) == 0) return failure{"pull: no route " + std::to_string(token)};
    // Bound before the request leaves, so its first message cannot come before the binding.
    auto it = bindings_.find(key);
    if (it != bindings_.end()) previous = it->second;
    auto expires_at = std::chrono::steady_clock::now() + expires;
    // A route's earlier pull may outlast this one (a shorter expiry): remember the last end.
    if (previous && previous->token == token)
      expires_at = std::max(expires_at, previous->expires_at);
    bindings_[key] = binding{token, pull_id, expires_at};
  }
  const std::string subject = "$JS.API.CONSUMER.MSG.NEXT." + stream + "." + consumer;
  const std::string reply = prefix_ + "." + std::to_string(token) + "." + std::to_string(pull_id);
  const std::string body = nlohmann::json{{"batch", batch}, {"expires", expires.count()}}.dump();
  natsStatus s = natsConnection_PublishRequest(conn_->raw(), subject.c_str(), reply.c_str(),
                                               body.data(), static_cast<int>(body.size()));
  if (s == NATS_OK) return done{};
  std::string text = nats_error_text(s);
  {
    // Not sent: messages still on their way belong to the pull before.
    std::lock_guard<std::mutex> guard(mutex_);
    auto it = bindings_.find(key);
    if (it != bindings_.end() && it->second.token == token && it->second.pull_id == pull_id) {
      if (previous)
        it->second = *previous;
      else
        bindings_.erase(it);
    }
  }
  return failure{"pull " + stream + "/" + consumer + ": " + text};
}

void pull_inbox::deliver(natsMsg* msg) {
  msg_guard guard{msg};
  delivering_.store(std::this_thread::get_id());
  // A status has no reply; a stream message always has its $JS.ACK reply.
  const char* reply = natsMsg_GetReply(msg);
  if (reply == nullptr || *reply == '\0')
    deliver_status(msg);
  else
    deliver_data(msg);
  delivering_.store(std::thread::id{});
}

void pull_inbox::deliver_status(natsMsg* msg) {
  std::string_view subject = natsMsg_GetSubject(msg);
  std::uint64_t token = 0, pull_id = 0;
  if (subject.size() <= prefix_.size() + 1 || subject.compare(0, prefix_.size(), prefix_) != 0 ||
      subject[prefix_.size()] != '.' ||
      !parse_token_and_pull(subject.substr(prefix_.size() + 1), token, pull_id))
    return;  // not a pull's reply subject
  pull_status st;
  st.pull_id = pull_id;
  // nats.c splits the status line ("NATS/1.0 408 Request Timeout") into these two headers.
  st.code = std::atoi(header(msg, "Status").c_str());
  st.description = header(msg, "Description");
  if (st.code == 0 && natsMsg_IsNoResponders(msg)) st.code = 503;
  if (st.code == 0) return;  // a plain message on the inbox: nobody sends those
  if (auto r = find(token)) call(r, [&](route& x) { x.on_status(std::move(st)); });
}

void pull_inbox::deliver_data(natsMsg* msg) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) return;  // not a JetStream delivery
  const std::string key =
      binding_key(meta->Stream ? meta->Stream : "", meta->Consumer ? meta->Consumer : "");
  jsMsgMetaData_Destroy(meta);
  std::shared_ptr<route> r;
  std::uint64_t pull_id = 0;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    auto b = bindings_.find(key);
    if (b != bindings_.end()) {
      auto it = routes_.find(b->second.token);
      if (it != routes_.end()) r = it->second;
      pull_id = b->second.pull_id;
    }
  }
  const char* reply = natsMsg_GetReply(msg);
  // A message whose reader is gone (a pull it gave up as lost came after all, or it was removed
  // meanwhile) goes back: the partition's next reader gets it soon, not after the ack wait.
  auto nak = [&] { nak_orphan(key, reply); };
  if (!r) return nak();
  pulled_message m;
  m.pull_id = pull_id;
  m.subject = natsMsg_GetSubject(msg);
  m.reply = reply;
  if (const char* data = natsMsg_GetData(msg))
    m.data.assign(data, static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  m.headers = copy_headers(msg);
  if (!call(r, [&](route& x) { x.on_message(std::move(m)); })) nak();
}

void pull_inbox::nak_orphan(const std::string& key, const char* reply) {
  duration delay = duration::zero();
  {
    std::lock_guard<std::mutex> guard(mutex_);
    auto it = retired_.find(key);
    if (it != retired_.end()) {
      // The server's expiry runs from its receipt of the pull, a little after the send.
      auto left = it->second - std::chrono::steady_clock::now();
      if (left > duration::zero()) delay = left + orphan_nak_margin;
    }
  }
  const std::string body = ack_body::nak_with_delay(delay.count());
  natsConnection_Publish(conn_->raw(), reply, body.data(), static_cast<int>(body.size()));
}

// -- settling a message ---------------------------------------------------------------------------

status publish_ack(connection& conn, const std::string& reply, std::string_view body) {
  if (reply.empty()) return failure{"ack: the message has no reply subject"};
  natsStatus s =
      natsConnection_Publish(conn.raw(), reply.c_str(), body.data(), static_cast<int>(body.size()));
  if (s != NATS_OK) return failure{"ack to " + reply + ": " + nats_error_text(s)};
  return done{};
}

status publish_ack_confirmed(connection& conn, const std::string& reply, std::string_view body,
                             duration timeout) {
  if (reply.empty()) return failure{"ack: the message has no reply subject"};
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  if (millis < 1) millis = 1;
  natsMsg* answer = nullptr;
  natsStatus s = natsConnection_Request(&answer, conn.raw(), reply.c_str(), body.data(),
                                        static_cast<int>(body.size()), millis);
  if (answer != nullptr) natsMsg_Destroy(answer);
  // Any answer is the server's confirmation. No responders: the consumer is gone.
  if (s != NATS_OK) return failure{"confirmed ack to " + reply + ": " + nats_error_text(s)};
  return done{};
}

}  // namespace parti
