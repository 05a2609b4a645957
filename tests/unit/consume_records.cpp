// parti-consume's record lines and their check: the line format both ways, bad lines noted and
// skipped, and each finding of the check (missing, unexpected, overlaps, order violations,
// duplicates) on hand-made runs, with the edges of each definition.
#include <boost/test/unit_test.hpp>

#include <sstream>

#include "apps/lib/consume_records.hpp"

using namespace parti::consume_check;

namespace {

record rec(const std::string& partition, std::uint64_t seq, const std::string& worker,
           std::int64_t started, std::int64_t finished) {
  return record{partition, seq, worker, started, finished};
}

/// seq 1..n
std::vector<std::uint64_t> seqs(std::uint64_t from, std::uint64_t to) {
  std::vector<std::uint64_t> out;
  for (auto s = from; s <= to; ++s) out.push_back(s);
  return out;
}

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() &&
         text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(consume_records)

BOOST_AUTO_TEST_CASE(a_record_is_one_json_line_in_a_fixed_field_order_and_reads_back) {
  auto r = rec("p-3", 17, "worker-2", 1700000000123, 1700000000145);
  auto line = to_line(r);
  BOOST_TEST(line ==
             R"({"partition":"p-3","stream_seq":17,"worker":"worker-2","started_ms":1700000000123,)"
             R"("finished_ms":1700000000145})");
  auto back = parse_line(line);
  BOOST_REQUIRE(back.ok());
  BOOST_TEST(back->partition == "p-3");
  BOOST_TEST(back->stream_seq == 17u);
  BOOST_TEST(back->worker == "worker-2");
  BOOST_TEST(back->started_ms == 1700000000123);
  BOOST_TEST(back->finished_ms == 1700000000145);
  // Keys in another order and spaces are read too.
  auto spaced = parse_line(
      R"({ "worker": "w", "finished_ms": 2, "started_ms": 1, "stream_seq": 1, "partition": "a-b" })");
  BOOST_REQUIRE(spaced.ok());
  BOOST_TEST(spaced->partition == "a-b");
  BOOST_TEST(spaced->delivery == 0u);  // not recorded
}

BOOST_AUTO_TEST_CASE(the_delivery_count_is_the_last_field_when_recorded) {
  auto r = rec("p-3", 17, "worker-2", 100, 145);
  r.delivery = 3;
  auto line = to_line(r);
  BOOST_TEST(line == R"({"partition":"p-3","stream_seq":17,"worker":"worker-2","started_ms":100,)"
                     R"("finished_ms":145,"delivery":3})");
  auto back = parse_line(line);
  BOOST_REQUIRE(back.ok());
  BOOST_TEST(back->delivery == 3u);
  BOOST_TEST(contains(parse_line(R"({"partition":"p","stream_seq":1,"worker":"w",)"
                                 R"("started_ms":1,"finished_ms":2,"delivery":0})")
                          .error(),
                      "\"delivery\": must be at least 1"));
  BOOST_TEST(contains(parse_line(R"({"partition":"p","stream_seq":1,"worker":"w",)"
                                 R"("started_ms":1,"finished_ms":2,"delivery":"1"})")
                          .error(),
                      "\"delivery\""));
}

BOOST_AUTO_TEST_CASE(a_bad_line_says_what_is_wrong) {
  BOOST_TEST(parse_line(R"({"partition":"p-1","stream_seq":3,"wor)").error() == "not JSON");
  BOOST_TEST(parse_line("[1,2]").error() == "not a JSON object");
  BOOST_TEST(contains(
      parse_line(R"({"stream_seq":3,"worker":"w","started_ms":1,"finished_ms":2})").error(),
      "\"partition\""));
  BOOST_TEST(contains(parse_line(R"({"partition":"p","stream_seq":"3","worker":"w",)"
                                 R"("started_ms":1,"finished_ms":2})")
                          .error(),
                      "\"stream_seq\""));
  BOOST_TEST(contains(parse_line(R"({"partition":"p","stream_seq":0,"worker":"w",)"
                                 R"("started_ms":1,"finished_ms":2})")
                          .error(),
                      "at least 1"));
  BOOST_TEST(contains(parse_line(R"({"partition":"p","stream_seq":1,"worker":"",)"
                                 R"("started_ms":1,"finished_ms":2})")
                          .error(),
                      "\"worker\""));
  BOOST_TEST(contains(parse_line(R"({"partition":"p","stream_seq":1,"worker":"w",)"
                                 R"("started_ms":5,"finished_ms":2})")
                          .error(),
                      "before"));
}

BOOST_AUTO_TEST_CASE(reading_skips_blank_lines_and_notes_bad_ones_without_stopping) {
  std::istringstream in(to_line(rec("p-0", 1, "w-1", 10, 20)) + "\n\n" + "garbage\n" +
                        to_line(rec("p-0", 2, "w-1", 20, 30)) + "\n" +
                        R"({"partition":"p-0","stream_se)");  // cut off by a kill -9
  record_set set;
  read_records("a.jsonl", in, set);
  BOOST_TEST(set.records.size() == 2u);
  BOOST_REQUIRE(set.bad.size() == 2u);
  BOOST_TEST(set.bad[0].source == "a.jsonl");
  BOOST_TEST(set.bad[0].line == 3u);
  BOOST_TEST(set.bad[1].line == 5u);
  auto text = render(check({{"p-0", {1, 2}}}, set.records), set.bad);
  BOOST_TEST(contains(text, "2 bad lines"), text);
  BOOST_TEST(contains(text, "bad line a.jsonl:3: not JSON"), text);
  BOOST_TEST(ends_with(text, "no gap, no overlap\n"), text);  // bad lines do not fail a run
}

BOOST_AUTO_TEST_CASE(a_hand_off_without_gap_or_overlap_passes) {
  // worker-1 handles p-0 up to 3, hands off, worker-2 continues; p-1 only by worker-2.
  std::vector<record> records{
      rec("p-0", 1, "worker-1", 100, 110), rec("p-0", 2, "worker-1", 110, 120),
      rec("p-0", 3, "worker-1", 120, 130), rec("p-1", 4, "worker-2", 100, 150),
      rec("p-0", 5, "worker-2", 200, 210), rec("p-0", 6, "worker-2", 210, 220),
  };
  auto r = check({{"p-0", {1, 2, 3, 5, 6}}, {"p-1", {4}}}, records);
  BOOST_TEST(r.passed());
  BOOST_TEST(r.published == 6u);
  BOOST_TEST(r.partitions == 2u);
  BOOST_TEST(r.handled == 6u);
  BOOST_TEST(r.records == 6u);
  BOOST_TEST(r.duplicates == 0u);
  auto text = render(r, {});
  BOOST_TEST(contains(text, "published: 6 messages on 2 partitions"), text);
  BOOST_TEST(contains(text, "handled: 6 of 6"), text);
  BOOST_TEST(ends_with(text, "no gap, no overlap\n"), text);
}

BOOST_AUTO_TEST_CASE(published_messages_nobody_handled_are_the_gap) {
  std::vector<record> records{rec("p-0", 1, "w", 1, 2), rec("p-0", 2, "w", 2, 3),
                              rec("p-0", 4, "w", 4, 5)};
  auto r = check({{"p-0", seqs(1, 5)}, {"p-1", {6}}}, records);
  BOOST_TEST(!r.passed());
  BOOST_REQUIRE(r.missing.size() == 3u);
  BOOST_TEST(r.missing[0].stream_seq == 3u);
  BOOST_TEST(r.missing[1].stream_seq == 5u);
  BOOST_TEST(r.missing[2].partition == "p-1");
  BOOST_TEST(r.handled == 3u);
  auto text = render(r, {});
  BOOST_TEST(contains(text, "missing: 3 (p-0: 3, 5; p-1: 6)"), text);
  BOOST_TEST(ends_with(text, "FAILED: 3 missing, 0 unexpected, 0 overlaps, 0 order violations\n"),
             text);
}

BOOST_AUTO_TEST_CASE(a_record_of_a_message_not_published_on_its_partition_is_unexpected) {
  std::vector<record> records{rec("p-0", 1, "w", 1, 2), rec("p-1", 1, "w", 2, 3)};
  auto r = check({{"p-0", {1}}}, records);
  BOOST_TEST(!r.passed());
  BOOST_REQUIRE(r.unexpected.size() == 1u);
  BOOST_TEST(r.unexpected[0].partition == "p-1");
  BOOST_TEST(contains(render(r, {}), "unexpected: 1 record"));
}

BOOST_AUTO_TEST_CASE(two_workers_handling_one_partition_at_once_overlap) {
  std::vector<record> records{
      rec("p-0", 1, "worker-1", 100, 150),
      rec("p-0", 2, "worker-2", 140, 160),  // starts before worker-1 finished
      rec("p-1", 3, "worker-1", 100, 150),
      rec("p-1", 4, "worker-2", 150, 170),  // starts in the millisecond worker-1 ended: touches
      rec("p-2", 5, "worker-1", 100, 150),
      rec("p-2", 6, "worker-1", 120, 170),  // the same worker twice at once: --in-flight
      rec("p-3", 7, "worker-1", 100, 150),
      rec("p-4", 8, "worker-2", 120, 170),  // another partition
  };
  auto r = check({{"p-0", {1, 2}}, {"p-1", {3, 4}}, {"p-2", {5, 6}}, {"p-3", {7}}, {"p-4", {8}}},
                 records);
  BOOST_TEST(r.overlap_count == 1u);
  BOOST_REQUIRE(r.overlaps.size() == 1u);
  BOOST_TEST(r.overlaps[0].first.stream_seq == 1u);
  BOOST_TEST(r.overlaps[0].second.stream_seq == 2u);
  BOOST_TEST(!r.passed());
  auto text = render(r, {});
  BOOST_TEST(contains(text,
                      "overlaps: 1\n  p-0: worker-1 handled seq 1 during [100, 150] ms, "
                      "while worker-2 handled seq 2 during [140, 160] ms"),
             text);
}

BOOST_AUTO_TEST_CASE(an_overlap_with_a_long_handling_is_found_past_shorter_ones) {
  // worker-1's long handling of seq 1 spans worker-1's later ones and worker-2's.
  std::vector<record> records{
      rec("p-0", 1, "worker-1", 100, 500), rec("p-0", 2, "worker-1", 110, 120),
      rec("p-0", 3, "worker-1", 130, 140), rec("p-0", 4, "worker-2", 400, 410),
      rec("p-0", 5, "worker-2", 600, 610),
  };
  auto r = check({{"p-0", seqs(1, 5)}}, records);
  BOOST_TEST(r.overlap_count == 1u);
  BOOST_REQUIRE(!r.overlaps.empty());
  BOOST_TEST(r.overlaps[0].first.stream_seq == 1u);
  BOOST_TEST(r.overlaps[0].second.stream_seq == 4u);
}

BOOST_AUTO_TEST_CASE(a_worker_going_back_to_a_lower_sequence_it_never_saw_is_out_of_order) {
  std::vector<record> records{rec("p-0", 5, "worker-1", 100, 110),
                              rec("p-0", 6, "worker-1", 110, 120),
                              rec("p-0", 4, "worker-1", 120, 130)};
  auto r = check({{"p-0", {4, 5, 6}}}, records);
  BOOST_TEST(r.order_violation_count == 1u);
  BOOST_REQUIRE(r.order_violations.size() == 1u);
  BOOST_TEST(r.order_violations[0].before.stream_seq == 6u);
  BOOST_TEST(r.order_violations[0].late.stream_seq == 4u);
  BOOST_TEST(!r.passed());
  BOOST_TEST(contains(render(r, {}), "worker-1 on p-0: seq 4 (started 120) after seq 6"));
}

BOOST_AUTO_TEST_CASE(a_redelivery_is_a_duplicate_not_an_order_violation) {
  // seq 5 again after 6 (its acknowledgement was lost); seq 7 handled by worker-2 first, then
  // by worker-1 after its 8: also a redelivery.
  std::vector<record> records{
      rec("p-0", 5, "worker-1", 100, 110), rec("p-0", 6, "worker-1", 110, 120),
      rec("p-0", 5, "worker-1", 120, 130), rec("p-0", 7, "worker-2", 200, 210),
      rec("p-0", 8, "worker-1", 300, 310), rec("p-0", 7, "worker-1", 310, 320),
      rec("p-0", 7, "worker-1", 320, 330),
  };
  auto r = check({{"p-0", {5, 6, 7, 8}}}, records);
  BOOST_TEST(r.order_violation_count == 0u);
  BOOST_TEST(r.overlap_count == 0u);
  BOOST_TEST(r.duplicates == 2u);       // 5 and 7
  BOOST_TEST(r.extra_handlings == 3u);  // 5 once more, 7 twice more
  BOOST_TEST(r.passed());
  auto text = render(r, {});
  BOOST_TEST(contains(text, "duplicates: 2 messages handled more than once (3 extra handlings)"),
             text);
  BOOST_TEST(ends_with(text, "no gap, no overlap\n"), text);
}

BOOST_AUTO_TEST_CASE(records_starting_in_one_millisecond_keep_the_order_they_were_read_in) {
  std::vector<record> in_order{rec("p-0", 1, "w", 100, 100), rec("p-0", 2, "w", 100, 100)};
  BOOST_TEST(check({{"p-0", {1, 2}}}, in_order).order_violation_count == 0u);
  std::vector<record> reversed{rec("p-0", 2, "w", 100, 100), rec("p-0", 1, "w", 100, 100)};
  BOOST_TEST(check({{"p-0", {1, 2}}}, reversed).order_violation_count == 1u);
}

BOOST_AUTO_TEST_CASE(order_is_per_worker_and_partition) {
  // worker-2 handles lower sequences than worker-1 did (a hand-off back), on another partition
  // worker-1 starts low: neither is a violation.
  std::vector<record> records{rec("p-0", 10, "worker-1", 100, 110),
                              rec("p-0", 3, "worker-2", 200, 210),
                              rec("p-1", 2, "worker-1", 300, 310)};
  auto r = check({{"p-0", {3, 10}}, {"p-1", {2}}}, records);
  BOOST_TEST(r.order_violation_count == 0u);
}

// -- duplicates explained by faults ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_redelivery_after_a_kill_of_its_worker_is_explained_by_the_kill) {
  // worker-1 handled seq 4 and was killed 300 ms later, before its ack counted; worker-2 got it
  // again after ack_wait.
  std::vector<record> records{rec("p-0", 4, "worker-1", 1000, 1010),
                              rec("p-0", 4, "worker-2", 3500, 3510)};
  std::vector<fault_event> faults{{fault_kind::kill, "worker-1", 1310, 1310}};
  auto d = explain_duplicates(records, faults, 3000);
  BOOST_TEST(d.explained());
  BOOST_TEST(d.by_cause[fault_kind::kill] == 1u);
  BOOST_TEST(d.by_cause[fault_kind::cut] == 0u);
  BOOST_TEST(render(d) ==
             "duplicates by cause: kill -9 1, cut 0, server restart 0, delivered "
             "anew by the server 0, unexplained 0\n");
}

BOOST_AUTO_TEST_CASE(a_kill_or_cut_explains_only_its_own_worker_and_only_within_the_window) {
  std::vector<record> other_worker{rec("p-0", 4, "worker-3", 1000, 1010),
                                   rec("p-0", 4, "worker-2", 3500, 3510)};
  std::vector<fault_event> kill{{fault_kind::kill, "worker-1", 1310, 1310}};
  auto d = explain_duplicates(other_worker, kill, 3000);
  BOOST_TEST(d.unexplained_count == 1u);
  BOOST_REQUIRE(d.unexplained.size() == 1u);
  BOOST_TEST(d.unexplained[0].handled.worker == "worker-3");
  BOOST_TEST(d.unexplained[0].again.worker == "worker-2");
  auto text = render(d);
  BOOST_TEST(contains(text, "unexplained 1\n"), text);
  BOOST_TEST(contains(text,
                      "p-0 seq 4: worker-3 handled seq 4 during [1000, 1010] ms, again by "
                      "worker-2 handled seq 4 during [3500, 3510] ms"),
             text);

  // Finished 3001 ms before the cut began: outside a 3000 ms window; 3000 ms: inside.
  std::vector<fault_event> cut{{fault_kind::cut, "worker-1", 5000, 9000}};
  std::vector<record> early{rec("p-0", 4, "worker-1", 1990, 1999),
                            rec("p-0", 4, "worker-2", 9500, 9510)};
  BOOST_TEST(explain_duplicates(early, cut, 3000).unexplained_count == 1u);
  early[0].finished_ms = 2000;
  BOOST_TEST(explain_duplicates(early, cut, 3000).by_cause[fault_kind::cut] == 1u);
  // During the cut (the lease still ran) and up to the window after the heal.
  std::vector<record> during{rec("p-0", 4, "worker-1", 5400, 5410),
                             rec("p-0", 4, "worker-2", 9500, 9510)};
  BOOST_TEST(explain_duplicates(during, cut, 3000).explained());
  during[0].finished_ms = 12001;
  during[1].started_ms = during[1].finished_ms = 13000;
  BOOST_TEST(!explain_duplicates(during, cut, 3000).explained());
}

BOOST_AUTO_TEST_CASE(a_cut_explains_another_workers_handling_that_ends_after_the_heal) {
  // worker-1 was cut from 5000 to 9000 ms; worker-2, the partition's next owner, handled seq 4
  // (its second delivery) around the heal, and the server delivered it again at once: worker-1's
  // stale nak of the delivery the cut held back.
  std::vector<fault_event> cut{{fault_kind::cut, "worker-1", 5000, 9000}};
  std::vector<record> records{rec("p-0", 4, "worker-2", 8960, 9000),
                              rec("p-0", 4, "worker-2", 9001, 9041)};
  BOOST_TEST(explain_duplicates(records, cut, 3000).by_cause[fault_kind::cut] == 1u);
  records[0].finished_ms = 8901;  // from heal_margin_ms before the heal
  BOOST_TEST(explain_duplicates(records, cut, 3000).explained());
  records[0].finished_ms = 8899;  // during the cut: nothing of worker-1 reached the server
  BOOST_TEST(explain_duplicates(records, cut, 3000).unexplained_count == 1u);
  records[0].started_ms = 12000;
  records[0].finished_ms = 12001;  // past the window after the heal
  records[1].started_ms = records[1].finished_ms = 12002;
  BOOST_TEST(explain_duplicates(records, cut, 3000).unexplained_count == 1u);
  // A kill explains nothing of other workers: a killed process sends nothing afterwards.
  std::vector<fault_event> kill{{fault_kind::kill, "worker-1", 9000, 9000}};
  records[0].started_ms = 8960;
  records[0].finished_ms = 9000;
  records[1].started_ms = 9001;
  records[1].finished_ms = 9041;
  BOOST_TEST(explain_duplicates(records, kill, 3000).unexplained_count == 1u);
}

BOOST_AUTO_TEST_CASE(a_server_restart_explains_any_worker_and_the_nearest_fault_is_the_cause) {
  std::vector<record> records{
      rec("p-0", 4, "worker-1", 1000, 1010), rec("p-0", 4, "worker-1", 4000, 4010),
      rec("p-1", 9, "worker-2", 6000, 6010), rec("p-1", 9, "worker-5", 9000, 9010)};
  std::vector<fault_event> faults{{fault_kind::server_restart, "", 1200, 1700},
                                  {fault_kind::kill, "worker-1", 2500, 2500},
                                  {fault_kind::cut, "worker-2", 6500, 8000}};
  auto d = explain_duplicates(records, faults, 3000);
  BOOST_TEST(d.explained());
  // p-0 seq 4 finished 190 ms before the restart, 1490 ms before the kill: the restart.
  BOOST_TEST(d.by_cause[fault_kind::server_restart] == 1u);
  BOOST_TEST(d.by_cause[fault_kind::kill] == 0u);
  BOOST_TEST(d.by_cause[fault_kind::cut] == 1u);
}

BOOST_AUTO_TEST_CASE(a_first_delivery_after_an_earlier_one_was_delivered_anew_by_the_server) {
  // The server redelivered seq 4 (delivery 28) to worker-3, which acknowledged it; then it
  // delivered seq 4 once more as new (delivery 1): no fault needed.
  auto again = rec("p-0", 4, "worker-3", 3000, 3040);
  again.delivery = 28;
  auto anew = rec("p-0", 4, "worker-3", 3041, 3081);
  anew.delivery = 1;
  auto d = explain_duplicates({again, anew}, {}, 3000);
  BOOST_TEST(d.explained());
  BOOST_TEST(d.delivered_anew == 1u);
  BOOST_TEST(render(d) ==
             "duplicates by cause: kill -9 0, cut 0, server restart 0, delivered "
             "anew by the server 1, unexplained 0\n");
  // A redelivery (count above 1) needs a fault, and so do records without counts.
  anew.delivery = 2;
  BOOST_TEST(explain_duplicates({again, anew}, {}, 3000).unexplained_count == 1u);
  again.delivery = anew.delivery = 0;
  BOOST_TEST(explain_duplicates({again, anew}, {}, 3000).unexplained_count == 1u);
}

BOOST_AUTO_TEST_CASE(every_handling_but_the_last_of_a_message_needs_a_cause) {
  // Handled three times: the first lost to a kill, the second to nothing.
  std::vector<record> records{rec("p-0", 4, "worker-2", 8000, 8010),  // read out of order
                              rec("p-0", 4, "worker-1", 1000, 1010),
                              rec("p-0", 4, "worker-2", 4000, 4010),
                              rec("p-0", 5, "worker-2", 8100, 8110)};
  std::vector<fault_event> faults{{fault_kind::kill, "worker-1", 1100, 1100}};
  auto d = explain_duplicates(records, faults, 1000);
  BOOST_TEST(d.by_cause[fault_kind::kill] == 1u);
  BOOST_TEST(d.unexplained_count == 1u);
  BOOST_REQUIRE(d.unexplained.size() == 1u);
  BOOST_TEST(d.unexplained[0].handled.started_ms == 4000);
  BOOST_TEST(d.unexplained[0].again.started_ms == 8000);
  // No duplicates: nothing to explain.
  BOOST_TEST(explain_duplicates({records[1], records[3]}, {}, 1000).explained());
}

BOOST_AUTO_TEST_SUITE_END()
