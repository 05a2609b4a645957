#pragma once
// When the partition loader loads the partition source, and what it answers. Pure: no CAF, no
// threads; time comes in as arguments.
//
// A partition_source is user code (a file, a database query, a callback) and may fail, throw or
// never return. The loader runs each load() on a thread of its own and these rules decide around
// it:
//
//   idle --request--> loading --succeeded--> idle            (answers: the fresh set)
//                        |    --failed-----> idle + retry    (answers: the last good set, or none)
//                        |
//                        +--deadline (timeout)--> overdue    (answers: the last good set, or none)
//   overdue --returned (ok or not)--> idle (+ retry after a failure)
//   idle + retry --retry time--> loading (nobody waits; a request arriving then joins it)
//
//  - At most one load runs. A request while one runs waits for it (its answer is fresh). A load
//    that outlives the timeout is reported as timed out to everyone waiting, and stays the one
//    running: it is never started twice. Until it returns, every request is answered at once
//    from the last good set (not fresh), or with no set when there is none; then loading resumes
//    on the next request or retry. A load that never returns is never replaced: the loader keeps
//    answering from its last good set (parti keeps running on it). Whoever spawns a new loader
//    for the same source while an earlier one's load still runs (a new leader of the same
//    process) hands the running load over: adopt_running_load().
//  - A late answer of a timed-out load counts: a success becomes the last good set (the source
//    recovered), a failure schedules the retry.
//  - After a failure or a timeout the loader retries on its own, with exponential backoff, until
//    a load succeeds (so recovery shows in the logs and metrics without waiting for a round);
//    requests in between are answered at once, not with a load of their own, so a failing source
//    is called at most once per backoff step. A success resets the backoff.
//  - The last good set is kept through failures and timeouts; it is what a request gets when the
//    current load cannot answer.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "parti/messages/leader_events.hpp"
#include "parti/messages/records.hpp"
#include "parti/runtime/clock.hpp"
#include "parti/runtime/resilience/backoff.hpp"

namespace parti {

struct loader_options {
  /// A load running longer than this is reported as timed out (node_config's
  /// partition_source_timeout).
  duration timeout = std::chrono::seconds(5);
  /// The delays before retrying a failed or timed-out load.
  backoff_policy retry{std::chrono::milliseconds(500), std::chrono::seconds(30), 2.0, 0.2};
};

/// How a load ended, for the logs and the metrics (one report per load, two for a load that
/// timed out and returned later).
enum class load_report_kind {
  succeeded,     // returned a set in time
  failed,        // returned an error (or threw) in time
  timed_out,     // still running at its deadline
  late_success,  // a timed-out load returned a set after all
  late_failure,  // a timed-out load returned an error after all
};

struct load_report {
  load_report_kind kind = load_report_kind::succeeded;
  duration took{};                   // from its start to its end (to the deadline for timed_out)
  std::string error;                 // failed, late_failure
  std::size_t partitions = 0;        // succeeded, late_success
  bool recovered = false;            // a success after failures or timeouts
  std::optional<duration> retry_in;  // failed, late_failure: when the next attempt starts
};

/// The answer to the requests `requests` (ids given by the caller).
struct loader_answer {
  std::vector<std::uint64_t> requests;
  partition_load load;
};

struct loader_outputs {
  bool start_load = false;  // start a load now (at most one runs)
  std::vector<loader_answer> answers;
  std::vector<load_report> reports;
};

/// A duration in the loader's messages, to the millisecond ("2.403s", not "2.402602581s").
std::string shown_duration(duration d);

class loader_rules {
 public:
  loader_rules(loader_options options, random_source random);

  // -- events ---------------------------------------------------------------------------------
  /// Someone asks for the partitions (id: to match the answer).
  void request(std::uint64_t id, time_point now);
  /// The running load returned a set.
  void succeeded(std::vector<partition> partitions, time_point now);
  /// The running load returned an error (or threw: `error` is the text).
  void failed(std::string error, time_point now);
  /// A load of the same source started before these rules (by an earlier loader) still runs;
  /// its result comes to these rules. Until then they act as after a timeout.
  void adopt_running_load(time_point now);

  // -- time -----------------------------------------------------------------------------------
  /// Passes deadlines (timeout, retry) up to `now`, and hands out everything to do since the
  /// last poll.
  loader_outputs poll(time_point now);
  /// When poll() next has something to do without a new event.
  std::optional<time_point> next_deadline() const;

  // -- observations ---------------------------------------------------------------------------
  bool load_running() const { return phase_ != phase::idle; }
  const std::optional<std::vector<partition>>& last_good() const { return last_good_; }
  std::optional<time_point> last_good_at() const { return last_good_at_; }

 private:
  enum class phase { idle, loading, overdue };

  void start(time_point now);
  void answer_waiting(const std::string& problem);
  partition_load kept(const std::string& problem) const;
  void schedule_retry(time_point now);

  loader_options options_;
  backoff retry_;
  phase phase_ = phase::idle;
  time_point started_{};
  std::vector<std::uint64_t> waiting_;  // requests answered by the running load
  std::optional<time_point> retry_at_;  // idle after a failure: when to load again
  std::optional<std::vector<partition>> last_good_;
  std::optional<time_point> last_good_at_;
  bool failing_ = false;  // the last load failed or timed out
  std::string last_problem_;
  loader_outputs out_;
};

}  // namespace parti
