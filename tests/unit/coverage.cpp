#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "parti/actors/leader/coverage.hpp"

using namespace parti;

namespace {

partition part(std::vector<std::string> keys) {
  return partition{std::move(keys), 1};
}

std::vector<std::string> firsts(const std::vector<partition>& parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.push_back(p.keys.front());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_partition_in_exactly_one_key_leaves_nothing) {
  std::vector<partition> source{part({"p-0"}), part({"p-1"}), part({"p-2"})};
  assignment published{
      {"w-0", {}}, {"w-1", {part({"p-1"}), part({"p-0"})}}, {"w-2", {part({"p-2"})}}};
  BOOST_TEST(not_owned_once(source, published).empty());
}

// The reported case: w-0 revoked its own p-1 and p-2 (its key is empty) and nobody got them.
BOOST_AUTO_TEST_CASE(partitions_in_nobodys_key_are_listed_in_the_order_of_the_source) {
  std::vector<partition> source{part({"p-2"}), part({"p-0"}), part({"p-1"}), part({"p-3"})};
  assignment published{{"w-0", {}}, {"w-1", {part({"p-0"})}}, {"w-2", {part({"p-3"})}}};
  BOOST_TEST(firsts(not_owned_once(source, published)) == (std::vector<std::string>{"p-2", "p-1"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_partition_in_two_keys_is_listed_once_and_identity_is_all_its_keys) {
  std::vector<partition> source{part({"orders", "eu"}), part({"orders", "us"}),
                                part({"orders", "eu"})};  // listed twice by the source
  assignment published{{"w-0", {part({"orders", "eu"})}},
                       {"w-1", {part({"orders", "eu"}), part({"orders"})}}};
  auto out = not_owned_once(source, published);
  BOOST_TEST_REQUIRE(out.size() == 2u);
  BOOST_TEST((out[0].keys == std::vector<std::string>{"orders", "eu"}));  // two owners
  BOOST_TEST((out[1].keys == std::vector<std::string>{"orders", "us"}));  // "orders" is another
}

BOOST_AUTO_TEST_CASE(nothing_published_leaves_every_partition_and_a_removed_one_is_no_concern) {
  std::vector<partition> source{part({"p-0"}), part({"p-1"})};
  BOOST_TEST(not_owned_once(source, {}).size() == 2u);
  assignment published{{"w-0", {part({"p-0"}), part({"p-1"}), part({"gone"})}}};
  BOOST_TEST(not_owned_once(source, published).empty());
}
