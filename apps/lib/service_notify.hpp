#pragma once
// parti-node (and parti-consume) as a systemd service of Type=notify (sd_notify(3)): READY=1
// once every node of the process is ready in the /readyz sense, STATUS=<short state> whenever
// that state changes, STOPPING=1 when the shutdown begins, and WATCHDOG=1 every half
// WatchdogSec while the node actors answer (the /healthz check), when the unit sets one. The
// pings go on during the graceful stop (a drain may last longer than WatchdogSec) for as long
// as the nodes answer.
// Without NOTIFY_SOCKET in the environment (not started by systemd) it does nothing at all: no
// thread, no socket.
#include <caf/actor_system.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "apps/lib/node_probes.hpp"
#include "apps/lib/status_cache.hpp"
#include "parti/runtime/clock.hpp"

namespace parti::node_app {

/// What systemd is told of the nodes of `cache`: whether all are ready (READY=1), and the
/// STATUS= text: "ready: 2 of 2 nodes" when every node is ready, else "starting: 1 of 2 nodes
/// ready; node 1: no_assignment" (the first node not ready and its /readyz reason).
struct service_state {
  bool ready = false;
  std::string status;
};
service_state service_state_of(const status_cache& cache);

class service_notifier {
 public:
  /// How often the readiness is looked at (a read of the status cache under its mutex).
  static constexpr std::chrono::milliseconds default_poll{100};

  /// Starts reporting when NOTIFY_SOCKET is set. `sys`, `cache` and `nodes` must outlive it.
  service_notifier(caf::actor_system& sys, std::shared_ptr<const status_cache> cache,
                   std::shared_ptr<const node_handles> nodes,
                   std::chrono::milliseconds poll = default_poll);
  /// Sends STOPPING=1 unless stopping() did, and waits for the reporting thread.
  ~service_notifier();
  service_notifier(const service_notifier&) = delete;
  service_notifier& operator=(const service_notifier&) = delete;

  bool enabled() const { return enabled_; }

  /// The shutdown begins: STOPPING=1 with STATUS=stopping (<why>); no READY=1 or STATUS= after
  /// it (watchdog pings only). Only the first call counts.
  void stopping(const std::string& why);

 private:
  void run();
  /// Sends `message`; a readiness message (READY=1, STATUS=) not once the shutdown began. Under
  /// the mutex, so no readiness message follows STOPPING=1.
  void send(const std::string& message, bool readiness);

  caf::actor_system& sys_;
  std::shared_ptr<const status_cache> cache_;
  std::shared_ptr<const node_handles> nodes_;
  const std::chrono::milliseconds poll_;
  const bool enabled_;
  duration watchdog_interval_ = duration::zero();  // zero: no watchdog

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool done_ = false;  // the destructor runs: the thread ends
  std::thread thread_;
};

}  // namespace parti::node_app
