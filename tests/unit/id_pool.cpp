#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "parti/actors/id_claimer/id_pool.hpp"
#include "parti/runtime/resilience/backoff.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

constexpr duration ttl = 30s;  // the default id TTL: renew every 10 s, retry every 1 s

std::set<std::string> taken(std::initializer_list<const char*> keys) {
  return std::set<std::string>(keys.begin(), keys.end());
}

}  // namespace

// -- ids ----------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(format_and_parse_worker_ids) {
  BOOST_TEST(format_worker_id("worker", 0) == "worker-0");
  BOOST_TEST(format_worker_id("a-b", 42) == "a-b-42");
  BOOST_TEST((parse_worker_id("worker", "worker-0") == 0u));
  BOOST_TEST((parse_worker_id("worker", "worker-999") == 999u));
  BOOST_TEST((parse_worker_id("a-b", "a-b-42") == 42u));
  BOOST_TEST((parse_worker_id("w", "w-4294967295") == 4294967295u));
}

BOOST_AUTO_TEST_CASE(parse_refuses_anything_but_the_canonical_form_of_this_prefix) {
  for (const char* bad : {"worker-", "worker", "worker-07", "worker--1", "worker-+1", "worker-1x",
                          "worker-x", "workers-1", "worke-1", "other-1", "worker_1", "-1",
                          "worker-4294967296", "worker-99999999999999999999"}) {
    BOOST_TEST(!parse_worker_id("worker", bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_CASE(the_lowest_free_id_comes_first) {
  id_pool pool("worker", 0, 999);
  BOOST_TEST(*pool.next_candidate({}) == "worker-0");
  BOOST_TEST(*pool.next_candidate(taken({"worker-0", "worker-1", "worker-3"})) == "worker-2");
  BOOST_TEST(*pool.next_candidate(taken({"worker-1"})) == "worker-0");
}

BOOST_AUTO_TEST_CASE(keys_of_other_prefixes_or_outside_the_range_do_not_count) {
  id_pool pool("worker", 5, 7);
  BOOST_TEST(*pool.next_candidate(taken(
                 {"other-5", "worker-05", "worker-4", "worker-8", "_manifest"})) == "worker-5");
  BOOST_TEST(*pool.next_candidate(taken({"worker-5", "worker-6"})) == "worker-7");
}

BOOST_AUTO_TEST_CASE(the_preferred_id_is_tried_first_when_free_and_in_range) {
  id_pool pool("worker", 0, 9, 7u);
  BOOST_TEST(*pool.next_candidate({}) == "worker-7");
  BOOST_TEST(*pool.next_candidate(taken({"worker-7", "worker-0"})) == "worker-1");
  id_pool at_bounds("worker", 3, 9, 9u);
  BOOST_TEST(*at_bounds.next_candidate({}) == "worker-9");
  id_pool outside("worker", 0, 9, 10u);  // out of range: ignored
  BOOST_TEST(*outside.next_candidate({}) == "worker-0");
  id_pool below("worker", 5, 9, 4u);
  BOOST_TEST(*below.next_candidate({}) == "worker-5");
}

BOOST_AUTO_TEST_CASE(the_id_held_last_becomes_the_preferred_one) {
  id_pool pool("worker", 0, 9, 7u);
  pool.prefer("worker-3");
  BOOST_TEST(*pool.next_candidate({}) == "worker-3");
  BOOST_TEST(*pool.next_candidate(taken({"worker-3"})) == "worker-0");
  pool.prefer("other-4");    // not of this pool
  pool.prefer("worker-12");  // out of range
  BOOST_TEST(*pool.next_candidate({}) == "worker-3");
}

BOOST_AUTO_TEST_CASE(an_exhausted_pool_fails_clearly) {
  id_pool pool("worker", 0, 2);
  BOOST_TEST(*pool.next_candidate(taken({"worker-0", "worker-1"})) == "worker-2");
  auto r = pool.next_candidate(taken({"worker-0", "worker-1", "worker-2"}));
  BOOST_TEST(!r.ok());
  BOOST_TEST(r.error() ==
             "no free worker id: all 3 ids worker-0 .. worker-2 are taken (raise id_max or stop a "
             "worker)");
  id_pool top("w", 4294967294u, 4294967295u);  // no overflow past the largest id
  BOOST_TEST(*top.next_candidate(taken({"w-4294967294"})) == "w-4294967295");
  BOOST_TEST(!top.next_candidate(taken({"w-4294967294", "w-4294967295"})).ok());
}

BOOST_AUTO_TEST_CASE(a_pool_of_one) {
  id_pool pool("worker", 3, 3, 3u);
  BOOST_TEST(pool.size() == 1u);
  BOOST_TEST(*pool.next_candidate({}) == "worker-3");
  BOOST_TEST(!pool.next_candidate(taken({"worker-3"})).ok());
}

BOOST_AUTO_TEST_CASE(after_lost_races_the_candidate_is_drawn_from_the_lowest_free_ids) {
  id_pool pool("worker", 0, 999);
  auto held = taken({"worker-0", "worker-2"});
  // No race lost: the lowest free id, whatever the draw.
  BOOST_TEST(*pool.next_candidate(held, 0, 0.99) == "worker-1");
  // One race lost: one of the lowest 2 free ids (1, 3), by the draw.
  BOOST_TEST(*pool.next_candidate(held, 1, 0.0) == "worker-1");
  BOOST_TEST(*pool.next_candidate(held, 1, 0.49) == "worker-1");
  BOOST_TEST(*pool.next_candidate(held, 1, 0.5) == "worker-3");
  BOOST_TEST(*pool.next_candidate(held, 1, 0.999) == "worker-3");
  // Three races lost: 8 free ids, 1 and 3 .. 9.
  BOOST_TEST(*pool.next_candidate(held, 3, 0.999) == "worker-9");
  BOOST_TEST(*pool.next_candidate(held, 3, 0.25) == "worker-4");
  // A window larger than the free ids left: only free ids, never past the range.
  id_pool small("worker", 0, 3);
  BOOST_TEST(*small.next_candidate(taken({"worker-0", "worker-2"}), 5, 0.999) == "worker-3");
  BOOST_TEST(*small.next_candidate(taken({"worker-0", "worker-2"}), 5, 0.0) == "worker-1");
  BOOST_TEST(
      !small.next_candidate(taken({"worker-0", "worker-1", "worker-2", "worker-3"}), 5, 0.5).ok());
  // Draws out of [0, 1) are clamped, many lost races do not overflow.
  BOOST_TEST(*pool.next_candidate(held, 1, 1.5) == "worker-3");
  BOOST_TEST(*pool.next_candidate(held, 1, -1.0) == "worker-1");
  BOOST_TEST(*pool.next_candidate(held, 1000, 0.0) == "worker-1");
}

namespace {

/// A fleet of `n` claimers that all listed an empty bucket at the same moment and then race,
/// round by round, with Create: each candidate goes to one of its contenders, the others add
/// it to what they know is taken. Returns the Creates sent; `ids` gets every id won, each once.
std::size_t simulate_herd(std::size_t n, std::uint32_t id_max, std::uint32_t races_for_old_rule,
                          std::set<std::string>& ids) {
  id_pool pool("worker", 0, id_max);
  struct claimer {
    std::set<std::string> taken;
    std::uint32_t races = 0;
    random_source draw;
  };
  std::vector<claimer> waiting;
  for (std::size_t i = 0; i < n; ++i) waiting.push_back({{}, 0, seeded_random(i + 1)});
  std::size_t creates = 0;
  while (!waiting.empty()) {
    std::map<std::string, std::vector<std::size_t>> contenders;
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      auto& c = waiting[i];
      auto races = races_for_old_rule == 0 ? c.races : 0;  // 0: the spread rule
      auto candidate = pool.next_candidate(c.taken, races, c.draw());
      BOOST_REQUIRE(candidate.ok());
      contenders[*candidate].push_back(i);
      ++creates;
    }
    std::vector<claimer> losers;
    for (auto& [id, who] : contenders) {
      bool won = ids.insert(id).second;  // else held since an earlier round: everyone loses
      for (std::size_t k = won ? 1 : 0; k < who.size(); ++k) {
        auto c = std::move(waiting[who[k]]);
        c.taken.insert(id);
        ++c.races;
        losers.push_back(std::move(c));
      }
    }
    waiting = std::move(losers);
  }
  return creates;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_fleet_that_listed_together_spreads_in_few_rounds) {
  // As many claimers as ids: everyone gets one, the last ones after a tail of lost races.
  std::set<std::string> ids;
  auto creates = simulate_herd(1000, 999, 0, ids);
  BOOST_TEST(ids.size() == 1000u);
  BOOST_TEST_MESSAGE("creates, 1000 claimers for 1000 ids: " << creates);
  BOOST_TEST(creates < 20000u);  // lowest first: 1000 * 1001 / 2 = 500500
  // The harness sees the herd of the lowest-first rule (100 claimers here: it is quadratic).
  std::set<std::string> lowest_first;
  BOOST_TEST(simulate_herd(100, 999, 1, lowest_first) == 100u * 101u / 2);
  // Twice as many ids as claimers: about log2(n) rounds.
  std::set<std::string> roomy;
  auto roomy_creates = simulate_herd(1000, 1999, 0, roomy);
  BOOST_TEST_MESSAGE("creates, 1000 claimers for 2000 ids: " << roomy_creates);
  BOOST_TEST(roomy.size() == 1000u);
  BOOST_TEST(roomy_creates < 14000u);
  // A small fleet in a large range stays near the bottom: the window grows with lost races
  // only, and a handful of claimers lose few.
  std::set<std::string> small;
  auto small_creates = simulate_herd(20, 1000000, 0, small);
  std::uint32_t highest = 0;
  for (const auto& id : small) highest = std::max(highest, *parse_worker_id("worker", id));
  BOOST_TEST_MESSAGE("20 claimers: " << small_creates << " creates, highest id " << highest);
  BOOST_TEST(small.size() == 20u);
  BOOST_TEST(highest < 256u);
}

// -- keeping the claim --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(renews_every_third_of_the_ttl) {
  manual_clock clock;
  claim_keeper k(ttl, 10, clock.now());
  BOOST_TEST((k.next_deadline() == clock.now() + 10s));
  clock.advance(10s - 1ns);
  BOOST_TEST((k.due(clock.now()) == claim_action::wait));
  clock.advance(1ns);
  BOOST_TEST((k.due(clock.now()) == claim_action::renew));
  const time_point sent = clock.now();
  clock.advance(40ms);
  BOOST_TEST((k.on_renew(renew_outcome::renewed, 11, sent, clock.now()) == claim_health::held));
  BOOST_TEST(k.revision() == 11u);
  // The schedule counts from when the renewal was sent, not from when it was answered.
  BOOST_TEST((k.next_deadline() == sent + 10s));
  BOOST_TEST((k.safe_until() == sent + 30s));
}

BOOST_AUTO_TEST_CASE(wrong_revision_or_not_found_means_lost) {
  for (auto outcome : {renew_outcome::wrong_revision, renew_outcome::not_found}) {
    manual_clock clock;
    claim_keeper k(ttl, 10, clock.now());
    clock.advance(10s);
    BOOST_REQUIRE((k.due(clock.now()) == claim_action::renew));
    BOOST_TEST((k.on_renew(outcome, 0, clock.now(), clock.now()) == claim_health::lost));
    BOOST_TEST((k.due(clock.now()) == claim_action::stop_using));
    BOOST_TEST((k.next_deadline() == time_point::max()));
    // Lost is final: a late success does not revive it.
    BOOST_TEST(
        (k.on_renew(renew_outcome::renewed, 12, clock.now(), clock.now()) == claim_health::lost));
  }
}

BOOST_AUTO_TEST_CASE(an_unknown_outcome_is_retried_until_the_claim_could_have_expired) {
  manual_clock clock;
  const time_point claimed = clock.now();
  claim_keeper k(ttl, 10, claimed);
  clock.advance(10s);
  k.due(clock.now());
  BOOST_TEST(
      (k.on_renew(renew_outcome::unknown, 0, clock.now(), clock.now()) == claim_health::uncertain));
  // Read back every second (TTL/30) while the claim is surely still ours.
  int reads = 0;
  while (k.health() == claim_health::uncertain) {
    const time_point next = k.next_deadline();
    BOOST_REQUIRE((next > clock.now()));
    clock.set(next);
    auto action = k.due(clock.now());
    if (action == claim_action::stop_using) break;
    BOOST_REQUIRE((action == claim_action::read_back));
    ++reads;
    k.on_read(read_outcome::unknown, 0, clock.now());
  }
  BOOST_TEST((k.health() == claim_health::lost));
  BOOST_TEST((clock.now() == claimed + ttl));  // exactly when it could have expired
  BOOST_TEST(reads == 19);                     // at 11 s, 12 s, ... 29 s
}

BOOST_AUTO_TEST_CASE(expiry_boundary_is_exact) {
  manual_clock clock;
  const time_point claimed = clock.now();
  claim_keeper k(ttl, 10, claimed);
  clock.advance(10s);
  k.due(clock.now());
  k.on_renew(renew_outcome::unknown, 0, clock.now(), clock.now());
  clock.set(claimed + ttl - 1ns);
  BOOST_TEST((k.due(clock.now()) == claim_action::read_back));
  BOOST_TEST((k.on_read(read_outcome::unknown, 0, clock.now()) == claim_health::uncertain));
  BOOST_TEST((k.next_deadline() == claimed + ttl));  // the expiry comes before the next retry
  clock.set(claimed + ttl);
  BOOST_TEST((k.due(clock.now()) == claim_action::stop_using));
}

BOOST_AUTO_TEST_CASE(a_read_back_showing_our_value_adopts_its_revision_and_renews_at_once) {
  manual_clock clock;
  claim_keeper k(ttl, 10, clock.now());
  clock.advance(10s);
  k.due(clock.now());
  k.on_renew(renew_outcome::unknown, 0, clock.now(), clock.now());
  clock.advance(1s);
  BOOST_REQUIRE((k.due(clock.now()) == claim_action::read_back));
  // The timed-out renewal had landed: the key is at revision 11, still ours.
  BOOST_TEST((k.on_read(read_outcome::ours, 11, clock.now()) == claim_health::uncertain));
  BOOST_TEST(k.revision() == 11u);
  BOOST_TEST((k.next_deadline() == clock.now()));
  BOOST_REQUIRE((k.due(clock.now()) == claim_action::renew));
  const time_point sent = clock.now();
  BOOST_TEST((k.on_renew(renew_outcome::renewed, 12, sent, clock.now()) == claim_health::held));
  BOOST_TEST((k.next_deadline() == sent + 10s));
}

BOOST_AUTO_TEST_CASE(a_read_back_showing_someone_else_or_nothing_means_lost) {
  for (auto outcome : {read_outcome::not_ours, read_outcome::not_found}) {
    manual_clock clock;
    claim_keeper k(ttl, 10, clock.now());
    clock.advance(10s);
    k.due(clock.now());
    k.on_renew(renew_outcome::unknown, 0, clock.now(), clock.now());
    clock.advance(1s);
    k.due(clock.now());
    BOOST_TEST((k.on_read(outcome, 0, clock.now()) == claim_health::lost));
  }
}

BOOST_AUTO_TEST_CASE(a_renewal_that_could_not_run_in_time_finds_the_claim_lost) {
  manual_clock clock;
  claim_keeper k(ttl, 10, clock.now());
  clock.advance(ttl);  // the process was paused past the expiry
  BOOST_TEST((k.due(clock.now()) == claim_action::stop_using));
  BOOST_TEST((k.health() == claim_health::lost));
}

BOOST_AUTO_TEST_CASE(an_unknown_outcome_after_the_expiry_is_lost_at_once) {
  manual_clock clock;
  const time_point claimed = clock.now();
  claim_keeper k(ttl, 10, claimed);
  clock.advance(29s);
  k.due(clock.now());
  clock.set(claimed + ttl);  // the answer (a timeout) comes at the expiry
  BOOST_TEST(
      (k.on_renew(renew_outcome::unknown, 0, claimed + 29s, clock.now()) == claim_health::lost));
}

BOOST_AUTO_TEST_CASE(a_custom_retry_interval) {
  manual_clock clock;
  claim_keeper k(ttl, 10, clock.now(), 250ms);
  clock.advance(10s);
  k.due(clock.now());
  k.on_renew(renew_outcome::unknown, 0, clock.now(), clock.now());
  BOOST_TEST((k.next_deadline() == clock.now() + 250ms));
}

BOOST_AUTO_TEST_CASE(names_for_logs) {
  BOOST_TEST(to_string(claim_health::uncertain) == "uncertain");
  BOOST_TEST(to_string(claim_action::read_back) == "read_back");
}
