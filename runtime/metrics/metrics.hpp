#pragma once
// Every Prometheus metric a parti node process exposes, behind small typed methods, so the rest of
// the code never touches prometheus-cpp (this header includes none of it: the families live in a
// pimpl). One `metrics` serves a whole process: several nodes may run in it, so every series is
// labelled by `worker` (the node's worker id; before it has claimed one, whatever stable name
// the caller uses for it, e.g. its instance id). A process runs the nodes of one group: given
// its name, every series also carries the constant label `group`, so one Prometheus scraping
// the processes of several groups tells them apart (and the alert rules aggregate by it).
//
// Thread-safe: every method may be called from any thread (actors, nats.c callbacks, the HTTP
// thread serialising text()). Families are created up front in the constructor; the series of a
// family are created on first use under that family's mutex.
//
// Gauges keep their last value until set again or until forget_worker() removes the worker's
// series, which a node calls when it loses or gives up its id, so a stale id does not keep
// reporting partitions it no longer owns.
//
// The leader-only series (calculator, partition source, unassigned and hand-off partitions,
// heartbeat ages) exist only while the worker leads: end_leading() removes them when its leader
// ends (a step-down or a crash alike), and ignores the late writes of the ending leader's
// children until the worker leads again, so a former leader's last value never stands beside
// the new leader's.
//
// Counters whose label values are known up front (KV errors by operation and kind, breaker calls
// and state changes, rebalance results, partition source failures, retries, watcher failures)
// are created at 0 when their writer starts: rate() and increase() see a series before the
// first event.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parti/runtime/clock.hpp"
#include "parti/runtime/resilience/circuit_breaker.hpp"

namespace prometheus {
class Registry;
}

namespace parti {

/// Label `result` of parti_calculator_rebalance_total (the alert rules match "failure").
enum class rebalance_result { success, failure };
std::string_view to_string(rebalance_result x);

/// Label `reason` of parti_partition_source_failures_total: a load returned an error or threw,
/// or did not return within the partition source timeout.
enum class source_failure { error, timeout };
std::string_view to_string(source_failure x);

/// Label `result` of parti_circuit_breaker_calls_total.
enum class breaker_call_result { success, failure, rejected };
std::string_view to_string(breaker_call_result x);

/// The value of parti_circuit_breaker_state: 0 closed, 1 open, 2 half-open.
double breaker_state_value(breaker_state x);

/// Label `result` of parti_consume_messages_total: a handler returned (any verdict), a message
/// was acked, nak'ed, termed or dead-lettered, or nak'ed on its last allowed delivery without a
/// dead-letter subject (exhausted: the server gives it up).
enum class consume_result { handled, acked, naked, termed, dead_lettered, exhausted };
std::string_view to_string(consume_result x);

class metrics {
 public:
  /// Registers every family in a registry of its own, without a group label.
  metrics();
  /// Registers every family in `registry`, for an application that exposes more metrics of its
  /// own beside parti's (the names must not clash); without a group label.
  explicit metrics(std::shared_ptr<prometheus::Registry> registry);
  /// Every series carries group="<group>" (no group label when `group` is empty); a null
  /// `registry` means a registry of its own.
  explicit metrics(std::string_view group,
                   std::shared_ptr<prometheus::Registry> registry = nullptr);
  ~metrics();
  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;

  // --- leadership ------------------------------------------------------------------------------
  /// A leader of `worker` starts: its leader-only series are written again.
  void begin_leading(std::string_view worker);
  /// A leader of `worker` ended (stepped down, stopped or failed). When no other leader of that
  /// worker runs (a restarted one may have begun already), removes `worker`'s leader-only series
  /// and ignores leader-only writes for it until begin_leading().
  void end_leading(std::string_view worker);

  // --- leader: calculator ------------------------------------------------------------------
  /// Gives `worker`'s rebalance counters a series at 0 for each reason and result.
  void init_rebalance(std::string_view worker, const std::vector<std::string_view>& reasons);
  /// A rebalance finished (computed and published, or failed): its duration and its outcome.
  void observe_rebalance(std::string_view worker, std::string_view reason, rebalance_result result,
                         duration took);
  /// The input of the last calculation: alive workers and partitions to place.
  void set_calculator_input(std::string_view worker, std::size_t active_workers,
                            std::size_t partition_count);

  // --- leader: partition source (the partition loader) ------------------------------------
  /// Gives `worker`'s failure counters a series at 0 for every reason, so a rate() over them
  /// works before the first failure.
  void init_partition_source(std::string_view worker);
  /// A load of the partition source ended (returned, failed or threw): how long it ran.
  void observe_partition_source_load(std::string_view worker, duration took);
  void count_partition_source_failure(std::string_view worker, source_failure reason);
  /// A load returned a set; `unix_ms` is when (the age of the set in use is now minus this).
  void set_partition_source_success(std::string_view worker, std::uint64_t unix_ms);

