// Weighted bounded load (registry name "weighted"). See docs/STRATEGIES.md.
//
// Weights: w = weight if weight >= 1, else 1. W = sum of w (at most 2^62), N workers. Epsilon
// is used in millionths, e = round(options.epsilon * 10^6), and all bounds are exact integer
// arithmetic (no floating point, so the same on every platform):
//   cap   = max(ceil(W / N), floor(W * (10^6 + e) / (10^6 * N)))
//   heavy = a partition with w > cap. There are always fewer heavy partitions than workers.
//   floor = floor(WL * max(0, 10^6 - e) / (10^6 * NL)), where WL is the weight of the non-heavy
//           partitions and NL the number of workers without a heavy one; mean_lo = floor(WL / NL)
//           and mean_hi = ceil(WL / NL) are the fill levels of step 3.
//  1. Heavy partitions, by (w desc, canonical order): each keeps its previous owner if present
//     and not yet holding a heavy one; the others go, one per worker, to the worker without a
//     heavy partition whose previously owned light weight is least (ties: highest rendezvous
//     score, then smaller id). A worker with a heavy partition is over the cap: it keeps no
//     light partition that fits anywhere else.
//  2. Light partitions stay with their previous owner if it is present.
//  3. The other light partitions, by (w desc, canonical order), go to the highest-scoring worker
//     of the first tier with a worker where it fits: (1) load < floor and load + w <= cap;
//     (2) load + w <= mean_lo; (3) load + w <= mean_hi; (4) load + w <= cap; else to the least
//     loaded worker (ties: highest score, then smaller id). So workers fill evenly, level by
//     level (with equal weights a cold start is balanced to +-1), not up to the cap.
//  4. Local search, until neither rule applies:
//     (a) a worker above the cap gives a light partition to another worker with room, chosen
//         by the tiers of step 3; it first gives partitions after which it stays at or above
//         the floor;
//     (b) a worker below the floor takes a light partition from the most loaded worker that
//         stays at or above the floor and without going above the cap itself.
//     Partitions that already moved in this round are given away first, then those with the
//     lowest rendezvous score for their owner. Each move lowers (total excess over the cap,
//     total deficit under the floor) lexicographically, so the search ends; the result is a
//     fixed point of both rules, so assigning it again moves nothing.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "parti/runtime/strategy/detail.hpp"
#include "parti/runtime/strategy/hashing.hpp"
#include "parti/runtime/strategy/strategy.hpp"

namespace parti {

namespace {

using strategy_detail::prepared;
using strategy_hash::rendezvous_score;

constexpr std::int64_t max_total_weight = std::int64_t{1} << 62;
constexpr std::int64_t million = 1000000;

__extension__ typedef unsigned __int128 u128;  // GCC and Clang, on every 64-bit target

// floor(a * b / c) without overflow, for a, b >= 0, c > 0; saturates at 2^62.
std::int64_t mul_div(std::int64_t a, std::int64_t b, std::int64_t c) {
  const u128 q = static_cast<u128>(a) * static_cast<u128>(b) / static_cast<u128>(c);
  return q > static_cast<u128>(max_total_weight) ? max_total_weight : static_cast<std::int64_t>(q);
}

class worker_set {
 public:
  void insert_all(const std::vector<std::uint64_t>& hashes, const std::vector<bool>& member) {
    for (std::size_t w = 0; w < hashes.size(); ++w)
      if (member[w]) {
        hash_.push_back(hashes[w]);
        index_.push_back(static_cast<std::uint32_t>(w));
      }
  }
  void erase(std::uint32_t w) {
    auto it = std::lower_bound(index_.begin(), index_.end(), w);
    if (it == index_.end() || *it != w) return;
    const auto k = it - index_.begin();
    index_.erase(it);
    hash_.erase(hash_.begin() + k);
  }
  bool empty() const { return index_.empty(); }
  std::size_t size() const { return index_.size(); }
  const std::uint64_t* hashes() const { return hash_.data(); }
  std::uint32_t worker(std::size_t k) const { return index_[k]; }

 private:
  std::vector<std::uint64_t> hash_;
  std::vector<std::uint32_t> index_;
};

class weighted_solver {
  static constexpr int tier_count = 4;

 public:
  weighted_solver(const prepared& in, double epsilon)
      : in_(in),
        n_(in.workers.size()),
        p_(in.parts.size()),
        eps_micro_(static_cast<std::int64_t>(std::llround(epsilon * 1e6))) {}

