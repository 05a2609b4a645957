#include <boost/test/unit_test.hpp>

// Property tests of the assignment strategies (runtime/strategy, docs/STRATEGIES.md).
//
// Every property runs at least 1000 random cases, mostly small, some medium, a few large, and
// every 250th case at the full size of 200 workers x 5000 partitions. The cases are seeded and
// reproducible: the base seed is fixed unless PARTI_PROPERTY_SEED is set (decimal or 0x-hex),
// and every failure message names the base seed and the case. PARTI_PROPERTY_CASES sets another
// number of cases (the sanitizer build runs the first 250, one of them at the full size: the
// same code paths, at a quarter of the cost).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "parti/runtime/strategy/consistent_hash.hpp"
#include "parti/runtime/strategy/detail.hpp"
#include "parti/runtime/strategy/hashing.hpp"
#include "parti/runtime/strategy/movement.hpp"
#include "parti/runtime/strategy/strategy.hpp"

using namespace parti;

namespace {

int cases_per_property() {
  static const int cases = [] {
    const char* env = std::getenv("PARTI_PROPERTY_CASES");
    int n = env != nullptr && *env != '\0' ? std::atoi(env) : 0;
    return n > 0 ? n : 1000;
  }();
  return cases;
}

std::uint64_t base_seed() {
  static const std::uint64_t seed = [] {
    const char* env = std::getenv("PARTI_PROPERTY_SEED");
    return env != nullptr && *env != '\0' ? std::strtoull(env, nullptr, 0) : 0x5eed2024ULL;
  }();
  return seed;
}

// A small generator with the same output everywhere (std distributions are not portable).
class rng {
 public:
  explicit rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return strategy_hash::mix64(state_);
  }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  std::int64_t between(std::int64_t lo, std::int64_t hi) {  // inclusive
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo + 1)));
  }
  bool chance(int percent) { return below(100) < static_cast<std::uint64_t>(percent); }
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  std::uint64_t state_;
};

struct scenario {
  std::uint64_t seed = 0;
  int index = 0;
  std::vector<std::string> workers;
  std::vector<partition> parts;
  std::string describe() const {
    std::ostringstream out;
    out << "PARTI_PROPERTY_SEED=" << base_seed() << " case " << index << " (case seed " << seed
        << ", " << workers.size() << " workers, " << parts.size() << " partitions)";
    return out.str();
  }
};

std::string fresh_worker(rng& r, const std::vector<std::string>& taken) {
  for (;;) {
    std::string id;
    switch (r.below(4)) {
      case 0:
        id = "worker-" + std::to_string(r.below(1000));
        break;
      case 1:
        id = "w" + std::to_string(r.below(100000));
        break;
      case 2:
        id = "node-" + std::to_string(r.below(50)) + "-zone-" + std::to_string(r.below(5));
        break;
      default:
        id = std::string(1 + r.below(3), static_cast<char>('a' + r.below(26))) + "\xc3\xa9";
    }
    if (std::find(taken.begin(), taken.end(), id) == taken.end()) return id;
  }
}

std::vector<std::string> make_workers(rng& r, std::size_t n) {
  std::vector<std::string> out;
  while (out.size() < n) out.push_back(fresh_worker(r, out));
  return out;
}

std::vector<partition> make_partitions(rng& r, std::size_t p) {
  std::vector<partition> out(p);
  for (std::size_t i = 0; i < p; ++i) {
    if (r.chance(30))
      out[i].keys = {"tenant-" + std::to_string(r.below(p / 3 + 1)), "shard-" + std::to_string(i)};
    else
      out[i].keys = {"p" + std::to_string(i)};
  }
  const int mode = static_cast<int>(r.below(7));
  for (std::size_t i = 0; i < p; ++i) {
    auto& w = out[i].weight;
    switch (mode) {
      case 0:
        w = 1;
        break;  // all equal
      case 1:
        w = 0;
        break;  // all zero (count as 1)
      case 2:
        w = r.between(1, 10);
        break;  // mixed
      case 3:
        w = r.between(-5, 5);
        break;  // mixed with invalid ones (count as 1)
      case 4:
        w = r.chance(5) ? 100 : 1;
        break;  // skewed: 5% weight 100
      case 5:
        w = r.between(1, 3);
        break;  // one extreme, set below
      default:
        w = r.between(1, 1000);
        break;  // wide
    }
  }
  if (mode == 5 && p > 0) out[r.below(p)].weight = 1000000;
  return out;
}

