#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "parti/runtime/consume/consumer_naming.hpp"
#include "parti/runtime/strategy/hashing.hpp"

using namespace parti;

namespace {

partition part(std::vector<std::string> keys) {
  return partition{std::move(keys), 1};
}

// The name's last 8 characters: the hash of prefix and keys.
std::string hash_of(const std::string& name) {
  return name.substr(name.size() - 8);
}

bool only_name_chars(const std::string& name) {
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_'))
      return false;
  return true;
}

subject_template parsed(const std::string& text) {
  auto t = subject_template::parse(text);
  BOOST_REQUIRE_MESSAGE(t.ok(), t.error());
  return *t;
}

std::string parse_error(const std::string& text) {
  auto t = subject_template::parse(text);
  return t.ok() ? "(parsed)" : t.error();
}

}  // namespace

// -- consumer names ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_name_is_prefix_keys_and_hash) {
  const auto name = consumer_name("orders", part({"p", "3"}));
  BOOST_TEST(name.substr(0, name.size() - 8) == "orders_p__3_");
  // The hash: xxhash64 (XXH3) of the length-prefixed prefix and keys, its low 32 bits.
  char expected[9];
  std::snprintf(
      expected, sizeof expected, "%08x",
      static_cast<unsigned>(strategy_hash::partition_hash({"orders", "p", "3"}) & 0xffffffffU));
  BOOST_TEST(hash_of(name) == expected);
  // Pinned: a change would rename every deployed consumer (and lose their cursors).
  BOOST_TEST(name == "orders_p__3_" + std::string("e0e831da"));
}

BOOST_AUTO_TEST_CASE(everything_but_letters_digits_and_dashes_is_escaped) {
  const auto name = consumer_name("my_group", part({"a_b.c", "x y", "é"}));
  BOOST_TEST(name.substr(0, name.size() - 9) == "my_5Fgroup_a_5Fb_2Ec__x_20y___C3_A9");
  BOOST_TEST(only_name_chars(name));
  BOOST_TEST(consumer_name("g", part({"A-z-0"})).substr(0, 8) == "g_A-z-0_");
}

BOOST_AUTO_TEST_CASE(keys_split_differently_get_different_names_and_hashes) {
  const auto a = consumer_name("g", part({"ab", "c"}));
  const auto b = consumer_name("g", part({"a", "bc"}));
  BOOST_TEST(a != b);
  BOOST_TEST(hash_of(a) != hash_of(b));  // the hash alone tells them apart too
  BOOST_TEST(hash_of(consumer_name("g", part({}))) != hash_of(consumer_name("g", part({""}))));
  BOOST_TEST(hash_of(consumer_name("g1", part({"a"}))) !=
             hash_of(consumer_name("g", part({"1a"}))));
}

BOOST_AUTO_TEST_CASE(long_names_are_cut_but_keep_their_hash) {
  const std::string common(300, 'x');
  const auto a = consumer_name("group", part({common + "a"}));
  const auto b = consumer_name("group", part({common + "b"}));
  BOOST_TEST(a.size() == max_consumer_name);
  BOOST_TEST(b.size() == max_consumer_name);
  BOOST_TEST(a != b);  // they differ only past the cut: the hash keeps them apart
  BOOST_TEST(a.substr(0, 119) == b.substr(0, 119));
  BOOST_TEST(a[max_consumer_name - 9] == '_');
  char expected[9];
  std::snprintf(
      expected, sizeof expected, "%08x",
      static_cast<unsigned>(strategy_hash::partition_hash({"group", common + "a"}) & 0xffffffffU));
  BOOST_TEST(hash_of(a) == expected);
  // A name that just fits is not cut.
  const auto fits = consumer_name("g", part({std::string(max_consumer_name - 11, 'y')}));
  BOOST_TEST(fits.size() == max_consumer_name);
  BOOST_TEST(fits.substr(0, 2) == "g_");
  BOOST_TEST(fits.substr(max_consumer_name - 11, 3) == "yy_");
}

