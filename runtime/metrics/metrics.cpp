#include "parti/runtime/metrics/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <type_traits>
#include <utility>

#include "parti/version.hpp"

namespace parti {

std::string_view to_string(rebalance_result x) {
  switch (x) {
    case rebalance_result::success:
      return "success";
    case rebalance_result::failure:
      return "failure";
  }
  return "unknown";
}

std::string_view to_string(breaker_call_result x) {
  switch (x) {
    case breaker_call_result::success:
      return "success";
    case breaker_call_result::failure:
      return "failure";
    case breaker_call_result::rejected:
      return "rejected";
  }
  return "unknown";
}

std::string_view to_string(source_failure x) {
  switch (x) {
    case source_failure::error:
      return "error";
    case source_failure::timeout:
      return "timeout";
  }
  return "unknown";
}

double breaker_state_value(breaker_state x) {
  switch (x) {
    case breaker_state::closed:
      return 0;
    case breaker_state::open:
      return 1;
    case breaker_state::half_open:
      return 2;
  }
  return -1;
}

std::string_view to_string(consume_result x) {
  switch (x) {
    case consume_result::handled:
      return "handled";
    case consume_result::acked:
      return "acked";
    case consume_result::naked:
      return "naked";
    case consume_result::termed:
      return "termed";
    case consume_result::dead_lettered:
      return "dead_lettered";
    case consume_result::exhausted:
      return "exhausted";
  }
  return "unknown";
}

namespace {

using label_values = std::vector<std::string>;

double seconds(duration d) {
  return std::chrono::duration<double>(d).count();
}

// Rebalances range from a few milliseconds (a small fleet) to the publish of thousands of keys.
const prometheus::Histogram::BucketBoundaries rebalance_buckets{
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
// A KV round trip on a LAN is about a millisecond; the request timeout is a few seconds.
const prometheus::Histogram::BucketBoundaries kv_buckets{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

// A message handler takes from microseconds (a counter) to its timeout (an external call).
const prometheus::Histogram::BucketBoundaries handler_buckets{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

// A partition source answers in microseconds (a count) to seconds (a slow query), up to its
// timeout; a load that hangs past it is observed when it returns, if ever.
const prometheus::Histogram::BucketBoundaries source_load_buckets{
    0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

// A suspension lasts from a heartbeat interval (a blip) to a whole store outage.
const prometheus::Histogram::BucketBoundaries suspension_buckets{0.1, 0.25, 0.5, 1,  2.5,
                                                                 5,   10,   30,  60, 300};

class series_base {
 public:
  virtual ~series_base() = default;
  /// Removes every series whose `worker` label (always the first) is `worker`.
  virtual void forget_worker(std::string_view worker) = 0;
};

/// The series of one family, by label values (in the order of the names given), so that a
/// series can be found again cheaply and removed by worker. prometheus-cpp's Family can add and
/// remove a series but cannot list them by label, hence this index beside it.
template <class T>
class series final : public series_base {
 public:
  series(prometheus::Family<T>& family, std::vector<std::string> names,
         prometheus::Histogram::BucketBoundaries buckets = {})
      : family_(family), names_(std::move(names)), buckets_(std::move(buckets)) {}

  T& at(label_values values) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = index_.find(values);
    if (it != index_.end()) return *it->second;
    T& metric = add(labels_of(values));
    index_.emplace(std::move(values), &metric);
    return metric;
  }

  /// Calls f(values, metric) for every series of `worker`, all under one lock. They are
  /// adjacent in the index (the worker is the first label): a node's gauges are set on every
  /// heartbeat, and a process may run a thousand nodes.
  template <class F>
  void for_each_of(std::string_view worker, F f) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = first_of(worker); it != index_.end() && it->first.front() == worker; ++it)
      f(it->first, *it->second);
  }

  void forget_if(const std::function<bool(const label_values&)>& matches) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = index_.begin(); it != index_.end();) {
      if (matches(it->first)) {
        family_.Remove(it->second);
        it = index_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void forget_worker(std::string_view worker) override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = first_of(worker); it != index_.end() && it->first.front() == worker;) {
      family_.Remove(it->second);
      it = index_.erase(it);
    }
  }

 private:
  /// The first series of `worker` or after it: {worker} sorts before every {worker, ...}.
  auto first_of(std::string_view worker) {
    return index_.lower_bound(label_values{std::string(worker)});
  }

  prometheus::Labels labels_of(const label_values& values) const {
    prometheus::Labels labels;
    for (std::size_t i = 0; i < names_.size() && i < values.size(); ++i)
      labels.emplace(names_[i], values[i]);
    return labels;
  }

  T& add(const prometheus::Labels& labels) {
    if constexpr (std::is_same_v<T, prometheus::Histogram>)
      return family_.Add(labels, buckets_);
    else
      return family_.Add(labels);
  }

  prometheus::Family<T>& family_;
  const std::vector<std::string> names_;
  const prometheus::Histogram::BucketBoundaries buckets_;
  std::mutex mutex_;
  std::map<label_values, T*> index_;
};

/// Where the families go: the registry, and the labels every series of this process carries
/// (group="<group>"; none without a group).
struct family_place {
  prometheus::Registry& registry;
  prometheus::Labels constant;
};

prometheus::Labels constant_labels(std::string_view group) {
  if (group.empty()) return {};
  return {{"group", std::string{group}}};
}

prometheus::Family<prometheus::Counter>& counter(const family_place& p, const char* name,
                                                 const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Labels(p.constant).Register(p.registry);
}

prometheus::Family<prometheus::Gauge>& gauge(const family_place& p, const char* name,
                                             const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Labels(p.constant).Register(p.registry);
}

prometheus::Family<prometheus::Histogram>& histogram(const family_place& p, const char* name,
                                                     const char* help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Labels(p.constant).Register(p.registry);
}

std::string str(std::string_view s) {
  return std::string{s};
}

}  // namespace

struct metrics::impl {
  using counters = series<prometheus::Counter>;
  using gauges = series<prometheus::Gauge>;
  using histograms = series<prometheus::Histogram>;

