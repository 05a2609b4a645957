#include <boost/test/unit_test.hpp>

// Golden values: the hashed bytes and a few placements are part of the contract (a change moves
// partitions between versions). The constants were computed once with this implementation and
// checked independently: the XXH3 and SplitMix64 constants are published test vectors, the
// partition hash is recomputed from hand-built bytes, the ring owner by a linear scan of all
// virtual nodes, and the sticky cold start by a naive re-implementation of its definition.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "parti/runtime/strategy/consistent_hash.hpp"
#include "parti/runtime/strategy/hashing.hpp"
#include "parti/runtime/strategy/strategy.hpp"

using namespace parti;
using namespace parti::strategy_hash;

namespace {

std::string le64(std::uint64_t v) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

std::uint64_t xxh3(const std::string& bytes) {
  return xxh3_64(bytes.data(), bytes.size());
}

const std::vector<std::string> workers = {"worker-2", "worker-0", "worker-3", "worker-1"};

std::vector<partition> tenants() {
  std::vector<partition> out;
  for (int i = 0; i < 10; ++i) out.push_back({{"tenant-" + std::to_string(i)}, 1});
  out[3].weight = 50;
  return out;
}

using golden = std::vector<std::pair<std::string, std::vector<std::string>>>;

golden flatten(const assignment& a) {
  golden out;
  for (const auto& [w, owned] : a) {
    std::vector<std::string> keys;
    for (const auto& p : owned) keys.push_back(p.keys.at(0));
    out.emplace_back(w, keys);
  }
  return out;
}

golden run(const strategy& s) {
  return flatten(*s.assign({}, workers, tenants(), {}));
}

}  // namespace

BOOST_AUTO_TEST_CASE(hash_primitives_match_published_vectors) {
  // XXH3_64bits of the empty input, seed 0 (xxHash sanity-check vector).
  BOOST_TEST(xxh3_64("", 0) == 0x2d06800538d394c2ULL);
  // The first output of SplitMix64 seeded with 0 is mix64(0x9e3779b97f4a7c15).
  BOOST_TEST(mix64(0x9e3779b97f4a7c15ULL) == 0xe220a8397b1dcdafULL);
}

BOOST_AUTO_TEST_CASE(hashed_bytes_are_as_documented) {
  // partition_hash: le64(length) || bytes, per key, in order.
  BOOST_TEST(partition_hash({"a"}) == xxh3(le64(1) + "a"));
  BOOST_TEST(partition_hash({"a", "b"}) == xxh3(le64(1) + "a" + le64(1) + "b"));
  BOOST_TEST(partition_hash({"ab"}) == xxh3(le64(2) + "ab"));
  BOOST_TEST(partition_hash({"a", "b"}) != partition_hash({"ab"}));
  BOOST_TEST(partition_hash({"", "x"}) == xxh3(le64(0) + le64(1) + "x"));
  BOOST_TEST(key_hash("a") == partition_hash({"a"}));
  BOOST_TEST(worker_hash("worker-0") == xxh3("worker-0"));
  BOOST_TEST(ring_point("worker-0", 149) == xxh3("worker-0" + le64(149)));
  BOOST_TEST(rendezvous_score(5, 3) == mix64(5 ^ 3));
  // Pinned values.
  BOOST_TEST(partition_hash({"a"}) == 0xc77724758a6ec4d1ULL);
  BOOST_TEST(partition_hash({"a", "b"}) == 0xf60759a5e1ff0d49ULL);
  BOOST_TEST(partition_hash({"ab"}) == 0x1bb32589efec83e4ULL);
  BOOST_TEST(worker_hash("worker-0") == 0x2ccc843865a190bdULL);
  BOOST_TEST(ring_point("worker-0", 0) == 0x79a0f25019031810ULL);
  BOOST_TEST(ring_point("worker-0", 149) == 0x18d71cf0b6fa2dafULL);
  BOOST_TEST(rendezvous_score(partition_hash({"a"}), worker_hash("worker-0")) ==
             0x19158a579c0ac321ULL);
}

