#pragma once
// Pull requests of many JetStream consumers multiplexed over one asynchronous subscription, so
// the thread count does not grow with the partitions (nats.c's Fetch blocks one thread per
// consumer; here one nats.c delivery thread serves every route).
//
// Each reader registers a route and gets a token; a pull request
//   PUB $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>  reply: <inbox>.<token>.<pull id>
//   {"batch": n, "expires": ns}
// brings its messages and the request's end (a status message) to that route. Routes are called
// on nats.c's subscription thread, one message at a time, and must only hand the message on
// (an actor: anon_send). A route removed is never called again once remove() returned. A route
// must not own the inbox: the destructor waits for the running call, so it cannot run in one.
//
// How a message finds its route. A status message (404, 408, 409, ...) arrives with the pull's
// reply subject as its subject, so it names token and pull id. A data message does not: the
// server delivers it with the stream message's own subject ("orders.p-3") and the "$JS.ACK..."
// reply, and nats.c does not show the inbox subject it was sent to (verified with nats.c 3.4.1
// and nats-server 2.9.10). Its ack subject names stream and consumer, though, so pull() binds
// the consumer to the pulling route, and a data message goes to the route that last pulled its
// consumer, with that pull's id. So one route reads one consumer at a time, and a reader keeps
// one pull outstanding: a message of an older pull still on its way is reported with the newer
// pull's id. A pull of the same consumer from another route takes the consumer over. A message
// whose route is gone is nak'ed, so the partition's next reader gets it without waiting for the
// ack wait; the nak is delayed until that route's last pull has ended on the server (plus a
// margin), since the server would otherwise deliver it to that pull again, and the loop would
// use up the message's deliveries.
//
// A pull of a consumer or stream that does not exist is not answered at all by nats-server
// 2.9.10 (the JetStream API takes the request and drops it: no 503); it shows as a pull that
// neither ends nor expires. A pull outstanding while its consumer is deleted ends with 409
// "Consumer Deleted".
#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "parti/messages/consume_events.hpp"
#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"

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

  /// Implementation details for the nats.c callbacks: a message arrived; the subscription has
  /// delivered its last message (after an unsubscribe or the connection's close).
  void deliver(natsMsg* msg);
  void subscription_done();

 private:
  explicit pull_inbox(std::shared_ptr<connection> conn);

  /// One reader's callbacks. `calling` is held while one of them runs, so remove() can wait a
  /// running call out without holding mutex_ (which would block every other route meanwhile).
  struct route {
    message_route on_message;
    status_route on_status;
    std::mutex calling;
    bool removed = false;  // under `calling`
  };
  /// The route that last pulled a consumer, and that pull's id.
  struct binding {
    std::uint64_t token = 0;
    std::uint64_t pull_id = 0;
    time_point expires_at{};  // the pull's end (steady clock), as far as this side can tell
  };

  void deliver_status(natsMsg* msg);
  void deliver_data(natsMsg* msg);
  void nak_orphan(const std::string& key, const char* reply);
  /// Calls `fn` with the route under its `calling` lock, unless it was removed (false).
  template <class Fn>
  bool call(const std::shared_ptr<route>& r, Fn&& fn);
  std::shared_ptr<route> find(std::uint64_t token);

  std::shared_ptr<connection> conn_;
  natsSubscription* sub_ = nullptr;
  std::string prefix_;
  std::mutex mutex_;  // routes_, bindings_, next_token_: pull() and add() come from actor threads
  std::unordered_map<std::uint64_t, std::shared_ptr<route>> routes_;
  std::unordered_map<std::string, binding> bindings_;  // by "<stream> <consumer>"
  /// When the last pull of a consumer whose route was removed ends: its late messages are
  /// nak'ed with a delay past it, so the server does not hand them to that pull again.
  std::unordered_map<std::string, time_point> retired_;
  std::uint64_t next_token_ = 1;
  /// The thread in deliver(), so a route that removes a route (itself) does not wait on itself.
  std::atomic<std::thread::id> delivering_{};
  std::mutex done_mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
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
