#include "parti/runtime/metrics/http_endpoint.hpp"

#include <civetweb.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <exception>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "parti/runtime/log.hpp"
#include "parti/runtime/metrics/metrics.hpp"

namespace parti {

namespace {

constexpr const char* metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* json_content_type = "application/json";
constexpr const char* plain_content_type = "text/plain; charset=utf-8";

failure address_failure(const std::string& address) {
  return failure{"http endpoint: address '" + address +
                 "' is not host:port with a port in 0..65535 (e.g. 127.0.0.1:9464)"};
}

bool is_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return false;
  for (char c : text)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return std::stoi(std::string{text}) <= 65535;
}

/// Splits "host:port" or "[v6]:port"; empty when it is neither.
std::optional<std::pair<std::string, std::string>> split_address(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  bool bracketed = host.front() == '[' && host.back() == ']' && host.size() > 2;
  // An unbracketed host with a colon is an IPv6 address whose port cannot be told apart.
  if (!bracketed && host.find_first_of(":[]") != std::string::npos) return std::nullopt;
  if (!is_port(port)) return std::nullopt;
  return std::make_pair(std::move(host), std::move(port));
}

struct header_line {
  const char* name;
  const char* value;
};

/// Writes a whole response through civetweb's response helpers, which write the status line
/// (with its reason phrase), Date and Connection: close (keep-alive is off: a scrape every few
/// seconds does not need it, and it would let idle clients hold server threads). Not
/// mg_send_http_error: in civetweb 1.15 it sends no Content-Length, has no room for Allow, and
/// writes its body even in answer to HEAD.
int reply(mg_connection* conn, int code, const char* content_type, const std::string& body,
          bool head_only, std::initializer_list<header_line> extra_headers = {}) {
  const std::string length = std::to_string(body.size());
  mg_response_header_start(conn, code);
  mg_response_header_add(conn, "Content-Type", content_type, -1);
  mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  for (const auto& h : extra_headers) mg_response_header_add(conn, h.name, h.value, -1);
  mg_response_header_send(conn);
  if (!head_only) mg_write(conn, body.data(), body.size());
  return code;
}

/// civetweb's first message while mg_start2 runs on this thread: it says why it could not bind
/// (e.g. "cannot bind to 127.0.0.1:9464: 98 (Address already in use)"), which its error text
/// ("Failed to setup server ports") does not.
thread_local std::string* startup_messages = nullptr;

/// civetweb's own messages after start-up (a client that timed out, a malformed request) are
/// about clients, not about this node: logged at debug level, never printed by civetweb itself.
int on_civetweb_log(const mg_connection*, const char* message) {
  if (startup_messages != nullptr && startup_messages->empty())
    *startup_messages = message;  // the first one is the cause; the rest repeat it
  log(log_level::debug, "http endpoint: ", message);
  return 1;
}

/// Opens and at once closes a TCP connection to the listener at host:port, with a short
/// timeout; whether it succeeds does not matter (see http_endpoint::impl::stop).
void knock(const std::string& host, int port) {
  std::string address = host;
  if (address == "0.0.0.0") address = "127.0.0.1";  // a wildcard listener is reachable here
  if (address.size() > 2 && address.front() == '[') address = address.substr(1, address.size() - 2);
  if (address == "::") address = "::1";
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (::getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return;
  int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    timeval timeout{0, 100 * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);  // bounds connect()
    (void)::connect(fd, found->ai_addr, found->ai_addrlen);
    ::close(fd);
  }
  ::freeaddrinfo(found);
}

void init_civetweb_once() {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
}

}  // namespace

status http_endpoint_options::validate() const {
  if (!split_address(address)) return address_failure(address);
  if (threads < 1) return failure{"http endpoint: threads must be at least 1"};
  if (request_timeout.count() <= 0) return failure{"http endpoint: request timeout must be > 0"};
  return done{};
}

struct http_endpoint::impl {
  impl(std::shared_ptr<const metrics> m, status_source s, std::string h,
       std::map<std::string, status_source> pages)
      : source(std::move(m)),
        status_json(std::move(s)),
        host(std::move(h)),
        json_pages(std::move(pages)) {}
  ~impl() {
    if (context != nullptr) stop();
  }

