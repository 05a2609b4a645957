#include "parti/runtime/nats/connection_metrics.hpp"

#include <utility>

#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/nats/connection.hpp"

namespace parti {

int report_connection_metrics(connection& conn, std::shared_ptr<metrics> m) {
  auto token = conn.add_listener([m](const connection_event& e) {
    switch (e.state) {
      case connection_state::connected:
        m->set_nats_connected(true);
        break;
      case connection_state::reconnected:
        m->set_nats_connected(true);
        m->count_nats_reconnect();
        break;
      case connection_state::disconnected:
      case connection_state::closed:
        m->set_nats_connected(false);
        break;
      case connection_state::error:  // an async error leaves the connection as it was
        break;
    }
  });
  // After the listener is in place: a change from here on is an event, and the connection
  // may have come up before (a connect at open() raises no event here).
  m->set_nats_connected(conn.connected());
  return token;
}

}  // namespace parti
