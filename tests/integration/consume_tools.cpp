// The tools around parti-consume on a real nats-server (apps/lib/partition_stream.hpp,
// apps/lib/stream_producer.hpp, parti-ctl produce and consume-check): the stream's subjects and
// creation, a producer that keeps its rate and its messages through a server restart without
// storing one twice, reading back exactly what the stream holds on the partitions, and the
// check of records against it from the command line.
#include <boost/test/unit_test.hpp>

#include <nats/nats.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "apps/lib/consume_records.hpp"
#include "apps/lib/partition_stream.hpp"
#include "apps/lib/stream_producer.hpp"
#include "parti/runtime/nats/connection.hpp"
#include "tests/support/actors.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/run_program.hpp"

using namespace parti;
using namespace parti::consume_app;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> subjects_of(const std::vector<partition_subject>& partitions) {
  std::vector<std::string> out;
  for (const auto& p : partitions) out.push_back(p.subject);
  return out;
}

/// The acknowledged sequences by partition label, as read_published reports the stream's.
consume_check::published_set by_label(const producer_report& r,
                                      const std::vector<partition_subject>& partitions) {
  consume_check::published_set out;
  for (const auto& p : partitions) {
    auto& seqs = out[p.label];
    auto it = r.acked.find(p.subject);
    if (it != r.acked.end()) seqs = it->second;
    std::sort(seqs.begin(), seqs.end());
  }
  return out;
}

std::set<std::uint64_t> all_seqs(const consume_check::published_set& set) {
  std::set<std::uint64_t> out;
  for (const auto& [label, seqs] : set) out.insert(seqs.begin(), seqs.end());
  return out;
}

void publish_raw(connection& conn, const std::string& subject, const std::string& data) {
  BOOST_REQUIRE(js_Publish(nullptr, conn.jetstream(), subject.c_str(), data.data(),
                           static_cast<int>(data.size()), nullptr, nullptr) == NATS_OK);
}

using test::contains;

