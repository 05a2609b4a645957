#include <boost/test/unit_test.hpp>

#include "parti/messages/codec.hpp"
#include "parti/messages/wire.hpp"

using namespace parti;

namespace {

kv_entry put(std::string key, std::string value) {
  return kv_entry{std::move(key), std::move(value), 1, kv_op::put, 0};
}

assignment_record owning(const std::string& worker, std::vector<std::string> keys) {
  assignment_record r;
  r.worker = worker;
  r.epoch = 3;
  r.version = 7;
  r.reason = "cold_start";
  for (auto& k : keys) r.partitions.push_back(partition{{k}, 1});
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(names)

BOOST_AUTO_TEST_CASE(every_key_starting_with_an_underscore_is_reserved) {
  BOOST_TEST(is_reserved_key(manifest_key));
  BOOST_TEST(is_reserved_key(control_key));
  BOOST_TEST(is_reserved_key("_"));
  BOOST_TEST(is_reserved_key("_future_record"));
  BOOST_TEST(!is_reserved_key("worker-0"));
  BOOST_TEST(!is_reserved_key("worker_0"));
  BOOST_TEST(!is_reserved_key(""));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(reading_the_assignments_bucket)

BOOST_AUTO_TEST_CASE(an_empty_bucket_has_nothing) {
  auto b = decode_assignments({});
  BOOST_TEST(b.workers.empty());
  BOOST_TEST(!b.manifest.has_value());
  BOOST_TEST(!b.control.has_value());
  BOOST_TEST(b.undecodable.empty());
}

BOOST_AUTO_TEST_CASE(worker_keys_and_the_reserved_records_are_read_as_their_records) {
  manifest_record m{3, 7, "cold_start", {"worker-0", "worker-1"}, 3, 1000};
  control_record c;
  c.frozen = true;
  c.drain = {"worker-1"};
  auto b = decode_assignments(
      {put("worker-0", encode(owning("worker-0", {"p-0", "p-1"}))), put(manifest_key, encode(m)),
       put("worker-1", encode(owning("worker-1", {"p-2"}))), put(control_key, encode(c))});
  BOOST_TEST(b.workers.size() == 2u);
  BOOST_TEST((b.workers.at("worker-0") == owning("worker-0", {"p-0", "p-1"})));
  BOOST_TEST((b.workers.at("worker-1") == owning("worker-1", {"p-2"})));
  BOOST_REQUIRE(b.manifest.has_value());
  BOOST_TEST((*b.manifest == m));
  BOOST_REQUIRE(b.control.has_value());
  BOOST_TEST((*b.control == c));
  BOOST_TEST(b.undecodable.empty());
}

BOOST_AUTO_TEST_CASE(an_unknown_reserved_key_is_neither_a_worker_nor_an_error) {
  // A record a newer writer added, and one that is not even msgpack: both left alone.
  auto b = decode_assignments({put("_future", encode(owning("_future", {"p-0"}))),
                               put("_garbage", "not msgpack"),
                               put("worker-0", encode(owning("worker-0", {"p-1"})))});
  BOOST_TEST(b.workers.size() == 1u);
  BOOST_TEST(b.workers.count("worker-0") == 1u);
  BOOST_TEST(b.undecodable.empty());
}

BOOST_AUTO_TEST_CASE(a_corrupt_value_is_listed_with_its_key_and_left_out) {
  auto manifest = encode(manifest_record{3, 7, "cold_start", {"worker-1"}, 1, 1000});
  auto b = decode_assignments({put("worker-0", "\xc1 not msgpack"),
                               put(manifest_key, manifest.substr(0, manifest.size() - 1)),
                               put("worker-1", encode(owning("worker-1", {"p-1"})))});
  BOOST_TEST(b.workers.size() == 1u);
  BOOST_TEST(b.workers.count("worker-1") == 1u);
  BOOST_TEST(!b.manifest.has_value());
  BOOST_REQUIRE(b.undecodable.size() == 2u);
  BOOST_TEST(b.undecodable[0].key == "worker-0");
  BOOST_TEST(b.undecodable[0].error.find("assignment") == 0u, b.undecodable[0].error);
  BOOST_TEST(b.undecodable[1].key == manifest_key);
  BOOST_TEST(b.undecodable[1].error.find("manifest") == 0u, b.undecodable[1].error);
}

BOOST_AUTO_TEST_CASE(deleted_keys_are_skipped) {
  auto deleted = put("worker-0", "");
  deleted.op = kv_op::del;
  auto purged = put(manifest_key, "");
  purged.op = kv_op::purge;
  auto b = decode_assignments({deleted, purged});
  BOOST_TEST(b.workers.empty());
  BOOST_TEST(!b.manifest.has_value());
  BOOST_TEST(b.undecodable.empty());
}

BOOST_AUTO_TEST_SUITE_END()
