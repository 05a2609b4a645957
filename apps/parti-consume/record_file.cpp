#include "apps/parti-consume/record_file.hpp"

#include <cerrno>
#include <cstring>
#include <memory>

namespace parti::consume_app {

result<std::unique_ptr<record_file>> record_file::open(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "a");  // O_APPEND: whole lines, also from others
  if (!file) return failure{"cannot open " + path + ": " + std::strerror(errno)};
  return std::unique_ptr<record_file>(new record_file(file));
}

record_file::~record_file() {
  std::fclose(file_);
}

status record_file::write(const consume_check::record& r) {
  auto line = consume_check::to_line(r) + "\n";
  std::lock_guard<std::mutex> guard(mutex_);
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    return failure{std::string("cannot write the record: ") + std::strerror(errno)};
  return done{};
}

}  // namespace parti::consume_app
