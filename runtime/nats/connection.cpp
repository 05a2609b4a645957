#include "parti/runtime/nats/connection.hpp"

#include <caf/send.hpp>

#include <array>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <map>

#include <unistd.h>

#include "parti/messages/inspect.hpp"
#include "parti/runtime/secrets.hpp"

namespace parti {

namespace {
long millis(duration d) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}
}  // namespace

struct connection::callbacks {
  std::mutex mutex;
  std::condition_variable closed_cv;
  bool closed = false;
  int next_token = 1;
  std::map<int, listener> listeners;
  std::array<std::atomic<std::uint64_t>, 5> counts{};
  std::string authorization_failure;      // guarded by mutex
  std::string last_permission_violation;  // guarded by mutex
  bool probed = false;                    // guarded by mutex; see authorization_failure()

  /// Remembers a refusal of the server found in nats.c's last error of `nc`; returns its text
  /// when there was one (empty otherwise).
  std::string note_refusal(natsConnection* nc) {
    const char* text = nullptr;
    natsStatus s = nc ? natsConnection_GetLastError(nc, &text) : NATS_OK;
    std::string detail = text ? text : "";
    auto kind = s == NATS_CONNECTION_AUTH_FAILED ? nats_refusal::authorization
                : s == NATS_NOT_PERMITTED        ? nats_refusal::permission
                                                 : refusal_in(detail);
    if (kind == nats_refusal::none) return {};
    if (detail.empty()) detail = natsStatus_GetText(s);
    std::lock_guard<std::mutex> guard(mutex);
    (kind == nats_refusal::authorization ? authorization_failure : last_permission_violation) =
        detail;
    return detail;
  }

  void emit(connection_event event) {
    counts[static_cast<std::size_t>(event.state)]++;
    std::vector<listener> copy;
    {
      std::lock_guard<std::mutex> guard(mutex);
      for (auto& [token, fn] : listeners) copy.push_back(fn);
    }
    for (auto& fn : copy) fn(event);
    if (event.state == connection_state::closed) {
      std::lock_guard<std::mutex> guard(mutex);
      closed = true;
      closed_cv.notify_all();
    }
  }
};

namespace {

/// Redacted: nats.c gives the URL as configured, userinfo (a password, a token) included, and
/// this text goes into connection events, which programs log.
std::string current_url(natsConnection* nc) {
  char buffer[512] = {0};
  if (nc && natsConnection_GetConnectedUrl(nc, buffer, sizeof buffer) == NATS_OK)
    return redact_url(buffer);
  return {};
}

connection::callbacks* cb(void* closure) {
  return static_cast<connection::callbacks*>(closure);
}

void on_connected(natsConnection* nc, void* closure) {
  cb(closure)->emit({connection_state::connected, current_url(nc), {}});
}
void on_disconnected(natsConnection* nc, void* closure) {
  cb(closure)->emit({connection_state::disconnected, current_url(nc), {}});
}
void on_reconnected(natsConnection* nc, void* closure) {
  cb(closure)->emit({connection_state::reconnected, current_url(nc), {}});
}
// nats.c closes the connection when the server refuses the credentials (after the first
// connect, and when a reconnect is refused the same way twice): the reason is its last error.
void on_closed(natsConnection* nc, void* closure) {
  auto refusal = cb(closure)->note_refusal(nc);
  cb(closure)->emit({connection_state::closed, {}, refusal});
}
void on_error(natsConnection* nc, natsSubscription*, natsStatus err, void* closure) {
  auto refusal = cb(closure)->note_refusal(nc);
  cb(closure)->emit(
      {connection_state::error, {}, refusal.empty() ? natsStatus_GetText(err) : refusal});
}

}  // namespace

std::string nats_error_text(natsStatus s) {
  std::string text = natsStatus_GetText(s);
  const char* detail = nats_GetLastError(nullptr);
  if (detail && *detail && text != detail) text += std::string(" (") + detail + ")";
  return text;
}

nats_refusal refusal_in(const std::string& error_text) {
  std::string lower;
  for (char c : error_text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto has = [&](const char* part) { return lower.find(part) != std::string::npos; };
  if (has("permissions violation") || has("not permitted")) return nats_refusal::permission;
  if (has("authorization violation") || has("authentication violation") ||
      has("authentication error") || has("authentication expired") || has("authentication revoked"))
    return nats_refusal::authorization;
  return nats_refusal::none;
}

std::vector<std::string> split_urls(const std::string& list) {
  std::vector<std::string> urls;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    auto end = list.find(',', pos);
    if (end == std::string::npos) end = list.size();
    auto item = list.substr(pos, end - pos);
    auto first = item.find_first_not_of(" \t");
    auto last = item.find_last_not_of(" \t");
    if (first != std::string::npos) urls.push_back(item.substr(first, last - first + 1));
    pos = end + 1;
  }
  return urls;
}

