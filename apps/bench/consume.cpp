// The partition consumer's costs (actors/consumer, docs/CONSUMING.md), each against a baseline
// measured in the same run, on a local nats-server:
//
//   throughput  end-to-end messages/s through one node's consumer (a leader that owns every
//               partition; a callback that only counts and acknowledges) versus a bare nats.c
//               pull subscription per partition on the same stream with the same settings:
//               explicit acks, the same max_ack_pending, one message handled at a time per
//               partition. The bare side runs one thread per partition, each fetching with
//               natsSubscription_Fetch(batch = min(max_ack_pending, messages left)) and acking
//               each message with natsMsg_Ack: with max_ack_pending 1 a larger batch only waits
//               for its timeout, and knowing the count spares it the timeout at the end.
//               Messages are published beforehand (js_PublishAsync); the time runs from the first
//               handled message to the last. For 1 and 64 partitions, with max_ack_pending 1
//               and 64 (in_flight 1 both: ordered; 64 is a deeper server window); with
//               max_ack_pending 1 also the consumer with 64 messages per pull (pull_batch 64,
//               the default before it followed max_ack_pending), and with 1 partition both sides
//               again on a connection with send_asap (no nats.c flusher delay).
//   handoff     three nodes in this process with a consumer each, 16 partitions and a steady
//               producer (--rate over all partitions); one node (never the leader) drains, a
//               fresh node joins, --drains times. Per moved partition: the pause (the new
//               owner's first handling start - the old owner's last handling end), the time from
//               the drain request to the new owner's first handling and to its assignment
//               applied. Baseline: the same drains without consumers, from the drain request to
//               the new owner's assignment applied (the node-level hand-off). The message spacing
//               per partition is the pause's resolution. Fast node timings (those of the tests),
//               then with 64 messages per pull, then with mostly idle partitions (--idle-rate);
//               default_handoff: two drains with the default timings, busy and idle.
//   attach      one node owning 1000 partitions: from the consumer's start (the node's
//               assignment applied before) to every reader attached, with consumers to create
//               and again with existing ones. Baseline: 1000 sequential ensure_consumer calls.
//
// bench_consume [--messages 20000] [--messages-one 5000] [--rounds 5] [--drains 8]
//               [--rate 1600] [--idle-rate 16] [--attach-partitions 1000]
//               [--only throughput,handoff,default_handoff,attach] [--json FILE]
//               [--log-level info] [--verbose 1]
// Not run in CI (docs/BENCHMARKS.md has the figures and how to run it).
#include <caf/all.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "apps/bench/bench_report.hpp"
#include "apps/lib/partition_stream.hpp"
#include "apps/lib/stream_producer.hpp"
#include "parti/actors/consumer/consumer_actor.hpp"
#include "parti/runtime/consume/consumer_naming.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/nats/jetstream_consumers.hpp"
#include "tests/support/leader_group.hpp"

using namespace parti;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr const char* stream_name = "BENCH";
constexpr const char* subject_template_text = "bench.{0}";

struct settings {
  int messages = 20000;     // with 64 partitions
  int messages_one = 5000;  // with 1 partition (about 1000/s with max_ack_pending 1)
  int rounds = 5;
  int drains = 8;
  double rate = 1600;  // the hand-off producer's messages/s over all 16 partitions
  int attach_partitions = 1000;
  double idle_rate = 16;  // the idle variant's: one message a second per partition
  std::string only = "throughput,handoff,default_handoff,attach";
  std::string json;
};

/// --verbose: every hand-off on stderr, with the wall clock of the log lines.
bool verbose = false;

std::string wall_clock() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm local{};
  localtime_r(&t, &local);
  char text[32];
  std::snprintf(text, sizeof text, "%02d:%02d:%02d.%03d", local.tm_hour, local.tm_min, local.tm_sec,
                static_cast<int>(ms.count()));
  return text;
}

/// The one-minute load average (/proc/loadavg): the machine may be shared.
double load_average() {
  double load = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1;
    std::fclose(f);
  }
  return load;
}

bool wanted(const settings& s, const std::string& what) {
  return ("," + s.only + ",").find("," + what + ",") != std::string::npos;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch())
      .count();
}

double ms_between(std::int64_t from_ns, std::int64_t to_ns) {
  return static_cast<double>(to_ns - from_ns) / 1e6;
}

std::string subject_of(int partition) {
  return "bench.p-" + std::to_string(partition);
}