BOOST_AUTO_TEST_CASE(many_partitions_get_distinct_valid_names) {
  std::set<std::string> names;
  for (int i = 0; i < 2000; ++i) {
    auto name = consumer_name("parti", part({"p", std::to_string(i)}));
    BOOST_TEST(only_name_chars(name));
    names.insert(name);
  }
  BOOST_TEST(names.size() == 2000u);
}

// -- subject templates ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(templates_render_each_partition_s_subject) {
  auto t = parsed("orders.{0}");
  BOOST_TEST(t.keys_needed() == 1u);
  BOOST_TEST(t.text() == "orders.{0}");
  BOOST_TEST(*t.render(part({"p3"})) == "orders.p3");
  BOOST_TEST(*t.render(part({"p3", "extra"})) == "orders.p3");  // more keys than used: fine

  auto two = parsed("orders.{1}.by-{0}");
  BOOST_TEST(two.keys_needed() == 2u);
  BOOST_TEST(*two.render(part({"eu", "42"})) == "orders.42.by-eu");

  auto braces = parsed("{{x}}.{0}-{0}");
  BOOST_TEST(*braces.render(part({"k"})) == "{x}.k-k");
  BOOST_TEST(*parsed("{12}").render(part(std::vector<std::string>(13, "z"))) == "z");
}

BOOST_AUTO_TEST_CASE(template_errors_name_the_position) {
  BOOST_TEST(parse_error("") == "subject template \"\": is empty");
  BOOST_TEST(parse_error("orders.{") ==
             "subject template \"orders.{\": unclosed '{' at position 8");
  BOOST_TEST(parse_error("orders.{}") ==
             "subject template \"orders.{}\": empty '{}' at position 8");
  BOOST_TEST(parse_error("orders.{a}") ==
             "subject template \"orders.{a}\": '{a}' at position 8 is no key index (expected {0}, "
             "{1}, ...)");
  BOOST_TEST(parse_error("orders.{-1}") ==
             "subject template \"orders.{-1}\": '{-1}' at position 8 is no key index (expected "
             "{0}, {1}, ...)");
  BOOST_TEST(parse_error("{1000}") ==
             "subject template \"{1000}\": key index at position 1 is "
             "above 999");
  BOOST_TEST(parse_error("orders}.{0}") ==
             "subject template \"orders}.{0}\": unmatched '}' at position 7 (write \"}}\" for a "
             "literal brace)");
  BOOST_TEST(parse_error("orders..{0}") ==
             "subject template \"orders..{0}\": empty token at position 8");
  BOOST_TEST(parse_error(".{0}") == "subject template \".{0}\": empty token at position 1");
  BOOST_TEST(parse_error("{0}.") ==
             "subject template \"{0}.\": empty token at position 4 (at the end)");
  BOOST_TEST(parse_error("orders.*.{0}") ==
             "subject template \"orders.*.{0}\": wildcard '*' at position 8 (each partition's "
             "filter subject must be literal)");
  BOOST_TEST(parse_error("orders.{0}.>") ==
             "subject template \"orders.{0}.>\": wildcard '>' at position 12 (each partition's "
             "filter subject must be literal)");
  BOOST_TEST(parse_error("orders {0}") ==
             "subject template \"orders {0}\": whitespace or control character at position 7");
  BOOST_TEST(parse_error("orders.all") ==
             "subject template \"orders.all\": uses no key: without a placeholder such as {0} "
             "every partition would read the same subject");
}