  result<assignment> run() {
    weight_.resize(p_);
    std::int64_t total = 0;
    for (std::size_t j = 0; j < p_; ++j) {
      weight_[j] = strategy_detail::effective_weight(*in_.parts[j]);
      if (weight_[j] > max_total_weight || total > max_total_weight - weight_[j])
        return failure{"total partition weight exceeds 2^62"};
      total += weight_[j];
    }
    const auto n = static_cast<std::int64_t>(n_);
    cap_ = std::max((total + n - 1) / n, mul_div(total, million + eps_micro_, million * n));
    owner_.assign(p_, -1);
    load_.assign(n_, 0);
    heavy_.assign(n_, false);
    place_heavy();
    set_floor();
    keep_light();
    place_light();
    build_lists();
    local_search();
    return strategy_detail::build(in_, owner_);
  }

 private:
  std::uint64_t score(std::size_t j, std::size_t w) const {
    return rendezvous_score(in_.part_hash[j], in_.worker_hash[w]);
  }
  bool is_heavy(std::size_t j) const { return weight_[j] > cap_; }
  bool moved(std::size_t j) const { return owner_[j] != in_.prev_owner[j]; }

  void place_heavy() {
    std::vector<std::uint32_t> heavy;
    std::vector<std::int64_t> prev_light(n_, 0);
    for (std::size_t j = 0; j < p_; ++j) {
      if (is_heavy(j))
        heavy.push_back(static_cast<std::uint32_t>(j));
      else if (in_.prev_owner[j] >= 0)
        prev_light[static_cast<std::size_t>(in_.prev_owner[j])] += weight_[j];
    }
    std::sort(heavy.begin(), heavy.end(), [&](std::uint32_t a, std::uint32_t b) {
      return weight_[a] != weight_[b] ? weight_[a] > weight_[b] : a < b;
    });
    for (auto j : heavy) {  // keep previous owners first
      const auto po = in_.prev_owner[j];
      if (po >= 0 && !heavy_[static_cast<std::size_t>(po)]) assign_to(j, po, true);
    }
    for (auto j : heavy) {
      if (owner_[j] >= 0) continue;
      std::size_t best = n_;
      for (std::size_t w = 0; w < n_; ++w) {
        if (best == n_) {
          best = w;
          continue;
        }
        // Fewer heavy partitions, then less previous light weight, then score, then id.
        const auto key = std::make_tuple(!heavy_[w], -load_[w], -prev_light[w]);
        const auto best_key = std::make_tuple(!heavy_[best], -load_[best], -prev_light[best]);
        if (key > best_key || (key == best_key && score(j, w) > score(j, best))) best = w;
      }
      assign_to(j, static_cast<std::int32_t>(best), true);
    }
  }

  void set_floor() {
    std::int64_t light_weight = 0;
    std::int64_t light_workers = 0;
    for (std::size_t j = 0; j < p_; ++j)
      if (!is_heavy(j)) light_weight += weight_[j];
    for (std::size_t w = 0; w < n_; ++w)
      if (!heavy_[w]) ++light_workers;
    floor_ = 0;
    mean_lo_ = 0;
    mean_hi_ = 0;
    if (light_workers > 0) {
      floor_ = mul_div(light_weight, std::max<std::int64_t>(0, million - eps_micro_),
                       million * light_workers);
      mean_lo_ = std::min(light_weight / light_workers, cap_);
      mean_hi_ = std::min((light_weight + light_workers - 1) / light_workers, cap_);
    }
  }

  void keep_light() {
    for (std::size_t j = 0; j < p_; ++j)
      if (!is_heavy(j) && in_.prev_owner[j] >= 0) assign_to(j, in_.prev_owner[j], false);
  }

  void place_light() {
    std::vector<std::uint32_t> todo;
    for (std::size_t j = 0; j < p_; ++j)
      if (owner_[j] < 0) todo.push_back(static_cast<std::uint32_t>(j));
    if (todo.empty()) return;
    std::sort(todo.begin(), todo.end(), [&](std::uint32_t a, std::uint32_t b) {
      return weight_[a] != weight_[b] ? weight_[a] > weight_[b] : a < b;
    });
    // Tier t holds the workers with load < below[t]; a partition fits if load + w <= limit[t].
    const std::int64_t below[tier_count] = {floor_, mean_lo_, mean_hi_, cap_};
    const std::int64_t limit[tier_count] = {cap_, mean_lo_, mean_hi_, cap_};
    worker_set tiers[tier_count];
    for (int t = 0; t < tier_count; ++t) {
      std::vector<bool> member(n_);
      for (std::size_t w = 0; w < n_; ++w) member[w] = load_[w] < below[t];
      tiers[t].insert_all(in_.worker_hash, member);
    }
    for (auto j : todo) {
      std::int32_t target = -1;
      for (int t = 0; t < tier_count && target < 0; ++t) target = pick(j, tiers[t], limit[t]);
      if (target < 0) target = least_loaded(j);
      assign_to(j, target, false);
      const auto w = static_cast<std::uint32_t>(target);
      for (int t = 0; t < tier_count; ++t)
        if (load_[w] >= below[t]) tiers[t].erase(w);
    }
  }