scenario make_scenario(std::uint64_t property, int index) {
  scenario s;
  s.index = index;
  s.seed = strategy_hash::mix64(base_seed() ^ (property << 32) ^ static_cast<std::uint64_t>(index));
  rng r(s.seed);
  std::size_t n = 0;
  std::size_t p = 0;
  if (index % 250 == 0) {
    n = 200;
    p = 5000;
  } else {
    const auto roll = r.below(100);
    if (roll < 80) {
      n = 1 + r.below(12);
      p = r.below(121);
    } else if (roll < 96) {
      n = 1 + r.below(60);
      p = r.below(1201);
    } else {
      n = 1 + r.below(200);
      p = r.below(5001);
    }
  }
  s.workers = make_workers(r, n);
  s.parts = make_partitions(r, p);
  return s;
}

// -- measures --------------------------------------------------------------------------------

std::map<std::vector<std::string>, std::string> owners(const assignment& a) {
  std::map<std::vector<std::string>, std::string> out;
  for (const auto& [w, owned] : a)
    for (const auto& p : owned) out.emplace(p.keys, w);
  return out;
}

std::int64_t eff(const partition& p) {
  return p.weight >= 1 ? p.weight : 1;
}

struct moves {
  std::size_t count = 0;
  std::int64_t weight = 0;
};

// Partitions that had an owner in `before` and have another one in `after`.
moves moved(const assignment& before, const assignment& after) {
  const auto old_owner = owners(before);
  moves m;
  for (const auto& [w, owned] : after)
    for (const auto& p : owned) {
      auto it = old_owner.find(p.keys);
      if (it != old_owner.end() && it->second != w) {
        ++m.count;
        m.weight += eff(p);
      }
    }
  return m;
}

// The fewest moves any +-1-balanced assignment needs from `before` (see sticky.cpp).
std::size_t optimal_balanced_moves(const assignment& before,
                                   const std::vector<std::string>& workers,
                                   std::size_t partition_count) {
  std::size_t had_owner = 0;
  for (const auto& [w, owned] : before) had_owner += owned.size();
  std::vector<std::size_t> held;
  for (const auto& w : workers) {
    auto it = before.find(w);
    held.push_back(it == before.end() ? 0 : it->second.size());
  }
  return had_owner - most_kept_when_balanced(held, partition_count);
}

struct bounds {
  std::int64_t cap = 0;
  std::int64_t floor = 0;
};

// The weighted strategy's documented bounds (weighted.cpp, docs/STRATEGIES.md), in exact
// integer arithmetic with epsilon in millionths.
bounds weighted_bounds(const std::vector<partition>& parts, std::size_t n, double eps) {
  __extension__ typedef unsigned __int128 u128;
  const auto e = static_cast<std::int64_t>(std::llround(eps * 1e6));
  auto mul_div = [](std::int64_t a, std::int64_t b, std::int64_t c) {
    return static_cast<std::int64_t>(static_cast<u128>(a) * static_cast<u128>(b) /
                                     static_cast<u128>(c));
  };
  std::int64_t total = 0;
  for (const auto& p : parts) total += eff(p);
  const auto nn = static_cast<std::int64_t>(n);
  bounds b;
  b.cap = std::max((total + nn - 1) / nn, mul_div(total, 1000000 + e, 1000000 * nn));
  std::int64_t light = 0;
  std::int64_t heavy_count = 0;
  for (const auto& p : parts) {
    if (eff(p) > b.cap)
      ++heavy_count;
    else
      light += eff(p);
  }
  b.floor = mul_div(light, std::max<std::int64_t>(0, 1000000 - e), 1000000 * (nn - heavy_count));
  return b;
}

std::int64_t load_of(const std::vector<partition>& owned) {
  std::int64_t sum = 0;
  for (const auto& p : owned) sum += eff(p);
  return sum;
}

// -- running the strategies ------------------------------------------------------------------

