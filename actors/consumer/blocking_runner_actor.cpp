#include "parti/actors/consumer/blocking_runner_actor.hpp"

#include <caf/all.hpp>

#include "parti/runtime/consume/ack_metadata.hpp"
#include "parti/runtime/nats/jetstream_consumers.hpp"
#include "parti/runtime/nats/pull_inbox.hpp"

namespace parti {

namespace {

/// Carries out one call; never throws.
reader_call_result run(const blocking_runner_settings& s, const reader_call_request& r) {
  reader_call_result out{r.what, r.id, false, {}, 0};
  auto ended = [&](const auto& outcome) {
    out.ok = outcome.ok();
    out.error = outcome.error();
    return out;
  };
  switch (r.what) {
    case reader_call::attach: {
      auto attached = ensure_consumer(*s.conn, s.stream, r.consumer, r.subject, s.consumer);
      if (attached) out.value = attached->num_pending;
      return ended(attached);
    }
    case reader_call::progress:
      out.value = r.sent_at;
      return ended(
          publish_ack_confirmed(*s.conn, r.subject, ack_body::in_progress, s.confirm_timeout));
    case reader_call::dead_letter:
      return ended(publish_acknowledged(*s.conn, r.subject, r.data, r.headers));
    case reader_call::lag: {
      auto pending = consumer_pending(*s.conn, s.stream, r.consumer);
      if (pending) out.value = *pending;
      return ended(pending);
    }
  }
  out.error = "unknown call";
  return out;
}

}  // namespace

blocking_runner_actor::behavior_type blocking_runner(
    blocking_runner_actor::stateful_pointer<blocking_runner_state> self,
    blocking_runner_settings settings) {
  self->state.settings = std::move(settings);
  return {
      [=](const reader_call_request& r) { return run(self->state.settings, r); },
  };
}

}  // namespace parti
