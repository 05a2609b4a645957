#include "parti/actors/partition_reader/reader_rules.hpp"

#include <algorithm>
#include <utility>

namespace parti {

namespace {

duration non_negative_ns(std::int64_t ns) {
  return duration(std::max<std::int64_t>(ns, 0));
}

}  // namespace

reader_rules::reader_rules(reader_settings settings) : settings_(settings) {}

// -- lifecycle --------------------------------------------------------------------------------

void reader_rules::start(time_point) {
  if (!finished_) started_ = true;
}

void reader_rules::lease(std::optional<time_point> until) {
  if (!finished_) lease_until_ = until;
}

void reader_rules::release(time_point now) {
  if (finished_ || releasing_) return;
  releasing_ = true;
  release_deadline_ = now + settings_.release_timeout;
}

bool reader_rules::serving(time_point now) const {
  return started_ && !releasing_ && !finished_ && lease_until_ && now < *lease_until_;
}

std::size_t reader_rules::running() const {
  // A dispatched message holds its handler slot until it is settled: a message waiting to be
  // re-run or being dead-lettered is not done, and the next one must not overtake it.
  return static_cast<std::size_t>(
      std::count_if(messages_.begin(), messages_.end(),
                    [](const auto& entry) { return entry.second.holds_slot; }));
}

std::optional<time_point> reader_rules::message_deadline(std::uint64_t id) const {
  auto it = messages_.find(id);
  if (it == messages_.end()) return std::nullopt;
  return it->second.deadline;
}

// -- pulls ------------------------------------------------------------------------------------

void reader_rules::arrived(std::uint64_t pull_id, std::uint64_t id, std::uint64_t delivery_count,
                           time_point now) {
  if (finished_ || messages_.count(id) != 0) return;  // ids are new for every message
  lost_pulls_ = 0;                                    // the connection works
  if (delivery_count > 1) out_.push_back(reader_note{reader_note::kind::redelivered, id});
  std::optional<time_point> deadline;
  if (pull_ && pull_->id == pull_id) {
    // The server's ack wait starts when it delivers, after the pull was sent: counting from the
    // send time keeps the deadline on the safe side.
    deadline = pull_->sent_at + settings_.ack_wait - settings_.ack_margin;
    if (++pull_->received >= pull_->batch) pull_.reset();  // the batch is complete
  }
  if (!deadline || !serving(now) || now >= *deadline) {
    nak_late(id, delivery_count);
    return;
  }
  message m;
  m.id = id;
  m.delivery_count = delivery_count;
  m.deadline = *deadline;
  messages_.emplace(id, m);
  queue_.push_back(id);
}

void reader_rules::pull_ended(std::uint64_t pull_id, int code, const std::string& description) {
  if (finished_ || !pull_ || pull_->id != pull_id) return;  // an old pull: nothing waits on it
  if (code == 100) return;                                  // a heartbeat, not an end
  pull_.reset();
  if (code == 0 || code == 404 || code == 408) {
    lost_pulls_ = 0;
    return;
  }
  // 409 (consumer deleted, leadership change, ...), 503 (no JetStream), or a status this
  // reader does not know: going on would only repeat it.
  fail("pull request ended with " + std::to_string(code) +
       (description.empty() ? std::string() : " " + description));
}

void reader_rules::pull_not_sent(std::uint64_t pull_id, const std::string& reason) {
  if (finished_ || !pull_ || pull_->id != pull_id) return;
  pull_.reset();
  pull_lost(pull_id, "not sent: " + reason);
}

void reader_rules::pull_lost(std::uint64_t pull_id, const std::string& why) {
  if (releasing_) return;  // the release only waits for it to be over
  out_.push_back(reader_note{reader_note::kind::lost_pull, pull_id});
  if (++lost_pulls_ >= settings_.max_lost_pulls)
    fail(std::to_string(lost_pulls_) + " pull requests in a row lost (last: " + why + ")");
}

// -- handlers ---------------------------------------------------------------------------------

void reader_rules::handler_done(std::uint64_t id, bool ok, consume_reply reply, time_point now) {
  if (finished_) return;
  auto it = messages_.find(id);
  // Unknown or not running: the late answer of a handler that timed out.
  if (it == messages_.end() || it->second.at != message::phase::running) return;
  message& m = it->second;
  if (!ok) {
    handler_failed(m);
    return;
  }
  out_.push_back(reader_note{reader_note::kind::handled, id});
  switch (reply.verdict) {
    case consume_verdict::ack:
      settle(id, consume_verdict::ack, duration::zero());
      return;
    case consume_verdict::term:
      settle(id, consume_verdict::term, duration::zero());
      return;
    case consume_verdict::nak:
      give_up(m, non_negative_ns(reply.delay_ns), "the handler answered nak");
      return;
    case consume_verdict::in_progress:
      if (!serving(now)) {
        // It cannot run again here now: the next owner (or this one, later) gets it at once.
        hand_back(id, m.delivery_count, "in progress when the partition stopped being served");
        return;
      }
      m.at = message::phase::waiting;
      m.retry_at = now + non_negative_ns(reply.delay_ns);
      // An automatic one still outstanding serves as well: one at a time per message.
      if (!m.progress_sent) {
        m.progress_sent = now;
        out_.push_back(confirm_progress{id, now});
      }
      return;
  }
}

void reader_rules::progress_confirmed(std::uint64_t id, time_point sent_at) {
  if (finished_) return;
  auto it = messages_.find(id);
  if (it == messages_.end() || !it->second.progress_sent) return;
  message& m = it->second;
  m.progress_sent.reset();
  // The server restarted the ack wait when it took the ack, after sent_at.
  m.deadline = std::max(m.deadline, sent_at + settings_.ack_wait - settings_.ack_margin);
  m.last_progress = std::max(m.last_progress, sent_at);
}

void reader_rules::progress_failed(std::uint64_t id) {
  if (finished_) return;
  auto it = messages_.find(id);
  if (it == messages_.end() || !it->second.progress_sent) return;
  message& m = it->second;
  const time_point tried_at = *m.progress_sent;
  m.progress_sent.reset();
  if (m.at == message::phase::waiting) {
    // The handler asked for more time and did not get it.
    give_up(m, duration::zero(), "its in-progress acknowledgement was not confirmed");
  } else {
    // Automatic progress for a running handler: try again one interval later. The handler keeps
    // its own timeout either way.
    m.last_progress = std::max(m.last_progress, tried_at);
  }
}

void reader_rules::dead_lettered(std::uint64_t id, bool ok) {
  if (finished_) return;
  auto it = messages_.find(id);
  if (it == messages_.end() || it->second.at != message::phase::dead_lettering) return;
  if (!ok) {
    // Its last delivery: the server will not deliver it again after this nak.
    out_.push_back(reader_note{reader_note::kind::exhausted, id});
    settle(id, consume_verdict::nak, duration::zero());
    return;
  }
  settle(id, consume_verdict::term, duration::zero());
}

// -- settling ---------------------------------------------------------------------------------

void reader_rules::settle(std::uint64_t id, consume_verdict verdict, duration delay) {
  out_.push_back(settle_message{id, verdict, delay, true});
  messages_.erase(id);
}

bool reader_rules::last_delivery(std::uint64_t delivery_count) const {
  return settings_.max_deliver > 0 &&
         delivery_count >= static_cast<std::uint64_t>(settings_.max_deliver);
}

void reader_rules::dead_letter(message& m, std::string reason) {
  // The server will not deliver it again: keep it, on the dead-letter subject.
  m.at = message::phase::dead_lettering;
  out_.push_back(dead_letter_message{m.id, std::move(reason)});
}

void reader_rules::hand_back(std::uint64_t id, std::uint64_t delivery_count, const char* why) {
  if (!last_delivery(delivery_count)) {
    // The next owner (or this one, later) gets it at once.
    settle(id, consume_verdict::nak, duration::zero());
    return;
  }
  // Its last delivery, used up without a handler: a nak would lose it.
  if (settings_.dead_letter) {
    auto [it, inserted] = messages_.try_emplace(id);
    if (inserted) {  // it arrived unhandled: it never took a handler slot
      it->second.id = id;
      it->second.delivery_count = delivery_count;
    }
    dead_letter(it->second, std::string("not handled on its last delivery: ") + why);
    return;
  }
  out_.push_back(reader_note{reader_note::kind::exhausted, id});
  settle(id, consume_verdict::nak, duration::zero());
}

void reader_rules::nak_late(std::uint64_t id, std::uint64_t delivery_count) {
  out_.push_back(reader_note{reader_note::kind::late_arrival, id});
  hand_back(id, delivery_count, "it came while not served or past its deadline");
}

void reader_rules::give_up(message& m, duration delay, const char* why) {
  if (last_delivery(m.delivery_count)) {
    if (settings_.dead_letter) return dead_letter(m, why);
    out_.push_back(reader_note{reader_note::kind::exhausted, m.id});
  }
  settle(m.id, consume_verdict::nak, delay);
}

void reader_rules::handler_failed(message& m) {
  out_.push_back(reader_note{reader_note::kind::handler_failed, m.id});
  give_up(m, duration::zero(), "the handler failed or timed out");
}

void reader_rules::fail(std::string reason) {
  if (!failure_) failure_ = std::move(reason);
}

// -- time -------------------------------------------------------------------------------------

time_point reader_rules::handler_limit(const message& m) const {
  time_point limit = m.started_at + settings_.handler_timeout;
  if (release_deadline_) limit = std::min(limit, *release_deadline_);
  return limit;
}

time_point reader_rules::progress_due(const message& m) const {
  return std::max(m.started_at, m.last_progress) + settings_.progress_interval;
}

time_point reader_rules::pull_given_up_at(const pull& p) const {
  return p.sent_at + p.expires + settings_.pull_grace;
}

time_point reader_rules::valid_until(const message& m) const {
  return lease_until_ ? std::min(*lease_until_, m.deadline) : m.deadline;
}

std::vector<std::uint64_t> reader_rules::ids_in(message::phase at) const {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, m] : messages_)
    if (m.at == at) ids.push_back(id);
  return ids;
}

