#pragma once
// emergency_detector: an owner whose heartbeat expired is confirmed after the grace period
// unless it comes back (emergency_rules decides, by identity); a confirmed one goes to the
// state machine as emergency_notice. Learns the owners from the publisher (owners_notice).
#include <caf/fwd.hpp>

#include "actors/emergency_detector/emergency_rules.hpp"

namespace parti {

caf::behavior emergency_detector(caf::event_based_actor* self, emergency_options options,
                                 std::vector<std::string> owners, caf::actor state_machine);

}  // namespace parti