namespace {

/// What the messages call a setting unless the caller names it: the option of parti-node and
/// parti-ctl that sets it, where there is one.
std::string_view own_name(std::string_view field) {
  static constexpr std::pair<std::string_view, std::string_view> names[] = {
      {"urls", "nats-url"},
      {"user", "nats-user"},
      {"password", "nats-password"},
      {"token", "nats-token"},
      {"credentials_file", "nats-creds"},
      {"tls.ca_file", "nats-tls-ca"},
      {"tls.cert_file", "nats-tls-cert"},
      {"tls.key_file", "nats-tls-key"},
      {"connect_timeout", "connect timeout"},
      {"request_timeout", "kv request timeout"},
      {"reconnect_wait", "reconnect wait"},
      {"reconnect_buffer_bytes", "reconnect buffer"},
  };
  for (const auto& [f, name] : names)
    if (f == field) return name;
  return field;
}

void check_servers(const connection_options& o, violation_collector& v) {
  if (o.urls.empty()) v.add("urls", "at least one server URL is required");
  for (const auto& url : o.urls)
    if (url.find("://") == std::string::npos && url.find(':') == std::string::npos)
      v.add("urls", "'" + redact_url(url) + "' is not a URL like nats://host:4222");
}

void check_credentials(const connection_options& o, violation_collector& v) {
  if (!o.token.empty() && !o.user.empty())
    v.add("token", "cannot be combined with " + v.name("user"));
  if (!o.password.empty() && o.user.empty()) v.add("password", "requires " + v.name("user"));
  if (!o.tls.cert_file.empty() && o.tls.key_file.empty())
    v.add("tls.cert_file", "requires " + v.name("tls.key_file"));
  if (o.tls.cert_file.empty() && !o.tls.key_file.empty())
    v.add("tls.key_file", "requires " + v.name("tls.cert_file"));
  // nats.c reads these files only while connecting; name a missing one now, clearly.
  for (auto [field, file] :
       {std::pair{"credentials_file", &o.credentials_file},
        std::pair{"tls.ca_file", &o.tls.ca_file}, std::pair{"tls.cert_file", &o.tls.cert_file},
        std::pair{"tls.key_file", &o.tls.key_file}})
    if (!file->empty() && ::access(file->c_str(), R_OK) != 0)
      v.add(field, "cannot read '" + *file + "'");
}

void check_timings(const connection_options& o, violation_collector& v) {
  if (o.connect_timeout <= duration::zero()) v.add("connect_timeout", "must be positive");
  if (o.request_timeout < std::chrono::milliseconds(10))
    v.add("request_timeout", "must be at least 10ms");
  if (o.reconnect_wait < duration::zero()) v.add("reconnect_wait", "must not be negative");
  if (o.reconnect_buffer_bytes <= 0) v.add("reconnect_buffer_bytes", "must be positive");
}

}  // namespace

std::vector<violation> connection_options::violations(const field_namer& names) const {
  violation_collector v(names, &own_name);
  check_servers(*this, v);
  check_credentials(*this, v);
  check_timings(*this, v);
  return v.take();
}

std::vector<std::string> connection_options::secrets() const {
  std::vector<std::string> all{password, token};
  for (const auto& url : urls)
    for (auto& secret : url_secrets(url)) all.push_back(std::move(secret));
  return all;
}

status connection_options::validate() const {
  auto all = violations();
  if (all.empty()) return done{};
  return failure{all.front().text()};
}

connection::connection(connection_options options)
    : options_(std::move(options)), callbacks_(std::make_shared<callbacks>()) {}