  impl(std::string_view group, std::shared_ptr<prometheus::Registry> r)
      : registry(std::move(r)), reg{*registry, constant_labels(group)} {
    // The Prometheus convention for what is running: join on it by version or commit.
    gauge(reg, "parti_build_info", "Always 1; labels version and commit of the parti build.")
        .Add({{"version", version_string}, {"commit", git_commit}})
        .Set(1);
  }

  std::shared_ptr<prometheus::Registry> registry;
  family_place reg;

  // The process's one NATS connection: no worker label, and a series from the start (a
  // disconnect alert must not wait for a first event, nor increase() for a first reconnect).
  prometheus::Gauge& nats_connected{
      gauge(reg, "parti_nats_connected",
            "1 while the process's NATS connection is up, 0 while it is disconnected or closed.")
          .Add({})};
  prometheus::Counter& nats_reconnects{
      counter(reg, "parti_nats_reconnects_total",
              "Times the NATS connection was re-established after a disconnect.")
          .Add({})};

  histograms rebalance_duration{
      histogram(reg, "parti_calculator_rebalance_duration_seconds",
                "Time to compute and publish one rebalance, by the reason it ran for."),
      {"worker", "reason"},
      rebalance_buckets};
  counters rebalance_total{
      counter(reg, "parti_calculator_rebalance_total",
              "Rebalances the leader ran, by reason and result (success or failure)."),
      {"worker", "reason", "result"}};
  gauges active_workers{gauge(reg, "parti_calculator_active_workers",
                              "Alive workers in the leader's last calculation."),
                        {"worker"}};
  // Not "..._partition_count": promtool's lint reserves the _count suffix for histograms and
  // summaries, and the exposition must pass `promtool check metrics`.
  gauges partition_count{gauge(reg, "parti_calculator_partitions",
                               "Partitions placed by the leader's last calculation."),
                         {"worker"}};
  counters source_failures{
      counter(reg, "parti_partition_source_failures_total",
              "Loads of the partition source that failed, by reason: error (returned an error "
              "or threw) or timeout (no answer within the partition source timeout)."),
      {"worker", "reason"}};
  histograms source_load_duration{
      histogram(reg, "parti_partition_source_load_seconds",
                "Time a load of the partition source ran, failed ones and late ones included."),
      {"worker"},
      source_load_buckets};
  gauges source_last_success{
      gauge(reg, "parti_partition_source_last_success_timestamp_seconds",
            "Unix time of the last load of the partition source that returned a set: the leader "
            "runs on that set until a newer one loads."),
      {"worker"}};
  histograms kv_duration{
      histogram(reg, "parti_kv_operation_duration_seconds",
                "Duration of JetStream KV calls, by operation, failed ones included."),
      {"worker", "operation"},
      kv_buckets};
  counters kv_errors{counter(reg, "parti_kv_operation_errors_total",
                             "Failed JetStream KV calls, by operation and error kind."),
                     {"worker", "operation", "kind"}};
  counters watcher_failures{
      counter(reg, "parti_watcher_failures_total",
              "KV watches that failed (disconnect, stream deleted, server restart), by bucket."),
      {"worker", "bucket"}};
  counters watcher_restarts{counter(reg, "parti_watcher_restarts_total",
                                    "KV watches started again after a failure, by bucket."),
                            {"worker", "bucket"}};
  gauges breaker_states{
      gauge(reg, "parti_circuit_breaker_state",
            "State of each circuit breaker in front of the store (one per bucket and shard of its "
            "KV actor): 0 closed, 1 open, 2 half-open."),
      {"worker", "bucket", "shard"}};
  counters breaker_calls{
      counter(reg, "parti_circuit_breaker_calls_total",
              "Calls through the circuit breaker, by result (success, failure, rejected)."),
      {"worker", "bucket", "shard", "result"}};
  counters breaker_changes{counter(reg, "parti_circuit_breaker_state_changes_total",
                                   "State changes of the circuit breaker, by from and to state."),
                           {"worker", "bucket", "shard", "from", "to"}};
  counters retry_attempts{counter(reg, "parti_retry_attempts_total",
                                  "Retries of a failed operation (first attempts not counted)."),
                          {"worker", "operation"}};
  counters retry_exhausted{
      counter(reg, "parti_retry_exhausted_total",
              "Operations given up after their last attempt or a non-retryable error."),
      {"worker", "operation"}};
  gauges node_state{gauge(reg, "parti_node_state",
                          "1 for the node's current state (label state), 0 for the others."),
                    {"worker", "state"}};
  gauges leader{gauge(reg, "parti_node_leader", "1 while this node is the leader, else 0."),
                {"worker"}};
  gauges epoch{gauge(reg, "parti_node_epoch", "Epoch of this node's term while it leads, else 0."),
               {"worker"}};
  gauges assignment_version{
      gauge(reg, "parti_assignment_version", "Version of the assignment this node applied."),
      {"worker"}};
  gauges owned_partitions{
      gauge(reg, "parti_owned_partitions", "Partitions this node owns in its applied assignment."),
      {"worker"}};
  gauges unassigned_partitions{
      gauge(reg, "parti_unassigned_partitions",
            "Partitions no worker owns in the current assignment (reported by the leader)."),
      {"worker"}};
  gauges handoff_partitions{
      gauge(reg, "parti_handoff_partitions",
            "Partitions in a two-phase hand-off: revoked from their owner, not yet granted."),
      {"worker"}};
  gauges heartbeat_age{
      gauge(reg, "parti_heartbeat_age_seconds",
            "Seconds since the last heartbeat of each observed worker (reported by the leader)."),
      {"worker", "observed_worker"}};
  gauges degraded{
      gauge(reg, "parti_node_degraded",
            "1 while the node cannot reach the store and keeps its last assignment, else 0."),
      {"worker"}};
  gauges suspended_partitions{
      gauge(reg, "parti_suspended_partitions",
            "Partitions assigned to this node but not served: its ownership lease lapsed."),
      {"worker"}};
  counters lease_suspensions{
      counter(reg, "parti_lease_suspensions_total",
              "Times this node's ownership lease lapsed and it suspended its partitions."),
      {"worker"}};
  histograms lease_suspension_duration{
      histogram(reg, "parti_lease_suspension_seconds",
                "How long each suspension lasted, from lapse to resume (or to losing the "
                "partitions)."),
      {"worker"},
      suspension_buckets};
  counters ids_lost{counter(reg, "parti_ids_lost_total",
                            "Worker id claims this node lost (renewal failed) and claimed again."),
                    {"worker"}};
  counters decode_errors{counter(reg, "parti_decode_errors_total",
                                 "KV values that did not decode and were skipped, by bucket."),
                         {"worker", "bucket"}};
  counters consume_messages{
      counter(reg, "parti_consume_messages_total",
              "Partition messages by what became of them: handled (a handler returned), acked, "
              "naked, termed, dead_lettered, exhausted (nak'ed on the last allowed delivery)."),
      {"worker", "result"}};
  counters consume_redelivered{
      counter(reg, "parti_consume_redelivered_total",
              "Partition messages that arrived with a delivery count above 1."),
      {"worker"}};
  histograms consume_handler_duration{
      histogram(reg, "parti_consume_handler_seconds",
                "Time from handing a partition message to the handler to its answer."),
      {"worker"},
      handler_buckets};
  counters consume_reader_restarts{
      counter(reg, "parti_consume_reader_restarts_total",
              "Partition readers started again after a failure (consumer or stream gone, lost "
              "pulls)."),
      {"worker"}};
  gauges consume_attached{
      gauge(reg, "parti_consume_consumers_attached",
            "Partitions whose durable JetStream consumer a reader of this node is attached to."),
      {"worker"}};
  gauges consume_lag{gauge(reg, "parti_consume_lag_messages",
                           "Messages pending over every partition this node reads."),
                     {"worker"}};
  gauges consume_partition_lag{
      gauge(reg, "parti_consume_partition_lag_messages",
            "Messages pending in a partition: only the partitions with the largest lags (or every "
            "partition, when per-partition metrics are enabled)."),
      {"worker", "partition"}};

