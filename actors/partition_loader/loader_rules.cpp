#include "parti/actors/partition_loader/loader_rules.hpp"

#include <utility>

#include "parti/runtime/config.hpp"

namespace parti {

std::string shown_duration(duration d) {
  return format_duration(std::chrono::round<std::chrono::milliseconds>(d));
}

loader_rules::loader_rules(loader_options options, random_source random)
    : options_(options), retry_(options.retry, std::move(random)) {}

void loader_rules::request(std::uint64_t id, time_point now) {
  switch (phase_) {
    case phase::loading:
      waiting_.push_back(id);  // the running load answers it
      return;
    case phase::overdue:
      out_.answers.push_back(
          {{id},
           kept("partition source: the last load has not returned for " +
                shown_duration(now - started_) + " (timed out after " +
                shown_duration(options_.timeout) + "); no new load starts before it does")});
      return;
    case phase::idle:
      break;
  }
  if (retry_at_ && *retry_at_ > now) {
    // Backing off: a failing source is called once per backoff step, not once per question.
    out_.answers.push_back(
        {{id}, kept(last_problem_ + "; next attempt in " + shown_duration(*retry_at_ - now))});
    return;
  }
  start(now);
  waiting_.push_back(id);
}

void loader_rules::succeeded(std::vector<partition> partitions, time_point now) {
  if (phase_ == phase::idle) return;  // no load runs: nothing to take this for
  load_report r;
  r.kind = phase_ == phase::loading ? load_report_kind::succeeded : load_report_kind::late_success;
  r.took = now - started_;
  r.partitions = partitions.size();
  r.recovered = failing_;
  out_.reports.push_back(std::move(r));
  last_good_ = std::move(partitions);
  last_good_at_ = now;
  failing_ = false;
  last_problem_.clear();
  retry_.reset();
  retry_at_.reset();
  phase_ = phase::idle;
  if (!waiting_.empty()) {
    partition_load fresh;
    fresh.loaded = true;
    fresh.fresh = true;
    fresh.partitions = *last_good_;
    out_.answers.push_back({std::exchange(waiting_, {}), std::move(fresh)});
  }
}

void loader_rules::failed(std::string error, time_point now) {
  if (phase_ == phase::idle) return;
  load_report r;
  r.kind = phase_ == phase::loading ? load_report_kind::failed : load_report_kind::late_failure;
  r.took = now - started_;
  r.error = error;
  failing_ = true;
  last_problem_ = "partition source: " + error;
  phase_ = phase::idle;
  answer_waiting(last_problem_);
  schedule_retry(now);
  r.retry_in = *retry_at_ - now;
  out_.reports.push_back(std::move(r));
}

void loader_rules::adopt_running_load(time_point now) {
  if (phase_ != phase::idle) return;
  phase_ = phase::overdue;
  started_ = now;  // as far as these rules know
  failing_ = true;
  retry_at_.reset();
}

loader_outputs loader_rules::poll(time_point now) {
  if (phase_ == phase::loading && now >= started_ + options_.timeout) {
    phase_ = phase::overdue;
    failing_ = true;
    last_problem_ = "partition source: no answer within " + shown_duration(options_.timeout);
    answer_waiting(last_problem_);
    load_report r;
    r.kind = load_report_kind::timed_out;
    r.took = now - started_;
    out_.reports.push_back(std::move(r));
  }
  if (phase_ == phase::idle && retry_at_ && *retry_at_ <= now) start(now);
  return std::exchange(out_, {});
}

std::optional<time_point> loader_rules::next_deadline() const {
  if (phase_ == phase::loading) return started_ + options_.timeout;
  if (phase_ == phase::idle && retry_at_) return retry_at_;
  return std::nullopt;
}

void loader_rules::start(time_point now) {
  phase_ = phase::loading;
  started_ = now;
  retry_at_.reset();
  out_.start_load = true;
}

void loader_rules::answer_waiting(const std::string& problem) {
  if (waiting_.empty()) return;
  out_.answers.push_back({std::exchange(waiting_, {}), kept(problem)});
}

partition_load loader_rules::kept(const std::string& problem) const {
  partition_load out;
  out.problem = problem;
  if (last_good_) {
    out.loaded = true;
    out.partitions = *last_good_;
  }
  return out;
}

void loader_rules::schedule_retry(time_point now) {
  retry_at_ = now + retry_.next();
}

}  // namespace parti
