#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "parti/actors/assignment_watch/assignment_tracker.hpp"

using namespace parti;

namespace {

partition p(std::string key, std::int64_t weight = 1) {
  return partition{{std::move(key)}, weight};
}

assignment_record record(std::uint64_t epoch, std::uint64_t version, std::vector<std::string> keys,
                         std::string reason = "rebalance", std::string worker = "worker-1") {
  assignment_record r;
  r.worker = std::move(worker);
  r.epoch = epoch;
  r.version = version;
  r.reason = std::move(reason);
  for (auto& k : keys) r.partitions.push_back(p(k));
  return r;
}

std::vector<std::string> keys_of(const std::vector<partition>& parts) {
  std::vector<std::string> out;
  for (const auto& x : parts) out.push_back(x.keys.empty() ? "" : x.keys.front());
  return out;
}

using keys = std::vector<std::string>;

// Delivers and acknowledges the pending change; fails the test if there is none.
assignment_change deliver_and_ack(assignment_tracker& t) {
  auto c = t.deliver();
  BOOST_REQUIRE(c.has_value());
  BOOST_REQUIRE(t.ack().ok());
  return *c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(stamps_order_by_epoch_then_version) {
  BOOST_TEST((assignment_stamp{1, 9} < assignment_stamp{2, 0}));
  BOOST_TEST((assignment_stamp{2, 1} < assignment_stamp{2, 2}));
  BOOST_TEST(!(assignment_stamp{2, 2} < assignment_stamp{2, 2}));
  BOOST_TEST(!(assignment_stamp{3, 0} < assignment_stamp{2, 99}));
  BOOST_TEST((assignment_stamp{2, 2} == assignment_stamp{2, 2}));
  BOOST_TEST((assignment_stamp{2, 2} != assignment_stamp{2, 3}));
}

BOOST_AUTO_TEST_CASE(first_assignment_adds_everything_sorted) {
  assignment_tracker t("worker-1");
  BOOST_TEST(!t.deliver().has_value());  // nothing yet
  BOOST_TEST((t.on_put(record(5, 1, {"c", "a", "b"}, "cold start")) == offer_outcome::accepted));
  auto c = deliver_and_ack(t);
  BOOST_TEST(keys_of(c.owned) == (keys{"a", "b", "c"}), boost::test_tools::per_element());
  BOOST_TEST(keys_of(c.added) == (keys{"a", "b", "c"}), boost::test_tools::per_element());
  BOOST_TEST(c.removed.empty());
  BOOST_TEST((c.stamp == assignment_stamp{5, 1}));
  BOOST_TEST(c.reason == "cold start");
  BOOST_TEST(!c.key_deleted);
  BOOST_TEST((t.applied() == assignment_stamp{5, 1}));
  BOOST_TEST(keys_of(t.owned()) == (keys{"a", "b", "c"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_change_lists_what_was_added_and_removed) {
  assignment_tracker t("worker-1");
  t.on_put(record(5, 1, {"a", "b", "c"}));
  deliver_and_ack(t);
  t.on_put(record(5, 2, {"b", "c", "d", "e"}));
  auto c = deliver_and_ack(t);
  BOOST_TEST(keys_of(c.added) == (keys{"d", "e"}), boost::test_tools::per_element());
  BOOST_TEST(keys_of(c.removed) == (keys{"a"}), boost::test_tools::per_element());
  BOOST_TEST(keys_of(c.owned) == (keys{"b", "c", "d", "e"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(partitions_are_compared_by_keys_not_weight_and_deduplicated) {
  assignment_tracker t("worker-1");
  auto r = record(1, 1, {});
  r.partitions = {p("a", 1), p("b", 1), p("a", 7)};
  t.on_put(r);
  auto first = deliver_and_ack(t);
  BOOST_TEST(keys_of(first.owned) == (keys{"a", "b"}), boost::test_tools::per_element());
  BOOST_TEST(first.owned.front().weight == 1);  // the first one given wins

  auto reweighted = record(1, 2, {});
  reweighted.partitions = {p("a", 5), p("b", 1)};
  t.on_put(reweighted);
  auto c = deliver_and_ack(t);
  BOOST_TEST(c.moves_nothing());            // a weight change moves nothing
  BOOST_TEST(c.owned.front().weight == 5);  // but the full set carries the new weight
}

BOOST_AUTO_TEST_CASE(multi_key_partitions_are_one_identity) {
  assignment_tracker t("worker-1");
  auto r = record(1, 1, {});
  r.partitions = {partition{{"orders", "1"}, 1}, partition{{"orders", "2"}, 1}};
  t.on_put(r);
  deliver_and_ack(t);
  auto next = record(1, 2, {});
  next.partitions = {partition{{"orders", "2"}, 1}, partition{{"orders", "3"}, 1}};
  t.on_put(next);
  auto c = deliver_and_ack(t);
  BOOST_REQUIRE(c.added.size() == 1u);
  BOOST_TEST(c.added[0].keys == (keys{"orders", "3"}), boost::test_tools::per_element());
  BOOST_REQUIRE(c.removed.size() == 1u);
  BOOST_TEST(c.removed[0].keys == (keys{"orders", "1"}), boost::test_tools::per_element());
}

// -- fencing ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_smaller_epoch_after_a_larger_one_is_fenced) {
  assignment_tracker t("worker-1");
  BOOST_TEST((t.on_put(record(7, 1, {"a"})) == offer_outcome::accepted));
  deliver_and_ack(t);
  // A deposed leader (epoch 6) writes a much higher version: still refused.
  BOOST_TEST((t.on_put(record(6, 1000, {"x", "y"})) == offer_outcome::stale));
  BOOST_TEST(!t.has_pending());
  BOOST_TEST(!t.deliver().has_value());
  BOOST_TEST((t.held() == assignment_stamp{7, 1}));
  BOOST_TEST(keys_of(t.owned()) == (keys{"a"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(fencing_is_lexicographic_at_the_exact_boundary) {
  assignment_tracker t("worker-1");
  t.on_put(record(7, 5, {"a"}));
  BOOST_TEST((t.on_put(record(7, 5, {"b"})) == offer_outcome::duplicate));  // equal: a replay
  BOOST_TEST((t.on_put(record(7, 4, {"b"})) == offer_outcome::stale));
  BOOST_TEST((t.on_put(record(6, 99, {"b"})) == offer_outcome::stale));
  BOOST_TEST((t.on_put(record(7, 6, {"b"})) == offer_outcome::accepted));  // next version
  BOOST_TEST((t.on_put(record(8, 0, {"c"})) == offer_outcome::accepted));  // new epoch, v0
  BOOST_TEST((t.held() == assignment_stamp{8, 0}));
}

BOOST_AUTO_TEST_CASE(a_stamp_of_zero_is_never_accepted) {
  assignment_tracker t("worker-1");
  BOOST_TEST((t.on_put(record(0, 0, {"a"})) == offer_outcome::duplicate));
  BOOST_TEST((t.on_put(record(0, 1, {"a"})) == offer_outcome::accepted));
}

BOOST_AUTO_TEST_CASE(a_record_for_another_worker_is_refused) {
  assignment_tracker t("worker-1");
  BOOST_TEST((t.on_put(record(9, 9, {"a"}, "r", "worker-2")) == offer_outcome::other_worker));
  BOOST_TEST(!t.has_pending());
  BOOST_TEST((t.held() == assignment_stamp{0, 0}));
}

// -- deletes ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_deleted_key_means_own_nothing_and_keeps_the_fence) {
  assignment_tracker t("worker-1");
  t.on_put(record(4, 2, {"a", "b"}));
  deliver_and_ack(t);
  BOOST_TEST((t.on_delete() == offer_outcome::accepted));
  auto c = deliver_and_ack(t);
  BOOST_TEST(c.key_deleted);
  BOOST_TEST(c.owned.empty());
  BOOST_TEST(c.added.empty());
  BOOST_TEST(keys_of(c.removed) == (keys{"a", "b"}), boost::test_tools::per_element());
  BOOST_TEST((c.stamp == assignment_stamp{4, 2}));
  BOOST_TEST(c.reason == "deleted");
  BOOST_TEST(t.owned().empty());
  // The fence survives the delete: the deleted record, replayed, does not come back.
  BOOST_TEST((t.held() == assignment_stamp{4, 2}));
  BOOST_TEST((t.on_put(record(4, 2, {"a", "b"})) == offer_outcome::duplicate));
  BOOST_TEST((t.on_put(record(3, 9, {"a"})) == offer_outcome::stale));
  BOOST_TEST((t.on_put(record(4, 3, {"c"})) == offer_outcome::accepted));
  auto again = deliver_and_ack(t);
  BOOST_TEST(keys_of(again.added) == (keys{"c"}), boost::test_tools::per_element());
  BOOST_TEST(again.removed.empty());
}

BOOST_AUTO_TEST_CASE(repeated_deletes_are_duplicates) {
  assignment_tracker t("worker-1");
  BOOST_TEST((t.on_delete() == offer_outcome::duplicate));  // a fresh worker has no key
  t.on_put(record(1, 1, {"a"}));
  BOOST_TEST((t.on_delete() == offer_outcome::accepted));
  BOOST_TEST((t.on_delete() == offer_outcome::duplicate));
}

BOOST_AUTO_TEST_CASE(a_delete_replaces_a_pending_put) {
  assignment_tracker t("worker-1");
  t.on_put(record(1, 1, {"a"}));
  deliver_and_ack(t);
  t.on_put(record(1, 2, {"a", "b"}));
  t.on_delete();
  auto c = deliver_and_ack(t);
  BOOST_TEST(c.key_deleted);
  BOOST_TEST(keys_of(c.removed) == (keys{"a"}), boost::test_tools::per_element());
  BOOST_TEST(c.added.empty());  // "b" was never shown
  BOOST_TEST((c.stamp == assignment_stamp{1, 2}));
}

// -- ordering and coalescing ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(one_change_at_a_time_until_acknowledged) {
  assignment_tracker t("worker-1");
  t.on_put(record(1, 1, {"a"}));
  auto first = t.deliver();
  BOOST_REQUIRE(first.has_value());
  BOOST_TEST(t.awaiting_ack());
  t.on_put(record(1, 2, {"a", "b"}));
  BOOST_TEST(!t.deliver().has_value());  // the first is not acknowledged yet
  BOOST_TEST(t.has_pending());
  BOOST_TEST((t.applied() == assignment_stamp{0, 0}));  // not applied until ack
  BOOST_REQUIRE(t.ack().ok());
  BOOST_TEST((t.applied() == assignment_stamp{1, 1}));
  auto second = t.deliver();
  BOOST_REQUIRE(second.has_value());
  BOOST_TEST(keys_of(second->added) == (keys{"b"}), boost::test_tools::per_element());
  BOOST_TEST(t.ack().ok());
  BOOST_TEST(!t.ack().ok());  // nothing outstanding
  BOOST_TEST(t.ack().error() == "ack without a delivered assignment change");
}

BOOST_AUTO_TEST_CASE(pending_changes_coalesce_latest_wins_against_the_acknowledged_set) {
  assignment_tracker t("worker-1");
  t.on_put(record(1, 1, {"a", "b"}));
  deliver_and_ack(t);
  t.on_put(record(1, 2, {"a", "b", "c"}, "scale"));
  t.on_put(record(1, 3, {"a", "c", "d"}, "scale"));
  t.on_put(record(2, 1, {"c", "d", "e"}, "failover"));
  BOOST_TEST(t.coalesced() == 2u);
  auto c = deliver_and_ack(t);
  BOOST_TEST((c.stamp == assignment_stamp{2, 1}));
  BOOST_TEST(c.reason == "failover");
  BOOST_TEST(keys_of(c.added) == (keys{"c", "d", "e"}), boost::test_tools::per_element());
  BOOST_TEST(keys_of(c.removed) == (keys{"a", "b"}), boost::test_tools::per_element());
  BOOST_TEST(!t.deliver().has_value());  // the intermediate versions are gone
}

BOOST_AUTO_TEST_CASE(coalescing_while_a_change_is_in_flight_diffs_against_what_was_delivered) {
  assignment_tracker t("worker-1");
  t.on_put(record(1, 1, {"a"}));
  auto in_flight = t.deliver();
  BOOST_REQUIRE(in_flight.has_value());
  t.on_put(record(1, 2, {"a", "b"}));
  t.on_put(record(1, 3, {"b", "c"}));
  BOOST_REQUIRE(t.ack().ok());
  auto c = deliver_and_ack(t);
  BOOST_TEST(keys_of(c.added) == (keys{"b", "c"}), boost::test_tools::per_element());
  BOOST_TEST(keys_of(c.removed) == (keys{"a"}), boost::test_tools::per_element());
  BOOST_TEST((t.applied() == assignment_stamp{1, 3}));
}

BOOST_AUTO_TEST_CASE(a_new_version_with_the_same_set_still_delivers_for_the_applied_stamp) {
  assignment_tracker t("worker-1");
  t.on_put(record(1, 1, {"a"}));
  deliver_and_ack(t);
  t.on_put(record(1, 2, {"a"}));
  auto c = deliver_and_ack(t);
  BOOST_TEST(c.moves_nothing());
  BOOST_TEST((t.applied() == assignment_stamp{1, 2}));  // the leader waits for this stamp
}

BOOST_AUTO_TEST_CASE(each_partition_carries_the_record_grant_or_else_the_record_stamp) {
  assignment_tracker t("worker-1");
  auto first = record(1, 1, {"a", "b"});
  first.grants = {partition_grant{{"a"}, 1, 1}, partition_grant{{"b"}, 1, 1}};
  t.on_put(first);
  deliver_and_ack(t);
  // "a" kept with its token, "c" new; "b" has no grant (a writer without grants): the record's
  // stamp, as a leader reading the bucket takes it, not the token held from version 1.
  auto next = record(1, 4, {"a", "b", "c"});
  next.grants = {partition_grant{{"a"}, 1, 1}, partition_grant{{"c"}, 1, 4}};
  t.on_put(next);
  auto c = deliver_and_ack(t);
  BOOST_REQUIRE(c.grants.size() == 3u);
  auto token = [&](const std::string& key) {
    for (const auto& g : c.grants)
      if (g.keys == std::vector<std::string>{key}) return assignment_stamp{g.epoch, g.version};
    return assignment_stamp{};
  };
  BOOST_TEST((token("a") == assignment_stamp{1, 1}));
  BOOST_TEST((token("b") == assignment_stamp{1, 4}));
  BOOST_TEST((token("c") == assignment_stamp{1, 4}));
  // A record with no grants at all: every token is its stamp.
  t.on_put(record(2, 1, {"a", "b"}));
  auto d = deliver_and_ack(t);
  for (const auto& g : d.grants)
    BOOST_TEST((assignment_stamp{g.epoch, g.version} == assignment_stamp{2, 1}));
  BOOST_TEST(d.grants.size() == 2u);
}

// -- the log line -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(format_change_is_one_readable_line) {
  assignment_change c;
  c.stamp = {5, 12};
  c.reason = "scale-up";
  c.owned = {p("p2"), p("p3"), p("p4")};
  c.added = {p("p4")};
  c.removed = {p("p1")};
  BOOST_TEST(format_change(c) ==
             "assignment e5 v12 (scale-up): owns 3, +1 -1, added [p4] removed [p1]");

  assignment_change deleted;
  deleted.stamp = {5, 13};
  deleted.reason = "deleted";
  deleted.key_deleted = true;
  deleted.removed = {p("p2"), partition{{"orders", "7"}, 1}};
  BOOST_TEST(format_change(deleted) ==
             "assignment deleted at e5 v13: owns 0, +0 -2, removed [p2, orders/7]");

  assignment_change nothing;
  nothing.stamp = {1, 1};
  BOOST_TEST(format_change(nothing) == "assignment e1 v1: owns 0, +0 -0");
  BOOST_TEST(format_change(nothing).find('\n') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(format_change_cuts_long_lists) {
  assignment_change c;
  c.stamp = {1, 1};
  for (int i = 0; i < 5; ++i) c.added.push_back(p("k" + std::to_string(i)));
  c.owned = c.added;
  BOOST_TEST(format_change(c, 2) == "assignment e1 v1: owns 5, +5 -0, added [k0, k1, ... +3 more]");
  BOOST_TEST(format_change(c, 0) == "assignment e1 v1: owns 5, +5 -0, added [... +5 more]");
}
