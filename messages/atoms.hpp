#pragma once
// Atoms of parti's actor messages (CAF 0.17: at most 10 characters each). CAF's predefined
// atoms (get_atom, put_atom, update_atom, delete_atom, ok_atom, tick_atom, ...) are used as is.
#include <caf/atom.hpp>

namespace parti {

using create_atom = caf::atom_constant<caf::atom("create")>;
using purge_atom = caf::atom_constant<caf::atom("purge")>;
using keys_atom = caf::atom_constant<caf::atom("keys")>;
using write_atom = caf::atom_constant<caf::atom("write")>;
/// Restart a failed child of this kind now (the node's own timer, after the backoff).
using respawn_atom = caf::atom_constant<caf::atom("respawn")>;
/// The node's ownership lease may have changed state (its own timer, with a token).
using lease_tick_atom = caf::atom_constant<caf::atom("leasetick")>;
/// Read the assignment key back now (the node's own timer after a failed read, with a token).
using readback_atom = caf::atom_constant<caf::atom("readback")>;
using failed_atom = caf::atom_constant<caf::atom("failed")>;
using resync_atom = caf::atom_constant<caf::atom("resync")>;
/// A watch supervisor's own timer: start a new watcher once the restart backoff has passed.
using rewatch_atom = caf::atom_constant<caf::atom("rewatch")>;
using rebalance_atom = caf::atom_constant<caf::atom("rebalance")>;
using refresh_atom = caf::atom_constant<caf::atom("refresh")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
/// node -> heartbeat (heartbeat_actor): draining, put with `leaving`; stop or resume writing;
/// a last heartbeat marked `restarting` before a restart.
using leaving_atom = caf::atom_constant<caf::atom("leaving")>;
using hold_atom = caf::atom_constant<caf::atom("hold")>;
using farewell_atom = caf::atom_constant<caf::atom("farewell")>;
/// The handles of the actors it sends to, given after spawn to one that was spawned first.
using peers_atom = caf::atom_constant<caf::atom("peers")>;
/// A fence of this worker failed; plan it again (the publisher's own delayed retry).
using fence_retry_atom = caf::atom_constant<caf::atom("fenceretr")>;
/// (subscribe, actor, lease): a subscriber that also wants every lease_update.
using lease_atom = caf::atom_constant<caf::atom("lease")>;
/// The partition consumer's lag timers: a reader reads its consumer's pending count, the consumer
/// shows the lags in metrics.
using lag_atom = caf::atom_constant<caf::atom("lag")>;

/// (load): ask the partition loader for the partitions (a load of the source, or what it has).
using load_atom = caf::atom_constant<caf::atom("load")>;

}  // namespace parti
