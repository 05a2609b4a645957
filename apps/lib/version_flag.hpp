#pragma once
// --version, the same in every program: "parti-node 0.1.0 (commit abc1234)" on stdout, exit 0.
// Checked before a program parses its options, so that CAF's option parser (which rejects an
// option it does not know) and a program's required options do not get in the way.
#include <string>
#include <string_view>

namespace parti::node_app {

/// "<program> <version> (commit <git describe>)".
std::string version_line(std::string_view program);

/// True when an argument is --version; then prints version_line(program) to stdout.
bool print_version_if_asked(std::string_view program, int argc, char** argv);

}  // namespace parti::node_app
