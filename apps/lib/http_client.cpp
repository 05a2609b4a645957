#include "apps/lib/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

namespace parti {

namespace {

// libcurl rather than civetweb's client: civetweb 1.15 bounds only the wait for the response
// headers (mg_get_response), and its mg_read waits for a stalled body until the server closes.

void init_curl_once() {
  static std::once_flag once;  // curl_global_init must run once, before any other call
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* reply) {
  static_cast<http_reply*>(reply)->body.append(data, size * count);
  return size * count;
}

std::string trimmed(const std::string& text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

/// One header line ("Name: value\r\n"); the status line and the closing blank line have no colon.
std::size_t add_header(char* data, std::size_t size, std::size_t count, void* reply) {
  std::string line(data, size * count);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    static_cast<http_reply*>(reply)->headers[name] = trimmed(line.substr(colon + 1));
  }
  return size * count;
}

void set_method(CURL* handle, const std::string& method) {
  if (method == "HEAD")
    curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  else if (method != "GET")
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method.c_str());
}

}  // namespace

http_reply http_request(int port, const std::string& method, const std::string& path,
                        std::chrono::milliseconds timeout) {
  init_curl_once();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> handle(curl_easy_init(), &curl_easy_cleanup);
  if (!handle) return {};
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  http_reply reply;
  CURL* h = handle.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROXY, "");  // loopback: never through a proxy from the environment
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // callers have threads: no SIGALRM for timeouts
  // 0 would mean "no limit"; a timeout that has already passed still fails at once.
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, std::max<long>(1, static_cast<long>(timeout.count())));
  set_method(h, method);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &append_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &add_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &reply);
  if (curl_easy_perform(h) != CURLE_OK) return {};
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  reply.code = static_cast<int>(code);
  return reply;
}

}  // namespace parti