// -- poll -------------------------------------------------------------------------------------

std::vector<reader_output> reader_rules::poll(time_point now) {
  if (finished_) return std::exchange(out_, {});
  last_poll_ = now;
  expire_pull(now);
  time_out_handlers(now);
  if (!failure_) {
    send_progress(now);
    drop_unserved(now);
    rerun_waiting(now);
    dispatch(now);
    send_pull_if_due(now);
    finish_release_if_done();
  }
  if (failure_) {
    out_.push_back(reader_failed{*failure_});
    finished_ = true;
  }
  return std::exchange(out_, {});
}

void reader_rules::expire_pull(time_point now) {
  if (!pull_ || now < pull_given_up_at(*pull_)) return;
  const auto id = pull_->id;
  pull_.reset();
  pull_lost(id, "no status within its expiry + pull_grace");
}

void reader_rules::time_out_handlers(time_point now) {
  // Past its handler_timeout, or past the release deadline: counts as failed, its slot is free
  // and its late answer ignored.
  for (auto id : ids_in(message::phase::running)) {
    message& m = messages_.at(id);
    if (now >= handler_limit(m)) handler_failed(m);
  }
}

void reader_rules::send_progress(time_point now) {
  if (settings_.progress_interval <= duration::zero()) return;
  for (auto& [id, m] : messages_) {
    if (m.at != message::phase::running || m.progress_sent || now < progress_due(m)) continue;
    m.progress_sent = now;
    out_.push_back(confirm_progress{id, now});
  }
}