BOOST_AUTO_TEST_CASE(ring_owners_are_pinned) {
  auto ring = hash_ring::make(workers, 150);
  BOOST_REQUIRE(ring.ok());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"alpha", "worker-3"}, {"beta", "worker-3"},    {"gamma", "worker-1"},
      {"delta", "worker-3"}, {"user:42", "worker-3"},
  };
  for (const auto& [key, owner] : expected) {
    BOOST_TEST_CONTEXT("key " << key) {
      BOOST_TEST(ring->owner_of(std::string_view(key)) == owner);
      // Independent check: the first virtual node at or after the key (wrapping), by scan.
      const std::uint64_t h = key_hash(key);
      std::uint64_t best_point = 0, lowest_point = ~0ULL;
      std::string best, lowest;
      bool found = false;
      for (const auto& w : ring->workers())
        for (std::uint64_t i = 0; i < 150; ++i) {
          const std::uint64_t pt = ring_point(w, i);
          if (pt >= h && (!found || pt < best_point)) {
            found = true;
            best_point = pt;
            best = w;
          }
          if (pt < lowest_point) {
            lowest_point = pt;
            lowest = w;
          }
        }
      BOOST_TEST((found ? best : lowest) == owner);
    }
  }
}

BOOST_AUTO_TEST_CASE(placements_are_pinned) {
  const golden sticky = {
      {"worker-0", {"tenant-0", "tenant-3", "tenant-8"}},
      {"worker-1", {"tenant-5", "tenant-7", "tenant-9"}},
      {"worker-2", {"tenant-4", "tenant-6"}},
      {"worker-3", {"tenant-1", "tenant-2"}},
  };
  BOOST_TEST((run(sticky_strategy{}) == sticky));

  // The heavy tenant-3 (50 > cap 16) alone; the nine others three per worker.
  const golden weighted = {
      {"worker-0", {"tenant-2", "tenant-7", "tenant-8"}},
      {"worker-1", {"tenant-3"}},
      {"worker-2", {"tenant-0", "tenant-4", "tenant-6"}},
      {"worker-3", {"tenant-1", "tenant-5", "tenant-9"}},
  };
  BOOST_TEST((run(weighted_strategy{}) == weighted));

  const golden ring = {
      {"worker-0", {"tenant-1", "tenant-5", "tenant-9"}},
      {"worker-1", {"tenant-2", "tenant-3", "tenant-4", "tenant-8"}},
      {"worker-2", {"tenant-0", "tenant-6"}},
      {"worker-3", {"tenant-7"}},
  };
  BOOST_TEST((run(consistent_hash_strategy{}) == ring));

  const golden round_robin = {
      {"worker-0", {"tenant-0", "tenant-4", "tenant-8"}},
      {"worker-1", {"tenant-1", "tenant-5", "tenant-9"}},
      {"worker-2", {"tenant-2", "tenant-6"}},
      {"worker-3", {"tenant-3", "tenant-7"}},
  };
  BOOST_TEST((run(round_robin_strategy{}) == round_robin));
}

// The pinned sticky placement, recomputed naively from its definition: quotas 3,3,2,2 by id
// (no previous owners), partitions in (partition_hash, keys) order, each to the open worker with
// the highest rendezvous score.
BOOST_AUTO_TEST_CASE(sticky_cold_start_matches_naive_definition) {
  std::vector<std::string> ids = workers;
  std::sort(ids.begin(), ids.end());
  std::vector<std::size_t> quota = {3, 3, 2, 2};
  auto parts = tenants();
  std::sort(parts.begin(), parts.end(), [](const partition& a, const partition& b) {
    return partition_hash(a.keys) < partition_hash(b.keys);
  });
  assignment naive;
  for (const auto& w : ids) naive[w];
  for (const auto& p : parts) {
    std::size_t best = ids.size();
    for (std::size_t w = 0; w < ids.size(); ++w) {
      if (quota[w] == 0) continue;
      if (best == ids.size() ||
          rendezvous_score(partition_hash(p.keys), worker_hash(ids[w])) >
              rendezvous_score(partition_hash(p.keys), worker_hash(ids[best])))
        best = w;
    }
    --quota[best];
    naive[ids[best]].push_back(p);
  }
  for (auto& [w, owned] : naive) std::sort(owned.begin(), owned.end());
  BOOST_TEST((flatten(naive) == run(sticky_strategy{})));
}
