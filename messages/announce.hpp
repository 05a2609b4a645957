#pragma once
// Registers the messages a node exchanges with other CAF applications, so that they can cross
// process boundaries through CAF's middleman (parti-node --publish-port, parti-subscriber).
// Both sides must call it on their actor_system_config, before the actor system starts.
#include <caf/actor_system_config.hpp>

#include "parti/messages/inspect.hpp"

namespace parti {

inline void announce_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<partition>("parti.partition");
  cfg.add_message_type<std::vector<partition>>("parti.partitions");
  cfg.add_message_type<partition_grant>("parti.partition_grant");
  cfg.add_message_type<std::vector<partition_grant>>("parti.partition_grants");
  cfg.add_message_type<assignment_update>("parti.assignment_update");
  cfg.add_message_type<ownership_suspended>("parti.ownership_suspended");
  cfg.add_message_type<ownership_resumed>("parti.ownership_resumed");
  cfg.add_message_type<node_state_update>("parti.node_state_update");
  cfg.add_message_type<leadership_update>("parti.leadership_update");
  cfg.add_message_type<node_status>("parti.node_status");
  // a handler actor of the partition consumer may live in another process
  cfg.add_message_type<consumed_message>("parti.consumed_message");
  cfg.add_message_type<consume_reply>("parti.consume_reply");
  cfg.add_message_type<consumer_stats>("parti.consumer_stats");
}

}  // namespace parti
