#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "parti/actors/consumer/reader_supervision.hpp"
#include "parti/runtime/config.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

// Jitter 0.5 spreads by nothing: the delays are the policy's exact steps.
random_source no_jitter() {
  return [] { return 0.5; };
}

backoff_policy policy() {
  return {100ms, 1s, 2.0, 0.2};
}

partition part(const std::string& key) {
  return partition{{key}, 1};
}

std::vector<partition> parts(std::initializer_list<const char*> keys) {
  std::vector<partition> out;
  for (const auto* k : keys) out.push_back(part(k));
  return out;
}

assignment_update update(std::vector<partition> owned, std::vector<partition> removed = {},
                         std::uint64_t version = 1, std::string reason = "rebalance") {
  assignment_update u;
  u.worker = "w-0";
  u.owned = std::move(owned);
  u.removed = std::move(removed);
  u.epoch = 1;
  u.version = version;
  u.reason = std::move(reason);
  // Each partition was granted by the first assignment; a grant changes only with its owner.
  for (const auto& p : u.owned) u.grants.push_back(partition_grant{p.keys, 1, 1});
  return u;
}

std::string show(const supervision_output& o) {
  struct visitor {
    std::string operator()(const start_reader& x) const {
      return (x.restart ? "restart " : "start ") + x.part.keys.front() + " v" +
             std::to_string(x.grant.version);
    }
    std::string operator()(const release_reader& x) const { return "release " + x.keys.front(); }
    std::string operator()(const restart_later& x) const {
      return "restart " + x.keys.front() + " #" + std::to_string(x.ticket) + " in " +
             format_duration(x.after);
    }
    std::string operator()(const regrant_reader& x) const {
      return "regrant " + x.grant.keys.front() + " v" + std::to_string(x.grant.version);
    }
    std::string operator()(const acknowledge_revocation& x) const {
      return "ack #" + std::to_string(x.ticket);
    }
  };
  return std::visit(visitor{}, o);
}

struct consumer {
  reader_supervision rules{policy(), no_jitter()};
  time_point now = time_point{} + 1h;

