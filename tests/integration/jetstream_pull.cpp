// Partition consumption's NATS layer against a real nats-server: durable pull consumers created,
// found and compared; pulls of many consumers multiplexed over one inbox subscription (messages
// and statuses reach the right route, a removed route is never called again, the thread count
// does not grow with the routes); acks, naks, terms and confirmed in-progress acks; the
// acknowledged publish of a dead letter; pruning.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "parti/runtime/consume/ack_metadata.hpp"  // the ack bodies
#include "parti/runtime/nats/jetstream_consumers.hpp"
#include "parti/runtime/nats/pull_inbox.hpp"
#include "tests/support/actors.hpp"

using namespace parti;
using namespace std::chrono_literals;

namespace {

const std::string stream = "ORDERS";

void add_stream(connection& conn, const std::string& name = stream,
                const std::string& subjects = "orders.>") {
  auto created = ensure_stream(conn, stream_settings{name, {subjects}, 1, true});
  BOOST_REQUIRE_MESSAGE(created.ok(), created.error());
}

void publish(connection& conn, const std::string& subject, const std::string& data,
             const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  auto ok = publish_acknowledged(conn, subject, data, headers);
  BOOST_REQUIRE_MESSAGE(ok.ok(), ok.error());
}

consumer_settings settings(int max_ack_pending = 100) {
  consumer_settings s;
  s.ack_wait = 30s;  // no redelivery by timeout within a test: only naks redeliver
  s.max_deliver = 5;
  s.max_ack_pending = max_ack_pending;
  s.start = consume_start::all;
  return s;
}

void ensure(connection& conn, const std::string& name, const std::string& filter,
            const consumer_settings& s = settings()) {
  auto r = ensure_consumer(conn, stream, name, filter, s);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.error());
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string token; std::getline(in, token, sep);) out.push_back(token);
  return out;
}

/// The delivery count of "$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>"
/// (nats-server 2.9's form), read by splitting tokens.
std::uint64_t delivery_count(const std::string& reply) {
  auto tokens = split(reply, '.');
  BOOST_REQUIRE_MESSAGE(tokens.size() == 9, "unexpected ack subject " << reply);
  return std::stoull(tokens[4]);
}

int thread_count() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return -1;
}

/// What one route was given, filled on nats.c's thread and read by the test.
struct collector {
  mutable std::mutex mutex;
  std::vector<pulled_message> messages;
  std::vector<pull_status> statuses;
  std::atomic<int> calls{0};

  pull_inbox::message_route on_message() {
    return [this](pulled_message m) {
      ++calls;
      std::lock_guard<std::mutex> guard(mutex);
      messages.push_back(std::move(m));
    };
  }
  pull_inbox::status_route on_status() {
    return [this](pull_status s) {
      ++calls;
      std::lock_guard<std::mutex> guard(mutex);
      statuses.push_back(std::move(s));
    };
  }
  std::uint64_t add_to(pull_inbox& inbox) { return inbox.add(on_message(), on_status()); }

  std::size_t message_count() const {
    std::lock_guard<std::mutex> guard(mutex);
    return messages.size();
  }
  std::vector<pulled_message> messages_copy() const {
    std::lock_guard<std::mutex> guard(mutex);
    return messages;
  }
  std::vector<pull_status> statuses_copy() const {
    std::lock_guard<std::mutex> guard(mutex);
    return statuses;
  }
  /// The status that ended pull `pull_id`, if it came.
  std::optional<pull_status> status_of(std::uint64_t pull_id) const {
    std::lock_guard<std::mutex> guard(mutex);
    for (const auto& s : statuses)
      if (s.pull_id == pull_id && s.code != 100) return s;
    return std::nullopt;
  }
  bool wait_messages(std::size_t n, std::chrono::milliseconds timeout = 5s) const {
    return test::eventually([&] { return message_count() >= n; }, timeout);
  }
  std::optional<pull_status> wait_status(std::uint64_t pull_id,
                                         std::chrono::milliseconds timeout = 5s) const {
    test::eventually([&] { return status_of(pull_id).has_value(); }, timeout);
    return status_of(pull_id);
  }
};

std::shared_ptr<pull_inbox> open_inbox(const std::shared_ptr<connection>& conn) {
  auto inbox = pull_inbox::open(conn);
  BOOST_REQUIRE_MESSAGE(inbox.ok(), inbox.error());
  return *inbox;
}

