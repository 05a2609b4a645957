#pragma once
// Which JetStream consumer and filter subject belong to a partition. Pure.
//
// Consumer names: "<prefix>_<escaped keys>_<hash>". Keys are escaped so that every partition
// gets its own name ([A-Za-z0-9-] kept, every other byte as "_XX" hex, "_" itself included, keys
// joined by "__"), and a hash of the prefix and the keys (xxhash64, 8 hex digits) ends the name,
// so that names cut to the length limit stay distinct in practice; a collision among the
// partitions in use is refused at start anyway (check_partition_consumers).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "parti/messages/records.hpp"
#include "parti/messages/result.hpp"

namespace parti {

/// The longest consumer name used (JetStream allows more, but names are also subject tokens).
constexpr std::size_t max_consumer_name = 128;

/// The durable consumer name of `p` under `prefix` (the prefix is escaped like the keys).
std::string consumer_name(std::string_view prefix, const partition& p);

/// A filter subject template over a partition's keys: "{0}", "{1}", ... stand for the keys,
/// "{{" and "}}" for literal braces.
class subject_template {
 public:
  /// Fails (naming the position) on an unclosed or empty brace, a non-number index, and a
  /// template that is no valid subject with placeholders filled in (empty token, space,
  /// a wildcard "*" or ">" as its own text).
  static result<subject_template> parse(std::string_view text);

  /// The highest key index used + 1 (a partition needs at least this many keys).
  std::size_t keys_needed() const { return keys_needed_; }
  /// The subject of `p`. Fails when `p` has too few keys, or a key would make the subject
  /// contain a wildcard, a space, an empty token or a '.' (a key is always one whole part of a
  /// token: "orders.{0}" with key "a.b" would be two tokens).
  result<std::string> render(const partition& p) const;
  const std::string& text() const { return text_; }

 private:
  struct piece {
    bool key = false;
    std::string literal;    // when !key
    std::size_t index = 0;  // when key
  };
  std::string text_;
  std::vector<piece> pieces_;
  std::size_t keys_needed_ = 0;
};

/// One partition's consumer, as the consumer actors use it.
struct partition_consumer {
  partition part;
  std::string name;
  std::string filter_subject;
};

/// Names and filters every partition; fails on the first partition that cannot be rendered, on
/// two partitions with one consumer name, and on two with one filter subject (overlap), naming
/// both partitions.
result<std::vector<partition_consumer>> check_partition_consumers(
    std::string_view prefix, const subject_template& subjects,
    const std::vector<partition>& partitions);

/// True when `name` may name a JetStream stream or consumer: not empty, and no '.', '*', '>',
/// '/', '\\', whitespace or control character (the server refuses them, or they would split
/// the API subjects the name appears in).
bool is_valid_stream_name(std::string_view name);

/// True when `subject` is one literal subject: non-empty tokens separated by '.', no wildcard
/// ('*', '>'), no whitespace or control character.
bool is_literal_subject(std::string_view subject);

/// The keys joined with "-" ("p-3"): how parti-consume's records and logs name a partition.
std::string partition_label(const std::vector<std::string>& keys);

}  // namespace parti
