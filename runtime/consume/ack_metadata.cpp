#include "parti/runtime/consume/ack_metadata.hpp"

#include <charconv>
#include <vector>

namespace parti {

namespace {

std::vector<std::string_view> split_tokens(std::string_view subject) {
  std::vector<std::string_view> tokens;
  std::size_t start = 0;
  while (true) {
    const auto dot = subject.find('.', start);
    tokens.push_back(subject.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return tokens;
    start = dot + 1;
  }
}

// Digits only: from_chars alone would also take a leading '-' for signed types.
template <class T>
bool parse_number(std::string_view text, T& out) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return false;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

// The token layouts: the 9-token form of nats-server 2.9 has the stream at index 2; the newer
// form ("$JS.ACK.<domain>.<account hash>.<stream>...", 12 tokens or more, the ones past 11 being
// reserved) has it at index 4. The numbers follow the consumer in both.
constexpr std::size_t short_form = 9;
constexpr std::size_t long_form = 12;

}  // namespace

std::optional<ack_metadata> parse_ack_subject(std::string_view reply) {
  const auto tokens = split_tokens(reply);
  if (tokens.size() < short_form || tokens[0] != "$JS" || tokens[1] != "ACK") return std::nullopt;
  std::size_t stream_at = 0;
  if (tokens.size() == short_form)
    stream_at = 2;
  else if (tokens.size() >= long_form)
    stream_at = 4;  // tokens 2 and 3: the domain ("_" for none) and the account hash
  else
    return std::nullopt;
  for (std::size_t i = 2; i < stream_at + 7; ++i)
    if (tokens[i].empty()) return std::nullopt;

  ack_metadata m;
  m.stream = std::string(tokens[stream_at]);
  m.consumer = std::string(tokens[stream_at + 1]);
  const auto* n = &tokens[stream_at + 2];
  if (!parse_number(n[0], m.delivery_count) || !parse_number(n[1], m.stream_seq) ||
      !parse_number(n[2], m.consumer_seq) || !parse_number(n[3], m.timestamp_ns) ||
      !parse_number(n[4], m.pending))
    return std::nullopt;
  return m;
}

namespace ack_body {

std::string nak_with_delay(std::int64_t delay_ns) {
  if (delay_ns <= 0) return std::string(nak);
  return std::string(nak) + " {\"delay\": " + std::to_string(delay_ns) + "}";
}

}  // namespace ack_body

}  // namespace parti
