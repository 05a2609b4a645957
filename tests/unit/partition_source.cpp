// Partition sources: counted, fixed, callback and file, and the partitions-file syntax with its
// per-line errors.
#include <boost/test/unit_test.hpp>

#include <unistd.h>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "parti/runtime/partition_source.hpp"

using namespace parti;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> keys_of(const partition& p) {
  return p.keys;
}

/// A file in the temporary directory, removed at the end of the test.
struct temp_file {
  std::string path;
  explicit temp_file(const std::string& text) {
    char name[] = "/tmp/parti-partitions-XXXXXX";
    int fd = ::mkstemp(name);
    BOOST_REQUIRE(fd >= 0);
    ::close(fd);
    path = name;
    write(text);
  }
  ~temp_file() { std::remove(path.c_str()); }
  void write(const std::string& text) const { std::ofstream(path, std::ios::trunc) << text; }
};

}  // namespace

BOOST_AUTO_TEST_CASE(count_source_names_partitions_p_0_to_p_n_minus_1) {
  auto loaded = count_source(3)->load();
  BOOST_REQUIRE(loaded.ok());
  BOOST_REQUIRE(loaded->size() == 3u);
  BOOST_TEST(keys_of((*loaded)[0]) == std::vector<std::string>{"p-0"});
  BOOST_TEST(keys_of((*loaded)[2]) == std::vector<std::string>{"p-2"});
  BOOST_TEST((*loaded)[1].weight == 1);
  BOOST_TEST(count_source(0)->load()->empty());
}

BOOST_AUTO_TEST_CASE(list_source_returns_its_list_on_every_load) {
  std::vector<partition> list{{{"a", "b"}, 2}, {{"c"}, 1}};
  auto source = list_source(list);
  BOOST_TEST((*source->load() == list));
  BOOST_TEST((*source->load() == list));
}

BOOST_AUTO_TEST_CASE(callback_source_calls_the_function_on_every_load) {
  int calls = 0;
  auto source = callback_source([&]() -> result<std::vector<partition>> {
    if (++calls == 2) return failure{"backend down"};
    return std::vector<partition>{{{"k" + std::to_string(calls)}, 1}};
  });
  BOOST_TEST(keys_of(source->load()->front()) == std::vector<std::string>{"k1"});
  BOOST_TEST(source->load().error() == "backend down");
  BOOST_TEST(keys_of(source->load()->front()) == std::vector<std::string>{"k3"});
  BOOST_TEST(!callback_source({})->load().ok());
}

BOOST_AUTO_TEST_CASE(a_file_lists_keys_weights_comments_and_blank_lines) {
  auto parsed = parse_partitions(
      "# orders by region\n"
      "orders,eu 5\n"
      "\n"
      "  orders-us  \n"
      "billing, invoices\t3   # trailing comment\n"
      "42\n"
      "a,7 2\r\n");
  BOOST_REQUIRE_MESSAGE(parsed.ok(), parsed.error());
  BOOST_REQUIRE(parsed->size() == 5u);
  auto& p = *parsed;
  BOOST_TEST(keys_of(p[0]) == (std::vector<std::string>{"orders", "eu"}));
  BOOST_TEST(p[0].weight == 5);
  BOOST_TEST(keys_of(p[1]) == std::vector<std::string>{"orders-us"});
  BOOST_TEST(p[1].weight == 1);
  BOOST_TEST(keys_of(p[2]) == (std::vector<std::string>{"billing", "invoices"}));
  BOOST_TEST(p[2].weight == 3);
  BOOST_TEST(keys_of(p[3]) == std::vector<std::string>{"42"});  // a number alone is a key
  BOOST_TEST(p[3].weight == 1);
  BOOST_TEST(keys_of(p[4]) == (std::vector<std::string>{"a", "7"}));
  BOOST_TEST(p[4].weight == 2);
}

BOOST_AUTO_TEST_CASE(a_trailing_number_after_a_comma_is_a_key_not_a_weight) {
  auto parsed = parse_partitions("a, 7\n");
  BOOST_REQUIRE(parsed.ok());
  BOOST_TEST(keys_of(parsed->front()) == (std::vector<std::string>{"a", "7"}));
  BOOST_TEST(parsed->front().weight == 1);
}

struct bad_line {
  std::string text;
  std::string expected;  // part of the message, after the line number
};

BOOST_AUTO_TEST_CASE(every_error_names_its_line_and_the_problem) {
  std::vector<bad_line> cases{
      {"ok\nx,,y\n", "line 2: empty key"},
      {"ok\n\n,x\n", "line 3: empty key"},
      {"x,\n", "line 1: empty key"},
      {"a b\n", "line 1: \"a b\" contains a space"},
      {"a 0\n", "line 1: weight must be at least 1"},
      {"a 99999999999\n", "line 1: weight 99999999999 is too large"},
      {"a 1000000001\n", "line 1: weight 1000000001 is too large"},
      {"a\nb\n# c\na\n", "line 4: key \"a\" already belongs to the partition on line 1"},
      {"x,b\nc,b 2\n", "line 2: key \"b\" already belongs to the partition on line 1"},
      {"q,q\n", "line 1: key \"q\" appears twice"},
  };
  for (const auto& c : cases) {
    auto parsed = parse_partitions(c.text);
    BOOST_TEST_CONTEXT("input: " << c.text) {
      BOOST_REQUIRE(!parsed.ok());
      BOOST_TEST(contains(parsed.error(), c.expected), parsed.error());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_file_without_partitions_is_an_error_not_an_empty_set) {
  // An empty or truncated file must not make the leader unassign everything.
  BOOST_TEST(contains(parse_partitions("").error(), "no partitions"));
  BOOST_TEST(contains(parse_partitions("# only\n\n  \n").error(), "no partitions"));
}

BOOST_AUTO_TEST_CASE(file_source_reads_the_file_again_on_every_load) {
  temp_file file("a\nb 2\n");
  auto source = file_source(file.path);
  auto first = source->load();
  BOOST_REQUIRE_MESSAGE(first.ok(), first.error());
  BOOST_TEST(first->size() == 2u);
  file.write("a\nb 2\nc\n");
  BOOST_TEST(source->load()->size() == 3u);
  file.write("a\nb,\n");
  auto broken = source->load();
  BOOST_REQUIRE(!broken.ok());
  BOOST_TEST(contains(broken.error(), file.path + ": line 2: empty key"), broken.error());
}

BOOST_AUTO_TEST_CASE(file_source_names_a_missing_file) {
  auto loaded = file_source("/nonexistent/parti/partitions.txt")->load();
  BOOST_REQUIRE(!loaded.ok());
  BOOST_TEST(contains(loaded.error(), "/nonexistent/parti/partitions.txt"), loaded.error());
  BOOST_TEST(contains(loaded.error(), "No such file"), loaded.error());
}