struct named {
  const char* name;
  std::shared_ptr<const strategy> s;
};

std::vector<named> all_strategies() {
  strategy_registry registry;
  std::vector<named> out;
  for (const char* name : {"sticky", "weighted", "consistent-hash", "round-robin"})
    out.push_back({name, *registry.find(name)});
  return out;
}

// Loops over the cases of a property; stops at the first failing case (one clear report).
template <class F>
void for_cases(std::uint64_t property, F&& body) {
  for (int i = 0; i < cases_per_property(); ++i) {
    const scenario s = make_scenario(property, i);
    bool ok = true;
    body(s, ok);
    if (!ok) break;
  }
}

#define PROPERTY_CHECK(cond, context)                             \
  do {                                                            \
    if (!(cond)) {                                                \
      ok = false;                                                 \
      BOOST_ERROR("property violated: " #cond " -- " << context); \
      return;                                                     \
    }                                                             \
  } while (false)

assignment must_assign(const strategy& s, const assignment& prev,
                       const std::vector<std::string>& workers, const std::vector<partition>& parts,
                       const strategy_options& options = {}) {
  auto out = s.assign(prev, workers, parts, options);
  if (!out) throw std::runtime_error("assign failed: " + out.error());
  return std::move(*out);
}

// A previous assignment with noise: gone workers, vanished partitions, a partition listed twice.
assignment noisy_previous(rng& r, const scenario& s) {
  assignment prev;
  std::vector<std::string> names = s.workers;
  names.push_back("gone-1");
  names.push_back("gone-2");
  for (const auto& p : s.parts)
    if (r.chance(70)) prev[names[r.below(names.size())]].push_back(p);
  prev[names[r.below(names.size())]].push_back(partition{{"vanished", "x"}, 5});
  if (!s.parts.empty() && r.chance(30))
    prev[names[r.below(names.size())]].push_back(s.parts[r.below(s.parts.size())]);
  return prev;
}

}  // namespace

// Every worker present (possibly with nothing), nobody else (absent workers get nothing), every
// partition exactly once, unchanged (weights conserved) -- also from a noisy previous assignment.
BOOST_AUTO_TEST_CASE(complete_unique_and_weights_conserved) {
  const auto strategies = all_strategies();
  for_cases(1, [&](const scenario& s, bool& ok) {
    rng r(s.seed ^ 1);
    const assignment prev = noisy_previous(r, s);
    std::int64_t input_weight = 0;
    for (const auto& p : s.parts) input_weight += p.weight;
    for (const auto& [name, st] : strategies) {
      const assignment a = must_assign(*st, prev, s.workers, s.parts);
      const auto verdict = verify_assignment(s.workers, s.parts, a);
      PROPERTY_CHECK(verdict.ok(), name << ": " << verdict.error() << "; " << s.describe());
      PROPERTY_CHECK(a.size() == s.workers.size(), name << "; " << s.describe());
      std::map<std::vector<std::string>, std::int64_t> weight_of;
      for (const auto& p : s.parts) weight_of[p.keys] = p.weight;
      std::int64_t output_weight = 0;
      for (const auto& [w, owned] : a) {
        PROPERTY_CHECK(std::is_sorted(owned.begin(), owned.end()), name << "; " << s.describe());
        for (const auto& p : owned) {
          PROPERTY_CHECK(weight_of.at(p.keys) == p.weight, name << "; " << s.describe());
          output_weight += p.weight;
        }
      }
      PROPERTY_CHECK(output_weight == input_weight, name << "; " << s.describe());
    }
  });
}

// The same inputs in another order give the same assignment.
BOOST_AUTO_TEST_CASE(deterministic_under_permutation) {
  const auto strategies = all_strategies();
  for_cases(2, [&](const scenario& s, bool& ok) {
    rng r(s.seed ^ 2);
    const assignment prev = noisy_previous(r, s);
    auto workers = s.workers;
    auto parts = s.parts;
    r.shuffle(workers);
    r.shuffle(parts);
    assignment prev_shuffled = prev;
    for (auto& [w, owned] : prev_shuffled) r.shuffle(owned);
    for (const auto& [name, st] : strategies) {
      const assignment a = must_assign(*st, prev, s.workers, s.parts);
      const assignment b = must_assign(*st, prev_shuffled, workers, parts);
      PROPERTY_CHECK(a == b, name << "; " << s.describe());
    }
  });
}

