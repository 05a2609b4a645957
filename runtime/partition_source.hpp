#pragma once
// Where the leader's calculator gets the partitions from: a count or a file from configuration,
// or anything a library user plugs in. Read again on a refresh request.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "parti/messages/records.hpp"
#include "parti/messages/result.hpp"

namespace parti {

class partition_source {
 public:
  virtual ~partition_source() = default;
  /// The current partitions; a failure keeps the leader on the partitions it had.
  virtual result<std::vector<partition>> load() const = 0;
};

/// `count` partitions named p-0 .. p-<count-1>, weight 1.
std::shared_ptr<partition_source> count_source(std::uint32_t count);

/// A fixed list.
std::shared_ptr<partition_source> list_source(std::vector<partition> partitions);

/// Calls `fn` on every load (for library users with their own source of truth).
std::shared_ptr<partition_source> callback_source(
    std::function<result<std::vector<partition>>()> fn);

/// Parses the text of a partitions file: one partition a line, its keys separated by commas,
/// then optionally whitespace and a weight ("orders,eu 5"); blank lines and '#' comments are
/// skipped. A failure names the line and what is wrong with it.
result<std::vector<partition>> parse_partitions(const std::string& text);

/// Reads and parses a partitions file on every load.
std::shared_ptr<partition_source> file_source(std::string path);

}  // namespace parti
