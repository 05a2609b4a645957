#pragma once
// How a node stops. Pure: no CAF, no NATS.
//
//   idle --begin--> draining --(owns nothing | drain timeout)--> releasing --> finished
//             \___________________(restart, or nothing owned)___/
//
// A drain announces `leaving` and waits until the leader has handed every partition to others
// (the node owns nothing) and, on the leader itself, until the round that does so completed,
// or the drain timeout passes: a leader that left between a hand-off's revocation and its grant
// would leave the grant to its successor. A restart keeps the partitions for the restart grace,
// so it does not wait. Then the node releases what it holds, one step at a time,
// each step a request to a child that answers when done or given up:
//   leadership (the leader's work stops, the election key is deleted), heartbeat (deleted, or a
//   last one that says `restarting`), id (the claim is deleted).
// The id goes last: while the heartbeat key exists, the id must stay this process's. Once the
// id is released the node is finished. Each event acts only in its phase: a late drain timeout
// or a second empty assignment does not start the release again.
#include <optional>

#include "parti/runtime/config.hpp"

namespace parti {

enum class release_step { leadership, heartbeat, id };
const char* to_string(release_step x);

/// What the node does next to stop.
struct stop_action {
  enum class kind { drain, release, finish } what;
  release_step step = release_step::leadership;  // for release
};

class shutdown_sequence {
 public:
  /// Starts stopping; nullopt when already stopping (the first request decides). `busy`: the
  /// node owns partitions, or leads a round that has not completed.
  std::optional<stop_action> begin(shutdown_intent intent, bool busy);

  /// Draining: the node owns nothing now and leads no round, or the drain timeout passed ->
  /// release. Nullopt in any other phase.
  std::optional<stop_action> drained();

  /// The current release step is done (or was given up) -> the next one, or finish. Nullopt for
  /// any other step.
  std::optional<stop_action> released(release_step step);

  bool stopping() const { return phase_ != phase::idle; }
  bool draining() const { return phase_ == phase::draining; }
  /// Meaningful once stopping.
  shutdown_intent intent() const { return intent_; }

 private:
  enum class phase { idle, draining, releasing, finished };

  stop_action release(release_step step);

  phase phase_ = phase::idle;
  shutdown_intent intent_ = shutdown_intent::drain;
  release_step step_ = release_step::leadership;
};

}  // namespace parti
