// Hostile input: a foreign client writes garbage, truncated and wrong-typed values into every
// bucket. Nothing crashes, the values are counted and skipped, and the group is unaffected.
#include <boost/test/unit_test.hpp>

#include <msgpack.hpp>

#include "parti/messages/codec.hpp"
#include "parti/messages/wire.hpp"
#include "tests/support/leader_group.hpp"

using namespace parti;
using namespace std::chrono_literals;
using test::leader_group;
using test::moved;

namespace {

/// Values no decoder accepts: not msgpack, truncated, a map with wrong types, a bare integer.
std::vector<std::string> hostile_values() {
  heartbeat_record hb;
  hb.worker = "worker-1";
  auto valid = encode(hb);
  msgpack::sbuffer wrong_types;
  msgpack::packer<msgpack::sbuffer> pk(wrong_types);
  pk.pack_map(3).pack(std::string("seq")).pack(std::string("x"));
  pk.pack(std::string("partitions")).pack(42);
  pk.pack(std::string("frozen")).pack(std::string("yes"));
  msgpack::sbuffer integer;
  msgpack::pack(integer, 7);
  return {std::string("\xc1\xff garbage", 10), valid.substr(0, valid.size() / 2),
          std::string(wrong_types.data(), wrong_types.size()),
          std::string(integer.data(), integer.size())};
}

std::uint64_t counter(const std::string& text, const std::string& series_prefix) {
  std::uint64_t total = 0;
  std::size_t pos = 0;
  while ((pos = text.find(series_prefix, pos)) != std::string::npos) {
    auto line_end = text.find('\n', pos);
    auto space = text.rfind(' ', line_end);
    total += static_cast<std::uint64_t>(std::stod(text.substr(space + 1, line_end - space - 1)));
    pos = line_end;
  }
  return total;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(hostile_input, leader_group)

BOOST_AUTO_TEST_CASE(garbage_in_every_bucket_is_counted_skipped_and_harmless) {
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  auto before = owner_map();
  auto leader = sole_leader()->worker;
  // Every bucket, keys of live workers included (their owners overwrite them on their next
  // write), plus the leader's control record and keys nobody owns.
  for (const auto& value : hostile_values()) {
    group->ids->put("worker-50", value);
    group->heartbeats->put("worker-1", value);
    group->heartbeats->put("worker-77", value);
    group->assignments->put("worker-1", value);
    group->assignments->put("worker-77", value);
    group->assignments->put(control_key, value);
    group->election->put("_unrelated", value);
  }
  // The heartbeat of worker-1 is rewritten within an interval; the assignment key is not
  // (nothing changed), and the worker keeps what it applied.
  auto settle = config.heartbeat_ttl + config.emergency_grace + 1s;
  BOOST_TEST(!test::eventually([&] { return moved(before, owner_map()) > 0; }, settle));
  BOOST_TEST(fully_covered());
  BOOST_REQUIRE(sole_leader().has_value());
  BOOST_TEST(sole_leader()->worker == leader);
  for (const auto& s : statuses()) BOOST_TEST(s.state != "Gone");
  auto text = group->metrics->text();
  BOOST_TEST(counter(text, "parti_decode_errors_total{bucket=\"heartbeats\"") >= 4u, text);
  BOOST_TEST(counter(text, "parti_decode_errors_total{bucket=\"assignments\"") >= 4u, text);
  // A scale event still works afterwards.
  add_node();
  BOOST_TEST(test::eventually(
      [&] {
        return fully_covered() && status(nodes.back()).owned.size() == test::partition_count / 4;
      },
      15s));
}

BOOST_AUTO_TEST_SUITE_END()