  // --- KV store --------------------------------------------------------------------------------
  /// Gives the KV error counters of `worker` a series at 0 for every operation and error kind,
  /// and the retry counters one for every retried operation.
  void init_kv(std::string_view worker, const std::vector<std::string_view>& operations,
               const std::vector<std::string_view>& error_kinds,
               const std::vector<std::string_view>& retried_operations);
  /// One KV call (get, put, create, update, erase, write_many...) and how long it took.
  void observe_kv_operation(std::string_view worker, std::string_view operation, duration took);
  /// A failed KV call; `kind` is the error kind (to_string(kv_errc), e.g. "outcome_unknown").
  void count_kv_error(std::string_view worker, std::string_view operation, std::string_view kind);

  // --- watchers ----------------------------------------------------------------------------
  /// Gives the failure and restart counters of a watch of `bucket` a series at 0.
  void init_watcher(std::string_view worker, std::string_view bucket);
  void count_watcher_failure(std::string_view worker, std::string_view bucket);
  void count_watcher_restart(std::string_view worker, std::string_view bucket);

  // --- resilience --------------------------------------------------------------------------
  /// Which circuit breaker: each shard of each bucket's KV actor has one of its own.
  struct breaker_id {
    std::string_view worker;
    std::string_view bucket;
    std::string_view shard;
  };
  /// Creates the breaker's series: state closed, every call result and state change at 0.
  void init_breaker(const breaker_id& id);
  void set_breaker_state(const breaker_id& id, breaker_state state);
  /// Counts a state change and sets the state gauge to `to`.
  void count_breaker_transition(const breaker_id& id, breaker_state from, breaker_state to);
  void count_breaker_call(const breaker_id& id, breaker_call_result result);
  /// A retry of `operation` (not counting the first attempt).
  void count_retry_attempt(std::string_view worker, std::string_view operation);
  /// `operation` failed for good: every attempt was used, or the error was not retryable.
  void count_retry_exhausted(std::string_view worker, std::string_view operation);

  // --- node ----------------------------------------------------------------------------------
  /// Sets `parti_node_state{state="<state>"}` to 1 and every other state of this worker to 0.
  /// `state` is the wire name of the node state ("Stable", "Degraded"...; see
  /// known_node_states()); a name not in that list is accepted and gets a series of its own.
  void set_node_state(std::string_view worker, std::string_view state);
  void set_leader(std::string_view worker, bool leader);
  void set_epoch(std::string_view worker, std::uint64_t epoch);
  void set_assignment_version(std::string_view worker, std::uint64_t version);
  void set_owned_partitions(std::string_view worker, std::size_t count);
  /// Leader only: partitions that no worker owns in the current assignment.
  void set_unassigned_partitions(std::string_view worker, std::size_t count);
  /// Leader only: partitions in a two-phase hand-off (revoked from their old owner, not yet
  /// granted).
  void set_handoff_partitions(std::string_view worker, std::size_t count);
  /// Leader only: time since the last heartbeat of `observed` arrived.
  void set_heartbeat_age(std::string_view worker, std::string_view observed, duration age);
  /// Leader only: `observed` left (or this node stopped leading): drops its heartbeat age.
  void forget_heartbeat(std::string_view worker, std::string_view observed);
  void set_degraded(std::string_view worker, bool degraded);
  void count_id_lost(std::string_view worker);
  /// Partitions assigned but not served while the ownership lease is lapsed.
  void set_suspended_partitions(std::string_view worker, std::size_t count);
  void count_lease_suspension(std::string_view worker);
  void observe_lease_suspension(std::string_view worker, duration lasted);
  /// A KV value in `bucket` that did not decode (it was skipped).
  void count_decode_error(std::string_view worker, std::string_view bucket);

  // --- partition consumption (per worker, not per partition, except the lags shown) ----------
  void count_consumed(std::string_view worker, consume_result result);
  /// A message arrived with a delivery count above 1.
  void count_redelivered(std::string_view worker);
  /// How long a handler took, from the call to its answer.
  void observe_handler(std::string_view worker, duration took);
  void count_reader_restart(std::string_view worker);
  /// Partitions whose durable consumer a reader is attached to now.
  void set_consumers_attached(std::string_view worker, std::size_t count);
  /// The pending messages over every partition read here, and the partitions shown one by one
  /// (label `partition`): the series of this worker's partitions not in `shown` are removed.
  void set_consume_lag(std::string_view worker, std::uint64_t total,
                       const std::vector<std::pair<std::string, std::uint64_t>>& shown);

  // --- NATS connection (one per process, no worker label) ---------------------------------
  /// parti_nats_connected: 1 while connected. 0 until first set.
  void set_nats_connected(bool connected);
  /// parti_nats_reconnects_total (0 from the start): the connection came back after a loss.
  void count_nats_reconnect();

  /// Removes every series labelled with `worker` (its id was lost or the node stopped), so
  /// nothing keeps reporting for an id this process no longer holds.
  void forget_worker(std::string_view worker);

  /// The registry in the Prometheus text exposition format (version 0.0.4).
  std::string text() const;

  /// The registry itself, for an application that registers metrics of its own in it.
  std::shared_ptr<prometheus::Registry> registry() const;

  /// The node state names given a series up front by set_node_state (the wire names of
  /// node_state in actors/node/lifecycle.hpp, which runtime/ may not include).
  static const std::vector<std::string>& known_node_states();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace parti
