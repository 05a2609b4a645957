#include <boost/test/unit_test.hpp>

#include <msgpack.hpp>

#include <random>

#include "parti/messages/codec.hpp"

using namespace parti;

namespace {

heartbeat_record sample_heartbeat() {
  heartbeat_record h;
  h.worker = "worker-3";
  h.instance = "i-abc";
  h.seq = 42;
  h.sent_at = 1'700'000'000'123ULL;
  h.state = "Stable";
  h.applied_epoch = 7;
  h.applied_version = 9;
  h.leaving = true;
  h.restarting = false;
  return h;
}

assignment_record sample_assignment() {
  assignment_record a;
  a.worker = "worker-1";
  a.epoch = 12;
  a.version = 34;
  a.reason = "planned_scale";
  a.partitions = {{{"p-0"}, 1}, {{"orders", "eu"}, 100}};
  a.issued_at = 1'700'000'000'000ULL;
  return a;
}

/// Packs a map with the given (name, value) pairs, for hand-made hostile input.
template <class... Fields>
std::string pack_map(const Fields&... fields) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  pk.pack_map(sizeof...(Fields));
  (pk.pack(fields.first).pack(fields.second), ...);
  return std::string(buffer.data(), buffer.size());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(round_trips)

BOOST_AUTO_TEST_CASE(every_record_type_round_trips) {
  auto h = sample_heartbeat();
  BOOST_TEST((decode<heartbeat_record>(encode(h)).value() == h));
  auto a = sample_assignment();
  BOOST_TEST((decode<assignment_record>(encode(a)).value() == a));
  id_claim c{"inst", "host-1", 4242, 1234};
  BOOST_TEST((decode<id_claim>(encode(c)).value() == c));
  leader_lease l{"worker-0", "inst", 99, 5678};
  BOOST_TEST((decode<leader_lease>(encode(l)).value() == l));
  manifest_record m{3, 4, "emergency", {"worker-0", "worker-2"}, 10, 777};
  BOOST_TEST((decode<manifest_record>(encode(m)).value() == m));
  partition p{{"k1", "k2"}, 5};
  BOOST_TEST((decode<partition>(encode(p)).value() == p));
  control_record ctl{true, 3, 1, {"worker-2"}, 55};
  BOOST_TEST((decode<control_record>(encode(ctl)).value() == ctl));
}

BOOST_AUTO_TEST_CASE(encoding_is_a_map_with_string_keys) {
  auto bytes = encode(sample_heartbeat());
  auto handle = msgpack::unpack(bytes.data(), bytes.size());
  const auto& obj = handle.get();
  BOOST_REQUIRE(obj.type == msgpack::type::MAP);
  BOOST_TEST(obj.via.map.size == 11u);  // every field of describe(), by name
  bool has_seq = false;
  for (std::uint32_t i = 0; i < obj.via.map.size; ++i) {
    BOOST_REQUIRE(obj.via.map.ptr[i].key.type == msgpack::type::STR);
    if (obj.via.map.ptr[i].key.as<std::string>() == "seq") {
      has_seq = true;
      BOOST_TEST(obj.via.map.ptr[i].val.as<std::uint64_t>() == 42u);
    }
  }
  BOOST_TEST(has_seq);
}

BOOST_AUTO_TEST_CASE(empty_lists_and_extreme_values_round_trip) {
  assignment_record a;
  a.worker = "w";
  a.epoch = UINT64_MAX;
  a.partitions = {};
  BOOST_TEST((decode<assignment_record>(encode(a)).value() == a));
  partition p{{}, INT64_MIN};
  BOOST_TEST((decode<partition>(encode(p)).value() == p));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(evolution)

BOOST_AUTO_TEST_CASE(unknown_fields_are_ignored) {
  auto bytes = pack_map(std::make_pair(std::string("worker"), std::string("worker-9")),
                        std::make_pair(std::string("future_field"), std::string("x")),
                        std::make_pair(std::string("seq"), 5));
  auto r = decode<heartbeat_record>(bytes);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.error());
  BOOST_TEST(r->worker == "worker-9");
  BOOST_TEST(r->seq == 5u);
}

BOOST_AUTO_TEST_CASE(missing_fields_take_defaults) {
  auto r =
      decode<heartbeat_record>(pack_map(std::make_pair(std::string("worker"), std::string("w"))));
  BOOST_REQUIRE_MESSAGE(r.ok(), r.error());
  BOOST_TEST(r->seq == 0u);
  BOOST_TEST(!r->leaving);
  BOOST_TEST(r->state.empty());
  auto empty = decode<manifest_record>(pack_map());
  BOOST_REQUIRE(empty.ok());
  BOOST_TEST(empty->workers.empty());
}

BOOST_AUTO_TEST_CASE(non_string_keys_are_ignored_like_unknown_fields) {
  auto r = decode<leader_lease>(
      pack_map(std::make_pair(7, std::string("x")), std::make_pair(std::string("epoch"), 3)));
  BOOST_REQUIRE_MESSAGE(r.ok(), r.error());
  BOOST_TEST(r->epoch == 3u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bad_input)

BOOST_AUTO_TEST_CASE(empty_input) {
  auto r = decode<heartbeat_record>("");
  BOOST_TEST(!r.ok());
  BOOST_TEST(r.error() == "heartbeat: empty value");
}

BOOST_AUTO_TEST_CASE(garbage_that_is_not_msgpack) {
  auto r = decode<assignment_record>(std::string("\xc1\xc1\xc1", 3));  // 0xc1 is never used
  BOOST_TEST(!r.ok());
  BOOST_TEST(r.error().find("assignment: not msgpack") == 0u);
}

BOOST_AUTO_TEST_CASE(valid_msgpack_that_is_not_a_map) {
  msgpack::sbuffer b;
  msgpack::pack(b, 17);
  auto r = decode<heartbeat_record>(std::string(b.data(), b.size()));
  BOOST_TEST(!r.ok());
  BOOST_TEST(r.error() == "heartbeat: expected a map of fields");
}

BOOST_AUTO_TEST_CASE(truncated_at_every_length) {
  auto bytes = encode(sample_assignment());
  for (std::size_t n = 1; n < bytes.size(); ++n) {
    auto r = decode<assignment_record>(std::string_view(bytes.data(), n));
    BOOST_TEST_CONTEXT("length " << n) {
      BOOST_TEST(!r.ok());
      BOOST_TEST(r.error().find("assignment: ") == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(trailing_bytes) {
  auto bytes = encode(sample_heartbeat()) + "xy";
  auto r = decode<heartbeat_record>(bytes);
  BOOST_TEST(!r.ok());
  BOOST_TEST(r.error() == "heartbeat: 2 trailing bytes after the record");
}

BOOST_AUTO_TEST_CASE(wrong_types_name_the_field) {
  auto seq_string =
      decode<heartbeat_record>(pack_map(std::make_pair(std::string("seq"), std::string("five"))));
  BOOST_TEST(seq_string.error() == "heartbeat.seq: expected a non-negative integer");
  auto negative = decode<heartbeat_record>(pack_map(std::make_pair(std::string("seq"), -1)));
  BOOST_TEST(negative.error() == "heartbeat.seq: expected a non-negative integer");
  auto flag = decode<heartbeat_record>(pack_map(std::make_pair(std::string("leaving"), 1)));
  BOOST_TEST(flag.error() == "heartbeat.leaving: expected a boolean");
  auto list = decode<assignment_record>(
      pack_map(std::make_pair(std::string("partitions"), std::string("p-0"))));
  BOOST_TEST(list.error() == "assignment.partitions: expected a list");
}

BOOST_AUTO_TEST_CASE(wrong_type_deep_inside_names_the_path) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> pk(b);
  pk.pack_map(1);
  pk.pack(std::string("partitions"));
  pk.pack_array(2);
  pk.pack_map(1).pack(std::string("weight")).pack(1);
  pk.pack_map(1).pack(std::string("keys")).pack_array(1).pack(3.5);
  auto r = decode<assignment_record>(std::string(b.data(), b.size()));
  BOOST_TEST(r.error() == "assignment.partitions[1].keys[0]: expected a string");
}

BOOST_AUTO_TEST_CASE(lengths_larger_than_the_input_are_rejected_without_allocating) {
  // array32 header announcing 2^32-1 elements, followed by nothing.
  std::string liar("\x81\xa4keys\xdd\xff\xff\xff\xff", 10);
  auto r = decode<partition>(liar);
  BOOST_TEST(!r.ok());
  BOOST_TEST(r.error().find("partition: ") == 0u);
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_rejected) {
  std::string deep(200, '\x91');  // 200 nested one-element arrays
  deep.push_back('\x01');
  auto r = decode<manifest_record>(deep);
  BOOST_TEST(!r.ok());
  BOOST_TEST(r.error() == "manifest: value nested too deeply");
}

BOOST_AUTO_TEST_CASE(random_bytes_never_crash_and_always_explain) {
  std::mt19937_64 rng(20261127);
  auto valid = encode(sample_assignment());
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = valid;
    // Flip a few random bytes of a valid record, or make up random bytes altogether.
    if (i % 2 == 0) {
      for (int k = 0; k < 3; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    } else {
      bytes.resize(rng() % 64);
      for (auto& c : bytes) c = static_cast<char>(rng());
    }
    auto r = decode<assignment_record>(bytes);
    if (!r.ok()) BOOST_TEST_REQUIRE(r.error().find("assignment") == 0u);
  }
}

BOOST_AUTO_TEST_SUITE_END()
