#pragma once
// A small blocking HTTP/1.0 client for 127.0.0.1, for reading a node's /status and /metrics:
// parti's harness, benchmarks and tests use it. Every step is bounded by the timeout.
#include <chrono>
#include <map>
#include <string>

namespace parti {

struct http_reply {
  int code = 0;                                // 0: no connection or no parsable answer
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  bool ok() const { return code == 200; }
};

/// Parses a raw HTTP response (status line, headers, body); code 0 when it is not one.
http_reply parse_http_reply(const std::string& raw);

http_reply http_request(int port, const std::string& method, const std::string& path,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));

inline http_reply http_get(int port, const std::string& path,
                           std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  return http_request(port, "GET", path, timeout);
}

}  // namespace parti
