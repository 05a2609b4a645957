#pragma once
// When one partition's reader pulls, hands messages to the handler, settles them, and when it
// may report the partition released. Pure: no CAF, no NATS; time (the boot clock, the clock of
// ownership leases) is passed in.
//
// Rules:
//  - Pull only while serving (started, not releasing, the lease valid) with no pull outstanding
//    and nothing queued. A pull's expiry is the configured one, cut to end lease_margin_for_pull
//    before the lease does; below min_pull_expiry no pull is sent (wait for the lease to grow).
//  - A message may be handed to the handler only while both hold: the lease is valid, and the
//    message's deadline (its pull's send time + ack_wait - ack_margin, moved by in-progress acks
//    the server confirmed) has not passed. The handler gets the earlier of the two.
//  - Messages are handled in arrival order, at most `in_flight` at once. A message holds its
//    slot until it is settled (also while it waits to be re-run or is being dead-lettered), so
//    nothing overtakes it with in_flight 1.
//  - A message that arrives while not serving (released, suspended) or past its deadline is
//    nak'ed with delay 0, so the next owner (or this one, later) gets it at once.
//  - A handler that fails, throws or runs past handler_timeout counts as a nak (its late answer
//    is ignored). A nak on the last allowed delivery (max_deliver > 0 and delivery_count >=
//    max_deliver) with a dead-letter subject dead-letters the message, then terms it once the
//    publish is confirmed (a failed publish naks it instead).
//  - The last allowed delivery of a message that cannot be handled here (it arrived late or
//    while not serving, the lease lapsed, the partition is released) is dead-lettered the same
//    way: JetStream counts every delivery, also those nak'ed unhandled by a hand-off, and would
//    not deliver it again. Without a dead-letter subject it is nak'ed and noted `exhausted`
//    (the server gives it up), as is any other last delivery that ends in a nak.
//  - A handler that answers in_progress gets an in-progress ack sent for it; once the server
//    confirmed it, the message's deadline moves and the handler runs again (same message) after
//    the reply's delay. A failed confirmation is a nak, and so is an in_progress answer while
//    not serving (it could not run again here).
//  - With progress_interval, a handler running that long since it started (or since the last
//    confirmed in-progress ack) gets one sent for it, one at a time per message; the
//    confirmation moves the message's deadline (not the valid_until the handler was given); a
//    failed one is tried again an interval later. The handler keeps its own timeout.
//  - Release (a hand-off, a drain, a lost id): pulling stops and the queue is nak'ed at once;
//    running handlers get until release_timeout (then count as naks); the release is reported
//    once no handler or dead letter is running and the outstanding pull has ended (its status
//    came) or expired (its expiry + pull_grace passed). After a release the rules do nothing.
//    A handler given up at the release deadline is dead-lettered on its last delivery like any
//    other failure: the release then also waits for that publish (bounded by the actor's publish
//    timeout), because a plain nak would leave the message to a server that will not deliver it
//    again.
//  - A lease that lapses is a suspension: the same as a release, but not reported and not final
//    (serving resumes when the lease is valid again).
//  - A pull that neither ends nor expires within expiry + pull_grace was lost (server restart,
//    cut connection): the next pull goes out; after max_lost_pulls in a row, fail (a pull that
//    could not be sent counts as lost at once; any arrival or normal end resets the count). A
//    pull status that says the consumer or stream is gone (409 consumer deleted, 503), or one
//    these rules do not know, fails at once; 404, 408 and 0 end a pull normally, 100 is ignored.
//  - After a failure (reader_failed) the rules do nothing either.
//
// Use from the actor: feed events, then call poll(now) and carry out the outputs in order; arm
// a timer for next_deadline().
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "parti/messages/consume_events.hpp"
#include "parti/runtime/clock.hpp"

namespace parti {

struct reader_settings {
  int pull_batch = 64;
  duration pull_expiry = std::chrono::seconds(2);
  duration pull_grace = std::chrono::seconds(1);
  duration min_pull_expiry = std::chrono::milliseconds(100);
  /// A pull ends at least this long before the lease does.
  duration lease_margin_for_pull = std::chrono::milliseconds(200);
  duration ack_wait = std::chrono::seconds(30);
  duration ack_margin = std::chrono::seconds(1);
  duration handler_timeout = std::chrono::seconds(5);
  duration release_timeout = std::chrono::seconds(2);
  duration progress_interval = duration::zero();  // 0: no automatic in-progress acks
  int in_flight = 1;
  int max_deliver = -1;  // deliveries the server makes at most; <= 0: unlimited
  bool dead_letter = false;
  int max_lost_pulls = 3;
};

// -- outputs ----------------------------------------------------------------------------------

/// Send pull request `pull_id` for `batch` messages expiring after `expires`.
struct send_pull {
  std::uint64_t pull_id = 0;
  int batch = 0;
  duration expires{};
};

/// Hand message `id` to the handler; it may act on it until `valid_until` (boot clock).
struct run_handler {
  std::uint64_t id = 0;
  time_point valid_until{};
};

/// Settle message `id` with the server and forget it (plain publish, no confirmation).
struct settle_message {
  std::uint64_t id = 0;
  consume_verdict verdict = consume_verdict::ack;  // ack, nak or term here
  duration delay{};                                // for nak
  bool forget = true;  // false: an in-progress ack kept in the rules (see confirm_progress)
};

/// Tell the server message `id` is in progress and wait for its confirmation; answer with
/// progress_confirmed(id, sent_at) or progress_failed(id).
struct confirm_progress {
  std::uint64_t id = 0;
  time_point sent_at{};
};

/// Publish message `id` to the dead-letter subject and wait; answer with dead_lettered().
struct dead_letter_message {
  std::uint64_t id = 0;
  std::string reason;  // why it was given up, for the dead letter's headers
};

/// Counted by the actor for metrics; no action.
struct reader_note {
  enum class kind : std::uint8_t {
    handled,         // a handler returned (any verdict)
    handler_failed,  // threw, failed or timed out
    late_arrival,    // arrived while not serving or past its deadline: nak'ed
    lost_pull,       // a pull neither ended nor expired in time (id: the pull's)
    redelivered,     // a message with delivery_count > 1 arrived
    exhausted,       // nak'ed on its last allowed delivery without a dead-letter subject: the
                     // server will not deliver it again
  } what = kind::handled;
  std::uint64_t id = 0;
};

/// The partition is released: nothing runs, nothing is outstanding. The last output.
struct reader_released {};

/// The reader cannot go on (consumer or stream gone, pulls lost): the actor fails and its
/// supervisor restarts it. The last output.
struct reader_failed {
  std::string reason;
};

using reader_output =
    std::variant<send_pull, run_handler, settle_message, confirm_progress, dead_letter_message,
                 reader_note, reader_released, reader_failed>;

// -- the rules --------------------------------------------------------------------------------

class reader_rules {
 public:
  explicit reader_rules(reader_settings settings);