  /// mg_stop, without its wait: civetweb's accepting thread checks its stop flag only between
  /// polls of the listening socket, every 2 s (SOCKET_TIMEOUT_QUANTUM), so mg_stop alone takes up
  /// to 2 s. Connecting to the listener wakes that poll at once, so we keep knocking until
  /// mg_stop returns. (A worker busy with a stalled client still takes up to 2 s to notice.)
  void stop() {
    std::atomic<bool> stopped{false};
    std::thread stopper;
    try {
      stopper = std::thread([this, &stopped] {
        mg_stop(context);
        stopped = true;
      });
    } catch (const std::system_error&) {  // no thread to spare: stop slowly rather than not
      mg_stop(context);
      return;
    }
    while (!stopped) {
      knock(host, port);
      for (int i = 0; i < 10 && !stopped; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    stopper.join();
  }

  /// civetweb's begin_request callback: every request comes here, so no URI falls through to
  /// civetweb's file serving. Runs on a civetweb thread; nothing may escape it (C code above).
  static int on_request(mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    auto* self = static_cast<impl*>(info->user_data);
    try {
      return self->serve(conn, *info);
    } catch (const std::exception& e) {
      return reply(conn, 500, plain_content_type, std::string{"error: "} + e.what() + "\n", false);
    } catch (...) {
      return reply(conn, 500, plain_content_type, "error: unknown exception\n", false);
    }
  }

  int serve(mg_connection* conn, const mg_request_info& info) const {
    std::string_view method = info.request_method != nullptr ? info.request_method : "";
    std::string uri = info.local_uri != nullptr ? info.local_uri : "";
    bool head_only = method == "HEAD";
    if (method != "GET" && !head_only)
      return reply(conn, 405, plain_content_type, "method not allowed: use GET\n", head_only,
                   {{"Allow", "GET, HEAD"}});
    if (uri == "/metrics") return reply(conn, 200, metrics_content_type, source->text(), head_only);
    if (uri == "/status" && status_json) return serve_json(conn, status_json, head_only);
    if (auto page = json_pages.find(uri); page != json_pages.end() && page->second)
      return serve_json(conn, page->second, head_only);
    return reply(conn, 404, plain_content_type, "not found: " + uri + "\n", head_only);
  }

  int serve_json(mg_connection* conn, const status_source& source_of, bool head_only) const {
    http_page page;
    try {
      page = source_of();
    } catch (const std::exception& e) {
      return reply(conn, 500, plain_content_type, std::string{"status: "} + e.what() + "\n",
                   head_only);
    }
    if (page.code < 200 || page.code > 599)  // civetweb would write any number it is given
      return reply(conn, 500, plain_content_type,
                   "status: the page gave the code " + std::to_string(page.code) + "\n", head_only);
    return reply(conn, page.code, json_content_type, page.body, head_only);
  }

  const std::shared_ptr<const metrics> source;
  const status_source status_json;
  const std::string host;
  const std::map<std::string, status_source> json_pages;
  mg_context* context = nullptr;
  int port = 0;
};

result<std::unique_ptr<http_endpoint>> http_endpoint::start(std::shared_ptr<const metrics> source,
                                                            status_source status_json,
                                                            http_endpoint_options options) {
  if (!source) return failure{"http endpoint: no metrics to serve"};
  if (auto valid = options.validate(); !valid) return failure{valid.error()};
  init_civetweb_once();

  auto p = std::make_unique<impl>(std::move(source), std::move(status_json),
                                  split_address(options.address)->first, options.json_pages);
  const std::string threads = std::to_string(options.threads);
  const std::string timeout = std::to_string(options.request_timeout.count());
  const char* config[] = {"listening_ports",
                          options.address.c_str(),
                          "num_threads",
                          threads.c_str(),
                          "request_timeout_ms",
                          timeout.c_str(),
                          "enable_keep_alive",
                          "no",
                          nullptr};
  mg_callbacks callbacks{};  // civetweb copies these, and the options, before mg_start2 returns
  callbacks.begin_request = &impl::on_request;
  callbacks.log_message = &on_civetweb_log;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = p.get();
  init.configuration_options = config;
  char text[256] = {};
  unsigned code = 0;
  mg_error_data error{};
  error.code = &code;
  error.text = text;
  error.text_buffer_size = sizeof text;

  std::string messages;
  startup_messages = &messages;
  p->context = mg_start2(&init, &error);
  startup_messages = nullptr;
  if (p->context == nullptr) {
    std::string why = text[0] != '\0' ? std::string{text} : "error " + std::to_string(code);
    if (!messages.empty()) why = messages;
    return failure{"http endpoint: cannot listen on " + options.address + ": " + why};
  }
  mg_server_port ports[4] = {};
  if (mg_get_server_ports(p->context, 4, ports) < 1 || ports[0].port <= 0)
    return failure{"http endpoint: listening on " + options.address + " but no port is bound"};
  p->port = ports[0].port;
  return std::unique_ptr<http_endpoint>(new http_endpoint(std::move(p)));
}

http_endpoint::http_endpoint(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

http_endpoint::~http_endpoint() = default;

int http_endpoint::port() const {
  return impl_->port;
}

const std::string& http_endpoint::host() const {
  return impl_->host;
}

}  // namespace parti
