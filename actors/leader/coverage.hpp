#pragma once
// What a leader checks when it takes over: does the published assignment give every partition
// of the source to exactly one worker? Pure: no CAF, no NATS.
//
// A hand-off publishes a partition's revocation first and its grant later (handoff_planner.hpp).
// A leader that dies or leaves in between (killed, a failed leader subtree, its own drain cut
// short) leaves the partition in nobody's key, and nothing else points at it: every worker is
// still in the assignment, and the one it was revoked from owns nothing now, so neither a join
// nor an emergency starts a round. Only comparing the source with the keys finds it.
#include <vector>

#include "parti/messages/records.hpp"
#include "parti/runtime/strategy/strategy.hpp"

namespace parti {

/// The partitions of `source` that `published` does not give to exactly one worker: in nobody's
/// key, or in several. A partition is identified by its keys; listed in the order of `source`,
/// each once. Partitions that only `published` has (removed from the source) are not listed: a
/// refresh is what removes them.
std::vector<partition> not_owned_once(const std::vector<partition>& source,
                                      const assignment& published);

}  // namespace parti