  std::string take() {
    std::string text;
    for (const auto& o : rules.take()) text += (text.empty() ? "" : "; ") + show(o);
    return text;
  }
  std::string assign(assignment_update u, std::optional<std::uint64_t> revocation = {}) {
    rules.assignment(u, revocation, now);
    return take();
  }
  std::string released(const char* key) {
    rules.released({key}, now);
    return take();
  }
  std::string failed(const char* key) {
    rules.failed({key}, now);
    return take();
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(added_partitions_start_readers_and_removed_ones_are_released) {
  consumer c;
  BOOST_TEST(c.assign(update(parts({"a", "b"}))) == "start a v1; start b v1");
  BOOST_TEST(c.rules.readers() == 2u);
  BOOST_TEST(c.assign(update(parts({"b", "c"}), parts({"a"}), 2), 7) == "release a; start c v1");
  BOOST_TEST(c.rules.readers() == 3u);  // a still releases
  BOOST_TEST(c.rules.pending_revocations() == 1u);
  BOOST_TEST(c.released("a") == "ack #7");
  BOOST_TEST(c.rules.readers() == 2u);
  BOOST_TEST(!c.rules.has_reader({"a"}));
}

BOOST_AUTO_TEST_CASE(a_snapshot_counts_as_all_added_and_drops_what_it_does_not_list) {
  consumer c;
  c.assign(update(parts({"a", "b"})));
  // A snapshot lists everything owned; nothing is "added" in it, but a is new here.
  BOOST_TEST(c.assign(update(parts({"b", "c"}), {}, 3, "snapshot")) == "release a; start c v1");
  // The same snapshot again changes nothing, also not for the grant-less leader's stamp.
  BOOST_TEST(c.assign(update(parts({"b", "c"}), {}, 3, "snapshot")) == "");
}

BOOST_AUTO_TEST_CASE(a_revocation_waits_for_every_revoked_reader) {
  consumer c;
  c.assign(update(parts({"a", "b", "c"})));
  BOOST_TEST(c.assign(update(parts({"c"}), parts({"a", "b"}), 2), 1) == "release a; release b");
  BOOST_TEST(c.released("b") == "");
  BOOST_TEST(c.rules.pending_revocations() == 1u);
  BOOST_TEST(c.released("a") == "ack #1");
  BOOST_TEST(c.rules.pending_revocations() == 0u);
}

BOOST_AUTO_TEST_CASE(a_revocation_of_partitions_without_readers_is_acknowledged_at_once) {
  consumer c;
  BOOST_TEST(c.assign(update({}, parts({"x"}), 2), 4) == "ack #4");  // never ran here
  c.assign(update(parts({"a"})));
  BOOST_TEST(c.failed("a") == "restart a #1 in 100ms");
  // Failed and waiting to restart: nothing reads it, and it is not restarted.
  BOOST_TEST(c.assign(update({}, parts({"a"}), 3), 5) == "ack #5");
  c.rules.restart_due(1, c.now + 100ms);
  BOOST_TEST(c.take() == "");
  BOOST_TEST(c.rules.readers() == 0u);
}

BOOST_AUTO_TEST_CASE(a_reader_failing_while_released_counts_as_gone) {
  consumer c;
  c.assign(update(parts({"a"})));
  BOOST_TEST(c.assign(update({}, parts({"a"}), 2), 9) == "release a");
  BOOST_TEST(c.failed("a") == "ack #9");  // not restarted: no longer owned
  BOOST_TEST(c.rules.readers() == 0u);
}

BOOST_AUTO_TEST_CASE(a_failed_reader_restarts_after_a_growing_backoff) {
  consumer c;
  c.assign(update(parts({"a"})));
  BOOST_TEST(c.failed("a") == "restart a #1 in 100ms");
  BOOST_TEST(c.rules.readers() == 0u);
  c.rules.restart_due(1, c.now);
  BOOST_TEST(c.take() == "restart a v1");
  BOOST_TEST(c.rules.restarts() == 1u);
  BOOST_TEST(c.failed("a") == "restart a #2 in 200ms");
  c.rules.restart_due(1, c.now);  // an old ticket does nothing
  BOOST_TEST(c.take() == "");
  c.rules.restart_due(2, c.now);
  BOOST_TEST(c.take() == "restart a v1");
  BOOST_TEST(c.failed("a") == "restart a #3 in 400ms");
  c.rules.restart_due(3, c.now);
  c.take();
  // Ran longer than the backoff's maximum: the next failure starts over.
  c.now += 1s;
  BOOST_TEST(c.failed("a") == "restart a #4 in 100ms");
  BOOST_TEST(c.rules.restarts() == 3u);
}

BOOST_AUTO_TEST_CASE(backoffs_are_per_partition) {
  consumer c;
  c.assign(update(parts({"a", "b"})));
  BOOST_TEST(c.failed("a") == "restart a #1 in 100ms");
  c.rules.restart_due(1, c.now);
  c.take();
  BOOST_TEST(c.failed("a") == "restart a #2 in 200ms");
  BOOST_TEST(c.failed("b") == "restart b #3 in 100ms");
}

BOOST_AUTO_TEST_CASE(the_jitter_comes_from_the_random_source) {
  reader_supervision rules({100ms, 1s, 2.0, 0.2}, [] { return 0.0; });  // the lowest spread
  rules.assignment(update(parts({"a"})), {}, time_point{});
  rules.take();
  rules.failed({"a"}, time_point{});
  auto out = rules.take();
  BOOST_REQUIRE(out.size() == 1u);
  BOOST_TEST(std::get<restart_later>(out[0]).after.count() == duration(80ms).count());
}

BOOST_AUTO_TEST_CASE(a_partition_given_back_while_releasing_starts_again_once_released) {
  consumer c;
  c.assign(update(parts({"a"})));
  BOOST_TEST(c.assign(update({}, parts({"a"}), 2), 1) == "release a");
  BOOST_TEST(c.assign(update(parts({"a"}), {}, 3)) == "");  // one reader per partition
  BOOST_TEST(c.rules.readers() == 1u);
  BOOST_TEST(c.released("a") == "ack #1; start a v1");
  BOOST_TEST(c.rules.readers() == 1u);
}

BOOST_AUTO_TEST_CASE(a_reader_ending_unasked_is_restarted_like_a_failed_one) {
  consumer c;
  c.assign(update(parts({"a"})));
  BOOST_TEST(c.released("a") == "restart a #1 in 100ms");
}

BOOST_AUTO_TEST_CASE(a_refused_partition_is_not_restarted_until_assigned_anew) {
  consumer c;
  c.assign(update(parts({"a"})));
  c.rules.refused({"a"});
  BOOST_TEST(c.take() == "");
  BOOST_TEST(c.rules.readers() == 0u);
  BOOST_TEST(c.assign(update(parts({"a"}), {}, 2, "snapshot")) == "");
  BOOST_TEST(c.assign(update({}, parts({"a"}), 3), 2) == "ack #2");
  BOOST_TEST(c.assign(update(parts({"a"}), {}, 4)) == "start a v1");
}

BOOST_AUTO_TEST_CASE(a_changed_grant_goes_to_the_running_reader) {
  consumer c;
  c.assign(update(parts({"a", "b"})));
  auto u = update(parts({"a", "b"}), {}, 1);
  u.grants[1].version = 5;
  BOOST_TEST(c.assign(u) == "regrant b v5");
  BOOST_TEST(c.assign(u) == "");
  // A leader without grants: the assignment's stamp stands for them.
  auto old = update(parts({"a"}), parts({"b"}), 6);
  old.grants.clear();
  BOOST_TEST(c.assign(old, 3) == "release b; regrant a v6");
}

BOOST_AUTO_TEST_CASE(release_all_releases_every_reader_and_starts_nothing_more) {
  consumer c;
  c.assign(update(parts({"a", "b", "c"})));
  BOOST_TEST(c.failed("c") == "restart c #1 in 100ms");
  c.rules.release_all();
  BOOST_TEST(c.take() == "release a; release b");
  c.rules.restart_due(1, c.now);
  BOOST_TEST(c.take() == "");
  BOOST_TEST(c.assign(update(parts({"d"}), {}, 2)) == "");
  BOOST_TEST(c.released("a") == "");
  BOOST_TEST(c.failed("b") == "");  // not restarted
  BOOST_TEST(c.rules.readers() == 0u);
}

BOOST_AUTO_TEST_CASE(several_revocations_are_answered_each_when_its_own_readers_are_gone) {
  consumer c;
  c.assign(update(parts({"a", "b", "c"})));
  BOOST_TEST(c.assign(update(parts({"b", "c"}), parts({"a"}), 2), 1) == "release a");
  BOOST_TEST(c.assign(update(parts({"c"}), parts({"b"}), 3), 2) == "release b");
  BOOST_TEST(c.released("b") == "ack #2");
  BOOST_TEST(c.released("a") == "ack #1");
}
