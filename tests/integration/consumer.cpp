// The partition consumer against a real nats-server, with real nodes and leaders: every message
// of every partition handled once and in order by one node; partitions moving to a joining node
// and away from a draining one without a gap or an overlap; the actor form of the handler; naks,
// throwing and slow handlers; in-progress answers confirmed by the server; dead letters; a
// deleted consumer recreated by a restarted reader; callbacks on the handler pool only, and a
// thread count that does not grow with the partitions.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "parti/actors/consumer/consumer_actor.hpp"
#include "parti/runtime/consume/consumer_naming.hpp"
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/nats/jetstream_consumers.hpp"
#include "tests/support/leader_group.hpp"

using namespace parti;
using namespace std::chrono_literals;
using std::chrono::steady_clock;

namespace {

const std::string stream = "orders";

/// Settings that fit the fast node timings (fast_config): a pull ends within the lease
/// (heartbeat_ttl 600 ms - lease_margin 50 ms), handler_timeout + release_timeout stay below
/// the 2 s hand-off timeout, and a message's deadline outlasts its handler.
consume_config fast_consume_config() {
  consume_config c;
  c.stream = stream;
  c.subject_template = "orders.{0}";
  c.consumer.ack_wait = 4s;
  c.consumer.start = consume_start::all;
  c.ack_margin = 500ms;
  c.pull_expiry = 400ms;
  c.pull_grace = 200ms;
  c.handler_timeout = 800ms;
  c.release_timeout = 500ms;
  c.handler_threads = 4;
  c.restart_backoff = {50ms, 500ms, 2.0, 0.2};
  c.lag_interval = 200ms;
  return c;
}

void add_stream(connection& conn, const std::string& name, const std::string& subjects) {
  auto created = ensure_stream(conn, stream_settings{name, {subjects}, 1, true});
  BOOST_REQUIRE_MESSAGE(created.ok(), created.error());
}

int thread_count() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return -1;
}

/// One handler call as the handler saw it.
struct handling {
  std::string partition;
  std::uint64_t seq = 0;
  std::uint64_t delivery = 0;
  std::string data;
  std::string worker;  // which consumer: the test's name for it
  steady_clock::time_point start;
  steady_clock::time_point end;
  std::thread::id thread;
  bool valid = false;    // valid_until was ahead when the handler started
  bool granted = false;  // the grant named the message's partition
};

/// Every handler call, from the handlers' threads.
struct journal {
  mutable std::mutex mutex;
  std::vector<handling> calls;

  void add(handling h) {
    std::lock_guard<std::mutex> guard(mutex);
    calls.push_back(std::move(h));
  }
  std::vector<handling> all() const {
    std::lock_guard<std::mutex> guard(mutex);
    return calls;
  }
  std::size_t size() const {
    std::lock_guard<std::mutex> guard(mutex);
    return calls.size();
  }
  std::size_t by(const std::string& worker) const {
    std::lock_guard<std::mutex> guard(mutex);
    return static_cast<std::size_t>(std::count_if(
        calls.begin(), calls.end(), [&](const handling& h) { return h.worker == worker; }));
  }
  /// Distinct (partition, stream seq) handled.
  std::size_t distinct() const {
    std::lock_guard<std::mutex> guard(mutex);
    std::set<std::pair<std::string, std::uint64_t>> seen;
    for (const auto& h : calls) seen.emplace(h.partition, h.seq);
    return seen.size();
  }
};

using decision = std::function<consume_reply(const consumed_message&)>;

/// A callback that records each call in `j` under `worker`, then answers as `decide` says. It
/// shares the journal: a callback may still run on a pool thread after the test body ended.
message_callback recording(std::shared_ptr<journal> journal_of, std::string worker,
                           decision decide = {}) {
  return [journal_of, worker, decide](const consumed_message& m) {
    auto& j = *journal_of;
    handling h;
    h.start = steady_clock::now();
    h.partition = m.partition.at(0);
    h.seq = m.stream_seq;
    h.delivery = m.delivery_count;
    h.data = m.data;
    h.worker = worker;
    h.thread = std::this_thread::get_id();
    h.valid = m.valid_until_ns > boot_now().time_since_epoch().count();
    h.granted = m.grant.keys == m.partition;
    consume_reply reply = ack_reply();
    try {
      if (decide) reply = decide(m);
    } catch (...) {
      h.end = steady_clock::now();
      j.add(h);
      throw;
    }
    h.end = steady_clock::now();
    j.add(h);
    return reply;
  };
}