result<std::shared_ptr<connection>> connection::open(const connection_options& options) {
  if (auto ok = options.validate(); !ok) return failure{ok.error()};
  std::shared_ptr<connection> self(new connection(options));
  natsOptions* o = nullptr;
  // nats.c's error details may quote what it was given (a URL with its userinfo).
  auto fail = [&](natsStatus s, const std::string& what) -> result<std::shared_ptr<connection>> {
    return failure{redact_text("nats: " + what + ": " + nats_error_text(s), options.secrets())};
  };
  natsStatus s = natsOptions_Create(&o);
  if (s != NATS_OK) return fail(s, "options");
  self->opts_ = o;
  std::vector<const char*> servers;
  for (const auto& url : options.urls) servers.push_back(url.c_str());
  void* closure = self->callbacks_.get();
  if ((s = natsOptions_SetServers(o, servers.data(), static_cast<int>(servers.size()))) != NATS_OK)
    return fail(s, "server URLs");
  natsOptions_SetName(o, options.name.c_str());
  natsOptions_SetTimeout(o, millis(options.connect_timeout));
  natsOptions_SetMaxReconnect(o, options.max_reconnect);
  natsOptions_SetReconnectWait(o, millis(options.reconnect_wait));
  natsOptions_SetReconnectJitter(o, millis(options.reconnect_jitter),
                                 millis(options.reconnect_jitter));
  natsOptions_SetReconnectBufSize(o, options.reconnect_buffer_bytes);
  natsOptions_SetPingInterval(o, millis(options.ping_interval));
  natsOptions_SetMaxPingsOut(o, options.max_pings_out);
  natsOptions_SetSendAsap(o, options.send_asap);
  natsOptions_SetDisconnectedCB(o, on_disconnected, closure);
  natsOptions_SetReconnectedCB(o, on_reconnected, closure);
  natsOptions_SetClosedCB(o, on_closed, closure);
  natsOptions_SetErrorHandler(o, on_error, closure);
  if (!options.user.empty() &&
      (s = natsOptions_SetUserInfo(o, options.user.c_str(), options.password.c_str())) != NATS_OK)
    return fail(s, "user");
  if (!options.token.empty() && (s = natsOptions_SetToken(o, options.token.c_str())) != NATS_OK)
    return fail(s, "token");
  if (!options.credentials_file.empty() &&
      (s = natsOptions_SetUserCredentialsFromFiles(o, options.credentials_file.c_str(), nullptr)) !=
          NATS_OK)
    return fail(s, "credentials file '" + options.credentials_file + "'");
  const auto& tls = options.tls;
  if (tls.enabled || !tls.ca_file.empty() || !tls.cert_file.empty()) {
    if ((s = natsOptions_SetSecure(o, true)) != NATS_OK) return fail(s, "TLS");
    if (!tls.ca_file.empty() &&
        (s = natsOptions_LoadCATrustedCertificates(o, tls.ca_file.c_str())) != NATS_OK)
      return fail(s, "TLS CA file '" + tls.ca_file + "'");
    if (!tls.cert_file.empty() && (s = natsOptions_LoadCertificatesChain(
                                       o, tls.cert_file.c_str(), tls.key_file.c_str())) != NATS_OK)
      return fail(s, "TLS certificate '" + tls.cert_file + "'");
    if (!tls.expected_hostname.empty())
      natsOptions_SetExpectedHostname(o, tls.expected_hostname.c_str());
    if (tls.skip_verify) natsOptions_SkipServerVerification(o, true);
  }
  if (options.retry_on_failed_connect)
    natsOptions_SetRetryOnFailedConnect(o, true, on_connected, closure);

  s = natsConnection_Connect(&self->nc_, o);
  if (s == NATS_OK) {
    self->callbacks_->emit({connection_state::connected, current_url(self->nc_), {}});
  } else if (s != NATS_NOT_YET_CONNECTED) {
    self->nc_ = nullptr;
    return fail(s, "connect to " + redacted_urls(options.urls));
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = millis(options.request_timeout);
  jo.PublishAsync.MaxPending = 65536;
  if ((s = natsConnection_JetStream(&self->js_, self->nc_, &jo)) != NATS_OK)
    return fail(s, "JetStream context");
  return self;
}

connection::~connection() {
  if (js_) jsCtx_Destroy(js_);
  if (nc_) {
    natsConnection_Close(nc_);
    // Wait for the closed callback: until it has run, nats.c may still call into callbacks_.
    std::unique_lock<std::mutex> lock(callbacks_->mutex);
    bool done = callbacks_->closed_cv.wait_for(lock, std::chrono::seconds(10),
                                               [&] { return callbacks_->closed; });
    lock.unlock();
    natsConnection_Destroy(nc_);
    if (!done) {
      // Never observed; if it happens, leak the callback state rather than risk a use after free.
      new std::shared_ptr<callbacks>(callbacks_);
    }
  }
  if (opts_) natsOptions_Destroy(opts_);
}

std::string connection::authorization_failure() const {
  {
    std::lock_guard<std::mutex> guard(callbacks_->mutex);
    if (!callbacks_->authorization_failure.empty() || !callbacks_->closed || callbacks_->probed)
      return callbacks_->authorization_failure;
    callbacks_->probed = true;
  }
  // Closed without our asking, and nats.c kept no reason (the first call after that asks the
  // server once more: one connect, up to connect_timeout): with retry_on_failed_connect it gives
  // up a server that refuses the credentials as if there were no server. One plain connect with
  // the same options gets the server's word.
  auto probe = options_;
  probe.retry_on_failed_connect = false;
  probe.max_reconnect = 0;
  auto opened = connection::open(probe);
  std::lock_guard<std::mutex> guard(callbacks_->mutex);
  if (!opened && refusal_in(opened.error()) == nats_refusal::authorization)
    callbacks_->authorization_failure = opened.error();
  return callbacks_->authorization_failure;
}

std::string connection::last_permission_violation() const {
  std::lock_guard<std::mutex> guard(callbacks_->mutex);
  return callbacks_->last_permission_violation;
}

bool connection::connected() const {
  return nc_ && natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
}

std::string connection::connected_url() const {
  return current_url(nc_);
}

int connection::add_listener(listener fn) {
  std::lock_guard<std::mutex> guard(callbacks_->mutex);
  int token = callbacks_->next_token++;
  callbacks_->listeners.emplace(token, std::move(fn));
  return token;
}

int connection::add_listener(caf::actor receiver) {
  return add_listener(
      [receiver](const connection_event& event) { caf::anon_send(receiver, event); });
}

void connection::remove_listener(int token) {
  std::lock_guard<std::mutex> guard(callbacks_->mutex);
  callbacks_->listeners.erase(token);
}

std::uint64_t connection::event_count(connection_state state) const {
  return callbacks_->counts[static_cast<std::size_t>(state)].load();
}

}  // namespace parti