struct temp_dir {
  std::string path;
  temp_dir() {
    char name[] = "/tmp/parti-consume-tools-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(consume_tools)

BOOST_AUTO_TEST_CASE(a_stream_subject_has_a_wildcard_for_every_token_with_a_placeholder) {
  BOOST_TEST(stream_subject("orders.{0}") == "orders.*");
  BOOST_TEST(stream_subject("a.{0}.b.{1}") == "a.*.b.*");
  BOOST_TEST(stream_subject("in.x{0}") == "in.*");
  BOOST_TEST(stream_subject("lit.{{x}}.{0}") == "lit.{x}.*");
  BOOST_TEST(stream_subject("plain.subject") == "plain.subject");
}

BOOST_AUTO_TEST_CASE(partition_subjects_name_each_partition_and_refuse_a_shared_subject) {
  auto ok = partition_subjects("s.{0}", 3u);
  BOOST_REQUIRE_MESSAGE(ok.ok(), ok.error());
  BOOST_REQUIRE(ok->size() == 3u);
  BOOST_TEST((*ok)[2].label == "p-2");
  BOOST_TEST((*ok)[2].subject == "s.p-2");
  auto shared = partition_subjects("s.fixed", 2u);
  BOOST_TEST(!shared.ok());
  BOOST_TEST(!partition_subjects("s.{0", 2u).ok());
}

BOOST_FIXTURE_TEST_CASE(ensure_stream_creates_a_missing_stream_once, test::nats_fixture) {
  BOOST_TEST(!stream_exists(*conn, "T").ok());
  auto created = ensure_stream(*conn, "T", "t.*");
  BOOST_REQUIRE_MESSAGE(created.ok(), created.error());
  BOOST_TEST(*created);
  auto again = ensure_stream(*conn, "T", "t.*");
  BOOST_REQUIRE_MESSAGE(again.ok(), again.error());
  BOOST_TEST(!*again);
  BOOST_TEST(stream_exists(*conn, "T").ok());
  BOOST_TEST(contains(stream_exists(*conn, "NONE").error(), "does not exist"));
}

BOOST_FIXTURE_TEST_CASE(the_producer_keeps_its_rate_and_the_stream_holds_what_it_acknowledged,
                        test::nats_fixture) {
  auto partitions = partition_subjects("t.{0}", 3u);
  BOOST_REQUIRE(partitions.ok());
  BOOST_REQUIRE(ensure_stream(*conn, "T", "t.*").ok());
  publish_raw(*conn, "t.other", "not a partition's");  // on the filter, on no partition
  producer_options o;
  o.subjects = subjects_of(*partitions);
  o.rate = 200;
  o.run_for = 500ms;
  stream_producer producer(conn, o);
  BOOST_REQUIRE(producer.wait(10s));
  auto report = producer.report();
  BOOST_TEST(report.published >= 50u);  // 100 at the rate; a slow machine may fall behind
  BOOST_TEST(report.published <= 101u);
  BOOST_TEST(report.failed_attempts == 0u);
  // Round robin: the subjects' counts differ by at most one, the first subject has message 1.
  BOOST_REQUIRE(report.acked.size() == 3u);
  auto first = report.acked.at("t.p-0").size(), last = report.acked.at("t.p-2").size();
  BOOST_TEST(first - last <= 1u);
  BOOST_TEST(report.acked.at("t.p-0").front() == 2u);  // after the raw message (1)

  auto published = read_published(*conn, "T", "t.*", *partitions);
  BOOST_REQUIRE_MESSAGE(published.ok(), published.error());
  BOOST_TEST((*published == by_label(report, *partitions)));
  BOOST_TEST(all_seqs(*published).count(1u) == 0u);  // t.other is no partition's
}

BOOST_FIXTURE_TEST_CASE(reading_an_empty_stream_gives_every_partition_without_messages,
                        test::nats_fixture) {
  auto partitions = partition_subjects("e.{0}", 2u);
  BOOST_REQUIRE(partitions.ok());
  BOOST_REQUIRE(ensure_stream(*conn, "E", "e.*").ok());
  auto published = read_published(*conn, "E", "e.*", *partitions);
  BOOST_REQUIRE_MESSAGE(published.ok(), published.error());
  BOOST_TEST(published->size() == 2u);
  BOOST_TEST(all_seqs(*published).empty());
  BOOST_TEST(!read_published(*conn, "NONE", "e.*", *partitions).ok());
}

BOOST_FIXTURE_TEST_CASE(the_producer_goes_on_through_a_server_restart_without_duplicates,
                        test::nats_fixture) {
  auto partitions = partition_subjects("r.{0}", 2u);
  BOOST_REQUIRE(partitions.ok());
  BOOST_REQUIRE(ensure_stream(*conn, "R", "r.*").ok());
  producer_options o;
  o.subjects = subjects_of(*partitions);
  o.rate = 100;
  stream_producer producer(conn, o);
  BOOST_REQUIRE(test::eventually([&] { return producer.report().published >= 20; }, 10s));
  server.stop();
  // Down until publishes fail (each waits for the 1 s request timeout of the fixture).
  BOOST_REQUIRE(test::eventually([&] { return producer.report().failed_attempts >= 1; }, 10s));
  auto before = producer.report().published;
  server.start();
  BOOST_TEST(test::eventually([&] { return producer.report().published >= before + 20; }, 20s),
             producer.report().last_error);
  producer.stop();
  auto report = producer.report();
  BOOST_TEST(producer.finished());  // stopped counts as ended

  auto published = read_published(*conn, "R", "r.*", *partitions);
  BOOST_REQUIRE_MESSAGE(published.ok(), published.error());
  auto stored = all_seqs(*published);
  auto acked = all_seqs(by_label(report, *partitions));
  BOOST_TEST(acked.size() == report.published);  // one sequence per acknowledged message
  // Every acknowledged message is stored once; at most the one given up at stop() may be stored
  // without its acknowledgement. A retry stored twice would show as more.
  BOOST_TEST(std::includes(stored.begin(), stored.end(), acked.begin(), acked.end()));
  BOOST_TEST(stored.size() <= acked.size() + 1,
             stored.size() << " stored, " << acked.size() << " acknowledged");
}

BOOST_FIXTURE_TEST_CASE(parti_ctl_produces_and_checks_records_against_the_stream,
                        test::nats_fixture) {
  temp_dir dir;
  const std::vector<std::string> stream_args{"--nats-url=" + server.url(), "--stream=C",
                                             "--subject-template=c.{0}", "--partitions=3"};
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), stream_args.begin(), stream_args.end());
    args.insert(args.begin(), test::app_binary("parti-ctl"));
    return test::run_program(args, 30s);
  };
  auto missing = ctl({"produce", "--duration=200ms"});
  BOOST_TEST(missing.code == 1, missing.output());
  BOOST_TEST(contains(missing.err, "stream C does not exist"), missing.output());

  auto produced = ctl({"--json", "produce", "--rate=100", "--duration=500ms", "--create-stream"});
  BOOST_REQUIRE_MESSAGE(produced.code == 0, produced.output());
  auto report = nlohmann::json::parse(produced.out);
  BOOST_TEST(report["published"].get<int>() >= 20);

  // Records of every message, as one worker would write them; then one taken away.
  std::vector<consume_check::record> records;
  std::int64_t t = 1000;
  for (const auto& [subject, seqs] : report["subjects"].items()) {
    for (const auto& seq : seqs) {
      records.push_back({subject.substr(2), seq.get<std::uint64_t>(), "worker-0", t, t + 5});
      t += 5;
    }
  }
  auto write = [&](const std::string& name, std::size_t count) {
    std::ofstream out(dir.path + "/" + name);
    for (std::size_t i = 0; i < count; ++i) out << consume_check::to_line(records[i]) << "\n";
    return dir.path + "/" + name;
  };
  auto complete = write("complete.jsonl", records.size());
  auto passed = ctl({"consume-check", complete});
  BOOST_TEST(passed.code == 0, passed.output());
  BOOST_TEST(contains(passed.out, "no gap, no overlap"), passed.output());

  auto short_one = write("short.jsonl", records.size() - 1);
  auto failed = ctl({"consume-check", short_one});
  BOOST_TEST(failed.code == 1, failed.output());
  BOOST_TEST(contains(failed.out, "missing: 1 ("), failed.output());
  BOOST_TEST(contains(failed.out, "FAILED: 1 missing"), failed.output());

  auto usage = ctl({"consume-check"});
  BOOST_TEST(usage.code == 2, usage.output());
}

BOOST_AUTO_TEST_SUITE_END()