/// Nodes with leaders over partitions p-0 .. p-<n-1>, the orders stream, and a consumer per
/// node.
struct consumer_group : test::leader_group {
  std::shared_ptr<metrics> stats = std::make_shared<metrics>();
  std::vector<caf::actor> consumers;
  consume_config consume = fast_consume_config();
  std::map<std::string, int> published;  // partition -> messages published

  explicit consumer_group(std::uint32_t partitions = 8) {
    count->store(partitions);
    add_stream(*conn, stream, "orders.>");
  }

  ~consumer_group() {
    for (auto& c : consumers) caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  }

  caf::actor add_consumer(const caf::actor& node, message_callback callback,
                          caf::actor handler = {}) {
    consumer_options o;
    o.config = consume;
    o.node = config;
    o.conn = conn;
    o.node_handle = node;
    o.callback = std::move(callback);
    o.handler = std::move(handler);
    o.stats = stats;
    auto c = spawn_consumer(sys, std::move(o));
    BOOST_REQUIRE_MESSAGE(c.ok(), c.error());
    consumers.push_back(*c);
    return *c;
  }

  caf::actor add_node_with(node_callbacks callbacks) {
    node_options o;
    o.config = config;
    o.leader = leaders;
    o.callbacks = std::move(callbacks);
    auto n = test::spawn_test_node(sys, conn, group, o);
    nodes.push_back(n);
    return n;
  }

  /// Publishes the next sequence number of partition `index` ("0", "1", ...).
  void publish(int index, const std::string& data = {}) {
    const auto key = "p-" + std::to_string(index);
    const auto k = published[key]++;
    auto ok = publish_acknowledged(*conn, "orders." + key, data.empty() ? std::to_string(k) : data,
                                   {{"Order", std::to_string(k)}});
    BOOST_REQUIRE_MESSAGE(ok.ok(), ok.error());
  }

  /// `rounds` messages in every partition.
  void publish_rounds(int rounds) {
    for (int r = 0; r < rounds; ++r)
      for (int p = 0; p < static_cast<int>(count->load()); ++p) publish(p);
  }

  std::size_t total_published() const {
    std::size_t n = 0;
    for (const auto& [key, k] : published) n += static_cast<std::size_t>(k);
    return n;
  }

  consumer_stats stats_of(const caf::actor& consumer) {
    consumer_stats out;
    caf::scoped_actor self{sys};
    self->request(consumer, 5s, caf::get_atom::value)
        .receive([&](const consumer_stats& s) { out = s; }, [&](const caf::error&) {});
    return out;
  }
};

/// Every message published was handled (at least once).
bool all_handled(const consumer_group& g, const journal& j) {
  return j.distinct() == g.total_published();
}

/// No message handled twice.
void check_no_duplicates(const std::vector<handling>& calls) {
  std::map<std::pair<std::string, std::uint64_t>, int> times;
  for (const auto& h : calls) ++times[{h.partition, h.seq}];
  for (const auto& [key, n] : times)
    BOOST_TEST(n == 1, key.first << " seq " << key.second << " handled " << n << " times");
}

/// Per partition and owner, stream seqs and the published sequence numbers only grow.
void check_order_per_owner(const std::vector<handling>& calls) {
  std::map<std::pair<std::string, std::string>, std::vector<handling>> spans;
  for (const auto& h : calls) spans[{h.partition, h.worker}].push_back(h);
  for (auto& [key, list] : spans) {
    std::sort(list.begin(), list.end(),
              [](const handling& a, const handling& b) { return a.start < b.start; });
    for (std::size_t i = 1; i < list.size(); ++i) {
      BOOST_TEST(list[i - 1].seq < list[i].seq, key.first << " on " << key.second << ": seq "
                                                          << list[i - 1].seq << " handled before "
                                                          << list[i].seq);
      BOOST_TEST(std::stoi(list[i - 1].data) < std::stoi(list[i].data), key.first);
    }
  }
}

