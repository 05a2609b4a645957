#pragma once
// A temporary directory for the logs and records of a test case's processes: removed when the
// case passed, kept (and named in the test log) when it failed, for a look at what happened.
// Header-only; Boost.Test's framework must be running (a test case's scope).
#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace parti::test {

class kept_dir {
 public:
  /// "/tmp/<prefix>-XXXXXX"
  explicit kept_dir(const std::string& prefix) {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
    path = pattern;
  }
  ~kept_dir() {
    const auto id = boost::unit_test::framework::current_test_case().p_id;
    if (boost::unit_test::results_collector.results(id).passed())
      std::filesystem::remove_all(path);
    else
      BOOST_TEST_MESSAGE("logs kept in " << path);
  }
  /// Writes `text` to the file `name` in the directory; returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    auto file = path + "/" + name;
    std::ofstream(file) << text;
    return file;
  }

  kept_dir(const kept_dir&) = delete;
  kept_dir& operator=(const kept_dir&) = delete;

  std::string path;
};

}  // namespace parti::test
