#include "runtime/metrics/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <sstream>

namespace parti {

namespace {

using clock_type = std::chrono::steady_clock;

bool wait_fd(int fd, short events, clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(left.count())) == 1;
}

/// Connects, sends the request and reads until the server closes; empty on any failure.
std::string exchange(int port, const std::string& request, clock_type::time_point deadline) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return {};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  bool complete = false;
  int err = 0;
  socklen_t len = sizeof err;
  if ((::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ||
       errno == EINPROGRESS) &&
      wait_fd(fd, POLLOUT, deadline) && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
      err == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buffer[16384];
    while (wait_fd(fd, POLLIN, deadline)) {
      auto n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        complete = n == 0;
        break;
      }
      response.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return complete ? response : std::string();
}

}  // namespace

http_reply parse_http_reply(const std::string& raw) {
  http_reply r;
  auto end_of_headers = raw.find("\r\n\r\n");
  if (raw.compare(0, 5, "HTTP/") != 0 || end_of_headers == std::string::npos) return r;
  auto space = raw.find(' ');
  if (space == std::string::npos || space + 4 > raw.size()) return r;
  r.code = std::atoi(raw.substr(space + 1, 3).c_str());
  std::istringstream lines(raw.substr(0, end_of_headers));
  std::string line;
  std::getline(lines, line);  // the status line
  while (std::getline(lines, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    if (!value.empty() && value.back() == '\r') value.pop_back();
    r.headers[name] = value;
  }
  r.body = raw.substr(end_of_headers + 4);
  return r;
}

http_reply http_request(int port, const std::string& method, const std::string& path,
                        std::chrono::milliseconds timeout) {
  auto request = method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  return parse_http_reply(exchange(port, request, clock_type::now() + timeout));
}

}  // namespace parti
