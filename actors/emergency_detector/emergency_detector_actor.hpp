#pragma once
// emergency_detector: a worker whose heartbeat expired is confirmed after the grace period
// unless it comes back (emergency_rules decides, by identity); a confirmed one goes to the
// state machine as emergency_notice, marked `owned` when it owns partitions. Learns the owners
// from the publisher (owners_notice).
#include <optional>
#include <string>
#include <vector>

#include "parti/actors/emergency_detector/emergency_rules.hpp"
#include "parti/messages/interfaces.hpp"
#include "parti/runtime/wakeup.hpp"

namespace parti {

struct emergency_detector_state {
  std::optional<emergency_rules> rules;
  state_machine_actor state_machine;
  wakeup timer;
  static inline const char* name = "parti.emergency_detector";
};

emergency_detector_actor::behavior_type emergency_detector(
    emergency_detector_actor::stateful_pointer<emergency_detector_state> self,
    emergency_options options, std::vector<std::string> owners, state_machine_actor state_machine);

}  // namespace parti
