#include "apps/lib/fleet.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "apps/lib/http_client.hpp"
#include "parti/runtime/nats/local_server.hpp"

namespace parti::fleet {

std::vector<node_view> parse_status(const std::string& text) {
  std::vector<node_view> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.contains("nodes")) return out;
  for (const auto& n : j["nodes"]) {
    node_view v;
    v.worker = n.value("worker", "");
    v.state = n.value("state", "");
    v.leader = n.value("leader", false);
    v.epoch = n.value("epoch", std::uint64_t{0});
    v.applied_version = n.value("applied_version", std::uint64_t{0});
    for (const auto& p : n.value("partitions", nlohmann::json::array()))
      if (p.contains("keys") && !p["keys"].empty()) v.partitions.push_back(p["keys"][0]);
    for (const auto& p : n.value("suspended_partitions", nlohmann::json::array()))
      if (p.contains("keys") && !p["keys"].empty()) v.suspended_partitions.push_back(p["keys"][0]);
    out.push_back(std::move(v));
  }
  return out;
}

fleet::fleet(std::string binary, std::vector<std::string> common_args, std::string log_dir)
    : binary_(std::move(binary)), common_(std::move(common_args)), log_dir_(std::move(log_dir)) {}

fleet::~fleet() {
  for (auto& m : members_)
    if (m.alive()) signal(m.index, SIGKILL, true);
}

void fleet::spawn(member& m) {
  std::vector<std::string> args{binary_};
  args.insert(args.end(), common_.begin(), common_.end());
  args.push_back("--metrics-address=127.0.0.1:" + std::to_string(m.metrics_port));
  if (m.preferred_id) args.push_back("--preferred-id=" + std::to_string(*m.preferred_id));
  args.insert(args.end(), m.args.begin(), m.args.end());
  std::string log = log_dir_ + "/node-" + std::to_string(m.index) + ".log";
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(binary_.c_str(), argv.data());
    ::_exit(127);
  }
  m.pid = pid;
}

int fleet::start(std::optional<std::uint32_t> preferred_id, std::vector<std::string> extra_args) {
  member m;
  m.index = static_cast<int>(members_.size());
  m.metrics_port = free_loopback_port();
  m.preferred_id = preferred_id;
  m.args = std::move(extra_args);
  members_.push_back(m);
  spawn(members_.back());
  return m.index;
}

void fleet::restart(int index) {
  auto& m = members_.at(static_cast<std::size_t>(index));
  if (!m.alive()) spawn(m);
}

using clock_type = std::chrono::steady_clock;

std::optional<int> fleet::signal(int index, int sig, bool wait, std::chrono::milliseconds timeout) {
  auto& m = members_.at(static_cast<std::size_t>(index));
  if (!m.alive()) return std::nullopt;
  ::kill(m.pid, sig);
  if (!wait) return std::nullopt;
  return this->wait(index, timeout);
}

std::optional<int> fleet::wait(int index, std::chrono::milliseconds timeout) {
  auto& m = members_.at(static_cast<std::size_t>(index));
  if (!m.alive()) return std::nullopt;
  auto deadline = clock_type::now() + timeout;
  int status = 0;
  while (::waitpid(m.pid, &status, WNOHANG) == 0) {
    if (clock_type::now() >= deadline) {
      ::kill(m.pid, SIGKILL);
      ::waitpid(m.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  m.pid = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void fleet::reap() {
  for (auto& m : members_) {
    int status = 0;
    if (m.alive() && ::waitpid(m.pid, &status, WNOHANG) == m.pid) m.pid = -1;
  }
}

std::vector<std::pair<served_span, served_span>> overlapping(std::vector<served_span> spans) {
  std::sort(spans.begin(), spans.end(), [](const served_span& a, const served_span& b) {
    return std::tie(a.partition, a.from) < std::tie(b.partition, b.from);
  });
  std::vector<std::pair<served_span, served_span>> out;
  for (std::size_t i = 0; i < spans.size(); ++i)
    for (std::size_t j = i + 1; j < spans.size() && spans[j].partition == spans[i].partition &&
                                spans[j].from < spans[i].to;
         ++j)
      if (spans[j].worker != spans[i].worker) out.emplace_back(spans[i], spans[j]);
  return out;
}

std::optional<std::vector<served_span>> fleet::served_spans(int index,
                                                            std::chrono::milliseconds timeout,
                                                            std::int64_t* now) {
  const auto& m = members_.at(static_cast<std::size_t>(index));
  if (!m.alive()) return std::nullopt;
  auto reply = http_get(m.metrics_port, "/debug/ownership", timeout);
  if (!reply.ok()) return std::nullopt;
  auto j = nlohmann::json::parse(reply.body, nullptr, false);
  if (j.is_discarded() || !j.contains("intervals")) return std::nullopt;
  if (now) *now = j.value("now", std::int64_t{0});
  std::vector<served_span> out;
  for (const auto& i : j["intervals"])
    // The member too: two processes under one worker id (a paused one whose id was taken
    // over) are two owners.
    out.push_back(served_span{i.value("worker", "") + "@member-" + std::to_string(index),
                              i.value("partition", ""), i.value("from", std::int64_t{0}),
                              i.value("to", std::int64_t{0})});
  return out;
}

std::optional<std::vector<node_view>> fleet::status(int index, std::chrono::milliseconds timeout) {
  const auto& m = members_.at(static_cast<std::size_t>(index));
  if (!m.alive()) return std::nullopt;
  auto reply = http_get(m.metrics_port, "/status", timeout);
  if (!reply.ok()) return std::nullopt;
  return parse_status(reply.body);
}

std::vector<int> fleet::alive() const {
  std::vector<int> out;
  for (const auto& m : members_)
    if (m.alive()) out.push_back(m.index);
  return out;
}

ownership fleet::sample(int* answered) {
  ownership o;
  int count = 0;
  for (int i : alive()) {
    auto s = status(i);
    if (!s) continue;
    ++count;
    for (const auto& n : *s)
      for (const auto& p : n.partitions) o[p].insert(n.worker);
  }
  if (answered) *answered = count;
  return o;
}

std::optional<std::pair<int, node_view>> fleet::leader() {
  std::optional<std::pair<int, node_view>> found;
  int leaders = 0;
  for (int i : alive()) {
    auto s = status(i);
    if (!s) continue;
    for (const auto& n : *s)
      if (n.leader) {
        ++leaders;
        found = std::make_pair(i, n);
      }
  }
  if (leaders != 1) return std::nullopt;
  return found;
}

bool fully_covered(const ownership& o, std::uint32_t count) {
  if (o.size() != count) return false;
  for (const auto& [p, owners] : o)
    if (owners.size() != 1) return false;
  return true;
}

std::vector<std::string> doubly_owned(const ownership& o) {
  std::vector<std::string> out;
  for (const auto& [p, owners] : o)
    if (owners.size() > 1) out.push_back(p);
  return out;
}

}  // namespace parti::fleet