  // The highest-scoring worker of `set` where partition j fits under `limit`, or -1.
  std::int32_t pick(std::size_t j, const worker_set& set, std::int64_t limit) const {
    if (set.empty()) return -1;
    const std::size_t k =
        strategy_detail::best_score_index(in_.part_hash[j], set.hashes(), set.size());
    const std::uint32_t w = set.worker(k);
    if (load_[w] + weight_[j] <= limit) return static_cast<std::int32_t>(w);
    // Rare: the best one has some room, but not enough for this partition.
    std::int32_t best = -1;
    std::uint64_t best_score = 0;
    for (std::size_t i = 0; i < set.size(); ++i) {
      const std::uint32_t v = set.worker(i);
      if (load_[v] + weight_[j] > limit) continue;
      const auto s = score(j, v);
      if (best < 0 || s > best_score) {
        best = static_cast<std::int32_t>(v);
        best_score = s;
      }
    }
    return best;
  }

  std::int32_t least_loaded(std::size_t j) const {
    std::size_t best = 0;
    for (std::size_t w = 1; w < n_; ++w)
      if (load_[w] < load_[best] || (load_[w] == load_[best] && score(j, w) > score(j, best)))
        best = w;
    return static_cast<std::int32_t>(best);
  }

  void assign_to(std::size_t j, std::int32_t w, bool heavy) {
    owner_[j] = w;
    load_[static_cast<std::size_t>(w)] += weight_[j];
    if (heavy) heavy_[static_cast<std::size_t>(w)] = true;
  }

  // -- local search ---------------------------------------------------------------------------

  void build_lists() {
    lists_.assign(n_, {});
    position_.assign(p_, 0);
    own_score_.assign(p_, 0);
    min_light_ = std::numeric_limits<std::int64_t>::max();
    for (std::size_t j = 0; j < p_; ++j) {
      if (is_heavy(j)) continue;
      auto& list = lists_[static_cast<std::size_t>(owner_[j])];
      position_[j] = list.size();
      list.push_back(static_cast<std::uint32_t>(j));
      own_score_[j] = score(j, static_cast<std::size_t>(owner_[j]));
      min_light_ = std::min(min_light_, weight_[j]);
    }
  }

  void move(std::uint32_t j, std::size_t to) {
    const auto from = static_cast<std::size_t>(owner_[j]);
    auto& list = lists_[from];
    const std::size_t k = position_[j];
    list[k] = list.back();
    position_[list[k]] = k;
    list.pop_back();
    load_[from] -= weight_[j];
    owner_[j] = static_cast<std::int32_t>(to);
    load_[to] += weight_[j];
    position_[j] = lists_[to].size();
    lists_[to].push_back(j);
    own_score_[j] = score(j, to);
  }

  // Give-away order: partitions that moved this round first, then the lowest score for their
  // owner, then canonical order.
  bool give_before(std::uint32_t a, std::uint32_t b) const {
    const bool ma = moved(a), mb = moved(b);
    if (ma != mb) return ma;
    if (own_score_[a] != own_score_[b]) return own_score_[a] < own_score_[b];
    return a < b;
  }

  void local_search() {
    if (min_light_ == std::numeric_limits<std::int64_t>::max()) return;  // no light partition
    for (;;) {
      shed_over_cap();
      if (!fill_under_floor()) break;
    }
  }

  // Rule (a) until it no longer applies. Returns whether anything moved.
  bool shed_over_cap() {
    bool any = false;
    for (;;) {
      bool moved_now = false;
      for (std::size_t a = 0; a < n_; ++a) {
        if (load_[a] <= cap_) continue;
        std::vector<std::uint32_t> order = lists_[a];
        // Prefer partitions after which `a` stays at or above the floor.
        std::sort(order.begin(), order.end(), [&](std::uint32_t x, std::uint32_t y) {
          const bool kx = load_[a] - weight_[x] >= floor_, ky = load_[a] - weight_[y] >= floor_;
          return kx != ky ? kx : give_before(x, y);
        });
        for (auto j : order) {
          if (load_[a] <= cap_) break;
          const std::int32_t b = shed_target(j, a);
          if (b < 0) continue;
          move(j, static_cast<std::size_t>(b));
          moved_now = true;
        }
      }
      if (!moved_now) return any;
      any = true;
    }
  }

