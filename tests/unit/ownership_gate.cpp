#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "parti/actors/node/ownership_gate.hpp"
#include "parti/runtime/clock.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

constexpr duration ttl = 3s;
constexpr duration margin = 300ms;
constexpr duration retry = 1s;

using outputs = std::vector<std::string>;

std::string keys(const std::vector<partition>& ps) {
  std::string out = "[";
  for (const auto& p : ps) out += (out.size() > 1 ? " " : "") + p.keys.front();
  return out + "]";
}

std::string describe(const gate_output& out) {
  return std::visit(
      [](const auto& o) -> std::string {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, apply_assignment>)
          return "apply e" + std::to_string(o.update.epoch) + " v" +
                 std::to_string(o.update.version) + " " + keys(o.update.owned) + " +" +
                 keys(o.update.added) + " -" + keys(o.update.removed) +
                 (o.served ? "" : " (not served)");
        else if constexpr (std::is_same_v<T, suspend_ownership>)
          return "suspend " + keys(o.partitions) + ": " + o.reason;
        else if constexpr (std::is_same_v<T, resume_ownership>)
          return "resume " + keys(o.partitions) + " after " +
                 std::to_string(
                     std::chrono::duration_cast<std::chrono::milliseconds>(o.suspended_for)
                         .count()) +
                 "ms";
        else if constexpr (std::is_same_v<T, read_assignment_key>)
          return "read key" + (o.after > duration::zero() ? std::string(" later") : "");
        else if constexpr (std::is_same_v<T, report_applied>)
          return "report e" + std::to_string(o.applied.epoch) + " v" +
                 std::to_string(o.applied.version);
        else if constexpr (std::is_same_v<T, hold_heartbeats>)
          return o.hold ? "hold heartbeats" : "release heartbeats";
        else
          return "stale e" + std::to_string(o.stamp.epoch) + " (leader epoch " +
                 std::to_string(o.lease_epoch) + ")";
      },
      out);
}

std::vector<partition> parts(std::initializer_list<const char*> ks) {
  std::vector<partition> out;
  for (const auto* k : ks) out.push_back(partition{{k}, 1});
  return out;
}

assignment_update record(std::uint64_t epoch, std::uint64_t version,
                         std::initializer_list<const char*> ks, std::string reason = "") {
  assignment_update u;
  u.worker = "w-1";
  u.owned = parts(ks);
  u.epoch = epoch;
  u.version = version;
  u.reason = std::move(reason);
  return u;
}

heartbeat_outcome beat(time_point sent_at, heartbeat_result r = heartbeat_result::acknowledged) {
  return heartbeat_outcome{sent_at.time_since_epoch().count(), r, ""};
}

/// The gate, its clock and the read tokens it handed out; applies are told with no subscriber
/// (nothing to acknowledge) unless a test says otherwise.
struct gate_fixture {
  manual_clock clock;
  ownership_gate gate{lease_options{ttl, margin, lease_policy::suspend}, retry};
  std::uint64_t last_token = 0;
  std::size_t acks_per_revocation = 0;

  outputs poll() {
    outputs out;
    for (auto batch = gate.poll(clock.now()); !batch.empty(); batch = gate.poll(clock.now())) {
      for (const auto& o : batch) {
        out.push_back(describe(o));
        if (const auto* read = std::get_if<read_assignment_key>(&o)) last_token = read->token;
        if (const auto* a = std::get_if<apply_assignment>(&o))
          gate.applied_told(a->update.removed.empty() ? 0 : acks_per_revocation);
      }
    }
    return out;
  }

  void ack_now() { gate.heartbeat(beat(clock.now()), clock.now()); }

  /// Claimed, acknowledged, serving v1 [a b].
  void serving() {
    gate.id_claimed();
    ack_now();
    gate.assignment(record(1, 1, {"a", "b"}), 1, clock.now());
    BOOST_REQUIRE(poll() == (outputs{"apply e1 v1 [a b] +[a b] -[]", "report e1 v1"}));
    BOOST_REQUIRE(gate.may_serve(clock.now()));
  }

