#include <boost/test/unit_test.hpp>

// Unit tests of the assignment strategies: errors, registry, edge cases and the behaviour each
// strategy promises (docs/STRATEGIES.md). Random and large inputs: tests/property/strategy.cpp.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "parti/runtime/strategy/consistent_hash.hpp"
#include "parti/runtime/strategy/strategy.hpp"

using namespace parti;

namespace {

std::vector<std::string> ids(int n, const std::string& prefix = "worker-") {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

std::vector<partition> parts(int n, std::int64_t weight = 1) {
  std::vector<partition> out;
  for (int i = 0; i < n; ++i) out.push_back({{"p-" + std::to_string(i)}, weight});
  return out;
}

std::vector<std::shared_ptr<const strategy>> builtins() {
  strategy_registry registry;
  std::vector<std::shared_ptr<const strategy>> out;
  for (const auto& name : registry.names()) out.push_back(*registry.find(name));
  return out;
}

std::int64_t load(const std::vector<partition>& owned) {
  std::int64_t sum = 0;
  for (const auto& p : owned) sum += p.weight >= 1 ? p.weight : 1;
  return sum;
}

std::size_t moved(const assignment& before, const assignment& after) {
  std::map<std::vector<std::string>, std::string> owner;
  for (const auto& [w, owned] : before)
    for (const auto& p : owned) owner.emplace(p.keys, w);
  std::size_t n = 0;
  for (const auto& [w, owned] : after)
    for (const auto& p : owned) {
      auto it = owner.find(p.keys);
      if (it != owner.end() && it->second != w) ++n;
    }
  return n;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

// -- input errors ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(rejects_bad_inputs_with_clear_errors) {
  for (const auto& s : builtins()) {
    auto none = s->assign({}, {}, parts(3), {});
    BOOST_TEST(!none.ok());
    BOOST_TEST(contains(none.error(), "no workers"));

    auto dup = s->assign({}, {"a", "b", "a"}, parts(3), {});
    BOOST_TEST(!dup.ok());
    BOOST_TEST(contains(dup.error(), "duplicate worker id 'a'"));

    auto empty_id = s->assign({}, {"a", ""}, parts(3), {});
    BOOST_TEST(!empty_id.ok());
    BOOST_TEST(contains(empty_id.error(), "empty worker id"));

    // Same keys, different weight: still the same partition.
    auto dup_part = s->assign({}, {"a"}, {{{"x", "y"}, 1}, {{"z"}, 1}, {{"x", "y"}, 7}}, {});
    BOOST_TEST(!dup_part.ok());
    BOOST_TEST(contains(dup_part.error(), "duplicate partition [\"x\", \"y\"]"));

    auto no_keys = s->assign({}, {"a"}, {{{}, 1}}, {});
    BOOST_TEST(!no_keys.ok());
    BOOST_TEST(contains(no_keys.error(), "without keys"));
  }
  BOOST_TEST(validate_inputs({"a"}, parts(2)).ok());
  BOOST_TEST(!validate_inputs({}, parts(2)).ok());
  // Keys are a list: ["a","b"] and ["b","a"] and ["ab"] are three partitions.
  BOOST_TEST(validate_inputs({"a"}, {{{"a", "b"}, 1}, {{"b", "a"}, 1}, {{"ab"}, 1}}).ok());
}

BOOST_AUTO_TEST_CASE(rejects_bad_options) {
  const auto bad_eps = {-0.1, std::nan(""), std::numeric_limits<double>::infinity(), 10.5};
  for (double eps : bad_eps) {
    strategy_options o;
    o.epsilon = eps;
    BOOST_TEST(!validate(o).ok());
    BOOST_TEST(contains(validate(o).error(), "epsilon"));
    for (const auto& s : builtins()) BOOST_TEST(!s->assign({}, ids(2), parts(4), o).ok());
  }
  for (int v : {0, -3, 10001}) {
    strategy_options o;
    o.virtual_nodes = v;
    BOOST_TEST(contains(validate(o).error(), "virtual_nodes"));
    BOOST_TEST(!hash_ring::make(ids(2), v).ok());
  }
  BOOST_TEST(validate(strategy_options{}).ok());
}

// -- registry and user strategies --------------------------------------------------------------

namespace {

// A user strategy: everything to the smallest worker id.
class all_to_first final : public strategy {
 public:
  result<assignment> assign(const assignment&, const std::vector<std::string>& workers,
                            const std::vector<partition>& partitions,
                            const strategy_options&) const override {
    assignment out;
    for (const auto& w : workers) out[w];
    auto& first = out.begin()->second;
    first = partitions;
    std::sort(first.begin(), first.end());
    return out;
  }
};

// A faulty user strategy: forgets the last partition and invents a worker.
class faulty final : public strategy {
 public:
  explicit faulty(int mode) : mode_(mode) {}
  result<assignment> assign(const assignment&, const std::vector<std::string>& workers,
                            const std::vector<partition>& partitions,
                            const strategy_options&) const override {
    assignment out;
    for (const auto& w : workers) out[w];
    auto& first = out.begin()->second;
    first = partitions;
    if (mode_ == 0) first.pop_back();                     // one missing
    if (mode_ == 1) first.push_back(partitions.front());  // one twice
    if (mode_ == 2) out["stranger"];                      // unknown worker
    if (mode_ == 3) out.erase(out.begin());               // a worker missing
    if (mode_ == 4) first.push_back({{"invented"}, 1});   // unknown partition
    if (mode_ == 5) return failure{"cannot"};             // own failure
    return out;
  }

 private:
  int mode_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(registry_knows_the_builtins_and_user_strategies) {
  strategy_registry registry;
  const std::vector<std::string> expected = {"consistent-hash", "round-robin", "sticky",
                                             "weighted"};
  BOOST_TEST(registry.names() == expected, boost::test_tools::per_element());
  BOOST_TEST(std::string(strategy_registry::default_name) == "sticky");
  BOOST_TEST(registry.find(strategy_registry::default_name).ok());

  auto unknown = registry.find("fancy");
  BOOST_TEST(!unknown.ok());
  BOOST_TEST(contains(unknown.error(), "unknown strategy 'fancy'"));
  BOOST_TEST(contains(unknown.error(), "consistent-hash, round-robin, sticky, weighted"));

  BOOST_TEST(registry.add("first", std::make_shared<all_to_first>()).ok());
  BOOST_TEST(registry.contains("first"));
  BOOST_TEST(contains(registry.add("first", std::make_shared<all_to_first>()).error(),
                      "already registered"));
  BOOST_TEST(contains(registry.add("sticky", std::make_shared<all_to_first>()).error(),
                      "already registered"));
  BOOST_TEST(!registry.add("", std::make_shared<all_to_first>()).ok());
  BOOST_TEST(!registry.add("null", nullptr).ok());
  auto first = registry.find("first");
  BOOST_REQUIRE(first.ok());
  auto a = checked_assign(**first, {}, {"b", "a"}, parts(3), {});
  BOOST_REQUIRE(a.ok());
  BOOST_TEST(a->at("a").size() == 3u);
  BOOST_TEST(a->at("b").empty());
}

BOOST_AUTO_TEST_CASE(checked_assign_catches_faulty_strategies) {
  const char* expected[] = {"is not assigned", "more than once",    "unknown worker",
                            "misses worker",   "unknown partition", "cannot"};
  for (int mode = 0; mode < 6; ++mode) {
    BOOST_TEST_CONTEXT("mode " << mode) {
      auto out = checked_assign(faulty(mode), {}, ids(3), parts(4), {});
      BOOST_TEST(!out.ok());
      BOOST_TEST(contains(out.error(), expected[mode]));
    }
  }
  // Bad inputs are refused before the user strategy runs.
  BOOST_TEST(contains(checked_assign(all_to_first{}, {}, {}, parts(1), {}).error(), "no workers"));
}

// -- edge cases, every strategy ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(zero_partitions_gives_every_worker_nothing) {
  for (const auto& s : builtins()) {
    auto a = s->assign({}, ids(5), {}, {});
    BOOST_REQUIRE(a.ok());
    BOOST_TEST(a->size() == 5u);
    for (const auto& [w, owned] : *a) BOOST_TEST(owned.empty());
  }
}

BOOST_AUTO_TEST_CASE(one_worker_gets_everything) {
  auto ps = parts(7);
  ps[2].weight = 1000;
  for (const auto& s : builtins()) {
    auto a = s->assign({}, {"solo"}, ps, {});
    BOOST_REQUIRE(a.ok());
    BOOST_TEST(a->size() == 1u);
    BOOST_TEST(a->at("solo").size() == 7u);
    BOOST_TEST(verify_assignment({"solo"}, ps, *a).ok());
  }
}

BOOST_AUTO_TEST_CASE(more_workers_than_partitions) {
  strategy_registry registry;
  for (const auto& name : registry.names()) {
    auto a = (*registry.find(name))->assign({}, ids(10), parts(3), {});
    BOOST_REQUIRE(a.ok());
    BOOST_TEST(a->size() == 10u);
    BOOST_TEST(verify_assignment(ids(10), parts(3), *a).ok());
    if (name != "consistent-hash")
      for (const auto& [w, owned] : *a) BOOST_TEST(owned.size() <= 1u);
  }
}

BOOST_AUTO_TEST_CASE(weights_zero_or_negative_count_as_one) {
  auto ps = parts(12, 0);
  ps[0].weight = -4;
  auto a = weighted_strategy{}.assign({}, ids(4), ps, {});
  BOOST_REQUIRE(a.ok());
  for (const auto& [w, owned] : *a) BOOST_TEST(owned.size() == 3u);
  // The weights themselves are handed out unchanged.
  BOOST_TEST(verify_assignment(ids(4), ps, *a).ok());
  std::int64_t sum = 0;
  for (const auto& [w, owned] : *a)
    for (const auto& p : owned) sum += p.weight;
  BOOST_TEST(sum == -4);
}

BOOST_AUTO_TEST_CASE(huge_weights_are_refused_not_overflowed) {
  std::vector<partition> ps = {{{"a"}, std::int64_t{1} << 62}, {{"b"}, 1}};
  auto a = weighted_strategy{}.assign({}, ids(2), ps, {});
  BOOST_TEST(!a.ok());
  BOOST_TEST(contains(a.error(), "exceeds 2^62"));
  ps[0].weight = (std::int64_t{1} << 62) - 1;  // total exactly 2^62: fine
  strategy_options wide;
  wide.epsilon = 10.0;
  auto b = weighted_strategy{}.assign({}, ids(1), ps, wide);
  BOOST_REQUIRE(b.ok());
  BOOST_TEST(b->at("worker-0").size() == 2u);
}

BOOST_AUTO_TEST_CASE(all_equal_weights_balance_like_counts) {
  strategy_options exact;
  exact.epsilon = 0.0;  // cap = ceil(mean), floor = floor(mean): +-1
  auto a = weighted_strategy{}.assign({}, ids(7), parts(100, 5), exact);
  BOOST_REQUIRE(a.ok());
  for (const auto& [w, owned] : *a) {
    BOOST_TEST(owned.size() >= 14u);
    BOOST_TEST(owned.size() <= 15u);
  }
}

BOOST_AUTO_TEST_CASE(one_extreme_weight_is_alone) {
  auto ps = parts(41);
  ps[17].weight = 1000000;
  auto a = weighted_strategy{}.assign({}, ids(5), ps, {});
  BOOST_REQUIRE(a.ok());
  int alone = 0;
  for (const auto& [w, owned] : *a) {
    const bool has_heavy = std::any_of(owned.begin(), owned.end(),
                                       [](const partition& p) { return p.weight == 1000000; });
    if (has_heavy) {
      BOOST_TEST(owned.size() == 1u);
      ++alone;
    } else {
      BOOST_TEST(owned.size() == 10u);  // the 40 others over the 4 other workers
    }
  }
  BOOST_TEST(alone == 1);
}

BOOST_AUTO_TEST_CASE(mixed_weights_stay_within_bounds) {
  // 30 partitions of weight 1..6 over 3 workers: total 105, mean 35, cap 38, floor 31.
  std::vector<partition> ps;
  for (int i = 0; i < 30; ++i) ps.push_back({{"m-" + std::to_string(i)}, 1 + i % 6});
  auto a = weighted_strategy{}.assign({}, ids(3), ps, {});
  BOOST_REQUIRE(a.ok());
  for (const auto& [w, owned] : *a) {
    BOOST_TEST(load(owned) <= 38);
    BOOST_TEST(load(owned) >= 31);
  }
}

BOOST_AUTO_TEST_CASE(more_heavy_than_average_partitions_than_workers) {
  // 12 partitions of weight 100 and 30 of weight 1 on 10 workers: total 1230, cap 135. Two
  // workers must hold two heavy ones (200); the bound cannot be met, everything is still placed.
  std::vector<partition> ps;
  for (int i = 0; i < 12; ++i) ps.push_back({{"big-" + std::to_string(i)}, 100});
  for (int i = 0; i < 30; ++i) ps.push_back({{"small-" + std::to_string(i)}, 1});
  auto a = weighted_strategy{}.assign({}, ids(10), ps, {});
  BOOST_REQUIRE(a.ok());
  BOOST_TEST(verify_assignment(ids(10), ps, *a).ok());
  std::int64_t max_load = 0;
  for (const auto& [w, owned] : *a) max_load = std::max(max_load, load(owned));
  BOOST_TEST(max_load == 200);  // the best possible
}

// -- sticky ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sticky_keeps_owners_within_quota) {
  sticky_strategy sticky;
  // Previously "a" owned all 6; now a second worker: "a" keeps 3, "b" gets 3.
  assignment prev{{"a", parts(6)}};
  auto a = sticky.assign(prev, {"a", "b"}, parts(6), {});
  BOOST_REQUIRE(a.ok());
  BOOST_TEST(a->at("a").size() == 3u);
  BOOST_TEST(a->at("b").size() == 3u);
  BOOST_TEST(moved(prev, *a) == 3u);
  // Nothing changed: nothing moves.
  auto again = sticky.assign(*a, {"b", "a"}, parts(6), {});
  BOOST_TEST((*again == *a));
}

BOOST_AUTO_TEST_CASE(sticky_ignores_gone_workers_and_vanished_partitions) {
  sticky_strategy sticky;
  assignment prev{{"a", {{{"p-0"}, 1}, {{"gone-partition"}, 1}}}, {"ghost", {{{"p-1"}, 1}}}};
  auto a = sticky.assign(prev, {"a", "b"}, parts(2), {});
  BOOST_REQUIRE(a.ok());
  BOOST_TEST(a->count("ghost") == 0u);
  BOOST_TEST(a->at("a").size() == 1u);
  BOOST_TEST(a->at("a").front().keys == std::vector<std::string>{"p-0"});
  BOOST_TEST(a->at("b").front().keys == std::vector<std::string>{"p-1"});
}

BOOST_AUTO_TEST_CASE(sticky_identity_is_keys_not_weight) {
  sticky_strategy sticky;
  auto before = parts(4);
  auto first = sticky.assign({}, ids(2), before, {});
  BOOST_REQUIRE(first.ok());
  auto after = before;
  for (auto& p : after) p.weight = 9;  // re-weighted, same identities
  auto second = sticky.assign(*first, ids(2), after, {});
  BOOST_REQUIRE(second.ok());
  BOOST_TEST(moved(*first, *second) == 0u);
  for (const auto& [w, owned] : *second)
    for (const auto& p : owned) BOOST_TEST(p.weight == 9);  // the current weights
}

BOOST_AUTO_TEST_CASE(sticky_partition_listed_twice_goes_to_smaller_id) {
  sticky_strategy sticky;
  assignment prev{{"b", {{{"p-0"}, 1}}}, {"a", {{{"p-0"}, 1}}}};
  auto a = sticky.assign(prev, {"a", "b"}, parts(1), {});
  BOOST_REQUIRE(a.ok());
  BOOST_TEST(a->at("a").size() == 1u);
}

BOOST_AUTO_TEST_CASE(sticky_add_and_remove_move_the_optimum) {
  sticky_strategy sticky;
  const auto ps = parts(1000);
  auto base = sticky.assign({}, ids(10), ps, {});
  BOOST_REQUIRE(base.ok());
  auto added = sticky.assign(*base, ids(11), ps, {});
  BOOST_REQUIRE(added.ok());
  BOOST_TEST(moved(*base, *added) == 1000u / 11u);  // exactly floor(P / (N + 1))
  auto fewer = ids(10);
  fewer.erase(fewer.begin() + 4);
  auto removed = sticky.assign(*base, fewer, ps, {});
  BOOST_REQUIRE(removed.ok());
  BOOST_TEST(moved(*base, *removed) == 100u);  // exactly worker-4's partitions
}

// -- weighted ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(weighted_keeps_heavy_partition_with_its_owner) {
  weighted_strategy weighted;
  auto ps = parts(20);
  ps[5].weight = 500;
  auto base = weighted.assign({}, ids(4), ps, {});
  BOOST_REQUIRE(base.ok());
  std::string heavy_owner;
  for (const auto& [w, owned] : *base)
    for (const auto& p : owned)
      if (p.weight == 500) heavy_owner = w;
  auto more = ids(5);
  auto next = weighted.assign(*base, more, ps, {});
  BOOST_REQUIRE(next.ok());
  BOOST_TEST(next->at(heavy_owner).size() == 1u);
  BOOST_TEST(next->at(heavy_owner).front().weight == 500);
}

BOOST_AUTO_TEST_CASE(weighted_scale_up_gives_new_workers_load) {
  weighted_strategy weighted;
  const auto ps = parts(300);
  auto base = weighted.assign({}, ids(3), ps, {});
  BOOST_REQUIRE(base.ok());
  auto next = weighted.assign(*base, ids(4), ps, {});
  BOOST_REQUIRE(next.ok());
  // mean 75, floor 67, cap 82: the new worker reaches the floor, nobody is above the cap.
  BOOST_TEST(next->at("worker-3").size() >= 67u);
  for (const auto& [w, owned] : *next) BOOST_TEST(owned.size() <= 82u);
  BOOST_TEST(moved(*base, *next) <= 75u);
}

// -- consistent hash and round robin -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(consistent_hash_ignores_previous_and_routes_keys) {
  consistent_hash_strategy ch;
  const auto ps = parts(50);
  auto fresh = ch.assign({}, ids(4), ps, {});
  auto with_prev = ch.assign({{"worker-0", ps}}, ids(4), ps, {});
  BOOST_REQUIRE(fresh.ok());
  BOOST_TEST((*fresh == *with_prev));
  auto ring = hash_ring::make(ids(4));
  BOOST_REQUIRE(ring.ok());
  BOOST_TEST(ring->size() == 4u * 150u);
  for (const auto& [w, owned] : *fresh)
    for (const auto& p : owned) {
      BOOST_TEST(ring->owner_of(p.keys) == w);
      BOOST_TEST(ring->owner_of(std::string_view(p.keys[0])) == w);
    }
  BOOST_TEST(!hash_ring::make({}).ok());
  BOOST_TEST(!hash_ring::make({"a", "a"}).ok());
}

BOOST_AUTO_TEST_CASE(round_robin_deals_sorted_keys_to_sorted_workers) {
  round_robin_strategy rr;
  std::vector<partition> ps = {{{"c"}, 1}, {{"a"}, 1}, {{"b"}, 1}, {{"a", "z"}, 1}};
  auto a = rr.assign({}, {"w2", "w1"}, ps, {});
  BOOST_REQUIRE(a.ok());
  // keys sorted: [a], [a,z], [b], [c] -> w1, w2, w1, w2
  const std::vector<partition> w1 = {{{"a"}, 1}, {{"b"}, 1}};
  const std::vector<partition> w2 = {{{"a", "z"}, 1}, {{"c"}, 1}};
  BOOST_TEST((a->at("w1") == w1));
  BOOST_TEST((a->at("w2") == w2));
}
