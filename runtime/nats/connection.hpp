#pragma once
// The nats.c connection and its JetStream context, owned in one place.
//
// Connection events (connected, disconnected, reconnected, closed, async errors) arrive on
// nats.c's callback thread; they are handed to listeners, which for actors means an anon_send.
// Shutdown cannot race those callbacks: the destructor closes the connection and waits for the
// closed callback before it frees what the callbacks use (nats.c returns from Close and Destroy
// before the callbacks have run).
#include <nats/nats.h>

#include <caf/actor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "parti/messages/events.hpp"
#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"

namespace parti {

struct tls_options {
  bool enabled = false;
  std::string ca_file;    // trusted CAs (PEM)
  std::string cert_file;  // client certificate chain (PEM), with key_file
  std::string key_file;
  std::string expected_hostname;
  bool skip_verify = false;  // for tests only
};

struct connection_options {
  std::vector<std::string> urls{"nats://127.0.0.1:4222"};
  std::string name = "parti";
  std::string user;
  std::string password;
  std::string token;
  std::string credentials_file;  // NATS .creds file (JWT + nkey seed)
  tls_options tls;
  duration connect_timeout = std::chrono::seconds(2);
  int max_reconnect = -1;  // -1: forever
  duration reconnect_wait = std::chrono::milliseconds(250);
  duration reconnect_jitter = std::chrono::milliseconds(100);
  int reconnect_buffer_bytes = 8 * 1024 * 1024;
  duration ping_interval = std::chrono::seconds(2);  // how fast a dead server is noticed
  int max_pings_out = 2;
  /// How long a JetStream request (KV get/put/create/...) waits for its answer.
  duration request_timeout = std::chrono::seconds(2);
  /// Keep trying in the background when the first connect fails (no startup deadline).
  bool retry_on_failed_connect = true;
  /// Write every publish to the socket at once. By default nats.c leaves publishes to its
  /// flusher thread, which waits about 1 ms before it writes: fewer system calls, but each
  /// acknowledgement or pull request reaches the server about 1 ms later (docs/BENCHMARKS.md,
  /// "Partition consumption").
  bool send_asap = false;

  /// Every rule these options break, one violation each. Settings are named as parti-node's
  /// options are, without dashes ("nats-url"), unless `names` names them otherwise; `field` is
  /// the member ("urls", "tls.cert_file").
  std::vector<violation> violations(const field_namer& names = {}) const;

  /// Checks the options; the failure is the first violation ("nats-url: ...").
  status validate() const;

  /// The password, the token and the secrets in the URLs' userinfo: what must never be shown
  /// (runtime/secrets.hpp redacts them).
  std::vector<std::string> secrets() const;
};

/// What a server's refusal in an error text is about: the credentials (an "Authorization
/// Violation" while connecting: retrying with the same ones cannot help) or a subject the user
/// may not use (an asynchronous "Permissions Violation for Publish to ..."), or neither.
enum class nats_refusal { none, authorization, permission };
nats_refusal refusal_in(const std::string& error_text);

/// Splits "nats://a:4222,nats://b:4222" into URLs (blank entries are ignored).
std::vector<std::string> split_urls(const std::string& list);

class connection : public std::enable_shared_from_this<connection> {
 public:
  using listener = std::function<void(const connection_event&)>;

  /// Connects (or, with retry_on_failed_connect, starts connecting in the background).
  static result<std::shared_ptr<connection>> open(const connection_options& options);

  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  natsConnection* raw() const { return nc_; }
  jsCtx* jetstream() const { return js_; }
  const connection_options& options() const { return options_; }

  bool connected() const;
  /// The server URL connected to, redacted (redact_url): for messages, never for connecting.
  std::string connected_url() const;

  /// Registers a listener for connection events; returns a token for remove_listener.
  int add_listener(listener fn);
  void remove_listener(int token);
  /// Convenience: deliver events to an actor as `connection_event` messages.
  int add_listener(caf::actor receiver);

  /// The server's word when it refused our credentials ("Authorization Violation"), on the first
  /// connect or on a reconnect (credentials revoked or changed meanwhile); empty while it has
  /// not. nats.c closes the connection then: the caller should stop rather than wait.
  std::string authorization_failure() const;
  /// The last "Permissions Violation for ..." the server sent. The server refuses a publish or
  /// subscribe asynchronously (-ERR), so the request behind it only times out: this names why.
  std::string last_permission_violation() const;

  /// Events delivered so far, by state (for tests and metrics).
  std::uint64_t event_count(connection_state state) const;

  /// Implementation detail shared with the nats.c callbacks; public for the callback functions.
  struct callbacks;

 private:
  explicit connection(connection_options options);

  connection_options options_;
  std::shared_ptr<callbacks> callbacks_;
  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

/// Text for a nats.c status plus the thread's last error detail, for messages.
std::string nats_error_text(natsStatus s);

}  // namespace parti