/// Node timings for measurements that do not depend on them (throughput, attach): the defaults,
/// but a group of one assigns at once.
node_config quick_start_config(const std::string& group) {
  node_config c;
  c.group = group;
  c.cold_start_window = 1s;
  c.planned_scale_window = 1s;
  c.cooldown = 1s;
  return c;
}

/// The consumer settings of the tests for the fast node timings (tests/integration/consumer.cpp):
/// a pull ends within the 600 ms lease, handler + release timeouts fit the 2 s hand-off.
consume_config fast_consume_config() {
  consume_config c;
  c.consumer.ack_wait = 4s;
  c.ack_margin = 500ms;
  c.pull_expiry = 400ms;
  c.pull_grace = 200ms;
  c.handler_timeout = 800ms;
  c.release_timeout = 500ms;
  c.restart_backoff = {50ms, 500ms, 2.0, 0.2};
  c.lag_interval = 200ms;
  return c;
}

/// A group (its own nats-server) with the bench stream, nodes and their consumers.
struct bench_group : test::leader_group {
  std::vector<caf::actor> consumers;

  bench_group(std::uint32_t partitions, node_config node) {
    count->store(partitions);
    config = std::move(node);
    auto created = consume_app::ensure_stream(*conn, stream_name, "bench.*");
    if (!created) throw std::runtime_error(created.error());
  }

  ~bench_group() {
    for (auto& c : consumers) caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
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

  /// A consumer of `node` on the group's connection, or on `on` when given.
  caf::actor add_consumer(const caf::actor& node, consume_config c, message_callback callback,
                          std::shared_ptr<connection> on = {}) {
    consumer_options o;
    o.config = std::move(c);
    o.config.stream = stream_name;
    o.config.subject_template = subject_template_text;
    o.node = config;
    o.conn = on ? std::move(on) : conn;
    o.node_handle = node;
    o.callback = std::move(callback);
    auto consumer = spawn_consumer(sys, std::move(o));
    if (!consumer) throw std::runtime_error(consumer.error());
    consumers.push_back(*consumer);
    return *consumer;
  }

  void stop_consumer(const caf::actor& consumer) {
    caf::anon_send_exit(consumer, caf::exit_reason::user_shutdown);
    {
      caf::scoped_actor self{sys};
      self->wait_for(consumer);
    }
    consumers.erase(std::remove(consumers.begin(), consumers.end(), consumer), consumers.end());
  }

  consumer_stats stats_of(const caf::actor& consumer) {
    consumer_stats out;
    caf::scoped_actor self{sys};
    self->request(consumer, 5s, caf::get_atom::value)
        .receive([&](const consumer_stats& s) { out = s; }, [&](const caf::error&) {});
    return out;
  }

  /// One node that leads and owns every partition.
  caf::actor single_owner(std::chrono::seconds limit = 60s) {
    auto node = add_node();
    if (!test::eventually([&] { return status(node).owned.size() == count->load(); }, limit))
      throw std::runtime_error("the node did not come to own every partition");
    return node;
  }
};

// -- throughput -------------------------------------------------------------------------------

/// Publishes `total` messages round robin over `partitions` subjects and waits for the stream's
/// acknowledgements.
void prepublish(connection& conn, int partitions, int total) {
  for (int i = 0; i < total; ++i) {
    const auto subject = subject_of(i % partitions);
    const auto data = std::to_string(i);
    natsStatus s = js_PublishAsync(conn.jetstream(), subject.c_str(), data.data(),
                                   static_cast<int>(data.size()), nullptr);
    if (s != NATS_OK) throw std::runtime_error("publish: " + nats_error_text(s));
  }
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = 60000;
  natsStatus s = js_PublishAsyncComplete(conn.jetstream(), &wait);
  if (s != NATS_OK) throw std::runtime_error("publish complete: " + nats_error_text(s));
}

/// First handling start, last handling end and the count, from any thread.
struct span_counter {
  std::atomic<std::int64_t> first{std::numeric_limits<std::int64_t>::max()};
  std::atomic<std::int64_t> last{0};
  std::atomic<int> handled{0};