// Assigning the result again moves nothing (and, for sticky, nothing changed = nothing moves).
BOOST_AUTO_TEST_CASE(idempotent) {
  const auto strategies = all_strategies();
  for_cases(3, [&](const scenario& s, bool& ok) {
    rng r(s.seed ^ 3);
    const assignment prev = noisy_previous(r, s);
    for (const auto& [name, st] : strategies) {
      const assignment a = must_assign(*st, prev, s.workers, s.parts);
      const assignment b = must_assign(*st, a, s.workers, s.parts);
      PROPERTY_CHECK(a == b, name << "; moved " << moved(a, b).count << "; " << s.describe());
    }
  });
}

// sticky and round-robin: counts within +-1 (max <= ceil(P/N), min >= floor(P/N)).
BOOST_AUTO_TEST_CASE(count_balance) {
  strategy_registry registry;
  for_cases(4, [&](const scenario& s, bool& ok) {
    rng r(s.seed ^ 4);
    const assignment prev = noisy_previous(r, s);
    const std::size_t n = s.workers.size();
    const std::size_t p = s.parts.size();
    for (const char* name : {"sticky", "round-robin"}) {
      const assignment a = must_assign(**registry.find(name), prev, s.workers, s.parts);
      for (const auto& [w, owned] : a) {
        PROPERTY_CHECK(owned.size() <= (p + n - 1) / n, name << " " << w << "; " << s.describe());
        PROPERTY_CHECK(owned.size() >= p / n, name << " " << w << "; " << s.describe());
      }
    }
  });
}

// weighted: at most one heavy partition (w > cap) per worker; every load within [floor, cap]
// unless no single move could fix it (a worker above the cap has no light partition that fits on
// any other worker under the cap; a worker below the floor cannot take a light partition from a
// worker that would stay at or above the floor). With equal weights, loads are always within.
BOOST_AUTO_TEST_CASE(weighted_load_bounds) {
  weighted_strategy weighted;
  for_cases(5, [&](const scenario& s, bool& ok) {
    rng r(s.seed ^ 5);
    strategy_options options;
    options.epsilon = r.chance(50) ? 0.10 : static_cast<double>(r.below(51)) / 100.0;
    const assignment prev = r.chance(50) ? assignment{} : noisy_previous(r, s);
    const assignment a = must_assign(weighted, prev, s.workers, s.parts, options);
    const bounds b = weighted_bounds(s.parts, s.workers.size(), options.epsilon);
    bool all_equal = true;
    for (const auto& p : s.parts) all_equal = all_equal && eff(p) == eff(s.parts.front());
    std::map<std::string, std::int64_t> load;
    for (const auto& [w, owned] : a) load[w] = load_of(owned);
    const std::string ctx = "eps " + std::to_string(options.epsilon) + " cap " +
                            std::to_string(b.cap) + " floor " + std::to_string(b.floor) + "; " +
                            s.describe();
    for (const auto& [w, owned] : a) {
      const auto heavy = std::count_if(owned.begin(), owned.end(),
                                       [&](const partition& p) { return eff(p) > b.cap; });
      PROPERTY_CHECK(heavy <= 1, w << " holds " << heavy << " heavy partitions; " << ctx);
      if (all_equal && heavy == 0) {
        PROPERTY_CHECK(load[w] <= b.cap && load[w] >= b.floor,
                       w << " load " << load[w] << "; " << ctx);
      }
      if (load[w] > b.cap) {
        for (const auto& p : owned) {
          if (eff(p) > b.cap) continue;
          for (const auto& [v, lv] : load)
            PROPERTY_CHECK(v == w || lv + eff(p) > b.cap,
                           w << " above cap could give " << strategy_detail::describe_keys(p.keys)
                             << " to " << v << "; " << ctx);
        }
      }
      if (load[w] < b.floor) {
        for (const auto& [v, others] : a) {
          if (v == w) continue;
          for (const auto& p : others)
            PROPERTY_CHECK(eff(p) > b.cap || load[v] - eff(p) < b.floor || load[w] + eff(p) > b.cap,
                           w << " below floor could take " << strategy_detail::describe_keys(p.keys)
                             << " from " << v << "; " << ctx);
        }
      }
    }
  });
}

