#include "parti/actors/leader/leader_actor.hpp"

#include <caf/all.hpp>

#include "parti/actors/calculator/calculator_actor.hpp"
#include "parti/actors/emergency_detector/emergency_detector_actor.hpp"
#include "parti/actors/leader/coverage.hpp"
#include "parti/actors/partition_loader/partition_loader_actor.hpp"
#include "parti/actors/publisher/publisher_actor.hpp"
#include "parti/actors/state_machine/state_machine_actor.hpp"
#include "parti/actors/worker_monitor/worker_monitor_actor.hpp"
#include "parti/messages/codec.hpp"
#include "parti/messages/leader_events.hpp"
#include "parti/messages/wire.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/metrics/decode_errors.hpp"
#include "parti/runtime/nats/kv_actor.hpp"
#include "parti/runtime/nats/watch.hpp"

namespace parti {

namespace {

/// What the previous leaders left in `<group>-assignments`.
struct published_state {
  published_map keys;
  assignment previous;
  std::vector<std::string> owners;
  std::vector<std::string> assigned;
  std::optional<control_record> control;
  std::optional<manifest_record> manifest;
};

/// `entries` decoded; an undecodable value is counted and logged as the leader's watch would.
published_state read_published(const std::vector<kv_entry>& entries, const decode_report& where,
                               std::uint64_t& failures) {
  auto bucket = decode_assignments(entries);
  for (const auto& bad : bucket.undecodable)
    report_decode_failure(where, bad.key, bad.error, failures);
  published_state out;
  out.control = std::move(bucket.control);
  out.manifest = std::move(bucket.manifest);
  for (const auto& [worker, r] : bucket.workers) {
    out.keys[worker] = published_key_of(r);
    out.previous[worker] = r.partitions;
    out.assigned.push_back(worker);
    if (!r.partitions.empty()) out.owners.push_back(worker);
  }
  return out;
}

struct leader_state {
  leader_context ctx;
  leader_settings settings;
  std::shared_ptr<load_slot> loads;  // the factory's, shared by every leader it makes
  partition_loader_actor loader;     // the one caller of the partition source
  state_machine_actor state_machine;
  calculator_actor calculator;     // asked on each refresh period whether the source changed
  bool refresh_in_flight = false;  // one such question at a time
  control_record last_control;
  std::uint64_t undecodable = 0;
  static inline const char* name = "parti.leader";
};

using leader_ptr = leader_actor::stateful_pointer<leader_state>;

rebalance_options rules_of(const node_config& c) {
  rebalance_options o;
  o.cold_start_window = c.cold_start_window;
  o.cold_start = c.cold_start;
  o.cold_start_settle = c.effective_cold_start_settle();
  o.planned_scale_window = c.planned_scale_window;
  o.cooldown = c.cooldown;
  o.restart_ratio = c.restart_detection_ratio;
  return o;
}

/// How long the leader and the calculator wait for the loader's answer: it answers within the
/// partition source timeout; the rest only guards against a loader that is gone.
duration load_wait(const node_config& c) {
  return 2 * c.partition_source_timeout;
}

liveness_options liveness_of(const node_config& c) {
  liveness_options o;
  o.heartbeat_ttl = c.heartbeat_ttl;
  o.restart_grace = c.restart_grace;
  o.recovery_grace = c.degraded.recovery_grace;
  o.rebuild_grace = c.heartbeat_interval;
  o.mass_expiry_share = c.degraded.mass_disappearance_share;
  o.mass_expiry_hold = c.heartbeat_ttl;
  // Silent for half a TTL: a worker whose last heartbeat is within TTL/2 of the newest one is
  // protected, and one late heartbeat (the leader alone beats every interval) is no silence.
  o.silence_threshold = c.heartbeat_ttl / 2;
  return o;
}

/// Whether the published assignment gives every partition of the source to exactly one worker,
/// and how many partitions the source has.
struct coverage {
  /// Some partition is in no key or in several, or the source did not load to tell: either way
  /// a round is due (it fails like the calculator's until the source loads, and is retried).
  bool in_doubt = false;
  std::uint64_t partition_count = 0;  // the source's; the last manifest's when it did not load
};

coverage check_coverage(const leader_state& st, const published_state& published,
                        const partition_load& load) {
  coverage out;
  if (published.manifest) out.partition_count = published.manifest->partition_count;
  if (!load.fresh) {
    log(log_level::warning, "leader: ", load.problem,
        "; a round is due to find out whether every partition has an owner");
    out.in_doubt = true;
    return out;
  }
  const auto& loaded = load.partitions;
  out.partition_count = loaded.size();
  auto unowned = not_owned_once(loaded, published.previous);
  out.in_doubt = !unowned.empty();
  // Without a published assignment everything is unassigned: that is a cold start.
  if (!unowned.empty() && !published.previous.empty()) {
    const auto& first = unowned.front().keys;
    log(log_level::warning, "leader ", st.ctx.worker, ": ", unowned.size(), " of ", loaded.size(),
        " partitions (", first.empty() ? std::string() : first.front(),
        ", ...) are in no worker's assignment or in several: a round is due");
  }
  return out;
}

/// Spawns the pipeline. The children are linked: one failing ends the leader, and the node
/// restarts it (after a backoff) from what KV holds. `load`: the loader's answer for the
/// coverage check.
void start_pipeline(leader_ptr self, published_state published, const partition_load& load) {
  auto& st = self->state;
  const auto& c = st.ctx.config;
  auto& group = *st.ctx.group;
  auto strategies =
      st.settings.strategies ? st.settings.strategies : std::make_shared<const strategy_registry>();
  auto algorithm = strategies->find(c.strategy);
  if (!algorithm) {
    log(log_level::error, "leader: ", algorithm.error());
    self->quit(caf::make_error(caf::sec::runtime_error, algorithm.error()));
    return;
  }
  // Spawned so that each knows the ones it sends to; the one cycle (state machine <->
  // calculator) is closed by telling the state machine its calculator before anything else
  // can reach it (the monitor, whose monitor_ready starts it, comes last).
  auto stats = group.metrics;
  // Taking over from a leader that died or left mid-hand-off: its revoked, not yet granted
  // partitions are in nobody's key, and only this comparison finds them.
  auto covered = check_coverage(st, published, load);
  state_machine_settings sm{rules_of(c), published.assigned, derive_timings(c).round,
                            stats,       st.ctx.worker,      covered.in_doubt};
  st.state_machine = self->spawn<caf::linked>(state_machine, sm,
                                              caf::actor_cast<group_phase_listener>(st.ctx.node));
  auto detector = self->spawn<caf::linked>(emergency_detector, emergency_options{c.emergency_grace},
                                           published.owners, st.state_machine);
  publisher_settings ps;
  ps.leader = st.ctx.worker;
  ps.epoch = st.ctx.epoch;
  ps.handoff = {
      c.hand_off == hand_off_mode::eager ? handoff_mode::eager : handoff_mode::cooperative,
      c.hand_off_timeout};
  ps.request_timeout = c.kv_operation_timeout;
  ps.published = std::move(published.keys);
  // A leader restarted under the same epoch (a failed child, a reclaimed lease) continues the
  // versions: workers ignore an (epoch, version) that is not greater than theirs.
  if (published.manifest && published.manifest->epoch == st.ctx.epoch)
    ps.last_version = published.manifest->version;
  ps.partition_count = covered.partition_count;
  ps.stats = stats;
  ps.heartbeat_ttl = c.heartbeat_ttl;
  ps.leading_until = st.ctx.leading_until;
  auto pub = self->spawn<caf::linked>(publisher, ps, group.assignments_kv, group.heartbeats_kv,
                                      st.state_machine, detector);
  calculator_settings cs{
      st.loader, *algorithm,    st.settings.strategy, std::move(published.previous),
      stats,     st.ctx.worker, load_wait(c)};
  st.calculator = self->spawn<caf::linked>(calculator, cs, pub, st.state_machine);
  self->send(st.state_machine, peers_atom::value, st.calculator);
  // The owners, not every keyed worker: one whose key is empty and whose heartbeat is gone (a
  // leader that revoked its own partitions, then died) has nothing to come back for, and taking
  // it for live until it expires would have the first round give it partitions.
  self->spawn<caf::linked>(
      worker_monitor, liveness_of(c), group.heartbeats, published.owners,
      worker_monitor_peers{st.state_machine, detector, pub, stats, st.ctx.worker});
  if (published.control) {
    self->state.last_control = *published.control;
    self->send(st.state_machine,
               control_notice{published.control->frozen, false, false, published.control->drain});
  }
  watch_options opts;
  opts.key_filter = std::string(control_key);
  self->link_to(
      spawn_watch(self->system(), group.assignments, self, opts,
                  count_watch_failures(stats, st.ctx.worker, group.assignments->bucket())));
  if (st.settings.refresh_period > duration::zero())
    self->delayed_send(self, st.settings.refresh_period, refresh_atom::value);
  log(log_level::info, "leader ", st.ctx.worker, " (epoch ", st.ctx.epoch,
      "): ", st.ctx.config.strategy, " strategy, ", published.assigned.size(),
      " workers in the published assignment");
}

void on_control(leader_ptr self, const watch_update& u) {
  auto& st = self->state;
  if (u.entry.key != control_key || u.entry.op != kv_op::put || !st.state_machine) return;
  auto c = decode_reported<control_record>(
      u.entry, {st.ctx.group->metrics.get(), st.ctx.worker, bucket_role::assignments, "leader"},
      st.undecodable);
  if (!c) return;
  control_notice n{c->frozen, c->rebalance_seq > st.last_control.rebalance_seq,
                   c->refresh_seq > st.last_control.refresh_seq, c->drain};
  st.last_control = *c;
  self->send(st.state_machine, n);
}

/// The leader-only series of this worker exist while this leader runs: they go when it ends, by
/// a step-down (the node stops it) or a failure alike, so a former leader does not keep
/// reporting its last unassigned partitions beside the new leader's.
void track_leading(leader_ptr self) {
  auto stats = self->state.ctx.group->metrics;
  if (!stats) return;
  auto worker = self->state.ctx.worker;
  stats->begin_leading(worker);
  self->attach_functor([stats, worker] { stats->end_leading(worker); });
}

/// The partition loader, linked like the pipeline: asked first for the coverage check, then by
/// the calculator.
void spawn_loader(leader_ptr self) {
  auto& st = self->state;
  partition_loader_settings ls;
  ls.source = st.settings.partitions;
  ls.options.timeout = st.ctx.config.partition_source_timeout;
  ls.slot = st.loads;
  ls.stats = st.ctx.group->metrics;
  ls.worker = st.ctx.worker;
  st.loader = self->spawn<caf::linked>(partition_loader, std::move(ls));
}

/// Loads the partition source for the coverage check, then starts the pipeline (at the latest
/// once the partition source timeout passed: without a load the first round is due at once).
void load_then_start(leader_ptr self, published_state published) {
  auto& st = self->state;
  auto shared = std::make_shared<published_state>(std::move(published));
  self->request(st.loader, load_wait(st.ctx.config), load_atom::value)
      .then([=](const partition_load& load) { start_pipeline(self, std::move(*shared), load); },
            [=](const caf::error& err) {
              partition_load none;
              none.problem = "partition loader: " + describe(err);
              start_pipeline(self, std::move(*shared), none);
            });
}

leader_actor::behavior_type leader(leader_ptr self, leader_context ctx, leader_settings settings,
                                   std::shared_ptr<load_slot> loads) {
  self->state.ctx = std::move(ctx);
  self->state.settings = std::move(settings);
  self->state.loads = std::move(loads);
  track_leading(self);
  spawn_loader(self);
  auto read = [=] {
    auto& st = self->state;
    self->request(st.ctx.group->assignments_kv, derive_timings(st.ctx.config).leader_read,
                  caf::get_atom::value, keys_atom::value)
        .then(
            [=](const std::vector<kv_entry>& entries) {
              auto& s = self->state;
              decode_report where{s.ctx.group->metrics.get(), s.ctx.worker,
                                  bucket_role::assignments, "leader"};
              load_then_start(self, read_published(entries, where, s.undecodable));
            },
            [=](const caf::error& err) {
              // Without the published state a leader would undo its predecessors' work:
              // fail, and let the node restart the leader after a backoff.
              log(log_level::warning, "leader: reading assignments: ", describe(err));
              self->quit(err);
            });
  };
  read();
  return {
      [=](const watch_update& u) { on_control(self, u); },
      [=](const watch_ready&) {},
      [=](refresh_atom) {  // the periodic re-read of the partition source
        auto& st = self->state;
        self->delayed_send(self, st.settings.refresh_period, refresh_atom::value);
        if (!st.calculator || st.refresh_in_flight) return;
        // Only a changed source is worth a round (an explicit refresh request always is: that
        // one comes through _control). The calculator holds the last load, so it decides.
        st.refresh_in_flight = true;
        self->request(st.calculator,
                      derive_timings(st.ctx.config).leader_read + load_wait(st.ctx.config),
                      refresh_atom::value)
            .then(
                [=](bool changed) {
                  auto& s = self->state;
                  s.refresh_in_flight = false;
                  if (changed)
                    self->send(s.state_machine,
                               control_notice{s.last_control.frozen, false, true, {}});
                },
                [=](const caf::error& err) {
                  self->state.refresh_in_flight = false;
                  log(log_level::warning, "leader: periodic refresh: ", describe(err));
                });
      },
  };
}

}  // namespace

leader_factory make_leader_factory(leader_settings settings) {
  // One slot for every leader this factory makes (a node's successive leaders, or those of the
  // nodes of a process that share the factory): a load of the source that hangs past a leader's
  // end is not started again by the next one.
  auto loads = std::make_shared<load_slot>();
  return [settings, loads](caf::actor_system& sys, const leader_context& ctx) {
    return caf::actor_cast<caf::actor>(sys.spawn(leader, ctx, settings, loads));
  };
}

}  // namespace parti
