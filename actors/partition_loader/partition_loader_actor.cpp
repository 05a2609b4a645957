#include "parti/actors/partition_loader/partition_loader_actor.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <exception>
#include <thread>
#include <utility>

#include "parti/runtime/log.hpp"

namespace parti {

// -- load_slot --------------------------------------------------------------------------------

bool load_slot::attach(partition_loader_actor loader) {
  std::lock_guard<std::mutex> guard(mutex_);
  loader_ = std::move(loader);
  return running_;
}

void load_slot::detach(const caf::actor_addr& loader) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (loader_ && loader_.address() == loader) loader_ = nullptr;
}

bool load_slot::begin() {
  std::lock_guard<std::mutex> guard(mutex_);
  if (running_) return false;
  running_ = true;
  return true;
}

void load_slot::finish(source_loaded outcome) {
  // Sent under the lock: a loader detaches (in its state's destructor, before the actor system
  // can end) only after a send that already started, so no send outlives the system.
  std::lock_guard<std::mutex> guard(mutex_);
  running_ = false;
  if (loader_) caf::anon_send(loader_, std::move(outcome));
}

// -- the actor --------------------------------------------------------------------------------

partition_loader_state::~partition_loader_state() {
  if (settings.slot) settings.slot->detach(self);
}

namespace {

using self_ptr = partition_loader_actor::stateful_pointer<partition_loader_state>;

/// One call of load(), whatever it does: a result, an error, or an exception as its text.
source_loaded load_once(const partition_source& source) {
  source_loaded out;
  try {
    auto loaded = source.load();
    if (loaded) {
      out.ok = true;
      out.partitions = std::move(*loaded);
    } else {
      out.error = loaded.error();
    }
  } catch (const std::exception& e) {
    out.error = std::string("load() threw: ") + e.what();
  } catch (...) {
    out.error = "load() threw something that is not a std::exception";
  }
  return out;
}

void run_on_a_thread_of_its_own(std::function<void()> job) {
  std::thread(std::move(job)).detach();
}

void start_load(self_ptr self) {
  auto& st = self->state;
  auto slot = st.settings.slot;
  if (!slot->begin()) return;  // an earlier loader's load still runs: its result comes here
  auto source = st.settings.source;
  auto job = [source, slot] { slot->finish(load_once(*source)); };
  try {
    if (st.settings.run)
      st.settings.run(std::move(job));
    else
      run_on_a_thread_of_its_own(std::move(job));
  } catch (const std::exception& e) {  // no thread to be had (std::system_error)
    slot->finish(source_loaded{false, {}, std::string("starting a load: ") + e.what()});
  }
}

/// What a request now gets, for the log line of a failure.
std::string fallback(const loader_rules& rules) {
  if (!rules.last_good()) return "no partitions loaded yet";
  return "keeping the last good set (" + std::to_string(rules.last_good()->size()) + " partitions)";
}

void report(self_ptr self, const load_report& r) {
  auto& st = self->state;
  const auto& who = st.settings.worker;
  auto* stats = st.settings.stats.get();
  if (stats && r.kind != load_report_kind::timed_out)
    stats->observe_partition_source_load(who, r.took);
  switch (r.kind) {
    case load_report_kind::succeeded:
    case load_report_kind::late_success:
      if (stats) stats->set_partition_source_success(who, unix_millis());
      if (r.kind == load_report_kind::late_success)
        log(log_level::info, "partition loader ", who, ": a timed-out load returned after ",
            shown_duration(r.took), " with ", r.partitions,
            " partitions; the source answers again");
      else if (r.recovered)
        log(log_level::info, "partition loader ", who,
            ": the partition source recovered: ", r.partitions, " partitions in ",
            shown_duration(r.took));
      else
        log(log_level::debug, "partition loader ", who, ": ", r.partitions, " partitions in ",
            shown_duration(r.took));
      return;
    case load_report_kind::failed:
      if (stats) stats->count_partition_source_failure(who, source_failure::error);
      log(log_level::warning, "partition loader ", who, ": partition source: ", r.error, " (after ",
          shown_duration(r.took), "); ", fallback(*st.rules), "; next attempt in ",
          shown_duration(r.retry_in.value_or(duration::zero())));
      return;
    case load_report_kind::timed_out:
      if (stats) stats->count_partition_source_failure(who, source_failure::timeout);
      log(log_level::warning, "partition loader ", who, ": partition source: no answer within ",
          shown_duration(st.settings.options.timeout), "; ", fallback(*st.rules),
          "; no new load starts until this one returns");
      return;
    case load_report_kind::late_failure:
      // Counted as a timeout already.
      log(log_level::warning, "partition loader ", who, ": a timed-out load failed after ",
          shown_duration(r.took), ": ", r.error, "; next attempt in ",
          shown_duration(r.retry_in.value_or(duration::zero())));
      return;
  }
}

/// Runs the rules up to now and does what they say; re-arms the wake-up.
void carry_out(self_ptr self) {
  auto& st = self->state;
  auto out = st.rules->poll(self->clock().now());
  for (const auto& r : out.reports) report(self, r);
  for (auto& a : out.answers)
    for (auto id : a.requests) {
      auto it = st.waiting.find(id);
      if (it == st.waiting.end()) continue;
      it->second.deliver(a.load);
      st.waiting.erase(it);
    }
  if (out.start_load) start_load(self);
  if (auto deadline = st.rules->next_deadline()) st.timer.arm(self, *deadline);
}

}  // namespace

partition_loader_actor::behavior_type partition_loader(self_ptr self,
                                                       partition_loader_settings settings) {
  auto& st = self->state;
  st.settings = std::move(settings);
  if (!st.settings.slot) st.settings.slot = std::make_shared<load_slot>();
  st.self = self->address();
  st.rules.emplace(st.settings.options,
                   seeded_random(std::hash<std::string>{}(st.settings.worker + "/loader")));
  if (st.settings.stats) st.settings.stats->init_partition_source(st.settings.worker);
  if (st.settings.slot->attach(caf::actor_cast<partition_loader_actor>(self))) {
    log(log_level::warning, "partition loader ", st.settings.worker,
        ": a load started by an earlier leader has not returned yet; no new one starts before "
        "it does");
    st.rules->adopt_running_load(self->clock().now());
  }
  return {
      [=](load_atom) -> caf::result<partition_load> {
        auto& s = self->state;
        auto id = ++s.next_request;
        auto rp = self->make_response_promise<partition_load>();
        s.waiting.emplace(id, rp);
        s.rules->request(id, self->clock().now());
        carry_out(self);
        return rp;
      },
      [=](source_loaded& r) {
        auto& rules = *self->state.rules;
        auto now = self->clock().now();
        if (r.ok)
          rules.succeeded(std::move(r.partitions), now);
        else
          rules.failed(std::move(r.error), now);
        carry_out(self);
      },
      [=](caf::tick_atom, std::uint64_t token) {
        if (self->state.timer.fire(token)) carry_out(self);
      },
  };
}

}  // namespace parti
