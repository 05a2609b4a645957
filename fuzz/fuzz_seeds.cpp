// Writes seed inputs for fuzz_codec into a directory: for each record type, its selector byte
// (the index fuzz_codec uses) followed by encode() of a default and of a typical record.
// Usage: fuzz_seeds <dir>   (scripts/fuzz runs it; fuzz/corpus/codec/ is a committed copy)
#include <cstdio>
#include <fstream>
#include <string>

#include "parti/messages/codec.hpp"

namespace {

int failures = 0;

template <class T>
void seed(const std::string& dir, int selector, const char* tag, const T& record) {
  const std::string path = dir + "/" + parti::record_name<T>() + "-" + tag;
  std::ofstream out(path, std::ios::binary);
  out << static_cast<char>(selector) << parti::encode(record);
  if (!out) {
    std::fprintf(stderr, "fuzz_seeds: cannot write %s\n", path.c_str());
    ++failures;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds <dir>\n");
    return 2;
  }
  const std::string dir = argv[1];
  using namespace parti;
  seed(dir, 0, "default", partition{});
  seed(dir, 0, "typical", partition{{"orders", "eu"}, 5});
  seed(dir, 1, "default", id_claim{});
  seed(dir, 1, "typical", id_claim{"3f9c1a", "host-a", 4242, 1700000000000});
  seed(dir, 2, "default", leader_lease{});
  seed(dir, 2, "typical", leader_lease{"worker-1", "3f9c1a", 7, 1700000000000});
  seed(dir, 3, "default", heartbeat_record{});
  seed(dir, 3, "typical",
       heartbeat_record{"worker-1", "3f9c1a", 12, 1700000000000, "stable", 7, 3, false, true, 3000,
                        ""});
  seed(dir, 3, "fence",
       heartbeat_record{"worker-1", "", 0, 1700000000000, "", 0, 0, false, false, 0, "worker-0"});
  seed(dir, 4, "default", assignment_record{});
  seed(dir, 4, "typical",
       assignment_record{"worker-1",
                         7,
                         3,
                         "worker-2 joined",
                         {{{"p-0"}, 1}, {{"orders", "eu"}, 5}, {{"p-2"}, -1}},
                         1700000000000,
                         {{{"p-0"}, 7, 3}, {{"orders", "eu"}, 6, 9}, {{"p-2"}, 7, 1}}});
  seed(dir, 5, "default", manifest_record{});
  seed(dir, 5, "typical",
       manifest_record{7, 3, "cold start", {"worker-0", "worker-1"}, 24, 1700000000000});
  seed(dir, 6, "default", control_record{});
  seed(dir, 6, "typical", control_record{true, 2, 1, {"worker-3"}, 1700000000000});
  return failures == 0 ? 0 : 1;
}