  /// No acknowledged heartbeat for the whole span: suspended.
  void lapse() {
    clock.advance(ttl - margin);
    auto out = poll();
    BOOST_REQUIRE(!out.empty());
    BOOST_REQUIRE(out.front().rfind("suspend", 0) == 0);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(ownership_gate_rules, gate_fixture)

BOOST_AUTO_TEST_CASE(an_assignment_before_the_first_acknowledged_heartbeat_waits_for_it) {
  gate.id_claimed();
  gate.assignment(record(1, 1, {"a"}), 1, clock.now());
  BOOST_TEST(poll().empty());
  BOOST_TEST(!gate.may_serve(clock.now()));
  ack_now();
  BOOST_TEST(poll() == (outputs{"apply e1 v1 [a] +[a] -[]", "report e1 v1"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(changes_kept_while_suspended_coalesce_and_are_applied_before_the_resume) {
  serving();
  lapse();
  gate.assignment(record(1, 2, {"a", "c"}), 1, clock.now());
  gate.assignment(record(1, 3, {"c", "d"}), 1, clock.now());
  BOOST_TEST(poll().empty());
  ack_now();
  BOOST_TEST(poll() == outputs{"read key"}, boost::test_tools::per_element());
  gate.read_back_found(last_token, record(1, 3, {"c", "d"}), clock.now());
  clock.advance(10ms);
  BOOST_TEST(poll() == (outputs{"apply e1 v3 [c d] +[c d] -[a b]", "resume [] after 10ms",
                                "report e1 v3"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_lapse_suspends_releases_held_heartbeats_and_resumes_after_the_read_back) {
  serving();
  clock.advance(ttl - margin);
  BOOST_TEST(poll() == (outputs{"suspend [a b]: no heartbeat acknowledged for 2.7s",
                                "release heartbeats"}),
             boost::test_tools::per_element());
  BOOST_TEST(!gate.may_serve(clock.now()));
  BOOST_TEST(keys(gate.suspended()) == "[a b]");
  ack_now();
  BOOST_TEST(poll() == outputs{"read key"}, boost::test_tools::per_element());
  BOOST_TEST(poll().empty());  // one read at a time
  gate.read_back_found(last_token, record(1, 1, {"a", "b"}), clock.now());
  BOOST_TEST(poll() == outputs{"resume [a b] after 0ms"}, boost::test_tools::per_element());
  BOOST_TEST(gate.may_serve(clock.now()));
  BOOST_TEST(gate.suspended().empty());
}

// The read-back shows what the watch has not delivered yet: a revocation. It is applied before
// the resume, so the revoked partition is never served again.
BOOST_AUTO_TEST_CASE(a_newer_record_read_back_is_applied_before_the_resume) {
  serving();
  lapse();
  ack_now();
  poll();
  gate.read_back_found(last_token, record(2, 1, {"b"}), clock.now());
  BOOST_TEST(
      poll() == (outputs{"apply e2 v1 [b] +[] -[a]", "resume [b] after 0ms", "report e2 v1"}),
      boost::test_tools::per_element());
  // The watch delivers the same record later: nothing changes.
  gate.assignment(record(2, 1, {"b"}), 2, clock.now());
  BOOST_TEST(poll() == (outputs{"apply e2 v1 [b] +[] -[]", "report e2 v1"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_key_found_absent_while_owning_drops_everything_at_the_resume) {
  serving();
  lapse();
  ack_now();
  poll();
  gate.read_back_absent(last_token, clock.now());
  BOOST_TEST(
      poll() == (outputs{"apply e1 v1 [] +[] -[a b]", "resume [] after 0ms", "report e1 v1"}),
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_undecodable_key_confirms_nothing_new) {
  serving();
  lapse();
  ack_now();
  poll();
  gate.read_back_undecodable(last_token, clock.now());
  BOOST_TEST(poll() == outputs{"resume [a b] after 0ms"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_failed_read_back_is_retried_later_and_an_earlier_ids_answer_is_ignored) {
  serving();
  lapse();
  ack_now();
  poll();
  gate.read_back_failed(last_token);
  BOOST_TEST(poll() == outputs{"read key later"}, boost::test_tools::per_element());
  auto of_old_id = last_token;
  gate.id_lost(clock.now());
  BOOST_TEST(poll() == (outputs{"apply e1 v1 [] +[] -[a b] (not served)", "report e1 v1"}),
             boost::test_tools::per_element());
  gate.id_claimed();
  gate.read_back_found(of_old_id, record(1, 1, {"a", "b"}), clock.now());
  BOOST_TEST(poll().empty());
  BOOST_TEST((gate.lease()->state() == lease_state::unheld));
}

BOOST_AUTO_TEST_CASE(a_lost_id_owns_nothing_at_once_and_ends_the_lease) {
  serving();
  gate.assignment(record(1, 2, {"a"}), 1, clock.now());
  poll();
  gate.id_lost(clock.now());
  BOOST_TEST(poll() == (outputs{"apply e1 v2 [] +[] -[a] (not served)", "report e1 v2"}),
             boost::test_tools::per_element());
  BOOST_TEST(gate.lease() == nullptr);
  BOOST_TEST(!gate.may_serve(clock.now()));
  BOOST_TEST(!gate.next_deadline().has_value());
}

BOOST_AUTO_TEST_CASE(a_deposed_leaders_record_is_ignored_and_an_older_one_changes_nothing) {
  serving();
  gate.assignment(record(1, 2, {"a"}), 3, clock.now());
  BOOST_TEST(poll() == outputs{"stale e1 (leader epoch 3)"}, boost::test_tools::per_element());
  gate.assignment(record(3, 1, {"a"}), 3, clock.now());
  poll();
  gate.assignment(record(2, 9, {"z"}), 2, clock.now());  // older than e3 v1: nothing
  BOOST_TEST(poll().empty());
  gate.assignment(record(2, 9, {}, "deleted"), 2, clock.now());  // a delete is obeyed
  BOOST_TEST(poll() == (outputs{"apply e2 v9 [] +[] -[a]", "report e2 v9"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_revocation_is_reported_applied_once_every_subscriber_acknowledged_it) {
  acks_per_revocation = 2;
  serving();
  gate.assignment(record(1, 2, {"a"}), 1, clock.now());
  BOOST_TEST(poll() == outputs{"apply e1 v2 [a] +[] -[b]"}, boost::test_tools::per_element());
  gate.revocation_acknowledged();
  BOOST_TEST(poll().empty());
  gate.revocation_acknowledged();
  BOOST_TEST(poll() == outputs{"report e1 v2"}, boost::test_tools::per_element());
}

// Kafka's "revoked before reassigned", bounded: an application that does not acknowledge in
// time loses its lease (heartbeats held), and the lapse then counts as the revocation applied.
BOOST_AUTO_TEST_CASE(an_unacknowledged_revocation_holds_heartbeats_until_the_lease_lapses) {
  acks_per_revocation = 1;
  serving();
  gate.assignment(record(1, 2, {"a"}), 1, clock.now());
  poll();
  gate.revocation_unacknowledged();
  BOOST_TEST(poll() == outputs{"hold heartbeats"}, boost::test_tools::per_element());
  clock.advance(ttl - margin);  // no heartbeat written meanwhile
  BOOST_TEST(poll() == (outputs{"suspend [a]: stopped heartbeating: revocation not acknowledged",
                                "release heartbeats", "report e1 v2"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_claim_bounds_the_lease) {
  serving();
  gate.claim_safe_until(clock.now() + 1s);
  BOOST_TEST((gate.next_deadline() == clock.now() + 1s));
  clock.advance(1s);
  BOOST_TEST(poll() == (outputs{"suspend [a b]: id claim may have expired", "release heartbeats"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_fence_suspends_at_once) {
  serving();
  gate.heartbeat(beat(clock.now(), heartbeat_result::fenced), clock.now());
  BOOST_TEST(poll() == (outputs{"suspend [a b]: heartbeat key rewritten by another writer",
                                "release heartbeats"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
