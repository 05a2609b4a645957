#pragma once
// Watching a fleet of parti-node processes (apps/lib/fleet) the way the fault tests judge it:
// a background thread reads every node's /status every 20 ms (all nodes at once), a sample in
// which one partition is listed by two workers whose answers came at most 10 ms apart counts as
// "two owners", and the served spans of /debug/ownership are checked exactly. Header-only: the
// test programs that use it link parti_apps, the others need not.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "apps/lib/fleet.hpp"
#include "apps/lib/http_client.hpp"

namespace parti::test {

using observer_clock = std::chrono::steady_clock;

/// One node as /status reports it, with what fleet::node_view leaves out.
struct node_snap {
  std::string worker;
  std::string state;
  std::string lease;
  bool leader = false;
  std::int64_t lease_remaining_ms = 0;
  std::uint64_t applied_epoch = 0;   // of the newest assignment record it applied
  std::set<std::string> partitions;  // served at the moment of answering
  std::set<std::string> suspended;
};

inline std::set<std::string> first_keys(const nlohmann::json& list) {
  std::set<std::string> out;
  for (const auto& p : list)
    if (p.contains("keys") && !p["keys"].empty()) out.insert(p["keys"][0].get<std::string>());
  return out;
}

inline std::optional<node_snap> parse_first_node(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.contains("nodes") || j["nodes"].empty()) return std::nullopt;
  const auto& n = j["nodes"][0];
  node_snap s;
  s.worker = n.value("worker", "");
  s.state = n.value("state", "");
  s.lease = n.value("lease", "");
  s.leader = n.value("leader", false);
  s.lease_remaining_ms = n.value("lease_remaining_ms", std::int64_t{0});
  s.applied_epoch = n.value("applied_epoch", std::uint64_t{0});
  s.partitions = first_keys(n.value("partitions", nlohmann::json::array()));
  s.suspended = first_keys(n.value("suspended_partitions", nlohmann::json::array()));
  return s;
}

/// Answers further apart than this cannot show two owners at one moment (see
/// sample::conclusive_two_owners).
inline constexpr auto conclusive_spread = std::chrono::milliseconds(10);

/// One member's answer in a sample: the request's start and the moment its answer was read
/// (the node's view is from some moment between the two).
struct answer {
  observer_clock::time_point started;
  observer_clock::time_point answered;
  std::optional<node_snap> node;  // nothing: no answer
};

struct sample {
  observer_clock::time_point started;
  observer_clock::time_point finished;
  std::vector<answer> members;  // by fleet index

  const node_snap* node(int index) const {
    const auto& a = members.at(static_cast<std::size_t>(index));
    return a.node ? &*a.node : nullptr;
  }
  /// partition -> the workers that list it, over the members that answered.
  std::map<std::string, std::set<std::string>> owners() const {
    std::map<std::string, std::set<std::string>> o;
    for (const auto& a : members)
      if (a.node)
        for (const auto& p : a.node->partitions) o[p].insert(a.node->worker);
    return o;
  }
  /// The partitions listed by two workers whose answers all came within `spread` of each
  /// other (from the first request's start to the last answer). An answer shows the node's view
  /// at some moment of its request, so two answers far apart may straddle a hand-off of a few
  /// milliseconds (a /status answer took 56 ms under load once): they prove nothing, and the
  /// exact check of the served spans (no_two_owners_at_any_moment) covers those moments.
  std::map<std::string, std::set<std::string>> conclusive_two_owners(
      observer_clock::duration spread) const {
    std::map<std::string, std::set<std::string>> out;
    for (const auto& [p, ws] : owners()) {
      if (ws.size() < 2) continue;
      std::optional<observer_clock::time_point> first_start, last_answer;
      for (const auto& a : members)
        if (a.node && ws.count(a.node->worker) &&
            std::find(a.node->partitions.begin(), a.node->partitions.end(), p) !=
                a.node->partitions.end()) {
          if (!first_start || a.started < *first_start) first_start = a.started;
          if (!last_answer || a.answered > *last_answer) last_answer = a.answered;
        }
      if (first_start && last_answer && *last_answer - *first_start <= spread) out[p] = ws;
    }
    return out;
  }
  /// partition -> its one owner, for the partitions that have exactly one.
  std::map<std::string, std::string> owner_map() const {
    std::map<std::string, std::string> out;
    for (const auto& [p, ws] : owners())
      if (ws.size() == 1) out[p] = *ws.begin();
    return out;
  }
  std::string describe() const {
    std::ostringstream out;
    for (std::size_t i = 0; i < members.size(); ++i) {
      const auto& a = members[i];
      // When the request left and the answer came, in µs since the sample began.
      auto us = [&](observer_clock::time_point t) {
        return std::chrono::duration_cast<std::chrono::microseconds>(t - started).count();
      };
      out << "[" << i << " " << us(a.started) << "-" << us(a.answered) << "us] ";
      if (!a.node) {
        out << "no answer; ";
        continue;
      }
      out << a.node->worker << " " << a.node->state << (a.node->leader ? " leader" : "")
          << " lease=" << a.node->lease << " serving={";
      for (const auto& p : a.node->partitions) out << p << " ";
      out << "} suspended=" << a.node->suspended.size() << "; ";
    }
    return out.str();
  }
};

