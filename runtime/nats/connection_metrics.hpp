#pragma once
// The NATS connection's state in the metrics: parti_nats_connected follows the connection's
// events (connected, reconnected: 1; disconnected, closed: 0) and parti_nats_reconnects_total
// counts each reconnect. A listener of the connection, so the connection knows nothing of
// metrics.
#include <memory>

namespace parti {

class connection;
class metrics;

/// Sets the gauge to the connection's state now and keeps it current from then on; returns the
/// listener's token (connection::remove_listener ends the reporting).
int report_connection_metrics(connection& conn, std::shared_ptr<metrics> m);

}  // namespace parti
