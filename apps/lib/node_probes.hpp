#pragma once
// parti-node's liveness probe (/healthz): whether the node actors of this process still answer.
// The readiness probe (/readyz) reads the status cache instead (status_cache::readiness_report):
// it must not wait for an actor, liveness must.
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <chrono>
#include <mutex>
#include <vector>

#include "parti/runtime/metrics/http_endpoint.hpp"

namespace parti::node_app {

/// The node actors of this process (set once they are spawned; read on the HTTP server's
/// threads).
class node_handles {
 public:
  void set(std::vector<caf::actor> nodes);
  std::vector<caf::actor> get() const;

 private:
  mutable std::mutex mutex_;
  std::vector<caf::actor> nodes_;
};

/// How long /healthz waits for a node actor's answer: a node whose actor does not answer within
/// it is stuck (its mailbox is not processed), whatever the store does.
constexpr std::chrono::milliseconds liveness_deadline{1000};

/// /healthz: asks every node actor for its status (caf::get_atom -> node_status), all at once,
/// each with `deadline`. 200 {"alive":true,"nodes":[{"index","alive","worker","state"}]} when
/// all answer and none is Failed (a Failed node only waits to be shut down: restarting the
/// process is what helps it); 503 with "alive":false and "reason":"node <i>: <why>" (the first
/// node that is not live) otherwise. Before the nodes start (the store not reachable yet) the
/// process is live ("starting":true): it is waiting, and a restart would not bring the store.
/// Runs on the caller's thread (an HTTP server thread) for at most `deadline`.
http_page liveness(caf::actor_system& sys, const node_handles& nodes,
                   std::chrono::milliseconds deadline = liveness_deadline);

}  // namespace parti::node_app