void pull(pull_inbox& inbox, std::uint64_t token, std::uint64_t pull_id,
          const std::string& consumer, int batch, duration expires) {
  auto ok = inbox.pull(token, pull_id, stream, consumer, batch, expires);
  BOOST_REQUIRE_MESSAGE(ok.ok(), ok.error());
}

void settle(connection& conn, const pulled_message& m, std::string_view body) {
  auto ok = publish_ack(conn, m.reply, body);
  BOOST_REQUIRE_MESSAGE(ok.ok(), ok.error());
}

std::string header_value(const pulled_message& m, const std::string& key) {
  for (const auto& [k, v] : m.headers)
    if (k == key) return v;
  return {};
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(jetstream_pull, test::nats_fixture)

BOOST_AUTO_TEST_CASE(ensure_consumer_creates_finds_and_reports_differences) {
  add_stream(*conn);
  for (int i = 0; i < 3; ++i) publish(*conn, "orders.p-1", "m" + std::to_string(i));

  auto first = ensure_consumer(*conn, stream, "grp_p-1", "orders.p-1", settings());
  BOOST_REQUIRE_MESSAGE(first.ok(), first.error());
  BOOST_TEST(first->created);
  BOOST_TEST(first->num_pending == 3u);  // consume_start::all
  auto again = ensure_consumer(*conn, stream, "grp_p-1", "orders.p-1", settings());
  BOOST_REQUIRE_MESSAGE(again.ok(), again.error());
  BOOST_TEST(!again->created);
  BOOST_TEST(again->num_pending == 3u);
  auto pending = consumer_pending(*conn, stream, "grp_p-1");
  BOOST_REQUIRE_MESSAGE(pending.ok(), pending.error());
  BOOST_TEST(*pending == 3u);

  auto other_wait = settings();
  other_wait.ack_wait = 10s;
  auto mismatch = ensure_consumer(*conn, stream, "grp_p-1", "orders.p-1", other_wait);
  BOOST_REQUIRE(!mismatch.ok());
  BOOST_TEST(contains(mismatch.error(), "grp_p-1"), mismatch.error());
  BOOST_TEST(contains(mismatch.error(), "ack_wait 30s, configured 10s"), mismatch.error());
  BOOST_TEST(!contains(mismatch.error(), "max_deliver"), mismatch.error());

  auto several = settings(7);
  several.max_deliver = 2;
  auto many = ensure_consumer(*conn, stream, "grp_p-1", "orders.p-2", several);
  BOOST_REQUIRE(!many.ok());
  BOOST_TEST(contains(many.error(), "filter_subject \"orders.p-1\", configured \"orders.p-2\""),
             many.error());
  BOOST_TEST(contains(many.error(), "max_deliver 5, configured 2"), many.error());
  BOOST_TEST(contains(many.error(), "max_ack_pending 100, configured 7"), many.error());
  BOOST_TEST(!contains(many.error(), "replicas"), many.error());
  // The start position only matters at creation: another one is no difference.
  auto other_start = settings();
  other_start.start = consume_start::new_messages;
  BOOST_TEST(ensure_consumer(*conn, stream, "grp_p-1", "orders.p-1", other_start).ok());

  // Unlimited deliveries (the default of consumer_settings) are created and found equal again.
  auto unlimited = settings();
  unlimited.max_deliver = -1;
  auto created = ensure_consumer(*conn, stream, "grp_p-6", "orders.p-6", unlimited);
  BOOST_REQUIRE_MESSAGE(created.ok(), created.error());
  BOOST_TEST(created->created);
  auto found = ensure_consumer(*conn, stream, "grp_p-6", "orders.p-6", unlimited);
  BOOST_REQUIRE_MESSAGE(found.ok(), found.error());
  BOOST_TEST(!found->created);
  auto limited = ensure_consumer(*conn, stream, "grp_p-6", "orders.p-6", settings());
  BOOST_REQUIRE(!limited.ok());
  BOOST_TEST(contains(limited.error(), "max_deliver -1, configured 5"), limited.error());

  auto no_stream = ensure_consumer(*conn, "NOPE", "grp_p-1", "orders.p-1", settings());
  BOOST_REQUIRE(!no_stream.ok());
  BOOST_TEST(contains(no_stream.error(), "stream NOPE not found"), no_stream.error());
  BOOST_TEST(!consumer_pending(*conn, "NOPE", "grp_p-1").ok());
  auto no_consumer = consumer_pending(*conn, stream, "grp_p-9");
  BOOST_REQUIRE(!no_consumer.ok());
  BOOST_TEST(contains(no_consumer.error(), "grp_p-9"), no_consumer.error());

  // Bad input fails with a message, never a crash.
  BOOST_TEST(!ensure_consumer(*conn, "", "grp_p-1", "orders.p-1", settings()).ok());
  BOOST_TEST(!ensure_consumer(*conn, stream, "", "orders.p-1", settings()).ok());
  BOOST_TEST(!ensure_consumer(*conn, stream, "a.b", "orders.p-1", settings()).ok());
  BOOST_TEST(!ensure_consumer(*conn, stream, "grp_p-5", "", settings()).ok());
  auto bad = settings();
  bad.max_deliver = 0;
  bad.ack_wait = -1s;
  auto refused = ensure_consumer(*conn, stream, "grp_p-5", "orders.p-5", bad);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(contains(refused.error(), "ack_wait must be positive, is -1s"), refused.error());
  BOOST_TEST(contains(refused.error(), "max_deliver must be -1 (unlimited) or at least 1, is 0"),
             refused.error());
  BOOST_TEST(!consumer_pending(*conn, stream, "grp_p-5").ok());  // nothing was created
}

BOOST_AUTO_TEST_CASE(processes_creating_one_consumer_at_once_both_attach) {
  add_stream(*conn);
  auto other = connection::open(options());
  BOOST_REQUIRE_MESSAGE(other.ok(), other.error());
  BOOST_REQUIRE(test::eventually([&] { return (*other)->connected(); }, 5s));
  for (int round = 0; round < 5; ++round) {
    const std::string name = "grp_race-" + std::to_string(round);
    std::optional<result<consumer_attach>> mine, theirs;
    std::thread racer(
        [&] { theirs.emplace(ensure_consumer(**other, stream, name, "orders.race", settings())); });
    mine.emplace(ensure_consumer(*conn, stream, name, "orders.race", settings()));
    racer.join();
    BOOST_TEST(mine->ok(), mine->error());
    BOOST_TEST(theirs->ok(), theirs->error());
  }
}

BOOST_AUTO_TEST_CASE(start_positions_apply_at_creation) {
  add_stream(*conn);
  for (int i = 0; i < 3; ++i) publish(*conn, "orders.p-1", "m" + std::to_string(i));
  auto s = settings();
  s.start = consume_start::new_messages;
  auto fresh = ensure_consumer(*conn, stream, "grp_new", "orders.p-1", s);
  BOOST_REQUIRE_MESSAGE(fresh.ok(), fresh.error());
  BOOST_TEST(fresh->num_pending == 0u);
  s.start = consume_start::sequence;
  s.start_sequence = 2;
  auto from_two = ensure_consumer(*conn, stream, "grp_seq", "orders.p-1", s);
  BOOST_REQUIRE_MESSAGE(from_two.ok(), from_two.error());
  BOOST_TEST(from_two->num_pending == 2u);
  s.inactive_threshold = 1h;
  auto with_threshold = ensure_consumer(*conn, stream, "grp_idle", "orders.p-1", s);
  BOOST_TEST(with_threshold.ok(), with_threshold.error());
}

BOOST_AUTO_TEST_CASE(a_pull_brings_its_messages_then_expires_with_408) {
  add_stream(*conn);
  publish(*conn, "orders.p-1", "first", {{"X-Key", "a"}, {"X-Key", "b"}, {"X-Other", "c"}});
  publish(*conn, "orders.p-1", "second");
  publish(*conn, "orders.p-2", "not for this consumer");
  ensure(*conn, "grp_p-1", "orders.p-1");
  auto inbox = open_inbox(conn);
  BOOST_TEST(contains(inbox->prefix(), "_INBOX."));
  collector c;
  auto token = c.add_to(*inbox);

  pull(*inbox, token, 7, "grp_p-1", 5, 500ms);
  BOOST_REQUIRE(c.wait_messages(2));
  auto expired = c.wait_status(7);
  BOOST_REQUIRE_MESSAGE(expired.has_value(), "no status after the pull's expiry");
  BOOST_TEST(expired->code == 408);
  BOOST_TEST(expired->description == "Request Timeout");

  auto got = c.messages_copy();
  BOOST_REQUIRE(got.size() == 2u);
  BOOST_TEST(got[0].pull_id == 7u);
  BOOST_TEST(got[0].subject == "orders.p-1");
  BOOST_TEST(got[0].data == "first");
  BOOST_TEST(got[1].data == "second");
  BOOST_TEST(got[1].headers.empty());
  std::multiset<std::pair<std::string, std::string>> headers(got[0].headers.begin(),
                                                             got[0].headers.end());
  std::multiset<std::pair<std::string, std::string>> expected{
      {"X-Key", "a"}, {"X-Key", "b"}, {"X-Other", "c"}};
  BOOST_TEST((headers == expected));
  // Repeated values of one key keep their order.
  auto key_values = std::vector<std::string>{};
  for (const auto& [k, v] : got[0].headers)
    if (k == "X-Key") key_values.push_back(v);
  BOOST_TEST((key_values == std::vector<std::string>{"a", "b"}));
  auto tokens = split(got[0].reply, '.');
  BOOST_REQUIRE_MESSAGE(tokens.size() == 9u, got[0].reply);
  BOOST_TEST(tokens[0] == "$JS");
  BOOST_TEST(tokens[1] == "ACK");
  BOOST_TEST(tokens[2] == stream);
  BOOST_TEST(tokens[3] == "grp_p-1");
  BOOST_TEST(tokens[4] == "1");  // first delivery
  BOOST_TEST(tokens[5] == "1");  // stream sequence
  BOOST_TEST(split(got[1].reply, '.')[5] == "2");

  // Both messages wait for their acks: the next pull finds nothing and expires.
  pull(*inbox, token, 8, "grp_p-1", 1, 300ms);
  auto next = c.wait_status(8);
  BOOST_REQUIRE(next.has_value());
  BOOST_TEST(next->code == 408);
  BOOST_TEST(c.message_count() == 2u);
}

BOOST_AUTO_TEST_CASE(two_routes_get_only_their_own_consumers_messages) {
  add_stream(*conn);
  for (int i = 0; i < 3; ++i) {
    publish(*conn, "orders.a", "a" + std::to_string(i));
    publish(*conn, "orders.b", "b" + std::to_string(i));
  }
  ensure(*conn, "grp_a", "orders.a");
  ensure(*conn, "grp_b", "orders.b");
  auto inbox = open_inbox(conn);
  collector a, b;
  auto token_a = a.add_to(*inbox);
  auto token_b = b.add_to(*inbox);
  pull(*inbox, token_a, 1, "grp_a", 10, 400ms);
  pull(*inbox, token_b, 1, "grp_b", 10, 600ms);
  BOOST_REQUIRE(a.wait_status(1).has_value());
  BOOST_REQUIRE(b.wait_status(1).has_value());
  auto from_a = a.messages_copy();
  auto from_b = b.messages_copy();
  BOOST_TEST(from_a.size() == 3u);
  BOOST_TEST(from_b.size() == 3u);
  for (const auto& m : from_a) BOOST_TEST(m.subject == "orders.a");
  for (const auto& m : from_b) BOOST_TEST(m.subject == "orders.b");
  BOOST_TEST(a.statuses_copy().size() == 1u);
  BOOST_TEST(b.statuses_copy().size() == 1u);

  // Another route's pull of a consumer takes it over.
  pull(*inbox, token_b, 2, "grp_a", 10, 3s);
  publish(*conn, "orders.a", "a3");
  BOOST_REQUIRE(b.wait_messages(4));
  auto taken = b.messages_copy().back();
  BOOST_TEST(taken.data == "a3");
  BOOST_TEST(taken.pull_id == 2u);
  BOOST_TEST(a.message_count() == 3u);
}

BOOST_AUTO_TEST_CASE(acked_and_termed_messages_stay_settled_a_nak_redelivers) {
  add_stream(*conn);
  publish(*conn, "orders.p-1", "ack me");
  publish(*conn, "orders.p-1", "nak me");
  publish(*conn, "orders.p-1", "term me");
  ensure(*conn, "grp_p-1", "orders.p-1");
  auto inbox = open_inbox(conn);
  collector c;
  auto token = c.add_to(*inbox);
  pull(*inbox, token, 1, "grp_p-1", 3, 5s);
  BOOST_REQUIRE(c.wait_messages(3));
  auto got = c.messages_copy();
  for (const auto& m : got) BOOST_TEST(delivery_count(m.reply) == 1u);
  settle(*conn, got[0], ack_body::ack);
  settle(*conn, got[1], ack_body::nak);
  settle(*conn, got[2], ack_body::term);

  // Only the nak'ed one comes again, delivered a second time; the pull then expires.
  pull(*inbox, token, 2, "grp_p-1", 3, 1s);
  BOOST_REQUIRE(c.wait_status(2).has_value());
  auto all = c.messages_copy();
  BOOST_REQUIRE(all.size() == 4u);
  BOOST_TEST(all[3].data == "nak me");
  BOOST_TEST(all[3].pull_id == 2u);
  BOOST_TEST(delivery_count(all[3].reply) == 2u);
  BOOST_TEST(c.status_of(2)->code == 408);

  settle(*conn, all[3], ack_body::ack);
  BOOST_TEST(test::eventually(
      [&] {
        jsConsumerInfo* ci = nullptr;
        if (js_GetConsumerInfo(&ci, conn->jetstream(), stream.c_str(), "grp_p-1", nullptr,
                               nullptr) != NATS_OK)
          return false;
        bool settled = ci->NumAckPending == 0 && ci->NumPending == 0;
        jsConsumerInfo_Destroy(ci);
        return settled;
      },
      5s));
}

BOOST_AUTO_TEST_CASE(an_in_progress_ack_is_confirmed) {
  add_stream(*conn);
  publish(*conn, "orders.p-1", "slow");
  ensure(*conn, "grp_p-1", "orders.p-1");
  auto inbox = open_inbox(conn);
  collector c;
  auto token = c.add_to(*inbox);
  pull(*inbox, token, 1, "grp_p-1", 1, 2s);
  BOOST_REQUIRE(c.wait_messages(1));
  auto m = c.messages_copy().front();
  auto progress = publish_ack_confirmed(*conn, m.reply, ack_body::in_progress, 2s);
  BOOST_TEST(progress.ok(), progress.error());
  auto acked = publish_ack_confirmed(*conn, m.reply, ack_body::ack, 2s);
  BOOST_TEST(acked.ok(), acked.error());
  // No consumer behind the subject: no confirmation.
  auto gone = publish_ack_confirmed(*conn, "$JS.ACK.ORDERS.gone.1.1.1.1.0", ack_body::ack, 1s);
  BOOST_TEST(!gone.ok());
  BOOST_TEST_MESSAGE("ack to a missing consumer: " << gone.error());
  BOOST_TEST(!publish_ack(*conn, "", ack_body::ack).ok());
  BOOST_TEST(!publish_ack_confirmed(*conn, "", ack_body::ack, 1s).ok());
}

BOOST_AUTO_TEST_CASE(a_deleted_consumer_ends_its_pull) {
  add_stream(*conn);
  ensure(*conn, "grp_p-1", "orders.p-1");
  auto inbox = open_inbox(conn);
  collector c;
  auto token = c.add_to(*inbox);
  pull(*inbox, token, 1, "grp_p-1", 10, 30s);
  // The pull waits on the server (NumWaiting) before the consumer goes.
  BOOST_REQUIRE(test::eventually(
      [&] {
        jsConsumerInfo* ci = nullptr;
        if (js_GetConsumerInfo(&ci, conn->jetstream(), stream.c_str(), "grp_p-1", nullptr,
                               nullptr) != NATS_OK)
          return false;
        bool waiting = ci->NumWaiting == 1;
        jsConsumerInfo_Destroy(ci);
        return waiting;
      },
      5s));
  BOOST_REQUIRE(js_DeleteConsumer(conn->jetstream(), stream.c_str(), "grp_p-1", nullptr, nullptr) ==
                NATS_OK);
  auto ended = c.wait_status(1, 5s);
  BOOST_REQUIRE_MESSAGE(ended.has_value(), "no status after the consumer was deleted");
  BOOST_TEST((ended->code == 409 || ended->code == 503), ended->code);
  BOOST_TEST_MESSAGE("outstanding pull, consumer deleted: " << ended->code << " "
                                                            << ended->description);

  // A pull sent after the deletion: nats-server 2.9.10 does not answer it at all (the reader
  // takes it as lost). Whatever comes within its expiry and a grace must still say "gone".
  pull(*inbox, token, 2, "grp_p-1", 10, 300ms);
  auto after = c.wait_status(2, 1500ms);
  if (after) {
    BOOST_TEST((after->code == 409 || after->code == 503), after->code);
    BOOST_TEST_MESSAGE("pull of a deleted consumer: " << after->code << " " << after->description);
  } else {
    BOOST_TEST_MESSAGE("pull of a deleted consumer: no answer within its expiry + 1.2s");
  }
  BOOST_TEST(c.message_count() == 0u);
}

BOOST_AUTO_TEST_CASE(max_ack_pending_one_holds_the_next_message_until_the_ack) {
  add_stream(*conn);
  publish(*conn, "orders.p-1", "one");
  publish(*conn, "orders.p-1", "two");
  ensure(*conn, "grp_p-1", "orders.p-1", settings(1));
  auto inbox = open_inbox(conn);
  collector c;
  auto token = c.add_to(*inbox);
  pull(*inbox, token, 1, "grp_p-1", 10, 10s);
  BOOST_REQUIRE(c.wait_messages(1));
  // The server holds "two" back while "one" is unacknowledged: one ack pending, one pending,
  // and the batch-10 pull still waiting.
  jsConsumerInfo* ci = nullptr;
  BOOST_REQUIRE(js_GetConsumerInfo(&ci, conn->jetstream(), stream.c_str(), "grp_p-1", nullptr,
                                   nullptr) == NATS_OK);
  BOOST_TEST(ci->NumAckPending == 1);
  BOOST_TEST(ci->NumPending == 1u);
  BOOST_TEST(ci->NumWaiting == 1);
  jsConsumerInfo_Destroy(ci);
  BOOST_TEST(c.message_count() == 1u);
  BOOST_TEST(c.messages_copy().front().data == "one");

  settle(*conn, c.messages_copy().front(), ack_body::ack);
  BOOST_REQUIRE(c.wait_messages(2));
  auto second = c.messages_copy()[1];
  BOOST_TEST(second.data == "two");
  BOOST_TEST(second.pull_id == 1u);  // the same pull
  BOOST_TEST(!c.status_of(1).has_value());
}

BOOST_AUTO_TEST_CASE(an_acknowledged_publish_needs_a_stream) {
  add_stream(*conn);
  auto nowhere = publish_acknowledged(*conn, "nowhere.x", "lost", {});
  BOOST_REQUIRE(!nowhere.ok());
  BOOST_TEST(contains(nowhere.error(), "nowhere.x"), nowhere.error());
  BOOST_TEST(contains(nowhere.error(), "no stream captures it"), nowhere.error());
  BOOST_TEST(!publish_acknowledged(*conn, "", "x", {}).ok());

  auto kept = publish_acknowledged(*conn, "orders.dead", "letter",
                                   {{"Parti-Original-Subject", "orders.p-1"}, {"X-Try", "5"}});
  BOOST_REQUIRE_MESSAGE(kept.ok(), kept.error());
  ensure(*conn, "grp_dead", "orders.dead");
  auto inbox = open_inbox(conn);
  collector c;
  pull(*inbox, c.add_to(*inbox), 1, "grp_dead", 1, 2s);
  BOOST_REQUIRE(c.wait_messages(1));
  auto m = c.messages_copy().front();
  BOOST_TEST(m.data == "letter");
  BOOST_TEST(header_value(m, "Parti-Original-Subject") == "orders.p-1");
  BOOST_TEST(header_value(m, "X-Try") == "5");
}

BOOST_AUTO_TEST_CASE(prune_deletes_only_unkept_consumers_with_the_prefix) {
  add_stream(*conn);
  for (const auto* name : {"grp_p-1", "grp_p-2", "grp_p-3", "other_p-1", "grpx_p-1"})
    ensure(*conn, name, "orders.p-1");
  auto listed = list_consumers(*conn, stream, "grp");
  BOOST_REQUIRE_MESSAGE(listed.ok(), listed.error());
  BOOST_TEST((*listed == std::vector<std::string>{"grp_p-1", "grp_p-2", "grp_p-3"}));

  auto deleted = prune_consumers(*conn, stream, "grp", {"grp_p-2", "grp_p-9"});
  BOOST_REQUIRE_MESSAGE(deleted.ok(), deleted.error());
  BOOST_TEST((*deleted == std::vector<std::string>{"grp_p-1", "grp_p-3"}));
  BOOST_TEST((*list_consumers(*conn, stream, "grp") == std::vector<std::string>{"grp_p-2"}));
  BOOST_TEST((*list_consumers(*conn, stream, "other") == std::vector<std::string>{"other_p-1"}));
  BOOST_TEST((*list_consumers(*conn, stream, "grpx") == std::vector<std::string>{"grpx_p-1"}));
  auto nothing_left = prune_consumers(*conn, stream, "grp", {"grp_p-2"});
  BOOST_REQUIRE(nothing_left.ok());
  BOOST_TEST(nothing_left->empty());

  auto no_stream = list_consumers(*conn, "NOPE", "grp");
  BOOST_REQUIRE(!no_stream.ok());
  BOOST_TEST(contains(no_stream.error(), "NOPE"), no_stream.error());
  BOOST_TEST(!prune_consumers(*conn, stream, "", {}).ok());  // would match every "_..." name
}

BOOST_AUTO_TEST_CASE(a_removed_route_is_not_called_again) {
  add_stream(*conn);
  ensure(*conn, "grp_a", "orders.a");
  ensure(*conn, "grp_b", "orders.b");
  auto inbox = open_inbox(conn);
  collector removed, witness;
  auto token = removed.add_to(*inbox);
  auto witness_token = witness.add_to(*inbox);
  pull(*inbox, token, 1, "grp_a", 10, 1s);
  inbox->remove(token);
  publish(*conn, "orders.a", "for nobody");
  // The witness's pull expires after the removed route's: once its 408 is in, the removed
  // route's message and 408 would have come too (one connection, in order).
  pull(*inbox, witness_token, 1, "grp_b", 10, 1200ms);
  BOOST_REQUIRE(witness.wait_status(1).has_value());
  BOOST_TEST(removed.calls.load() == 0);
  BOOST_TEST(!inbox->pull(token, 2, stream, "grp_a", 1, 1s).ok());  // no such route now
  inbox->remove(token);                                             // twice is harmless

  // The message that found no route was nak'ed, delayed past the removed route's pull (which
  // the server still held): the next reader gets it as its second delivery, long before the
  // 30s ack wait, and not with its deliveries used up by that pull.
  collector next;
  pull(*inbox, next.add_to(*inbox), 1, "grp_a", 1, 10s);
  BOOST_REQUIRE(next.wait_messages(1, 10s));
  auto again = next.messages_copy().front();
  BOOST_TEST(again.data == "for nobody");
  BOOST_TEST(delivery_count(again.reply) == 2u);
}

BOOST_AUTO_TEST_CASE(remove_waits_for_a_running_call) {
  add_stream(*conn);
  ensure(*conn, "grp_a", "orders.a");
  publish(*conn, "orders.a", "slow route");
  auto inbox = open_inbox(conn);
  std::mutex mutex;
  std::condition_variable cv;
  bool entered = false, release = false;
  std::atomic<bool> finished{false};
  auto token = inbox->add(
      [&](pulled_message) {
        std::unique_lock<std::mutex> lock(mutex);
        entered = true;
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
        finished = true;
      },
      [](pull_status) {});
  pull(*inbox, token, 1, "grp_a", 1, 2s);
  {
    std::unique_lock<std::mutex> lock(mutex);
    BOOST_REQUIRE(cv.wait_for(lock, 5s, [&] { return entered; }));
  }
  std::atomic<bool> returned{false};
  bool finished_when_returned = false;
  std::thread remover([&] {
    inbox->remove(token);
    finished_when_returned = finished.load();
    returned = true;
  });
  {
    std::lock_guard<std::mutex> lock(mutex);
    release = true;
  }
  cv.notify_all();
  remover.join();
  BOOST_TEST(returned.load());
  BOOST_TEST(finished_when_returned);  // remove() returned only after the call did
}

BOOST_AUTO_TEST_CASE(a_route_that_throws_does_not_stop_the_others) {
  add_stream(*conn);
  ensure(*conn, "grp_a", "orders.a");
  ensure(*conn, "grp_b", "orders.b");
  publish(*conn, "orders.a", "boom");
  publish(*conn, "orders.b", "fine");
  auto inbox = open_inbox(conn);
  auto thrower = inbox->add([](pulled_message) { throw std::runtime_error("route failed"); },
                            [](pull_status) {});
  collector c;
  pull(*inbox, thrower, 1, "grp_a", 1, 2s);
  pull(*inbox, c.add_to(*inbox), 1, "grp_b", 1, 2s);
  BOOST_REQUIRE(c.wait_messages(1));
  BOOST_TEST(c.messages_copy().front().data == "fine");
}

BOOST_AUTO_TEST_CASE(pull_refuses_bad_arguments) {
  auto inbox = open_inbox(conn);
  collector c;
  auto token = c.add_to(*inbox);
  BOOST_TEST(!inbox->pull(token + 1, 1, stream, "grp_a", 1, 1s).ok());
  BOOST_TEST(!inbox->pull(token, 1, stream, "grp_a", 0, 1s).ok());
  BOOST_TEST(!inbox->pull(token, 1, stream, "grp_a", 1, 0s).ok());
  BOOST_TEST(!inbox->pull(token, 1, "", "grp_a", 1, 1s).ok());
  BOOST_TEST(!inbox->pull(token, 1, stream, "a.>", 1, 1s).ok());
}

BOOST_AUTO_TEST_CASE(two_hundred_routes_share_one_inbox_and_one_thread) {
  add_stream(*conn);
  constexpr int routes = 200;
  auto name = [](int i) { return "grp_p-" + std::to_string(i); };
  auto subject = [](int i) { return "orders.p-" + std::to_string(i); };
  for (int i = 0; i < routes; ++i) {
    ensure(*conn, name(i), subject(i));
    publish(*conn, subject(i), "m" + std::to_string(i));
  }
  const int threads_before = thread_count();
  auto inbox = open_inbox(conn);
  std::vector<std::unique_ptr<collector>> collectors;
  std::vector<std::uint64_t> tokens;
  for (int i = 0; i < routes; ++i) {
    collectors.push_back(std::make_unique<collector>());
    tokens.push_back(collectors.back()->add_to(*inbox));
  }
  for (int i = 0; i < routes; ++i)
    pull(*inbox, tokens[static_cast<std::size_t>(i)], 100 + static_cast<std::uint64_t>(i), name(i),
         5, 2s);
  BOOST_REQUIRE(test::eventually(
      [&] {
        return std::all_of(collectors.begin(), collectors.end(),
                           [](const auto& c) { return c->message_count() >= 1; });
      },
      10s));
  const int threads_after = thread_count();
  BOOST_TEST_MESSAGE("threads: " << threads_before << " before the inbox, " << threads_after
                                 << " with 200 routes pulling");
  BOOST_TEST(threads_after - threads_before <= 2);  // one delivery thread, not one per route
  for (int i = 0; i < routes; ++i) {
    auto got = collectors[static_cast<std::size_t>(i)]->messages_copy();
    BOOST_REQUIRE(got.size() == 1u);
    BOOST_TEST(got[0].subject == subject(i));
    BOOST_TEST(got[0].data == "m" + std::to_string(i));
    BOOST_TEST(got[0].pull_id == 100u + static_cast<std::uint64_t>(i));
  }
  // Every pull ends with its own 408 at its own route.
  BOOST_REQUIRE(test::eventually(
      [&] {
        for (int i = 0; i < routes; ++i)
          if (!collectors[static_cast<std::size_t>(i)]->status_of(100u +
                                                                  static_cast<std::uint64_t>(i)))
            return false;
        return true;
      },
      10s));
  for (const auto& c : collectors) BOOST_TEST(c->statuses_copy().size() == 1u);
}

BOOST_AUTO_TEST_CASE(the_inbox_closes_cleanly_with_calls_on_their_way) {
  add_stream(*conn);
  ensure(*conn, "grp_a", "orders.a");
  for (int i = 0; i < 50; ++i) publish(*conn, "orders.a", "m" + std::to_string(i));
  std::atomic<int> calls{0};
  {
    auto inbox = open_inbox(conn);
    auto token = inbox->add([&](pulled_message) { ++calls; }, [&](pull_status) { ++calls; });
    pull(*inbox, token, 1, "grp_a", 50, 2s);
    BOOST_REQUIRE(test::eventually([&] { return calls.load() > 0; }, 5s));
  }  // destroyed while messages may still arrive
  const int after_close = calls.load();
  publish(*conn, "orders.a", "late");
  // A later inbox sees the connection working; the closed one stays silent.
  auto inbox = open_inbox(conn);
  collector c;
  ensure(*conn, "grp_b", "orders.b");
  pull(*inbox, c.add_to(*inbox), 2, "grp_b", 1, 300ms);
  BOOST_REQUIRE(c.wait_status(2).has_value());
  BOOST_TEST(calls.load() == after_close);
}

BOOST_AUTO_TEST_SUITE_END()
