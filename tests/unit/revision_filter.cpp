#include <boost/test/unit_test.hpp>

#include "parti/runtime/revision_filter.hpp"

using parti::revision_filter;

BOOST_AUTO_TEST_CASE(accepts_each_newer_revision_once_per_key) {
  revision_filter f;
  BOOST_TEST(f.accept("a", 5));
  BOOST_TEST(!f.accept("a", 5));  // the replay of a restarted watch
  BOOST_TEST(!f.accept("a", 3));
  BOOST_TEST(f.accept("a", 9));
  BOOST_TEST(f.accept("b", 1));  // keys are independent
  BOOST_TEST(f.last("a") == 9u);
  BOOST_TEST(f.last("zzz") == 0u);
  BOOST_TEST(f.size() == 2u);
}