  void started(std::int64_t t) {
    auto seen = first.load();
    while (t < seen && !first.compare_exchange_weak(seen, t)) {
    }
  }
  void ended(std::int64_t t) {
    auto seen = last.load();
    while (t > seen && !last.compare_exchange_weak(seen, t)) {
    }
    ++handled;
  }
  double per_second() const {
    return handled.load() / (static_cast<double>(last.load() - first.load()) / 1e9);
  }
};

struct throughput_case {
  int partitions = 1;
  int max_ack_pending = 1;
  std::string label() const {
    return std::to_string(partitions) + "p_map" + std::to_string(max_ack_pending);
  }
};

/// One side of a throughput comparison.
struct side {
  std::string name;  // in the figure's name
  bool bare = false;
  int pull_batch = 0;  // the consumer's; 0: its default
  bool send_asap = false;
};

/// One run through the partition consumer: fresh durable consumers (their own prefix) reading
/// the stream from its start, on `conn`. Messages/s, or -1 when not all came within the limit.
double consumer_run(bench_group& g, const caf::actor& node, const std::shared_ptr<connection>& conn,
                    const throughput_case& c, int total, const std::string& prefix,
                    int pull_batch) {
  auto span = std::make_shared<span_counter>();
  consume_config cc;
  cc.consumer_prefix = prefix;
  cc.consumer.start = consume_start::all;
  cc.consumer.max_ack_pending = c.max_ack_pending;
  cc.in_flight = 1;
  cc.pull_batch = pull_batch;
  auto consumer = g.add_consumer(
      node, cc,
      [span](const consumed_message&) {
        span->started(now_ns());
        span->ended(now_ns());
        return ack_reply();
      },
      conn);
  bool all = test::eventually([&] { return span->handled.load() >= total; }, 180s);
  g.stop_consumer(consumer);
  (void)prune_consumers(*conn, stream_name, prefix, {});
  return all ? span->per_second() : -1;
}

/// One run through bare nats.c pull subscriptions on `conn`, one thread per partition.
double bare_run(connection& conn, const throughput_case& c, int total, const std::string& prefix) {
  std::vector<natsSubscription*> subs;
  for (int p = 0; p < c.partitions; ++p) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream_name;
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.DeliverPolicy = js_DeliverAll;
    so.Config.MaxAckPending = c.max_ack_pending;
    so.Config.AckWait = std::chrono::nanoseconds(consumer_settings{}.ack_wait).count();
    natsSubscription* sub = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const auto durable = prefix + "_p-" + std::to_string(p);
    natsStatus s = js_PullSubscribe(&sub, conn.jetstream(), subject_of(p).c_str(), durable.c_str(),
                                    nullptr, &so, &code);
    if (s != NATS_OK)
      throw std::runtime_error("pull subscribe: " + nats_error_text(s) + " " +
                               std::to_string(code));
    subs.push_back(sub);
  }
  auto span = std::make_shared<span_counter>();
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int p = 0; p < c.partitions; ++p) {
    const int expected = total / c.partitions + (p < total % c.partitions ? 1 : 0);
    threads.emplace_back([&, p, expected] {
      while (!go.load()) std::this_thread::yield();
      int got = 0;
      while (got < expected) {
        natsMsgList list{nullptr, 0};
        jsErrCode code = static_cast<jsErrCode>(0);
        natsStatus s =
            natsSubscription_Fetch(&list, subs[static_cast<std::size_t>(p)],
                                   std::min(c.max_ack_pending, expected - got), 5000, &code);
        if (s == NATS_TIMEOUT) continue;
        if (s != NATS_OK) {
          std::fprintf(stderr, "bench_consume: fetch: %s\n", nats_error_text(s).c_str());
          return;
        }
        for (int i = 0; i < list.Count; ++i) {
          span->started(now_ns());
          natsMsg_Ack(list.Msgs[i], nullptr);
          span->ended(now_ns());
          ++got;
        }
        natsMsgList_Destroy(&list);
      }
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  for (auto* sub : subs) {
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
  (void)prune_consumers(conn, stream_name, prefix, {});
  return span->handled.load() >= total ? span->per_second() : -1;
}

/// The sides of one case, `rounds` times each in turn (the order rotating, so that no side
/// always runs first); one figure per side, the consumers' against the bare client's p50.
std::vector<bench::figure> compare(bench_group& g, const caf::actor& node, const throughput_case& c,
                                   int total, int rounds, const std::vector<side>& sides,
                                   bool goal) {
  std::vector<bench::figure> figures;
  for (const auto& sd : sides)
    figures.push_back({"throughput_" + sd.name + "_" + c.label(), "msg/s", {}, {}, ""});
  auto fast = connection_options(g.options());
  fast.send_asap = true;
  auto asap = connection::open(fast);
  if (!asap) throw std::runtime_error(asap.error());
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t k = 0; k < sides.size(); ++k) {
      const std::size_t i = (k + static_cast<std::size_t>(r)) % sides.size();
      const auto& sd = sides[i];
      const auto& conn = sd.send_asap ? *asap : g.conn;
      const auto prefix = sd.name + "_" + c.label() + "_r" + std::to_string(r);
      double v = sd.bare ? bare_run(*conn, c, total, prefix)
                         : consumer_run(g, node, conn, c, total, prefix, sd.pull_batch);
      if (v < 0)
        ++figures[i].missed;
      else
        figures[i].samples.push_back(v);
    }
  }
  // Each consumer side against the bare side on the same connection.
  for (std::size_t i = 0; i < sides.size(); ++i) {
    if (sides[i].bare || figures[i].samples.empty()) continue;
    for (std::size_t b = 0; b < sides.size(); ++b) {
      if (!sides[b].bare || sides[b].send_asap != sides[i].send_asap || figures[b].samples.empty())
        continue;
      figures[i].baseline_p50 = figures[b].percentile(0.5);
      const double ratio = figures[i].percentile(0.5) / *figures[i].baseline_p50;
      char note[120];
      std::snprintf(note, sizeof note, "%.2fx the bare client%s", ratio,
                    !goal          ? ""
                    : ratio >= 0.8 ? " (goal >= 0.8x: met)"
                                   : " (goal >= 0.8x: MISSED)");
      figures[i].note = note;
    }
  }
  bench::print_table(figures);
  std::fflush(stdout);
  return figures;
}

std::vector<bench::figure> measure_throughput(const settings& s) {
  std::vector<bench::figure> figures;
  auto add = [&](std::vector<bench::figure> more) {
    for (auto& f : more) figures.push_back(std::move(f));
  };
  const side bare{"bare", true, 0, false};
  const side consumer{"consumer", false, 0, false};
  // The consumer before pull_batch followed max_ack_pending: 64 per pull whatever the window.
  const side consumer_batch64{"consumer_pull64", false, 64, false};
  for (int partitions : {1, 64}) {
    const int total = partitions == 1 ? s.messages_one : s.messages;
    bench_group g(static_cast<std::uint32_t>(partitions), quick_start_config("tp"));
    auto node = g.single_owner();
    prepublish(*g.conn, partitions, total);
    add(compare(g, node, {partitions, 1}, total, s.rounds, {bare, consumer, consumer_batch64},
                true));
    add(compare(g, node, {partitions, 64}, total, s.rounds, {bare, consumer}, false));
    if (partitions == 1)  // without nats.c's flusher delay, for both sides
      add(compare(g, node, {partitions, 1}, total, s.rounds,
                  {{"bare_send_asap", true, 0, true}, {"consumer_send_asap", false, 0, true}},
                  false));
  }
  return figures;
}

// -- hand-off ---------------------------------------------------------------------------------

/// One handler call: which partition, on which node (the bench's index), when.
struct handling {
  int partition = 0;
  int node = 0;
  std::int64_t start = 0;
  std::int64_t end = 0;
  std::uint64_t delivery = 1;
};

/// An assignment applied by a node: when, and what it added.
struct applied {
  int node = 0;
  std::int64_t at = 0;
  std::vector<int> added;
};

int partition_index(const std::vector<std::string>& keys) {
  return std::stoi(keys.at(0).substr(2));  // "p-<n>"
}

struct journal {
  std::mutex mutex;
  std::vector<handling> calls;
  std::vector<applied> assignments;

  void add(const handling& h) {
    std::lock_guard<std::mutex> guard(mutex);
    calls.push_back(h);
  }
  void add(applied a) {
    std::lock_guard<std::mutex> guard(mutex);
    assignments.push_back(std::move(a));
  }
  /// The first handling of `partition` by `node` starting after `after`, or 0.
  std::int64_t first_start(int partition, int node, std::int64_t after) {
    std::lock_guard<std::mutex> guard(mutex);
    std::int64_t best = 0;
    for (const auto& h : calls)
      if (h.partition == partition && h.node == node && h.start > after &&
          (best == 0 || h.start < best))
        best = h.start;
    return best;
  }
  /// The last handling end of `partition` by `node`, or 0.
  std::int64_t last_end(int partition, int node) {
    std::lock_guard<std::mutex> guard(mutex);
    std::int64_t best = 0;
    for (const auto& h : calls)
      if (h.partition == partition && h.node == node) best = std::max(best, h.end);
    return best;
  }
  /// When `node` applied an assignment adding `partition` after `after`, or 0.
  std::int64_t assigned_at(int partition, int node, std::int64_t after) {
    std::lock_guard<std::mutex> guard(mutex);
    for (const auto& a : assignments)
      if (a.node == node && a.at > after &&
          std::find(a.added.begin(), a.added.end(), partition) != a.added.end())
        return a.at;
    return 0;
  }
  /// The highest delivery count handled: each delivery a hand-off handed back unhandled counts.
  std::uint64_t max_delivery() {
    std::lock_guard<std::mutex> guard(mutex);
    std::uint64_t n = 0;
    for (const auto& h : calls) n = std::max(n, h.delivery);
    return n;
  }
  /// Handler calls of one partition by two nodes at once (must stay 0).
  int overlaps() {
    std::lock_guard<std::mutex> guard(mutex);
    std::map<int, std::vector<handling>> by_partition;
    for (const auto& h : calls) by_partition[h.partition].push_back(h);
    int n = 0;
    for (auto& [p, list] : by_partition) {
      std::sort(list.begin(), list.end(),
                [](const handling& a, const handling& b) { return a.start < b.start; });
      for (std::size_t i = 1; i < list.size(); ++i)
        if (list[i - 1].end > list[i].start) ++n;
    }
    return n;
  }
};

struct handoff_samples {
  std::vector<double> pause_ms;                // new first start - old last end (drains)
  std::vector<double> request_to_first_ms;     // drain request -> new owner's first handling
  std::vector<double> request_to_assigned_ms;  // drain request -> new owner's assignment applied
  std::vector<double> join_pause_ms;  // the same pause for partitions moved to a joining node
  int missed = 0;                     // moved partitions without a measurable hand-off
  int overlaps = 0;
  int moved = 0;
  std::uint64_t max_delivery = 0;
  std::uint64_t produced = 0;
  double produced_seconds = 0;
};

/// Nodes (and consumers) of one hand-off run; node indexes are the journal's.
class handoff_run {
 public:
  handoff_run(node_config node, consume_config consume, bool consumers, double rate)
      : g_(16, std::move(node)),
        consume_(std::move(consume)),
        consumers_(consumers),
        // Every owner handled something this recently once the group settled.
        recent_(std::max<std::int64_t>(std::chrono::nanoseconds(1s).count(),
                                       static_cast<std::int64_t>(3 * 16 / rate * 1e9))) {
    if (consumers_) {
      auto conn = connection::open(g_.options());
      if (!conn) throw std::runtime_error(conn.error());
      producer_conn_ = *conn;
      consume_app::producer_options po;
      for (int p = 0; p < 16; ++p) po.subjects.push_back(subject_of(p));
      po.rate = rate;
      producer_ = std::make_unique<consume_app::stream_producer>(producer_conn_, po);
    }
  }

  ~handoff_run() {
    if (producer_) producer_->stop();
  }

  handoff_samples run(int drains) {
    handoff_samples out;
    start_node();
    if (!test::eventually([&] { return g_.status(nodes_.at(0)).owned.size() == 16u; }, 60s))
      throw std::runtime_error("hand-off: the first node did not come to own every partition");
    start_node();
    start_node();
    if (!settle()) throw std::runtime_error("hand-off: the group did not settle");
    for (int r = 0; r < drains; ++r) {
      if (!drain_one(out)) break;
      join_one(out);
    }
    out.overlaps = consumers_ ? j_->overlaps() : 0;
    out.max_delivery = consumers_ ? j_->max_delivery() : 0;
    if (producer_) {
      producer_->stop();
      auto report = producer_->report();
      out.produced = report.published;
      out.produced_seconds = std::chrono::duration<double>(report.elapsed).count();
    }
    return out;
  }

 private:
  void start_node() {
    const int index = static_cast<int>(nodes_.size());
    node_callbacks callbacks;
    auto j = j_;
    callbacks.on_assignment = [j, index](const assignment_update& u) {
      applied a{index, now_ns(), {}};
      for (const auto& p : u.added) a.added.push_back(partition_index(p.keys));
      j->add(std::move(a));
    };
    auto node = g_.add_node_with(callbacks);
    nodes_.push_back(node);
    alive_.push_back(true);
    if (!consumers_) return;
    g_.add_consumer(node, consume_, [j, index](const consumed_message& m) {
      handling h{partition_index(m.partition), index, now_ns(), 0, m.delivery_count};
      h.end = now_ns();
      j->add(h);
      return ack_reply();
    });
  }

  /// worker id -> node index, over the live nodes.
  std::map<std::string, int> workers() {
    std::map<std::string, int> out;
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (alive_[i]) out[g_.status(nodes_[i]).worker] = static_cast<int>(i);
    return out;
  }

  /// Every partition owned once, shares within one of each other, and (with consumers) every
  /// partition handled by its owner since the last change.
  bool settle(std::chrono::seconds limit = 60s) {
    return test::eventually(
        [&] {
          if (!g_.fully_covered()) return false;
          std::map<std::string, int> shares;
          auto owners = g_.owner_map();
          for (const auto& [key, worker] : owners) ++shares[worker];
          auto w = workers();
          if (shares.size() != w.size()) return false;
          int lo = 16, hi = 0;
          for (const auto& [worker, n] : shares) lo = std::min(lo, n), hi = std::max(hi, n);
          if (hi - lo > 1) return false;
          if (!consumers_) return true;
          const auto since = now_ns() - recent_;
          for (const auto& [key, worker] : owners)
            if (j_->first_start(std::stoi(key.substr(2)), w.at(worker), since) == 0) return false;
          return true;
        },
        limit);
  }

  /// Drains the oldest live node that does not lead; samples its moved partitions.
  bool drain_one(handoff_samples& out) {
    int victim = -1;
    for (std::size_t i = 0; i < nodes_.size() && victim < 0; ++i)
      if (alive_[i] && !g_.status(nodes_[i]).leader) victim = static_cast<int>(i);
    if (victim < 0) return false;
    const auto before = g_.owner_map();
    const auto victim_worker = g_.status(nodes_[static_cast<std::size_t>(victim)]).worker;
    std::vector<int> moved;
    for (const auto& [key, worker] : before)
      if (worker == victim_worker) moved.push_back(std::stoi(key.substr(2)));
    const auto t_drain = now_ns();
    if (verbose)
      std::fprintf(stderr, "%s drain of node %d: %zu partitions\n", wall_clock().c_str(), victim,
                   moved.size());
    g_.stop(nodes_[static_cast<std::size_t>(victim)], shutdown_intent::drain);
    g_.forget(nodes_[static_cast<std::size_t>(victim)]);
    alive_[static_cast<std::size_t>(victim)] = false;
    settle();
    sample_moves(moved, victim, t_drain, out, true);
    return true;
  }

  void join_one(handoff_samples& out) {
    const auto before = g_.owner_map();
    const auto t_join = now_ns();
    start_node();
    settle();
    const auto after = g_.owner_map();
    auto w = workers();
    for (const auto& [key, worker] : after) {
      auto was = before.find(key);
      if (was == before.end() || was->second == worker || !w.count(was->second)) continue;
      if (!consumers_) continue;
      const int p = std::stoi(key.substr(2));
      const auto first = j_->first_start(p, w.at(worker), t_join);
      const auto last = j_->last_end(p, w.at(was->second));
      if (first > 0 && last > 0) out.join_pause_ms.push_back(ms_between(last, first));
    }
  }

  void sample_moves(const std::vector<int>& moved, int victim, std::int64_t t_drain,
                    handoff_samples& out, bool) {
    const auto after = g_.owner_map();
    auto w = workers();
    for (int p : moved) {
      ++out.moved;
      auto owner = after.find("p-" + std::to_string(p));
      if (owner == after.end() || !w.count(owner->second)) {
        ++out.missed;
        continue;
      }
      const int next = w.at(owner->second);
      const auto assigned = j_->assigned_at(p, next, t_drain);
      if (assigned > 0) out.request_to_assigned_ms.push_back(ms_between(t_drain, assigned));
      if (!consumers_) continue;
      const auto first = j_->first_start(p, next, t_drain);
      const auto last = j_->last_end(p, victim);
      if (first == 0 || last == 0) {
        ++out.missed;
        continue;
      }
      out.pause_ms.push_back(ms_between(last, first));
      out.request_to_first_ms.push_back(ms_between(t_drain, first));
      if (verbose)
        std::fprintf(
            stderr,
            "  p-%d: node %d -> %d: assigned +%.1f ms, first handling +%.1f ms, pause %.1f ms\n", p,
            victim, next, assigned ? ms_between(t_drain, assigned) : -1.0,
            ms_between(t_drain, first), ms_between(last, first));
    }
  }

  bench_group g_;
  consume_config consume_;
  bool consumers_;
  std::int64_t recent_;  // ns
  std::shared_ptr<journal> j_ = std::make_shared<journal>();
  std::vector<caf::actor> nodes_;
  std::vector<bool> alive_;
  std::shared_ptr<connection> producer_conn_;
  std::unique_ptr<consume_app::stream_producer> producer_;
};

/// The figures of one hand-off variant against the node-level hand-off (`node_only`).
std::vector<bench::figure> handoff_figures(const std::string& tag, const handoff_samples& with,
                                           const bench::figure& node_only, double rate) {
  const double spacing_ms = 16.0 / rate * 1000.0;
  auto named = [&](const std::string& what, std::vector<double> samples) {
    bench::figure f{"handoff_" + tag + what, "ms", std::move(samples), {}, ""};
    if (!node_only.samples.empty()) f.baseline_p50 = node_only.percentile(0.5);
    return f;
  };
  auto pause = named("pause", with.pause_ms);
  auto first = named("request_to_first_handling", with.request_to_first_ms);
  auto assigned = named("request_to_assigned_with_consumer", with.request_to_assigned_ms);
  bench::figure join{"handoff_" + tag + "join_pause", "ms", with.join_pause_ms, {}, ""};
  char note[240];
  std::snprintf(note, sizeof note,
                "p99 goal <= 200 ms: %s; resolution %.1f ms (message spacing per partition); "
                "%d moved, %d unmeasured, %d overlaps",
                pause.samples.empty() ? "no samples"
                // Spacing of 200 ms or more is the pause itself: the variant shows the release.
                : spacing_ms >= 200             ? "not applicable (the spacing)"
                : pause.percentile(0.99) <= 200 ? "met"
                                                : "MISSED",
                spacing_ms, with.moved, with.missed, with.overlaps);
  pause.note = note;
  pause.missed = with.missed;
  std::snprintf(note, sizeof note,
                "producer %.0f msg/s asked, %.0f msg/s achieved; highest delivery count %llu", rate,
                with.produced_seconds > 0 ? with.produced / with.produced_seconds : 0.0,
                static_cast<unsigned long long>(with.max_delivery));
  first.note = note;
  return {pause, first, assigned, join};
}

std::vector<bench::figure> measure_handoff(const settings& s, bool default_timings) {
  node_config node = test::fast_config("ho");
  consume_config consume = fast_consume_config();
  int drains = s.drains;
  std::string tag;
  if (default_timings) {
    // The default hand-off timings (heartbeats, lease, hand-off timeout, pull expiry, handler
    // and release timeouts); only the windows before a rebalance are shortened.
    node = quick_start_config("hd");
    consume = consume_config{};
    drains = 2;
    tag = "default_";
  }
  consume.consumer.start = consume_start::all;
  auto run = [&](const consume_config& c, bool consumers, double rate) {
    handoff_run r(node, c, consumers, rate);
    return r.run(drains);
  };
  bench::figure node_only{"handoff_" + tag + "request_to_assigned_no_consumer",
                          "ms",
                          run(consume, false, s.rate).request_to_assigned_ms,
                          {},
                          ""};
  std::vector<bench::figure> figures{node_only};
  auto add = [&](std::vector<bench::figure> more) {
    for (auto& f : more) figures.push_back(std::move(f));
  };
  add(handoff_figures(tag, run(consume, true, s.rate), node_only, s.rate));
  if (!default_timings) {
    // Before pull_batch followed max_ack_pending: 64 messages asked for by every pull.
    auto batch64 = consume;
    batch64.pull_batch = 64;
    add(handoff_figures("pull64_", run(batch64, true, s.rate), node_only, s.rate));
  }
  // Partitions that are mostly idle: the release waits for the open pull to expire.
  add(handoff_figures(tag + "idle_", run(consume, true, s.idle_rate), node_only, s.idle_rate));
  bench::print_table(figures);
  std::fflush(stdout);
  return figures;
}

// -- attach -----------------------------------------------------------------------------------

/// Sequential ensure_consumer calls for every partition under `prefix`; seconds.
double sequential_ensure(connection& conn, int partitions, const std::string& prefix) {
  consumer_settings cs;
  const auto t0 = clock_type::now();
  for (int p = 0; p < partitions; ++p) {
    partition part{{"p-" + std::to_string(p)}, 1};
    auto r = ensure_consumer(conn, stream_name, consumer_name(prefix, part), subject_of(p), cs);
    if (!r) throw std::runtime_error("ensure_consumer: " + r.error());
  }
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// From the consumer's start to every reader attached; seconds (-1: not within the limit).
double consumer_attach(bench_group& g, const caf::actor& node, int partitions,
                       const std::string& prefix) {
  consume_config cc;
  cc.consumer_prefix = prefix;
  const auto t0 = clock_type::now();
  auto consumer = g.add_consumer(node, cc, [](const consumed_message&) { return ack_reply(); });
  bool all = test::eventually(
      [&] { return g.stats_of(consumer).attached == static_cast<std::uint64_t>(partitions); },
      300s);
  const double took = std::chrono::duration<double>(clock_type::now() - t0).count();
  g.stop_consumer(consumer);
  return all ? took : -1;
}

std::vector<bench::figure> measure_attach(const settings& s) {
  const int n = s.attach_partitions;
  bench_group g(static_cast<std::uint32_t>(n), quick_start_config("at"));
  auto node = g.single_owner(120s);
  const auto label = std::to_string(n);
  bench::figure created{"attach_" + label + "_created", "s", {}, {}, ""};
  bench::figure existing{"attach_" + label + "_existing", "s", {}, {}, ""};
  bench::figure base_created{"ensure_consumer_x" + label + "_created", "s", {}, {}, ""};
  bench::figure base_existing{"ensure_consumer_x" + label + "_existing", "s", {}, {}, ""};
  base_created.samples.push_back(sequential_ensure(*g.conn, n, "base"));
  auto c = consumer_attach(g, node, n, "parti");
  if (c >= 0)
    created.samples.push_back(c);
  else
    ++created.missed;
  base_existing.samples.push_back(sequential_ensure(*g.conn, n, "base"));
  auto e = consumer_attach(g, node, n, "parti");
  if (e >= 0)
    existing.samples.push_back(e);
  else
    ++existing.missed;
  created.baseline_p50 = base_created.percentile(0.5);
  existing.baseline_p50 = base_existing.percentile(0.5);
  std::vector<bench::figure> figures{created, base_created, existing, base_existing};
  bench::print_table(figures);
  std::fflush(stdout);
  return figures;
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string arg = argv[i], value = argv[i + 1];
    if (arg == "--messages")
      s.messages = std::stoi(value);
    else if (arg == "--messages-one")
      s.messages_one = std::stoi(value);
    else if (arg == "--rounds")
      s.rounds = std::stoi(value);
    else if (arg == "--drains")
      s.drains = std::stoi(value);
    else if (arg == "--rate")
      s.rate = std::stod(value);
    else if (arg == "--idle-rate")
      s.idle_rate = std::stod(value);
    else if (arg == "--attach-partitions")
      s.attach_partitions = std::stoi(value);
    else if (arg == "--only")
      s.only = value;
    else if (arg == "--json")
      s.json = value;
    else if (arg == "--log-level")
      set_log_level(value);
    else if (arg == "--verbose")
      verbose = value == "1";
    else
      return std::fprintf(stderr, "bench_consume: unknown argument %s\n", arg.c_str()), 2;
  }
  if (s.messages < 64 || s.messages_one < 1 || s.rounds < 1 || s.drains < 1 || s.rate <= 0 ||
      s.idle_rate <= 0 || s.attach_partitions < 1)
    return std::fprintf(stderr, "bench_consume: sizes must be positive (messages >= 64)\n"), 2;
  std::vector<bench::figure> figures;
  const double load_at_start = load_average();
  try {
    auto add = [&](std::vector<bench::figure> more) {
      for (auto& f : more) figures.push_back(std::move(f));
    };
    if (wanted(s, "throughput")) add(measure_throughput(s));
    if (wanted(s, "handoff")) add(measure_handoff(s, false));
    if (wanted(s, "default_handoff")) add(measure_handoff(s, true));
    if (wanted(s, "attach")) add(measure_attach(s));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_consume: %s\n", e.what());
    return 1;
  }
  figures.push_back({"load_average_1min_start", "", {load_at_start}, {}, ""});
  figures.push_back({"load_average_1min_end", "", {load_average()}, {}, ""});
  std::printf("\n");
  bench::print_table(figures);
  return bench::write_json(figures, s.json) ? 0 : 1;
}
