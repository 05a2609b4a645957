#pragma once
// The one HTTP listener of a parti-node process (civetweb underneath):
//   GET /metrics  the metrics registry, text/plain; version=0.0.4 (Prometheus text format)
//   GET /status   the JSON the application's status callback returns, application/json
//   GET <path>    further JSON pages given in the options (parti-node: /debug/ownership, the
//                 probes /healthz, /readyz and /readyz/<node index>)
//   anything else 404; a method other than GET or HEAD 405.
//
// A page's producer returns its body, which is served with 200, or an http_page with a code of
// its own: a probe answers 503 with a JSON reason when it fails (parti-node's /healthz: 200
// while every node actor answers within 1 s; /readyz: 200 while every node holds its id, has
// applied an assignment, and neither is Degraded nor has its ownership lease suspended).
//
// Requests are served by a small pool of server threads, so a slow or stalled client holds one
// thread until the request timeout and never blocks the node or the other scrapes. The status
// callback runs on a server thread: it must be thread-safe and quick (read a snapshot; never
// wait for an actor without a timeout). An exception it throws becomes a 500, not a crash.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "parti/messages/result.hpp"

namespace parti {

class metrics;

/// What a JSON page's producer answers: the body, and the status code (200 unless it says
/// otherwise). A producer that returns a plain std::string converts to a 200.
struct http_page {
  int code = 200;
  std::string body;

  http_page() = default;
  http_page(std::string json) : body(std::move(json)) {}  // NOLINT: implicit on purpose
  http_page(int status_code, std::string json) : code(status_code), body(std::move(json)) {}
};

/// Produces a JSON page on a server thread (see the comment at the top).
using page_source = std::function<http_page()>;

struct http_endpoint_options {
  /// host:port to listen on, host a numeric IPv4 address ("0.0.0.0" for every interface) or a
  /// bracketed IPv6 one ("[::1]:9464"); port 0 picks a free port (read it back with port()).
  std::string address = "127.0.0.1:9464";
  /// Requests served at once; a stalled client holds one until request_timeout.
  int threads = 2;
  /// How long a client may take to send its request (and to read the reply).
  std::chrono::milliseconds request_timeout{10000};
  /// Further JSON pages by path ("/debug/ownership"), served like /status. The path matches
  /// exactly, without the query string.
  std::map<std::string, page_source> json_pages;

  /// The address is host:port with a port in 0..65535, threads >= 1, the timeout > 0; the
  /// failure names what is wrong.
  status validate() const;
};

class http_endpoint {
 public:
  /// Produces the /status page (JSON). Empty: /status answers 404.
  using status_source = page_source;

  /// Starts listening. Fails (never throws) with a message naming the address when the options
  /// are invalid or the address cannot be bound, e.g. "http endpoint: cannot listen on
  /// 127.0.0.1:9464: ... Address already in use".
  static result<std::unique_ptr<http_endpoint>> start(std::shared_ptr<const metrics> source,
                                                      status_source status_json,
                                                      http_endpoint_options options = {});

  /// Stops listening and waits for the requests in progress to finish.
  ~http_endpoint();
  http_endpoint(const http_endpoint&) = delete;
  http_endpoint& operator=(const http_endpoint&) = delete;

  /// The port actually bound (the ephemeral one when the address asked for port 0).
  int port() const;
  /// The host part of the address it listens on.
  const std::string& host() const;

 private:
  struct impl;
  explicit http_endpoint(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace parti