  /// Serving may begin (the consumer is attached).
  void start(time_point now);
  /// The ownership lease: serving is allowed before `until`; nullopt: not serving (suspended).
  void lease(std::optional<time_point> until);
  /// Stop for good: release the partition (see above).
  void release(time_point now);

  /// Pull `pull_id` brought message `id` (a local number, new for every message).
  void arrived(std::uint64_t pull_id, std::uint64_t id, std::uint64_t delivery_count,
               time_point now);
  /// Pull `pull_id` ended with a status (404, 408, 409, 503, ...; 100 is ignored), or its
  /// batch was delivered in full (call with code 0).
  void pull_ended(std::uint64_t pull_id, int code, const std::string& description);
  /// The pull could not be sent at all (the connection refused it): like a lost pull.
  void pull_not_sent(std::uint64_t pull_id, const std::string& reason);

  /// The handler of `id` answered. `ok` false: it threw or failed to answer (a nak).
  void handler_done(std::uint64_t id, bool ok, consume_reply reply, time_point now);
  void progress_confirmed(std::uint64_t id, time_point sent_at);
  void progress_failed(std::uint64_t id);
  void dead_lettered(std::uint64_t id, bool ok);

  /// Decides what is due and returns the outputs since the last poll, in order.
  std::vector<reader_output> poll(time_point now);
  /// When poll() would change something if nothing else happens.
  std::optional<time_point> next_deadline() const;

  bool serving(time_point now) const;
  bool releasing() const { return releasing_; }
  bool finished() const { return finished_; }
  std::size_t queued() const { return queue_.size(); }
  std::size_t running() const;
  /// The message's deadline (pull time + ack_wait - ack_margin, or as moved by progress).
  std::optional<time_point> message_deadline(std::uint64_t id) const;

 private:
  struct message {
    std::uint64_t id = 0;
    std::uint64_t delivery_count = 1;
    time_point deadline{};
    enum class phase : std::uint8_t {
      queued,         // in queue_, waiting for a handler slot
      running,        // the handler has it since started_at (its answer is awaited)
      waiting,        // answered in_progress: re-run at retry_at once the progress is confirmed
      dead_lettering  // its dead-letter publish is outstanding
    } at = phase::queued;
    /// It took a handler slot (dispatched) and keeps it until settled; a message dead-lettered
    /// without ever running holds none.
    bool holds_slot = false;
    time_point started_at{};
    time_point retry_at{};
    /// The newest in-progress ack confirmed (or tried): automatic progress counts from here.
    time_point last_progress{};
    /// A confirm_progress is outstanding (at most one per message), sent at this time.
    std::optional<time_point> progress_sent;
  };
  struct pull {
    std::uint64_t id = 0;
    time_point sent_at{};
    duration expires{};
    int batch = 0;
    int received = 0;
  };

  // Settling and giving up.
  void settle(std::uint64_t id, consume_verdict verdict, duration delay);
  bool last_delivery(std::uint64_t delivery_count) const;
  void dead_letter(message& m, std::string reason);
  void hand_back(std::uint64_t id, std::uint64_t delivery_count, const char* why);
  void nak_late(std::uint64_t id, std::uint64_t delivery_count);
  void give_up(message& m, duration delay, const char* why);
  void handler_failed(message& m);
  void pull_lost(std::uint64_t pull_id, const std::string& why);
  void fail(std::string reason);

  // The steps of poll(), in order.
  void expire_pull(time_point now);
  void time_out_handlers(time_point now);
  void send_progress(time_point now);
  void drop_unserved(time_point now);
  void rerun_waiting(time_point now);
  void dispatch(time_point now);
  void send_pull_if_due(time_point now);
  void finish_release_if_done();

  time_point handler_limit(const message& m) const;
  time_point progress_due(const message& m) const;
  time_point pull_given_up_at(const pull& p) const;
  time_point valid_until(const message& m) const;
  std::vector<std::uint64_t> ids_in(message::phase at) const;

  reader_settings settings_;
  std::optional<time_point> lease_until_;
  bool started_ = false;
  bool releasing_ = false;
  bool finished_ = false;
  std::optional<time_point> release_deadline_;
  std::optional<pull> pull_;
  std::uint64_t next_pull_id_ = 1;
  int lost_pulls_ = 0;
  std::deque<std::uint64_t> queue_;            // queued messages, in arrival order
  std::map<std::uint64_t, message> messages_;  // every message not settled yet
  std::vector<reader_output> out_;
  std::optional<std::string> failure_;
  time_point last_poll_{};  // next_deadline() offers only what the last poll left due later
};

}  // namespace parti