  // The best other worker with room for j: by the tiers of place_light, then highest score,
  // then smaller id.
  std::int32_t shed_target(std::size_t j, std::size_t from) const {
    std::int32_t best = -1;
    int best_tier = 0;
    std::uint64_t best_score = 0;
    for (std::size_t w = 0; w < n_; ++w) {
      const std::int64_t after = load_[w] + weight_[j];
      if (w == from || after > cap_) continue;
      const int tier = load_[w] < floor_ ? 4 : after <= mean_lo_ ? 3 : after <= mean_hi_ ? 2 : 1;
      const auto s = score(j, w);
      if (best < 0 || tier > best_tier || (tier == best_tier && s > best_score)) {
        best = static_cast<std::int32_t>(w);
        best_tier = tier;
        best_score = s;
      }
    }
    return best;
  }

  // Rule (b) until it no longer applies. Returns whether anything moved.
  bool fill_under_floor() {
    std::set<std::pair<std::int64_t, std::uint32_t>> by_load;  // (-load, worker)
    for (std::size_t w = 0; w < n_; ++w) by_load.emplace(-load_[w], static_cast<std::uint32_t>(w));
    auto relocate = [&](std::size_t j, std::size_t to) {
      const auto from = static_cast<std::size_t>(owner_[j]);
      by_load.erase({-load_[from], static_cast<std::uint32_t>(from)});
      by_load.erase({-load_[to], static_cast<std::uint32_t>(to)});
      move(static_cast<std::uint32_t>(j), to);
      by_load.emplace(-load_[from], static_cast<std::uint32_t>(from));
      by_load.emplace(-load_[to], static_cast<std::uint32_t>(to));
    };
    bool any = false;
    for (;;) {
      bool moved_now = false;
      std::vector<std::uint32_t> receivers;
      for (std::size_t w = 0; w < n_; ++w)
        if (load_[w] < floor_) receivers.push_back(static_cast<std::uint32_t>(w));
      std::sort(receivers.begin(), receivers.end(), [&](std::uint32_t x, std::uint32_t y) {
        return load_[x] != load_[y] ? load_[x] < load_[y] : x < y;
      });
      for (auto b : receivers) {
        while (load_[b] < floor_) {
          std::int64_t found = -1;
          for (const auto& [neg_load, a] : by_load) {
            const std::int64_t spare = -neg_load - floor_;  // what a can give and stay >= floor
            if (spare < min_light_) break;                  // nor can any less loaded worker
            if (a == b) continue;
            const std::int64_t limit = std::min(spare, cap_ - load_[b]);
            for (auto j : lists_[a])
              if (weight_[j] <= limit &&
                  (found < 0 || give_before(j, static_cast<std::uint32_t>(found))))
                found = j;
            if (found >= 0) break;
          }
          if (found < 0) break;
          relocate(static_cast<std::size_t>(found), b);
          moved_now = true;
        }
      }
      if (!moved_now) return any;
      any = true;
    }
  }

  const prepared& in_;
  const std::size_t n_;
  const std::size_t p_;
  const std::int64_t eps_micro_;
  std::int64_t cap_ = 0;
  std::int64_t floor_ = 0;
  std::int64_t mean_lo_ = 0;
  std::int64_t mean_hi_ = 0;
  std::int64_t min_light_ = 0;
  std::vector<std::int64_t> weight_;
  std::vector<std::int32_t> owner_;
  std::vector<std::int64_t> load_;
  std::vector<bool> heavy_;
  std::vector<std::vector<std::uint32_t>> lists_;
  std::vector<std::size_t> position_;
  std::vector<std::uint64_t> own_score_;
};

}  // namespace

result<assignment> weighted_strategy::assign(const assignment& previous,
                                             const std::vector<std::string>& workers,
                                             const std::vector<partition>& partitions,
                                             const strategy_options& options) const {
  if (auto ok = validate(options); !ok) return failure{ok.error()};
  auto prep = strategy_detail::prepare(workers, partitions, &previous);
  if (!prep) return failure{prep.error()};
  return weighted_solver(*prep, options.epsilon).run();
}

}  // namespace parti
