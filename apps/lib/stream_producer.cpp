#include "apps/lib/stream_producer.hpp"

#include <nats/nats.h>

#include <random>
#include <sstream>

#include "parti/runtime/nats/connection.hpp"

namespace parti::consume_app {

namespace {

std::string random_run_id() {
  std::random_device device;
  std::ostringstream out;
  out << std::hex << device() << device();
  return out.str();
}

}  // namespace

stream_producer::stream_producer(std::shared_ptr<connection> conn, producer_options options)
    : conn_(std::move(conn)), options_(std::move(options)) {
  if (options_.run_id.empty()) options_.run_id = random_run_id();
  if (options_.publish_timeout <= duration::zero())
    options_.publish_timeout = conn_->options().request_timeout;
  thread_ = std::thread([this] { run(); });
}

stream_producer::~stream_producer() {
  stop();
}

void stream_producer::stop() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool stream_producer::wait(duration limit) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, limit, [this] { return finished_; });
}

bool stream_producer::finished() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return finished_;
}

producer_report stream_producer::report() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return report_;
}

bool stream_producer::sleep_until(std::chrono::steady_clock::time_point until) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_until(lock, until, [this] { return stopping_; });
  return !stopping_;
}

/// Publishes message n until the stream acknowledges it; false when stopped first.
bool stream_producer::publish(std::uint64_t n, const std::string& subject) {
  const auto payload = std::to_string(n);
  const auto id = options_.run_id + "-" + payload;
  backoff pause(options_.retry, seeded_random(n));
  while (true) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id.c_str();
    po.MaxWait =
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.publish_timeout).count();
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    auto s = js_Publish(&ack, conn_->jetstream(), subject.c_str(), payload.data(),
                        static_cast<int>(payload.size()), &po, &code);
    if (s == NATS_OK) {
      std::lock_guard<std::mutex> guard(mutex_);
      ++report_.published;
      if (ack->Duplicate) ++report_.already_stored;
      report_.acked[subject].push_back(ack->Sequence);
      jsPubAck_Destroy(ack);
      return true;
    }
    {
      std::lock_guard<std::mutex> guard(mutex_);
      ++report_.failed_attempts;
      report_.last_error = nats_error_text(s);
    }
    if (!sleep_until(std::chrono::steady_clock::now() + pause.next())) return false;
  }
}

void stream_producer::run() {
  const auto start = std::chrono::steady_clock::now();
  const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(1.0 / options_.rate));
  auto due = start;
  for (std::uint64_t n = 1; !options_.subjects.empty(); ++n) {
    if (!sleep_until(due)) break;
    auto now = std::chrono::steady_clock::now();
    if (options_.run_for > duration::zero() && now - start >= options_.run_for) break;
    if (!publish(n, options_.subjects[(n - 1) % options_.subjects.size()])) break;
    // A steady rate from here on: after a long retry, no burst to catch up.
    due += interval;
    now = std::chrono::steady_clock::now();
    if (now - due > std::chrono::seconds(1)) due = now;
  }
  std::lock_guard<std::mutex> guard(mutex_);
  report_.elapsed = std::chrono::steady_clock::now() - start;
  finished_ = true;
  changed_.notify_all();
}

}  // namespace parti::consume_app
