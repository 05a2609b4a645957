#pragma once
// The --record file: one line per handled message (apps/lib/consume_records.hpp), appended and
// flushed line by line, so that a process killed at any moment leaves at most its last line
// cut short. Handlers of every partition and node write to one record_file from their threads.
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "apps/lib/consume_records.hpp"
#include "parti/messages/result.hpp"

namespace parti::consume_app {

class record_file {
 public:
  /// Opens `path` for appending (created if missing); the failure names the file and why.
  static result<std::unique_ptr<record_file>> open(const std::string& path);
  ~record_file();
  record_file(const record_file&) = delete;
  record_file& operator=(const record_file&) = delete;

  /// Appends the record's line and flushes it; fails when the write does.
  status write(const consume_check::record& r);

 private:
  explicit record_file(std::FILE* file) : file_(file) {}
  std::mutex mutex_;
  std::FILE* file_;
};

}  // namespace parti::consume_app
