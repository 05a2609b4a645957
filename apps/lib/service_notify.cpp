#include "apps/lib/service_notify.hpp"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "parti/runtime/log.hpp"

namespace parti::node_app {

service_state service_state_of(const status_cache& cache) {
  const int total = cache.nodes();
  int ready = 0;
  std::string first_problem;
  for (int i = 0; i < total; ++i) {
    auto r = cache.ready(i);
    if (r.ready)
      ++ready;
    else if (first_problem.empty())
      first_problem = "node " + std::to_string(i) + ": " + r.reason;
  }
  const auto of = std::to_string(total) + (total == 1 ? " node" : " nodes");
  if (ready == total) return {true, "ready: " + std::to_string(ready) + " of " + of};
  return {false, "starting: " + std::to_string(ready) + " of " + of + " ready; " + first_problem};
}

namespace {

bool notify_socket_set() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  return socket != nullptr && *socket != '\0';
}

/// Half the WatchdogSec the unit set (systemd's advice: ping at least twice per interval);
/// zero when it set none or it is meant for another process (WATCHDOG_PID).
duration watchdog_interval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return duration::zero();
  return std::chrono::microseconds(usec / 2);
}

}  // namespace

service_notifier::service_notifier(caf::actor_system& sys,
                                   std::shared_ptr<const status_cache> cache,
                                   std::shared_ptr<const node_handles> nodes,
                                   std::chrono::milliseconds poll)
    : sys_(sys),
      cache_(std::move(cache)),
      nodes_(std::move(nodes)),
      poll_(poll),
      enabled_(notify_socket_set()) {
  if (!enabled_) return;
  watchdog_interval_ = watchdog_interval();
  thread_ = std::thread([this] { run(); });
}

service_notifier::~service_notifier() {
  stopping("stopped");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void service_notifier::stopping(const std::string& why) {
  if (!enabled_) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    sd_notify(0, ("STOPPING=1\nSTATUS=stopping (" + why + ")").c_str());
    stopping_ = true;
  }
  wake_.notify_all();
}

void service_notifier::send(const std::string& message, bool readiness) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (readiness && stopping_) return;
  if (int rc = sd_notify(0, message.c_str()); rc < 0)
    log(log_level::warning, "sd_notify: ", message.substr(0, message.find('\n')), " failed (",
        std::strerror(-rc), ")");
}

void service_notifier::run() {
  bool ready_sent = false;
  std::string last_status;
  auto next_ping = std::chrono::steady_clock::now();
  // A liveness answer must come well within the watchdog interval, or the ping comes too late.
  const auto liveness_limit = std::min<std::chrono::milliseconds>(
      liveness_deadline,
      std::chrono::duration_cast<std::chrono::milliseconds>(watchdog_interval_ / 2));
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (wake_.wait_for(lock, poll_, [this] { return done_; })) return;
    }
    auto [all_ready, status] = service_state_of(*cache_);
    if (all_ready && !ready_sent) {
      send("READY=1\nSTATUS=" + status, true);
      ready_sent = true;
      last_status = status;
    } else if (status != last_status) {
      send("STATUS=" + status, true);
      last_status = status;
    }
    if (watchdog_interval_ > duration::zero() && std::chrono::steady_clock::now() >= next_ping) {
      // Only while the node actors answer (as /healthz): a stuck process gets no ping, and
      // systemd restarts it once WatchdogSec passes.
      if (liveness(sys_, *nodes_, liveness_limit).code == 200) {
        send("WATCHDOG=1", false);
        next_ping =
            std::chrono::steady_clock::now() +
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(watchdog_interval_);
      }
    }
  }
}

}  // namespace parti::node_app