// sticky: adding, removing or replacing one worker moves exactly the optimum for +-1 balance,
// which is at most 1.05 x (P/(N+1), resp. the removed worker's partitions) + 1.
BOOST_AUTO_TEST_CASE(sticky_movement_is_optimal) {
  sticky_strategy sticky;
  for_cases(6, [&](const scenario& s, bool& ok) {
    rng r(s.seed ^ 6);
    const std::size_t n = s.workers.size();
    const std::size_t p = s.parts.size();
    const assignment base = must_assign(sticky, {}, s.workers, s.parts);

    auto added = s.workers;
    added.push_back(fresh_worker(r, s.workers));
    const assignment after_add = must_assign(sticky, base, added, s.parts);
    const auto m_add = moved(base, after_add).count;
    PROPERTY_CHECK(m_add == optimal_balanced_moves(base, added, p), "add; " << s.describe());
    PROPERTY_CHECK(static_cast<double>(m_add) <= 1.05 * static_cast<double>(p) / (n + 1.0) + 1.0,
                   "add moved " << m_add << "; " << s.describe());

    const std::string leaver = s.workers[r.below(n)];
    auto removed = s.workers;
    removed.erase(std::find(removed.begin(), removed.end(), leaver));
    if (!removed.empty()) {
      const assignment after_remove = must_assign(sticky, base, removed, s.parts);
      const auto m_remove = moved(base, after_remove).count;
      PROPERTY_CHECK(m_remove == optimal_balanced_moves(base, removed, p),
                     "remove " << leaver << "; " << s.describe());
      PROPERTY_CHECK(
          static_cast<double>(m_remove) <= 1.05 * static_cast<double>(base.at(leaver).size()) + 1,
          "remove moved " << m_remove << "; " << s.describe());
    }

    auto replaced = removed;
    replaced.push_back(fresh_worker(r, s.workers));
    const assignment after_replace = must_assign(sticky, base, replaced, s.parts);
    const auto m_replace = moved(base, after_replace).count;
    PROPERTY_CHECK(m_replace == optimal_balanced_moves(base, replaced, p),
                   "replace " << leaver << "; " << s.describe());
    PROPERTY_CHECK(
        static_cast<double>(m_replace) <= 1.05 * static_cast<double>(base.at(leaver).size()) + 1,
        "replace moved " << m_replace << "; " << s.describe());

    // Chains of changes stay optimal too: from after_add, remove a random worker.
    auto chain = added;
    chain.erase(chain.begin() + static_cast<std::ptrdiff_t>(r.below(chain.size())));
    const assignment after_chain = must_assign(sticky, after_add, chain, s.parts);
    PROPERTY_CHECK(
        moved(after_add, after_chain).count == optimal_balanced_moves(after_add, chain, p),
        "chain; " << s.describe());
  });
}

// weighted, equal weights: adding one worker to the assignment of a cold start moves at most
// 1.05 x P/(N+1) + 1 partitions; removing or replacing one moves at most 1.05 x its
// partitions + 1. (With unequal weights the bounds decide; see docs/STRATEGIES.md.)
BOOST_AUTO_TEST_CASE(weighted_movement) {
  weighted_strategy weighted;
  for_cases(7, [&](const scenario& s, bool& ok) {
    rng r(s.seed ^ 7);
    const std::size_t n = s.workers.size();
    std::vector<partition> parts = s.parts;
    for (auto& p : parts) p.weight = 1;
    const std::size_t p = parts.size();
    const assignment base = must_assign(weighted, {}, s.workers, parts);

    auto added = s.workers;
    added.push_back(fresh_worker(r, s.workers));
    const auto m_add = moved(base, must_assign(weighted, base, added, parts)).count;
    PROPERTY_CHECK(static_cast<double>(m_add) <= 1.05 * static_cast<double>(p) / (n + 1.0) + 1.0,
                   "add moved " << m_add << "; " << s.describe());

    if (n > 1) {
      const std::string leaver = s.workers[r.below(n)];
      auto removed = s.workers;
      removed.erase(std::find(removed.begin(), removed.end(), leaver));
      const auto m_remove = moved(base, must_assign(weighted, base, removed, parts)).count;
      PROPERTY_CHECK(
          static_cast<double>(m_remove) <= 1.05 * static_cast<double>(base.at(leaver).size()) + 1,
          "remove " << leaver << " moved " << m_remove << "; " << s.describe());
      auto replaced = removed;
      replaced.push_back(fresh_worker(r, s.workers));
      const auto m_replace = moved(base, must_assign(weighted, base, replaced, parts)).count;
      PROPERTY_CHECK(
          static_cast<double>(m_replace) <= 1.05 * static_cast<double>(base.at(leaver).size()) + 1,
          "replace " << leaver << " moved " << m_replace << "; " << s.describe());
    }
  });
}