BOOST_AUTO_TEST_CASE(keys_that_would_break_the_subject_are_refused) {
  auto t = parsed("orders.{0}");
  BOOST_TEST(t.render(part({"a.b"})).error() ==
             "partition \"a.b\": key 0 (\"a.b\") contains '.' (a key must stay one part of a "
             "token), so it cannot fill the subject template \"orders.{0}\"");
  BOOST_TEST(t.render(part({"a*"})).error() ==
             "partition \"a*\": key 0 (\"a*\") contains the wildcard '*', so it cannot fill the "
             "subject template \"orders.{0}\"");
  BOOST_TEST(!t.render(part({">"})).ok());
  BOOST_TEST(!t.render(part({"a b"})).ok());
  BOOST_TEST(!t.render(part({"a\nb"})).ok());
  BOOST_TEST(t.render(part({""})).error() ==
             "partition \"\": key 0 (\"\") is empty, so it cannot fill the subject template "
             "\"orders.{0}\"");
  BOOST_TEST(parsed("x.{1}").render(part({"a"})).error() ==
             "partition \"a\" has 1 key(s), the subject template \"x.{1}\" needs 2");
  BOOST_TEST(*t.render(part({"a_b-c/d=e"})) == "orders.a_b-c/d=e");  // not a wildcard
}

// -- every partition --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(every_partition_gets_a_name_and_a_filter) {
  auto t = parsed("orders.{0}.{1}");
  auto all = check_partition_consumers("shop", t, {part({"eu", "1"}), part({"us", "1"})});
  BOOST_REQUIRE_MESSAGE(all.ok(), all.error());
  BOOST_REQUIRE(all->size() == 2u);
  BOOST_TEST((*all)[0].filter_subject == "orders.eu.1");
  BOOST_TEST((*all)[0].name == consumer_name("shop", part({"eu", "1"})));
  BOOST_TEST(((*all)[1].part.keys == std::vector<std::string>{"us", "1"}));
  BOOST_TEST((*all)[1].filter_subject == "orders.us.1");
}

BOOST_AUTO_TEST_CASE(overlapping_filters_are_refused_naming_both_partitions) {
  auto t = parsed("orders.{0}");  // the second key is not in the subject
  auto all = check_partition_consumers("shop", t, {part({"eu", "1"}), part({"eu", "2"})});
  BOOST_REQUIRE(!all.ok());
  BOOST_TEST(all.error() ==
             "partitions \"eu-1\" and \"eu-2\" would share the filter subject \"orders.eu\"");
}

BOOST_AUTO_TEST_CASE(duplicate_names_are_refused_naming_both_partitions) {
  auto t = parsed("orders.{0}");
  auto all = check_partition_consumers("shop", t, {part({"p1"}), part({"p2"}), part({"p1"})});
  BOOST_REQUIRE(!all.ok());
  BOOST_TEST(all.error() == "partitions \"p1\" and \"p1\" would share the consumer name \"" +
                                consumer_name("shop", part({"p1"})) + "\"");
}

BOOST_AUTO_TEST_CASE(a_partition_that_cannot_be_rendered_fails_the_check) {
  auto t = parsed("orders.{0}");
  auto all = check_partition_consumers("shop", t, {part({"ok"}), part({"not.ok"})});
  BOOST_REQUIRE(!all.ok());
  BOOST_TEST(all.error().find("partition \"not.ok\": key 0") == 0u);
  BOOST_TEST(check_partition_consumers("shop", t, {})->empty());
}

// -- names and labels -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(labels_join_the_keys_with_dashes) {
  BOOST_TEST(partition_label({"p", "3"}) == "p-3");
  BOOST_TEST(partition_label({"single"}) == "single");
  BOOST_TEST(partition_label({}) == "");
}

BOOST_AUTO_TEST_CASE(stream_names_and_literal_subjects) {
  BOOST_TEST(is_valid_stream_name("ORDERS_v2-eu"));
  for (std::string bad : std::vector<std::string>{"", "a.b", "a*", "a>", "a b", "a/b", "a\\b",
                                                  std::string("a\0b", 3)})
    BOOST_TEST(!is_valid_stream_name(bad), bad);
  BOOST_TEST(is_literal_subject("a"));
  BOOST_TEST(is_literal_subject("a.b-c.{d}"));
  for (std::string bad : {"", ".", "a.", ".a", "a..b", "a.*", "a.>", "a.b c", "a*b"})
    BOOST_TEST(!is_literal_subject(bad), bad);
}