/// Every expected member answered, every node is Stable, exactly one leads, and each of the
/// `partition_count` partitions is listed by exactly one worker.
inline bool converged(const sample& s, const std::vector<int>& expected,
                      std::size_t partition_count) {
  int leaders = 0;
  for (int i : expected) {
    const auto* n = s.node(i);
    if (!n || n->state != "Stable" || n->worker.empty()) return false;
    leaders += n->leader ? 1 : 0;
  }
  if (leaders != 1) return false;
  auto o = s.owners();
  if (o.size() != partition_count) return false;
  for (const auto& [p, ws] : o)
    if (ws.size() != 1) return false;
  return true;
}

/// Reads every member's /status every 20 ms in a thread of its own and keeps every sample.
class observer {
 public:
  explicit observer(std::vector<int> ports) : ports_(std::move(ports)) {
    thread_ = std::thread([this] { run(); });
  }
  ~observer() {
    stop_ = true;
    thread_.join();
  }
  observer(const observer&) = delete;
  observer& operator=(const observer&) = delete;

  /// The first sample started at or after now, or nothing by `deadline`.
  std::optional<sample> next(observer_clock::time_point deadline) {
    auto from = observer_clock::now();
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      if (!history_.empty() && history_.back().started >= from) return history_.back();
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) return std::nullopt;
    }
  }
  /// Samples until `pred` holds for one, or nothing by `timeout`.
  template <class Pred>
  std::optional<sample> await(Pred pred, observer_clock::duration timeout) {
    auto deadline = observer_clock::now() + timeout;
    while (observer_clock::now() < deadline) {
      auto s = next(deadline);
      if (s && pred(*s)) return s;
    }
    return std::nullopt;
  }
  /// Lets samples accumulate until `until` (a bounded observation window).
  void observe_until(observer_clock::time_point until) {
    while (observer_clock::now() < until) next(until);
  }
  std::vector<sample> since(observer_clock::time_point t) const {
    std::lock_guard<std::mutex> guard(mutex_);
    std::vector<sample> out;
    for (const auto& s : history_)
      if (s.started >= t) out.push_back(s);
    return out;
  }
  std::size_t samples() const {
    std::lock_guard<std::mutex> guard(mutex_);
    return history_.size();
  }
  std::size_t two_owner_samples() const {
    std::lock_guard<std::mutex> guard(mutex_);
    return two_owner_;
  }
  std::string two_owner_evidence() const {
    std::lock_guard<std::mutex> guard(mutex_);
    return evidence_;
  }

 private:
  void run() {
    auto tick = observer_clock::now();
    while (!stop_) {
      // Every member at once: read one after the other, the answers of a sample would lie up
      // to several requests apart, and a cooperative hand-off (a few KV round trips) fits in
      // between: the old owner listed before it, the new one after it.
      sample s;
      s.started = observer_clock::now();
      std::vector<std::future<answer>> pending;
      for (int port : ports_)
        pending.push_back(std::async(std::launch::async, [port] {
          answer a;
          a.started = observer_clock::now();
          if (auto reply = http_get(port, "/status", std::chrono::milliseconds(150)); reply.ok())
            a.node = parse_first_node(reply.body);
          a.answered = observer_clock::now();
          return a;
        }));
      for (auto& p : pending) s.members.push_back(p.get());
      s.finished = observer_clock::now();
      {
        std::lock_guard<std::mutex> guard(mutex_);
        bool two = false;
        for (const auto& [p, ws] : s.conclusive_two_owners(conclusive_spread)) {
          two = true;
          if (evidence_.size() < 4000) {
            evidence_ += p + " listed by";
            for (const auto& w : ws) evidence_ += " " + w;
            evidence_ += "; ";
          }
        }
        if (two) {
          ++two_owner_;
          if (evidence_.size() < 8000) evidence_ += "sample: " + s.describe() + "\n";
        }
        history_.push_back(std::move(s));
      }
      cv_.notify_all();
      tick += std::chrono::milliseconds(20);
      auto now = observer_clock::now();
      if (tick < now) tick = now;
      std::this_thread::sleep_until(tick);
    }
  }

  std::vector<int> ports_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<sample> history_;
  std::size_t two_owner_ = 0;
  std::string evidence_;
  std::thread thread_;
};

inline std::vector<int> ports_of(const fleet::fleet& f) {
  std::vector<int> out;
  for (const auto& m : f.members()) out.push_back(m.metrics_port);
  return out;
}

/// Exactly, not sampled: the spans every member served each partition (parti-node's
/// /debug/ownership, on the boot clock that all processes of this host share) never overlap
/// between two owners. `gone`: spans of members that exited, as they reported them last.
inline void no_two_owners_at_any_moment(fleet::fleet& f,
                                        std::vector<fleet::served_span> gone = {}) {
  std::vector<fleet::served_span> spans = std::move(gone);
  for (int i : f.alive()) {
    auto mine = f.served_spans(i);
    BOOST_REQUIRE_MESSAGE(mine.has_value(), "member " << i << " did not answer /debug/ownership");
    spans.insert(spans.end(), mine->begin(), mine->end());
  }
  auto overlaps = fleet::overlapping(spans);
  std::ostringstream evidence;
  for (std::size_t i = 0; i < overlaps.size() && i < 5; ++i) {
    const auto& [a, b] = overlaps[i];
    evidence << a.partition << ": " << a.worker << " [" << a.from << ", " << a.to << ") and "
             << b.worker << " [" << b.from << ", " << b.to << "); ";
  }
  BOOST_TEST_MESSAGE(spans.size() << " served spans, " << overlaps.size() << " overlapping");
  BOOST_TEST(!spans.empty());
  BOOST_TEST(overlaps.empty(), overlaps.size() << " moments with two owners: " << evidence.str());
}

}  // namespace parti::test