  /// The series only a leader writes; they go when the worker stops leading.
  std::vector<series_base*> leader_only() {
    return {&rebalance_duration,  &rebalance_total,       &active_workers,
            &partition_count,     &source_failures,       &source_load_duration,
            &source_last_success, &unassigned_partitions, &handoff_partitions,
            &heartbeat_age};
  }

  /// Runs `write` unless `worker`'s leaders all ended (a late write of an ending leader's
  /// child). Under the lock that end_leading holds while it removes the series, so no write
  /// lands between the check and the removal.
  template <class F>
  void leader_write(std::string_view worker, F write) {
    std::lock_guard<std::mutex> lock(leading_mutex);
    auto it = leading.find(worker);
    if (it != leading.end() && it->second == 0) return;
    write();
  }

  /// Running leaders by worker. A worker absent here was never announced by begin_leading (a
  /// direct user of these methods): its leader-only writes are always taken.
  std::mutex leading_mutex;
  std::map<std::string, int, std::less<>> leading;

  std::vector<series_base*> all() {
    return {&rebalance_duration,
            &rebalance_total,
            &active_workers,
            &partition_count,
            &source_failures,
            &source_load_duration,
            &source_last_success,
            &kv_duration,
            &kv_errors,
            &watcher_failures,
            &watcher_restarts,
            &breaker_states,
            &breaker_calls,
            &breaker_changes,
            &retry_attempts,
            &retry_exhausted,
            &node_state,
            &leader,
            &epoch,
            &assignment_version,
            &owned_partitions,
            &unassigned_partitions,
            &handoff_partitions,
            &heartbeat_age,
            &degraded,
            &suspended_partitions,
            &lease_suspensions,
            &lease_suspension_duration,
            &ids_lost,
            &decode_errors,
            &consume_messages,
            &consume_redelivered,
            &consume_handler_duration,
            &consume_reader_restarts,
            &consume_attached,
            &consume_lag,
            &consume_partition_lag};
  }
};

metrics::metrics() : metrics(std::string_view{}) {}

metrics::metrics(std::shared_ptr<prometheus::Registry> registry)
    : metrics(std::string_view{}, std::move(registry)) {}

metrics::metrics(std::string_view group, std::shared_ptr<prometheus::Registry> registry)
    : impl_(std::make_unique<impl>(
          group, registry ? std::move(registry) : std::make_shared<prometheus::Registry>())) {}

metrics::~metrics() = default;

void metrics::begin_leading(std::string_view worker) {
  std::lock_guard<std::mutex> lock(impl_->leading_mutex);
  auto it = impl_->leading.find(worker);
  if (it == impl_->leading.end()) it = impl_->leading.emplace(str(worker), 0).first;
  ++it->second;
}

void metrics::end_leading(std::string_view worker) {
  std::lock_guard<std::mutex> lock(impl_->leading_mutex);
  auto it = impl_->leading.find(worker);
  if (it == impl_->leading.end()) it = impl_->leading.emplace(str(worker), 0).first;
  if (it->second > 0) --it->second;
  if (it->second > 0) return;  // a restarted leader of this worker runs already
  for (auto* s : impl_->leader_only()) s->forget_worker(worker);
}

void metrics::init_rebalance(std::string_view worker,
                             const std::vector<std::string_view>& reasons) {
  impl_->leader_write(worker, [&] {
    for (auto reason : reasons)
      for (auto result : {rebalance_result::success, rebalance_result::failure})
        impl_->rebalance_total.at({str(worker), str(reason), str(to_string(result))});
  });
}

void metrics::observe_rebalance(std::string_view worker, std::string_view reason,
                                rebalance_result result, duration took) {
  impl_->leader_write(worker, [&] {
    impl_->rebalance_duration.at({str(worker), str(reason)}).Observe(seconds(took));
    impl_->rebalance_total.at({str(worker), str(reason), str(to_string(result))}).Increment();
  });
}

void metrics::set_calculator_input(std::string_view worker, std::size_t active_workers,
                                   std::size_t partition_count) {
  impl_->leader_write(worker, [&] {
    impl_->active_workers.at({str(worker)}).Set(static_cast<double>(active_workers));
    impl_->partition_count.at({str(worker)}).Set(static_cast<double>(partition_count));
  });
}

void metrics::init_partition_source(std::string_view worker) {
  impl_->leader_write(worker, [&] {
    for (auto reason : {source_failure::error, source_failure::timeout})
      impl_->source_failures.at({str(worker), str(to_string(reason))});
  });
}

void metrics::observe_partition_source_load(std::string_view worker, duration took) {
  impl_->leader_write(
      worker, [&] { impl_->source_load_duration.at({str(worker)}).Observe(seconds(took)); });
}

void metrics::count_partition_source_failure(std::string_view worker, source_failure reason) {
  impl_->leader_write(worker, [&] {
    impl_->source_failures.at({str(worker), str(to_string(reason))}).Increment();
  });
}

void metrics::set_partition_source_success(std::string_view worker, std::uint64_t unix_ms) {
  impl_->leader_write(worker, [&] {
    impl_->source_last_success.at({str(worker)}).Set(static_cast<double>(unix_ms) / 1000.0);
  });
}

void metrics::init_kv(std::string_view worker, const std::vector<std::string_view>& operations,
                      const std::vector<std::string_view>& error_kinds,
                      const std::vector<std::string_view>& retried_operations) {
  for (auto operation : operations)
    for (auto kind : error_kinds) impl_->kv_errors.at({str(worker), str(operation), str(kind)});
  for (auto operation : retried_operations) {
    impl_->retry_attempts.at({str(worker), str(operation)});
    impl_->retry_exhausted.at({str(worker), str(operation)});
  }
}

void metrics::observe_kv_operation(std::string_view worker, std::string_view operation,
                                   duration took) {
  impl_->kv_duration.at({str(worker), str(operation)}).Observe(seconds(took));
}

void metrics::count_kv_error(std::string_view worker, std::string_view operation,
                             std::string_view kind) {
  impl_->kv_errors.at({str(worker), str(operation), str(kind)}).Increment();
}

void metrics::init_watcher(std::string_view worker, std::string_view bucket) {
  impl_->watcher_failures.at({str(worker), str(bucket)});
  impl_->watcher_restarts.at({str(worker), str(bucket)});
}

void metrics::count_watcher_failure(std::string_view worker, std::string_view bucket) {
  impl_->watcher_failures.at({str(worker), str(bucket)}).Increment();
}

void metrics::count_watcher_restart(std::string_view worker, std::string_view bucket) {
  impl_->watcher_restarts.at({str(worker), str(bucket)}).Increment();
}

namespace {

label_values labels_of(const metrics::breaker_id& id) {
  return {str(id.worker), str(id.bucket), str(id.shard)};
}

label_values labels_of(const metrics::breaker_id& id, std::string_view a, std::string_view b = {}) {
  auto out = labels_of(id);
  out.push_back(str(a));
  if (!b.empty()) out.push_back(str(b));
  return out;
}

}  // namespace

void metrics::init_breaker(const breaker_id& id) {
  set_breaker_state(id, breaker_state::closed);
  for (auto r :
       {breaker_call_result::success, breaker_call_result::failure, breaker_call_result::rejected})
    impl_->breaker_calls.at(labels_of(id, to_string(r)));
  // The changes a breaker makes: it opens on failures, tries again half-open after its open
  // time, and closes on a success there (or on a reconnect while open).
  const std::pair<breaker_state, breaker_state> changes[] = {
      {breaker_state::closed, breaker_state::open},
      {breaker_state::open, breaker_state::half_open},
      {breaker_state::open, breaker_state::closed},
      {breaker_state::half_open, breaker_state::closed},
      {breaker_state::half_open, breaker_state::open}};
  for (auto [from, to] : changes)
    impl_->breaker_changes.at(labels_of(id, to_string(from), to_string(to)));
}

void metrics::set_breaker_state(const breaker_id& id, breaker_state state) {
  impl_->breaker_states.at(labels_of(id)).Set(breaker_state_value(state));
}

void metrics::count_breaker_transition(const breaker_id& id, breaker_state from, breaker_state to) {
  impl_->breaker_changes.at(labels_of(id, to_string(from), to_string(to))).Increment();
  set_breaker_state(id, to);
}

void metrics::count_breaker_call(const breaker_id& id, breaker_call_result result) {
  impl_->breaker_calls.at(labels_of(id, to_string(result))).Increment();
}

void metrics::count_retry_attempt(std::string_view worker, std::string_view operation) {
  impl_->retry_attempts.at({str(worker), str(operation)}).Increment();
}

void metrics::count_retry_exhausted(std::string_view worker, std::string_view operation) {
  impl_->retry_exhausted.at({str(worker), str(operation)}).Increment();
}

void metrics::set_node_state(std::string_view worker, std::string_view state) {
  // Every known state gets a series at once, so a dashboard or an alert sees an explicit 0
  // rather than a missing series for the states the node is not in.
  for (const auto& name : known_node_states()) impl_->node_state.at({str(worker), name});
  impl_->node_state.at({str(worker), str(state)});
  impl_->node_state.for_each_of(
      worker, [state](const label_values& values, auto& g) { g.Set(values[1] == state ? 1 : 0); });
}

void metrics::set_leader(std::string_view worker, bool leader) {
  impl_->leader.at({str(worker)}).Set(leader ? 1 : 0);
}

void metrics::set_epoch(std::string_view worker, std::uint64_t epoch) {
  impl_->epoch.at({str(worker)}).Set(static_cast<double>(epoch));
}

void metrics::set_assignment_version(std::string_view worker, std::uint64_t version) {
  impl_->assignment_version.at({str(worker)}).Set(static_cast<double>(version));
}

void metrics::set_owned_partitions(std::string_view worker, std::size_t count) {
  impl_->owned_partitions.at({str(worker)}).Set(static_cast<double>(count));
}

void metrics::set_unassigned_partitions(std::string_view worker, std::size_t count) {
  impl_->leader_write(worker, [&] {
    impl_->unassigned_partitions.at({str(worker)}).Set(static_cast<double>(count));
  });
}

void metrics::set_handoff_partitions(std::string_view worker, std::size_t count) {
  impl_->leader_write(
      worker, [&] { impl_->handoff_partitions.at({str(worker)}).Set(static_cast<double>(count)); });
}

void metrics::set_heartbeat_age(std::string_view worker, std::string_view observed, duration age) {
  impl_->leader_write(worker, [&] {
    impl_->heartbeat_age.at({str(worker), str(observed)}).Set(seconds(age));
  });
}

void metrics::forget_heartbeat(std::string_view worker, std::string_view observed) {
  impl_->heartbeat_age.forget_if([worker, observed](const label_values& values) {
    return values[0] == worker && values[1] == observed;
  });
}

void metrics::set_degraded(std::string_view worker, bool degraded) {
  impl_->degraded.at({str(worker)}).Set(degraded ? 1 : 0);
}

void metrics::set_suspended_partitions(std::string_view worker, std::size_t count) {
  impl_->suspended_partitions.at({str(worker)}).Set(static_cast<double>(count));
}

void metrics::count_lease_suspension(std::string_view worker) {
  impl_->lease_suspensions.at({str(worker)}).Increment();
}

void metrics::observe_lease_suspension(std::string_view worker, duration lasted) {
  impl_->lease_suspension_duration.at({str(worker)})
      .Observe(std::chrono::duration<double>(lasted).count());
}

void metrics::count_id_lost(std::string_view worker) {
  impl_->ids_lost.at({str(worker)}).Increment();
}

void metrics::count_decode_error(std::string_view worker, std::string_view bucket) {
  impl_->decode_errors.at({str(worker), str(bucket)}).Increment();
}

void metrics::count_consumed(std::string_view worker, consume_result result) {
  impl_->consume_messages.at({str(worker), str(to_string(result))}).Increment();
}

void metrics::count_redelivered(std::string_view worker) {
  impl_->consume_redelivered.at({str(worker)}).Increment();
}

void metrics::observe_handler(std::string_view worker, duration took) {
  impl_->consume_handler_duration.at({str(worker)}).Observe(seconds(took));
}

void metrics::count_reader_restart(std::string_view worker) {
  impl_->consume_reader_restarts.at({str(worker)}).Increment();
}

void metrics::set_consumers_attached(std::string_view worker, std::size_t count) {
  impl_->consume_attached.at({str(worker)}).Set(static_cast<double>(count));
}

void metrics::set_consume_lag(std::string_view worker, std::uint64_t total,
                              const std::vector<std::pair<std::string, std::uint64_t>>& shown) {
  impl_->consume_lag.at({str(worker)}).Set(static_cast<double>(total));
  std::set<std::string> keep;
  for (const auto& [partition, pending] : shown) {
    keep.insert(partition);
    impl_->consume_partition_lag.at({str(worker), partition}).Set(static_cast<double>(pending));
  }
  // A partition no longer among the largest (or no longer read here) shows nothing: a stale
  // value would keep reporting a lag that is gone.
  impl_->consume_partition_lag.forget_if([&](const label_values& values) {
    return values[0] == worker && keep.count(values[1]) == 0;
  });
}

void metrics::set_nats_connected(bool connected) {
  impl_->nats_connected.Set(connected ? 1 : 0);
}

void metrics::count_nats_reconnect() {
  impl_->nats_reconnects.Increment();
}

void metrics::forget_worker(std::string_view worker) {
  for (auto* s : impl_->all()) s->forget_worker(worker);
}

std::string metrics::text() const {
  return prometheus::TextSerializer{}.Serialize(impl_->registry->Collect());
}

std::shared_ptr<prometheus::Registry> metrics::registry() const {
  return impl_->registry;
}

const std::vector<std::string>& metrics::known_node_states() {
  static const std::vector<std::string> names{
      "Init",        "ClaimingID", "Election", "WaitingAssignment", "Stable", "Scaling",
      "Rebalancing", "Emergency",  "Degraded", "Shutdown",          "Failed"};
  return names;
}

}  // namespace parti
