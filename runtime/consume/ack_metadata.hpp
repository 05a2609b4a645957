#pragma once
// What a JetStream message's reply subject says about its delivery. Pure.
//
// nats-server 2.9 replies from "$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.
// <consumer seq>.<timestamp ns>.<pending>" (9 tokens); newer servers may prefix a domain and an
// account hash ("$JS.ACK.<domain>.<account hash>.<stream>...", 12 tokens and more). Both parse.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parti {

struct ack_metadata {
  std::string stream;
  std::string consumer;
  std::uint64_t delivery_count = 0;
  std::uint64_t stream_seq = 0;
  std::uint64_t consumer_seq = 0;
  std::int64_t timestamp_ns = 0;  // the message's publication time (unix ns, the server's clock)
  std::uint64_t pending = 0;      // messages left for the consumer after this one
};

/// Parses a reply subject; nullopt when it is no JetStream ack subject.
std::optional<ack_metadata> parse_ack_subject(std::string_view reply);

/// The bodies an ack subject takes (JetStream's acknowledgement protocol).
namespace ack_body {
inline constexpr std::string_view ack = "+ACK";
inline constexpr std::string_view nak = "-NAK";
inline constexpr std::string_view in_progress = "+WPI";
inline constexpr std::string_view term = "+TERM";
/// "-NAK {\"delay\": <ns>}" (a nak with a redelivery delay; plain "-NAK" when 0).
std::string nak_with_delay(std::int64_t delay_ns);
}  // namespace ack_body

}  // namespace parti
