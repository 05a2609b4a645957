#include "apps/lib/version_flag.hpp"

#include <iostream>

#include "parti/version.hpp"

namespace parti::node_app {

std::string version_line(std::string_view program) {
  return std::string(program) + " " + version_string + " (commit " + git_commit + ")";
}

bool print_version_if_asked(std::string_view program, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--version") {
      std::cout << version_line(program) << std::endl;
      return true;
    }
  }
  return false;
}

}  // namespace parti::node_app