void reader_rules::drop_unserved(time_point now) {
  if (serving(now)) {
    // Queued past its deadline: the server is about to deliver it again anyway.
    for (auto it = queue_.begin(); it != queue_.end();) {
      const message& m = messages_.at(*it);
      if (now >= m.deadline) {
        nak_late(m.id, m.delivery_count);
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    return;
  }
  // Suspended or released: nothing waits here for a handler. Nak'ed at once so the next owner
  // (or this one, later) gets them without waiting for their ack wait.
  const auto queued = std::exchange(queue_, {});
  for (auto id : queued)
    hand_back(id, messages_.at(id).delivery_count, "the partition stopped being served");
  for (auto id : ids_in(message::phase::waiting)) {
    const message& m = messages_.at(id);
    if (!m.progress_sent)
      hand_back(id, m.delivery_count, "the partition stopped being served before its re-run");
  }
}

void reader_rules::rerun_waiting(time_point now) {
  if (!serving(now)) return;  // drop_unserved settled them
  for (auto id : ids_in(message::phase::waiting)) {
    message& m = messages_.at(id);
    if (m.progress_sent || now < m.retry_at) continue;
    if (now >= valid_until(m)) {
      nak_late(id, m.delivery_count);
      continue;
    }
    m.at = message::phase::running;
    m.started_at = now;
    out_.push_back(run_handler{id, valid_until(m)});
  }
}

void reader_rules::dispatch(time_point now) {
  while (serving(now) && !queue_.empty() &&
         running() < static_cast<std::size_t>(std::max(settings_.in_flight, 1))) {
    const auto id = queue_.front();
    queue_.pop_front();
    message& m = messages_.at(id);
    if (now >= valid_until(m)) {
      nak_late(id, m.delivery_count);
      continue;
    }
    m.at = message::phase::running;
    m.holds_slot = true;
    m.started_at = now;
    out_.push_back(run_handler{id, valid_until(m)});
  }
}

void reader_rules::send_pull_if_due(time_point now) {
  if (!serving(now) || pull_ || !queue_.empty()) return;
  const duration room = *lease_until_ - settings_.lease_margin_for_pull - now;
  const duration expires = std::min(settings_.pull_expiry, room);
  // Too short to be worth it: wait for the lease to grow (next_deadline offers its end).
  if (expires < settings_.min_pull_expiry) return;
  pull p;
  p.id = next_pull_id_++;
  p.sent_at = now;
  p.expires = expires;
  p.batch = std::max(settings_.pull_batch, 1);
  pull_ = p;
  out_.push_back(send_pull{p.id, p.batch, p.expires});
}

void reader_rules::finish_release_if_done() {
  // Nothing left to settle (no handler, no confirmation, no dead letter) and no pull that could
  // still bring a message: the next owner may start.
  if (!releasing_ || !messages_.empty() || pull_) return;
  out_.push_back(reader_released{});
  finished_ = true;
}

std::optional<time_point> reader_rules::next_deadline() const {
  if (finished_) return std::nullopt;
  std::optional<time_point> earliest;
  const auto consider = [&](time_point t) {
    if (!earliest || t < *earliest) earliest = t;
  };
  // A lapse is acted on once (the queue dropped): a lease end in the past is no deadline.
  if (started_ && !releasing_ && lease_until_ && *lease_until_ > last_poll_)
    consider(*lease_until_);
  for (const auto& [id, m] : messages_) {
    switch (m.at) {
      case message::phase::queued:
        consider(m.deadline);
        break;
      case message::phase::running:
        consider(handler_limit(m));
        if (settings_.progress_interval > duration::zero() && !m.progress_sent)
          consider(progress_due(m));
        break;
      case message::phase::waiting:
        if (!m.progress_sent) consider(m.retry_at);
        break;
      case message::phase::dead_lettering:
        break;  // the publish's answer comes as an event
    }
  }
  if (pull_) consider(pull_given_up_at(*pull_));
  return earliest;
}

}  // namespace parti