/// No two handler calls of one partition ran at the same time, whichever worker ran them.
void check_no_overlap(const std::vector<handling>& calls) {
  std::map<std::string, std::vector<handling>> by_partition;
  for (const auto& h : calls) by_partition[h.partition].push_back(h);
  for (auto& [partition, list] : by_partition) {
    std::sort(list.begin(), list.end(),
              [](const handling& a, const handling& b) { return a.start < b.start; });
    for (std::size_t i = 1; i < list.size(); ++i)
      BOOST_TEST((list[i - 1].end <= list[i].start),
                 partition << ": " << list[i - 1].worker << " (seq " << list[i - 1].seq
                           << ") still ran when " << list[i].worker << " (seq " << list[i].seq
                           << ") started");
  }
}

std::set<std::string> workers_of(const std::vector<handling>& calls) {
  std::set<std::string> out;
  for (const auto& h : calls) out.insert(h.worker);
  return out;
}

/// Publishes a round every few milliseconds on a thread of its own until stopped.
struct paced_publisher {
  consumer_group& g;
  std::atomic<bool> stop{false};
  std::mutex mutex;  // g.published
  std::thread thread;

  explicit paced_publisher(consumer_group& group) : g(group) {
    thread = std::thread([this] {
      while (!stop) {
        {
          std::lock_guard<std::mutex> guard(mutex);
          for (int p = 0; p < static_cast<int>(g.count->load()); ++p) {
            const auto key = "p-" + std::to_string(p);
            const auto k = g.published[key];
            if (publish_acknowledged(*g.conn, "orders." + key, std::to_string(k), {}).ok())
              ++g.published[key];
          }
        }
        std::this_thread::sleep_for(10ms);  // the pace of the flow, not a wait for anything
      }
    });
  }
  void finish() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
  ~paced_publisher() { finish(); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(partition_consumer)

BOOST_FIXTURE_TEST_CASE(one_node_handles_every_message_once_in_order, consumer_group) {
  publish_rounds(10);  // before the consumer exists: read from the start
  auto j = std::make_shared<journal>();
  auto node = add_node();
  auto consumer = add_consumer(node, recording(j, "n1"));
  BOOST_REQUIRE(test::eventually([&] { return j->size() >= 80u; }, 20s));
  publish_rounds(10);  // and while it runs
  BOOST_REQUIRE_MESSAGE(test::eventually([&] { return all_handled(*this, *j); }, 15s),
                        j->distinct() << " of " << total_published() << " handled");
  auto calls = j->all();
  check_no_duplicates(calls);
  check_order_per_owner(calls);
  for (const auto& h : calls) {
    BOOST_TEST(h.valid);
    BOOST_TEST(h.granted);
    BOOST_TEST(h.delivery == 1u);
  }
  std::map<std::string, int> per_partition;
  for (const auto& h : calls) ++per_partition[h.partition];
  BOOST_TEST(per_partition.size() == 8u);
  for (const auto& [p, n] : per_partition) BOOST_TEST(n == 20, p);
  BOOST_REQUIRE(test::eventually([&] { return stats_of(consumer).acked == 160u; }, 5s));
  auto s = stats_of(consumer);
  BOOST_TEST(s.readers == 8u);
  BOOST_TEST(s.attached == 8u);
  BOOST_TEST(s.handled == 160u);
  BOOST_TEST(s.naked == 0u);
  BOOST_TEST(s.reader_restarts == 0u);
  // Metrics per worker; the lags settle at 0 once everything is read.
  const auto worker = status(node).worker;
  BOOST_REQUIRE(test::eventually(
      [&] {
        auto text = stats->text();
        return text.find("parti_consume_lag_messages{worker=\"" + worker + "\"} 0") !=
                   std::string::npos &&
               text.find("parti_consume_consumers_attached{worker=\"" + worker + "\"} 8") !=
                   std::string::npos;
      },
      5s));
  auto text = stats->text();
  BOOST_TEST(text.find("parti_consume_messages_total{result=\"acked\",worker=\"" + worker +
                       "\"} 160") != std::string::npos,
             text);
  // Top-k: at most 5 partitions shown one by one.
  std::size_t shown = 0;
  for (auto at = text.find("parti_consume_partition_lag_messages{"); at != std::string::npos;
       at = text.find("parti_consume_partition_lag_messages{", at + 1))
    ++shown;
  BOOST_TEST(shown <= 5u);
}

BOOST_FIXTURE_TEST_CASE(a_joining_node_takes_partitions_without_gap_or_overlap, consumer_group) {
  auto j = std::make_shared<journal>();
  auto first = add_node();
  add_consumer(first, recording(j, "n1"));
  paced_publisher flow(*this);
  BOOST_REQUIRE(test::eventually([&] { return j->size() >= 40u; }, 20s));
  auto second = add_node();
  add_consumer(second, recording(j, "n2"));
  // The partitions move while messages flow: the newcomer handles its share.
  BOOST_REQUIRE(test::eventually(
      [&] {
        if (!fully_covered()) return false;
        return status(first).owned.size() == 4u && status(second).owned.size() == 4u &&
               j->by("n2") >= 20u;
      },
      20s));
  const auto handled_by_first = j->by("n1");
  BOOST_REQUIRE(test::eventually([&] { return j->by("n1") > handled_by_first; }, 10s));
  flow.finish();
  BOOST_REQUIRE_MESSAGE(test::eventually([&] { return all_handled(*this, *j); }, 15s),
                        j->distinct() << " of " << total_published() << " handled");
  auto calls = j->all();
  BOOST_TEST(workers_of(calls).size() == 2u);
  check_no_duplicates(calls);
  check_no_overlap(calls);
  check_order_per_owner(calls);
}

BOOST_FIXTURE_TEST_CASE(the_actor_form_answers_ack_and_nak, consumer_group) {
  struct record {
    std::mutex mutex;
    std::vector<std::tuple<std::string, std::uint64_t, std::uint64_t>> seen;  // data, seq, nth
  };
  auto r = std::make_shared<record>();
  auto handler = sys.spawn([r](caf::event_based_actor*) -> caf::behavior {
    return {
        [r](const consumed_message& m) -> consume_reply {
          std::lock_guard<std::mutex> guard(r->mutex);
          r->seen.emplace_back(m.data, m.stream_seq, m.delivery_count);
          if (m.data == "nak-once" && m.delivery_count == 1) return nak_reply();
          return ack_reply();
        },
    };
  });
  struct ended {
    caf::actor a;
    ~ended() { caf::anon_send_exit(a, caf::exit_reason::user_shutdown); }
  } end_handler{handler};
  auto node = add_node();
  publish(0, "first");
  publish(0, "nak-once");
  publish(0, "last");
  publish(3, "other");
  auto consumer = add_consumer(node, {}, handler);
  auto copy = [r] {
    std::lock_guard<std::mutex> guard(r->mutex);
    return r->seen;
  };
  BOOST_REQUIRE(test::eventually([&] { return copy().size() >= 5u; }, 20s));
  BOOST_REQUIRE(test::eventually([&] { return stats_of(consumer).acked == 4u; }, 5s));
  std::vector<std::string> p0;
  std::uint64_t nak_once_deliveries = 0;
  for (const auto& [data, seq, delivery] : copy()) {
    if (data != "other") p0.push_back(data + "#" + std::to_string(delivery));
    if (data == "nak-once") nak_once_deliveries = std::max(nak_once_deliveries, delivery);
  }
  // In order, the nak'ed one again before the next.
  BOOST_TEST((p0 == std::vector<std::string>{"first#1", "nak-once#1", "nak-once#2", "last#1"}));
  BOOST_TEST(nak_once_deliveries == 2u);
  auto s = stats_of(consumer);
  BOOST_TEST(s.naked == 1u);
  BOOST_TEST(s.redelivered == 1u);
  BOOST_TEST(s.handled == 5u);
}

BOOST_FIXTURE_TEST_CASE(a_throwing_or_slow_handler_is_nakked_and_the_message_comes_again,
                        consumer_group) {
  auto j = std::make_shared<journal>();
  auto node = add_node();
  publish(1, "throw");
  publish(1, "after-throw");
  publish(2, "slow");
  publish(2, "after-slow");
  const auto too_long = consume.handler_timeout + 300ms;
  auto consumer = add_consumer(node, recording(j, "n1", [too_long](const consumed_message& m) {
                                 if (m.delivery_count == 1 && m.data == "throw")
                                   throw std::runtime_error("handler failure");
                                 if (m.delivery_count == 1 && m.data == "slow")
                                   std::this_thread::sleep_for(too_long);
                                 return ack_reply();
                               }));
  BOOST_REQUIRE(test::eventually([&] { return stats_of(consumer).acked == 4u; }, 20s));
  // The slow handler's first call is recorded when it returns, after its timeout.
  BOOST_REQUIRE(test::eventually([&] { return j->size() == 6u; }, 5s));
  auto calls = j->all();
  std::map<std::string, std::vector<std::uint64_t>> deliveries;
  for (const auto& h : calls) deliveries[h.data].push_back(h.delivery);
  BOOST_TEST((deliveries["throw"] == std::vector<std::uint64_t>{1, 2}));
  BOOST_TEST(deliveries["slow"].size() == 2u);
  BOOST_TEST(deliveries["after-throw"].size() == 1u);
  BOOST_TEST(deliveries["after-slow"].size() == 1u);
  auto s = stats_of(consumer);
  BOOST_TEST(s.naked == 2u);
  BOOST_TEST(s.redelivered == 2u);
  // Order within each partition holds across the failures.
  std::vector<std::string> p1, p2;
  std::sort(calls.begin(), calls.end(),
            [](const handling& a, const handling& b) { return a.start < b.start; });
  for (const auto& h : calls) (h.partition == "p-1" ? p1 : p2).push_back(h.data);
  BOOST_TEST((p1 == std::vector<std::string>{"throw", "throw", "after-throw"}));
  BOOST_TEST((p2 == std::vector<std::string>{"slow", "slow", "after-slow"}));
}

BOOST_FIXTURE_TEST_CASE(in_progress_is_confirmed_by_the_server_and_the_handler_runs_again,
                        consumer_group) {
  auto j = std::make_shared<journal>();
  auto node = add_node();
  publish(4, "later");
  publish(4, "next");
  auto calls_of_later = std::make_shared<std::atomic<int>>(0);
  auto consumer =
      add_consumer(node, recording(j, "n1", [calls_of_later](const consumed_message& m) {
                     if (m.data == "later" && (*calls_of_later)++ == 0)
                       return consume_reply{consume_verdict::in_progress, 100'000'000};
                     return ack_reply();
                   }));
  BOOST_REQUIRE(test::eventually([&] { return stats_of(consumer).acked == 2u; }, 20s));
  std::vector<std::string> order;
  for (const auto& h : j->all()) order.push_back(h.data + "#" + std::to_string(h.delivery));
  // The same delivery again (not a redelivery), before the next message.
  BOOST_TEST((order == std::vector<std::string>{"later#1", "later#1", "next#1"}));
  auto s = stats_of(consumer);
  BOOST_TEST(s.handled == 3u);
  BOOST_TEST(s.naked == 0u);
  BOOST_TEST(s.redelivered == 0u);
}

BOOST_FIXTURE_TEST_CASE(the_last_delivery_is_dead_lettered_with_its_headers_then_terminated,
                        consumer_group) {
  add_stream(*conn, "dlq", "dlq.>");
  consume.consumer.max_deliver = 2;
  consume.dead_letter_subject = "dlq.orders";
  auto j = std::make_shared<journal>();
  auto node = add_node();
  publish(5, "poison");
  publish(5, "fine");
  auto consumer = add_consumer(node, recording(j, "n1", [](const consumed_message& m) {
                                 return m.data == "poison" ? nak_reply() : ack_reply();
                               }));
  BOOST_REQUIRE(test::eventually([&] { return stats_of(consumer).acked == 1u; }, 20s));
  auto s = stats_of(consumer);
  BOOST_TEST(s.dead_lettered == 1u);
  BOOST_TEST(s.termed == 1u);
  BOOST_TEST(s.naked == 1u);  // the first delivery; the second went to the dead-letter subject
  std::vector<std::string> order;
  for (const auto& h : j->all()) order.push_back(h.data + "#" + std::to_string(h.delivery));
  BOOST_TEST((order == std::vector<std::string>{"poison#1", "poison#2", "fine#1"}));

  natsMsg* dead = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  BOOST_REQUIRE(js_GetLastMsg(&dead, conn->jetstream(), "dlq", "dlq.orders", nullptr, &code) ==
                NATS_OK);
  auto header = [&](const char* key) {
    const char* value = nullptr;
    return natsMsgHeader_Get(dead, key, &value) == NATS_OK && value ? std::string(value)
                                                                    : std::string("<none>");
  };
  BOOST_TEST(std::string(natsMsg_GetData(dead),
                         static_cast<std::size_t>(natsMsg_GetDataLength(dead))) == "poison");
  BOOST_TEST(header("Parti-Partition") == "p-5");
  BOOST_TEST(header("Parti-Stream") == stream);
  BOOST_TEST(header("Parti-Stream-Seq") == "1");
  BOOST_TEST(header("Parti-Delivery-Count") == "2");
  BOOST_TEST(header("Parti-Subject") == "orders.p-5");
  BOOST_TEST(header("Parti-Reason") == "the handler answered nak");
  BOOST_TEST(header("Order") == "0");  // the message's own headers are kept
  natsMsg_Destroy(dead);
  // Terminated: the consumer has nothing left to deliver or to wait for.
  partition p{{"p-5"}, 1};
  BOOST_REQUIRE(test::eventually(
      [&] {
        auto pending =
            consumer_pending(*conn, stream, consumer_name(consume.prefix_for(config), p));
        return pending.ok() && *pending == 0u;
      },
      5s));
}

BOOST_FIXTURE_TEST_CASE(a_deleted_consumer_fails_its_reader_which_restarts_and_recreates_it,
                        consumer_group) {
  consume.consumer.start = consume_start::new_messages;
  auto j = std::make_shared<journal>();
  auto node = add_node();
  auto consumer = add_consumer(node, recording(j, "n1"));
  BOOST_REQUIRE(test::eventually([&] { return stats_of(consumer).attached == 8u; }, 20s));
  publish(6, "before");
  BOOST_REQUIRE(test::eventually([&] { return j->size() == 1u; }, 10s));
  const auto name = consumer_name(consume.prefix_for(config), partition{{"p-6"}, 1});
  jsErrCode code = static_cast<jsErrCode>(0);
  BOOST_REQUIRE(js_DeleteConsumer(conn->jetstream(), stream.c_str(), name.c_str(), nullptr,
                                  &code) == NATS_OK);
  BOOST_REQUIRE(test::eventually([&] { return stats_of(consumer).reader_restarts >= 1u; }, 10s));
  // Recreated by the restarted reader, and read again.
  BOOST_REQUIRE(test::eventually(
      [&] {
        return consumer_pending(*conn, stream, name).ok() && stats_of(consumer).attached == 8u;
      },
      10s));
  publish(6, "after");
  publish(1, "elsewhere");
  BOOST_REQUIRE(test::eventually([&] { return j->size() == 3u; }, 10s));
  std::set<std::string> data;
  for (const auto& h : j->all()) data.insert(h.data);
  BOOST_TEST((data == std::set<std::string>{"before", "after", "elsewhere"}));
  BOOST_TEST(stats_of(consumer).reader_restarts == 1u);
  BOOST_TEST(stats->text().find("parti_consume_reader_restarts_total{worker=\"" +
                                status(node).worker + "\"} 1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(callbacks_run_on_the_pool_and_threads_do_not_grow_with_partitions) {
  consumer_group g(64);
  std::mutex mutex;
  std::set<std::thread::id> node_threads;
  node_callbacks callbacks;
  callbacks.on_assignment = [&](const assignment_update&) {
    std::lock_guard<std::mutex> guard(mutex);
    node_threads.insert(std::this_thread::get_id());
  };
  auto node = g.add_node_with(callbacks);
  BOOST_REQUIRE(test::eventually([&] { return g.status(node).owned.size() == 64u; }, 20s));
  const int before = thread_count();
  auto j = std::make_shared<journal>();
  g.consume.handler_threads = 3;
  auto consumer = g.add_consumer(node, recording(j, "n1"));
  BOOST_REQUIRE(test::eventually([&] { return g.stats_of(consumer).attached == 64u; }, 20s));
  g.publish_rounds(2);
  BOOST_REQUIRE(test::eventually([&] { return all_handled(g, *j); }, 20s));
  const int after = thread_count();
  // The pool's threads, two blocking runners and the inbox's delivery thread: not one per
  // partition.
  BOOST_TEST(after - before <= g.consume.handler_threads + 4,
             "threads before " << before << ", after " << after);
  std::set<std::thread::id> handler_threads;
  for (const auto& h : j->all()) handler_threads.insert(h.thread);
  BOOST_TEST(handler_threads.size() <= 3u);
  std::lock_guard<std::mutex> guard(mutex);
  BOOST_REQUIRE(!node_threads.empty());
  for (const auto& t : handler_threads) {
    BOOST_TEST(node_threads.count(t) == 0u);  // not an actor thread
    BOOST_TEST((t != std::this_thread::get_id()));
  }
}

BOOST_FIXTURE_TEST_CASE(a_draining_node_hands_every_partition_over_without_gap_or_overlap,
                        consumer_group) {
  auto j = std::make_shared<journal>();
  auto first = add_node();
  add_consumer(first, recording(j, "n1"));
  BOOST_REQUIRE(test::eventually([&] { return status(first).owned.size() == 8u; }, 20s));
  auto second = add_node();
  add_consumer(second, recording(j, "n2"));
  BOOST_REQUIRE(test::eventually(
      [&] {
        return fully_covered() && status(first).owned.size() == 4u &&
               status(second).owned.size() == 4u;
      },
      20s));
  paced_publisher flow(*this);
  BOOST_REQUIRE(test::eventually([&] { return j->by("n1") >= 20u && j->by("n2") >= 20u; }, 20s));
  // The second node drains (the first leads: a leader's own drain is another story).
  BOOST_REQUIRE(status(first).leader);
  stop(second, shutdown_intent::drain);
  forget(second);
  BOOST_REQUIRE(test::eventually([&] { return status(first).owned.size() == 8u; }, 10s));
  const auto handled_by_first = j->by("n1");
  BOOST_REQUIRE(test::eventually([&] { return j->by("n1") >= handled_by_first + 40u; }, 10s));
  flow.finish();
  BOOST_REQUIRE_MESSAGE(test::eventually([&] { return all_handled(*this, *j); }, 15s),
                        j->distinct() << " of " << total_published() << " handled");
  auto calls = j->all();
  check_no_duplicates(calls);
  check_no_overlap(calls);
  check_order_per_owner(calls);
  // A release hands back at most the one message its open pull brought after the last ack (a
  // pull asks for max_ack_pending messages): no message is delivered over and over meanwhile.
  for (const auto& h : calls)
    BOOST_TEST(h.delivery <= 2u,
               h.partition << " seq " << h.seq << " delivered " << h.delivery << " times");
  // The drained node's partitions are the first's now.
  std::set<std::string> taken_over;
  for (const auto& h : calls)
    if (h.worker == "n1") taken_over.insert(h.partition);
  BOOST_TEST(taken_over.size() == 8u);
}

BOOST_AUTO_TEST_SUITE_END()