// The ring routes keys statelessly exactly as the consistent-hash strategy assigns them, and a
// new worker only takes partitions (no partition moves between old workers).
BOOST_AUTO_TEST_CASE(ring_routing_matches_strategy) {
  consistent_hash_strategy ch;
  for_cases(8, [&](const scenario& s, bool& ok) {
    rng r(s.seed ^ 8);
    strategy_options options;
    options.virtual_nodes = 1 + static_cast<int>(r.below(200));
    const assignment a = must_assign(ch, {}, s.workers, s.parts, options);
    auto ring = hash_ring::make(s.workers, options.virtual_nodes);
    PROPERTY_CHECK(ring.ok(), s.describe());
    for (const auto& [w, owned] : a)
      for (const auto& p : owned) {
        PROPERTY_CHECK(ring->owner_of(p.keys) == w, strategy_detail::describe_keys(p.keys)
                                                        << "; " << s.describe());
        if (p.keys.size() == 1)
          PROPERTY_CHECK(ring->owner_of(std::string_view(p.keys[0])) == w, s.describe());
      }
    auto added = s.workers;
    const std::string newcomer = fresh_worker(r, s.workers);
    added.push_back(newcomer);
    const assignment b = must_assign(ch, a, added, s.parts, options);
    const auto before = owners(a);
    for (const auto& [w, owned] : b)
      for (const auto& p : owned)
        PROPERTY_CHECK(w == newcomer || before.at(p.keys) == w,
                       "ring moved between old workers; " << s.describe());
  });
}

// Every rendezvous kernel (portable, AVX2, AVX-512: those the CPU has) finds the first highest
// score, ties included.
BOOST_AUTO_TEST_CASE(rendezvous_kernel_matches_scalar) {
  for (int i = 0; i < cases_per_property(); ++i) {
    rng r(strategy_hash::mix64(base_seed() ^ (std::uint64_t{9} << 32) ^
                               static_cast<std::uint64_t>(i)));
    std::vector<std::uint64_t> hashes(1 + r.below(300));
    for (auto& h : hashes) h = r.next();
    const std::uint64_t ph = r.next();
    // The expected index by the definition: the first highest score.
    std::size_t expected = 0;
    for (std::size_t j = 1; j < hashes.size(); ++j)
      if (strategy_hash::rendezvous_score(ph, hashes[j]) >
          strategy_hash::rendezvous_score(ph, hashes[expected]))
        expected = j;
    if (hashes.size() > 1 && r.chance(30)) {  // a tie for the top: the first index must win
      const std::size_t other = r.below(hashes.size());
      hashes[other] = hashes[expected];
      expected = std::min(expected, other);
    }
    BOOST_TEST_CONTEXT("PARTI_PROPERTY_SEED=" << base_seed() << " case " << i) {
      BOOST_TEST(strategy_detail::best_score_index(ph, hashes.data(), hashes.size()) == expected);
      for (auto k : {strategy_detail::score_kernel::portable, strategy_detail::score_kernel::avx2,
                     strategy_detail::score_kernel::avx512}) {
        if (!strategy_detail::score_kernel_supported(k)) continue;
        BOOST_TEST(
            strategy_detail::best_score_index_with(k, ph, hashes.data(), hashes.size()) == expected,
            strategy_detail::score_kernel_name(k));
      }
    }
  }
}
