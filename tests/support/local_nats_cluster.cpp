#include "tests/support/local_nats_cluster.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <set>
#include <stdexcept>
#include <thread>

#include "apps/lib/http_client.hpp"
#include "parti/runtime/nats/local_server.hpp"

namespace parti::test {

namespace {

/// Free loopback ports, all different from each other.
std::vector<int> distinct_free_ports(std::size_t n) {
  std::set<int> seen;
  std::vector<int> out;
  while (out.size() < n) {
    int p = free_loopback_port();
    if (seen.insert(p).second) out.push_back(p);
  }
  return out;
}

}  // namespace

local_nats_cluster::local_nats_cluster(std::size_t size, std::chrono::milliseconds ready_timeout)
    : dir_(make_nats_store_dir()) {
  if (size == 0) throw std::invalid_argument("local_nats_cluster: size must be at least 1");
  auto ports = distinct_free_ports(3 * size);
  members_.resize(size);
  for (std::size_t i = 0; i < size; ++i) {
    members_[i].port = ports[3 * i];
    members_[i].cluster_port = ports[3 * i + 1];
    members_[i].monitor_port = ports[3 * i + 2];
  }
  try {
    // All members first: JetStream needs a quorum of them before any reports healthy.
    for (std::size_t i = 0; i < size; ++i) spawn(i);
    for (std::size_t i = 0; i < size; ++i) wait_accepting(i, ready_timeout);
    if (!wait_until_healthy(ready_timeout))
      throw std::runtime_error("nats cluster: no JetStream meta leader within the timeout");
  } catch (...) {
    for (std::size_t i = 0; i < size; ++i) reap(i, SIGKILL);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw;
  }
}

local_nats_cluster::~local_nats_cluster() {
  for (std::size_t i = 0; i < members_.size(); ++i) {
    try {
      reap(i, SIGKILL);
    } catch (...) {
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

const local_nats_cluster::member_info& local_nats_cluster::member(std::size_t i) const {
  if (i >= members_.size())
    throw std::out_of_range("local_nats_cluster: no member " + std::to_string(i));
  return members_[i];
}

local_nats_cluster::member_info& local_nats_cluster::member(std::size_t i) {
  if (i >= members_.size())
    throw std::out_of_range("local_nats_cluster: no member " + std::to_string(i));
  return members_[i];
}

std::string local_nats_cluster::url(std::size_t i) const {
  return "nats://127.0.0.1:" + std::to_string(member(i).port);
}

std::vector<std::string> local_nats_cluster::url_list() const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < members_.size(); ++i) out.push_back(url(i));
  return out;
}

std::string local_nats_cluster::urls() const {
  std::string out;
  for (const auto& u : url_list()) out += (out.empty() ? "" : ",") + u;
  return out;
}

std::string local_nats_cluster::store_dir(std::size_t i) const {
  member(i);
  return dir_ + "/" + name(i);
}

std::optional<std::size_t> local_nats_cluster::index_of(const std::string& url) const {
  auto colon = url.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  int port = 0;
  try {
    port = std::stoi(url.substr(colon + 1));
  } catch (...) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < members_.size(); ++i)
    if (members_[i].port == port) return i;
  return std::nullopt;
}

void local_nats_cluster::spawn(std::size_t i) {
  auto& m = member(i);
  if (m.pid > 0) return;
  std::string routes;
  for (std::size_t j = 0; j < members_.size(); ++j)
    if (j != i)
      routes += (routes.empty() ? "" : ",") + std::string("nats://127.0.0.1:") +
                std::to_string(members_[j].cluster_port);
  const std::string store = store_dir(i);
  std::filesystem::create_directories(store);
  std::vector<std::string> args{"-js",
                                "-a",
                                "127.0.0.1",
                                "-p",
                                std::to_string(m.port),
                                "-m",
                                std::to_string(m.monitor_port),
                                "-sd",
                                store,
                                "-l",
                                store + "/nats-server.log",
                                "--server_name",
                                name(i),
                                "--cluster_name",
                                "parti-test",
                                "--cluster",
                                "nats://127.0.0.1:" + std::to_string(m.cluster_port)};
  if (!routes.empty()) {
    args.emplace_back("--routes");
    args.push_back(routes);
  }
  m.pid = spawn_nats_server(args);
}

void local_nats_cluster::wait_accepting(std::size_t i, std::chrono::milliseconds timeout) {
  auto& m = member(i);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (m.pid > 0 && ::waitpid(m.pid, &status, WNOHANG) == m.pid) {
      m.pid = -1;
      throw std::runtime_error("nats-server " + name(i) + " exited during start (port " +
                               std::to_string(m.port) + ")");
    }
    if (accepts_connections(m.port) && accepts_connections(m.monitor_port)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  reap(i, SIGKILL);
  throw std::runtime_error("nats-server " + name(i) + " did not accept connections in time");
}

void local_nats_cluster::reap(std::size_t i, int signal) {
  auto& m = member(i);
  reap_nats_server(m.pid, signal, m.port);
}

void local_nats_cluster::kill(std::size_t i) {
  reap(i, SIGKILL);
}

void local_nats_cluster::stop(std::size_t i) {
  reap(i, SIGTERM);
}

void local_nats_cluster::start(std::size_t i, std::chrono::milliseconds timeout) {
  if (running(i)) return;
  spawn(i);
  wait_accepting(i, timeout);
  if (!wait_until_healthy(timeout))
    throw std::runtime_error("nats-server " + name(i) + " did not become healthy in time");
}

std::string local_nats_cluster::monitoring(std::size_t i, const std::string& path) const {
  if (!running(i)) return {};
  auto reply = http_get(member(i).monitor_port, path, std::chrono::seconds(2));
  return reply.code == 0 ? std::string{} : reply.body;
}

bool local_nats_cluster::healthy(std::size_t i) const {
  auto body = monitoring(i, "/healthz");
  return body.find("\"status\":\"ok\"") != std::string::npos ||
         body.find("\"status\": \"ok\"") != std::string::npos;
}

std::string local_nats_cluster::meta_leader(std::size_t i) const {
  auto body = monitoring(i, "/jsz");
  auto meta = body.find("\"meta_cluster\"");
  if (meta == std::string::npos) return {};
  auto key = body.find("\"leader\"", meta);
  if (key == std::string::npos) return {};
  auto open = body.find('"', body.find(':', key) + 1);
  if (open == std::string::npos) return {};
  auto close = body.find('"', open + 1);
  if (close == std::string::npos) return {};
  return body.substr(open + 1, close - open - 1);
}

bool local_nats_cluster::wait_until_healthy(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool ok = false;
    std::string leader;
    for (std::size_t i = 0; i < members_.size(); ++i) {
      if (!running(i)) continue;
      auto l = meta_leader(i);
      ok = healthy(i) && !l.empty() && (leader.empty() || l == leader);
      if (!ok) break;
      leader = l;
    }
    if (ok) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace parti::test
