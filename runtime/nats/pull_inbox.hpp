#pragma once
// Pull requests of many JetStream consumers multiplexed over one asynchronous subscription, so
// the thread count does not grow with the partitions (nats.c's Fetch blocks one thread per
// consumer).
//
// Each reader registers a route and gets a token; a pull request
//   PUB $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>  reply: <inbox>.<token>.<pull id>
//   {"batch": n, "expires": ns}
// brings its messages and the request's end (a status message) to that route. Routes are called
// on nats.c's subscription thread, one message at a time, and must only hand the message on
// (an actor: anon_send). A route removed is never called again once remove() returned.
#include <nats/nats.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "messages/consume_events.hpp"
#include "messages/result.hpp"
#include "runtime/clock.hpp"

namespace parti {

class connection;

class pull_inbox {
 public:
  using message_route = std::function<void(pulled_message)>;
  using status_route = std::function<void(pull_status)>;

  /// Subscribes to "<fresh inbox>.>" on `conn`.
  static result<std::shared_ptr<pull_inbox>> open(std::shared_ptr<connection> conn);
  ~pull_inbox();  // unsubscribes; no route is called after it returned
  pull_inbox(const pull_inbox&) = delete;
  pull_inbox& operator=(const pull_inbox&) = delete;

  /// A new route; the token names it in pull().
  std::uint64_t add(message_route on_message, status_route on_status);
  void remove(std::uint64_t token);

  /// Sends one pull request for `token` (reply "<inbox>.<token>.<pull id>"). `expires` > 0.
  /// Fails when the connection refuses the publish (closed, buffer full while reconnecting).
  status pull(std::uint64_t token, std::uint64_t pull_id, const std::string& stream,
              const std::string& consumer, int batch, duration expires);

  const std::string& prefix() const { return prefix_; }

  /// Implementation detail for the nats.c callback.
  void deliver(natsMsg* msg);

 private:
  explicit pull_inbox(std::shared_ptr<connection> conn);

  std::shared_ptr<connection> conn_;
  natsSubscription* sub_ = nullptr;
  std::string prefix_;
  std::mutex mutex_;  // routes_ and next_token_: pull() and add() come from actor threads
  std::unordered_map<std::uint64_t, std::pair<message_route, status_route>> routes_;
  std::uint64_t next_token_ = 1;
};

// -- settling a message ---------------------------------------------------------------------------

/// Publishes an acknowledgement body (ack_metadata.hpp's ack_body) to a message's reply subject,
/// without waiting: JetStream does not answer plain acks.
status publish_ack(connection& conn, const std::string& reply, std::string_view body);

/// The same, waiting up to `timeout` for the server to confirm it (a "double ack"): an in-progress
/// ack that extends the ack deadline must be known to have arrived.
status publish_ack_confirmed(connection& conn, const std::string& reply, std::string_view body,
                             duration timeout);

}  // namespace parti
