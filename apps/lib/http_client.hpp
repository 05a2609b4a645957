#pragma once
// A small blocking HTTP client for 127.0.0.1 (libcurl underneath), for reading a node's /status
// and /metrics and a nats-server's monitoring pages: parti's harness, benchmarks and tests use
// it; the installed library does not. The timeout bounds the whole request (connect, send,
// headers and body), also when the server stops answering midway, as a SIGSTOPped node does.
#include <chrono>
#include <map>
#include <string>

namespace parti {

struct http_reply {
  int code = 0;                                // 0: no connection or no HTTP answer in time
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  bool ok() const { return code == 200; }
};

/// `method` on http://127.0.0.1:<port><path>; `path` is sent as given (already URL-encoded).
/// HEAD reads no body; any other method sends none.
http_reply http_request(int port, const std::string& method, const std::string& path,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));

inline http_reply http_get(int port, const std::string& path,
                           std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  return http_request(port, "GET", path, timeout);
}

}  // namespace parti
