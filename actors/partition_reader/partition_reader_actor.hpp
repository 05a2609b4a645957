#pragma once
// partition_reader: reads one owned partition's durable JetStream consumer (messages/
// interfaces.hpp, partition_reader_actor). The shell of reader_rules.hpp: it feeds the rules
// what happens, carries out their outputs in order, and wakes at their next deadline.
//
//   attach ──ok──> serving (pull, handle, settle) ──(leave)──> releasing ──> quits normally
//      └─failed─> quits with the error        └── consumer gone, pulls lost ──> quits with error
//
// On start it attaches (ensure_consumer, on the consumer's blocking runner); a failure ends it
// with the error, and its supervisor restarts it after a backoff. Then it adds its route to the
// consumer's pull inbox (the route only anon_sends pulled_message and pull_status here) and
// serves while its lease is valid. Time is the ownership lease's (the boot clock, or
// lease_clock): the lease, the messages' deadlines and valid_until all count on it.
//
// Handlers: the actor form is a request (its timeout a little past handler_timeout); the
// callback form runs on the consumer's handler pool, never on an actor thread, and is skipped
// (a failure) when its message is no longer valid by the time a pool thread takes it. The
// rules give a handler up at its timeout (or at the release deadline); the reader still waits
// for a callback or request that has not come back, up to its own handler timeout, before it
// reports a release or quits, so the next owner does not start while this one's handler runs.
//
// After a failure (reader_failed) the messages no handler holds are nak'ed at once, answers of
// handlers still running settle their messages, then it quits with the error.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "parti/actors/consumer/consumer_actor.hpp"
#include "parti/actors/partition_reader/reader_rules.hpp"
#include "parti/messages/interfaces.hpp"
#include "parti/runtime/consume/ack_metadata.hpp"
#include "parti/runtime/wakeup.hpp"

namespace parti {

class connection;
class handler_pool;
class metrics;
class pull_inbox;

/// Counters of a consumer, shared with its readers (any thread).
struct reader_counters {
  std::atomic<std::uint64_t> attached{0};  // readers attached now
  std::atomic<std::uint64_t> handled{0};
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::uint64_t> naked{0};
  std::atomic<std::uint64_t> termed{0};
  std::atomic<std::uint64_t> redelivered{0};
  std::atomic<std::uint64_t> dead_lettered{0};
  std::atomic<std::uint64_t> exhausted{0};
  std::atomic<std::uint64_t> releases{0};
};

struct partition_reader_options {
  partition part;
  partition_grant grant;
  std::string stream;
  std::string consumer;        // the durable consumer's name
  std::string filter_subject;  // its filter
  std::string dead_letter_subject;
  std::string worker;  // the metrics label
  reader_settings rules;
  duration lag_interval = duration::zero();  // 0: no lag readings
  std::int64_t lease_until_ns = 0;           // the lease at the start (boot clock; 0: none)
  std::shared_ptr<connection> conn;
  std::shared_ptr<pull_inbox> inbox;
  blocking_runner_actor admin;  // attach and lag
  blocking_runner_actor acks;   // confirmed in-progress acks and dead letters
  /// Exactly one of the two handler forms.
  message_handler_actor handler;
  std::weak_ptr<handler_pool> pool;  // the consumer owns it
  message_callback callback;
  reader_listener listener;  // its consumer actor (lags)
  std::shared_ptr<reader_counters> counters;
  std::shared_ptr<metrics> stats;            // may be null
  std::shared_ptr<const clock> lease_clock;  // null: the boot clock
};

struct partition_reader_state {
  /// A message this reader holds until it is settled: what the server sent and its metadata.
  struct held_message {
    pulled_message msg;
    ack_metadata meta;
  };
  /// A handler call not answered yet (it may outlive the rules' patience).
  struct handler_call {
    std::chrono::steady_clock::time_point started;  // for the histogram
    time_point wait_until{};                        // the reader waits for it until then
    std::shared_ptr<std::atomic<bool>> cancelled;   // a callback not started yet is skipped
  };
  enum class ending : std::uint8_t { none, released, failed };

  partition_reader_options options;
  std::unique_ptr<reader_rules> rules;
  std::map<std::uint64_t, held_message> messages;  // by the rules' message id
  std::map<std::uint64_t, handler_call> calls;
  std::set<std::uint64_t> dead_letters;  // publishes outstanding
  std::uint64_t next_id = 1;
  /// The pull inbox's token (0: no route) and whether this reader counts as attached, shared
  /// with the exit cleanup (which runs after the state is gone).
  std::shared_ptr<std::atomic<std::uint64_t>> route =
      std::make_shared<std::atomic<std::uint64_t>>(0);
  std::shared_ptr<std::atomic<bool>> attached = std::make_shared<std::atomic<bool>>(false);
  bool lag_outstanding = false;
  ending end = ending::none;
  std::string failure;
  std::vector<caf::typed_response_promise<caf::ok_atom>> leaving;
  wakeup timer;
  static inline const char* name = "parti.partition_reader";
};

partition_reader_actor::behavior_type partition_reader(
    partition_reader_actor::stateful_pointer<partition_reader_state> self,
    partition_reader_options options);

}  // namespace parti
