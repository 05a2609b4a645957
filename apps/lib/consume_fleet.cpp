#include "apps/lib/consume_fleet.hpp"

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "parti/runtime/config.hpp"
#include "parti/runtime/nats/connection.hpp"

namespace parti::consume_app {

using steady = std::chrono::steady_clock;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> fast_consume_args() {
  auto args = fleet::fast_timing_args();
  for (auto a :
       {"--ack-wait=" + format_duration(fast_ack_wait), std::string("--handler-timeout=500ms"),
        std::string("--release-timeout=500ms"), std::string("--consume-start=all")})
    args.push_back(std::move(a));
  return args;
}

std::string render(const consume_outcome& o) {
  std::ostringstream out;
  out << "produced: " << o.produced.published << " messages acknowledged, "
      << o.produced.failed_attempts << " failed attempts retried, " << o.produced.already_stored
      << " already stored\n";
  if (!o.error.empty()) {
    out << "FAILED: " << o.error << "\n";
    return out.str();
  }
  if (!o.all_handled) out << "not every message was handled in time\n";
  for (const auto& name : o.recreated_consumers)
    out << "consumer " << name << " was created again during the run (its cursor started over)\n";
  out << consume_check::render(o.report, o.bad_lines);
  out << o.faults << " faults that may lose acknowledgements; "
      << consume_check::render(o.duplicates);
  out << (o.passed() ? "passed" : "FAILED") << "\n";
  return out.str();
}

namespace {

std::vector<std::string> common_args(const consume_fleet_options& o) {
  std::vector<std::string> args{"--group=" + o.group,
                                "--partitions=" + std::to_string(o.partitions),
                                "--stream=" + o.stream,
                                "--subject-template=" + o.subject_template,
                                "--handler-delay=" + format_duration(o.handler_delay),
                                "--shutdown=drain",
                                "--log-level=info"};
  args.insert(args.end(), o.timing_args.begin(), o.timing_args.end());
  return args;
}

std::shared_ptr<connection> connect(const std::string& url) {
  connection_options co;
  co.urls = {url};
  co.name = "consume-fleet";
  auto conn = connection::open(co);
  if (!conn) throw std::runtime_error("consume fleet: " + conn.error());
  return std::move(*conn);
}

}  // namespace

consume_fleet::consume_fleet(consume_fleet_options options)
    : options_(std::move(options)),
      conn_(connect(server_.url())),
      fleet_(options_.binary, common_args(options_), options_.work_dir) {
  auto subjects = partition_subjects(options_.subject_template, options_.partitions);
  if (!subjects) throw std::runtime_error("consume fleet: " + subjects.error());
  subjects_ = std::move(*subjects);
  auto created = ensure_stream(*conn_, options_.stream, stream_subject(options_.subject_template));
  if (!created) throw std::runtime_error("consume fleet: " + created.error());
  producer_options po;
  for (const auto& s : subjects_) po.subjects.push_back(s.subject);
  po.rate = options_.rate;
  producer_ = std::make_unique<stream_producer>(conn_, po);
}

consume_fleet::~consume_fleet() {
  for (int i : fleet_.alive()) fleet_.signal(i, SIGKILL);
  producer_.reset();
}

std::string consume_fleet::record_file(int index) const {
  return options_.work_dir + "/records-" + std::to_string(index) + ".jsonl";
}

int consume_fleet::start_member() {
  const int index = static_cast<int>(fleet_.members().size());
  auto relay = std::make_unique<fleet::tcp_relay>(server_.port());
  int started =
      fleet_.start(next_id_++, {"--nats-url=" + relay->url(), "--record=" + record_file(index)});
  relays_[started] = std::move(relay);
  return started;
}

std::string consume_fleet::worker_of(int index) {
  if (auto s = fleet_.status(index); s && !s->empty() && !s->front().worker.empty())
    return s->front().worker;
  const auto& m = fleet_.members().at(static_cast<std::size_t>(index));
  return "worker-" + (m.preferred_id ? std::to_string(*m.preferred_id) : std::string("?"));
}

std::optional<int> consume_fleet::leader() {
  if (auto l = fleet_.leader()) return l->first;
  return std::nullopt;
}

std::vector<int> consume_fleet::followers() {
  auto all = fleet_.alive();
  auto l = leader();
  std::vector<int> out;
  for (int i : all)
    if (!l || *l != i) out.push_back(i);
  return out;
}

status consume_fleet::kill(int index) {
  consume_check::fault_event f;
  f.kind = consume_check::fault_kind::kill;
  f.worker = worker_of(index);
  f.begin_ms = wall_ms();
  fleet_.signal(index, SIGKILL);
  f.end_ms = wall_ms();
  faults_.push_back(f);
  return done{};
}

status consume_fleet::restart(int index, duration limit) {
  auto worker = worker_of(index);
  auto code = fleet_.signal(index, SIGUSR1, true,
                            std::chrono::duration_cast<std::chrono::milliseconds>(limit));
  fleet_.restart(index);
  if (code != 0)
    return failure{worker + ": the stop with restart intent ended with exit code " +
                   (code ? std::to_string(*code) : std::string("unknown"))};
  return done{};
}

status consume_fleet::drain(int index, duration limit) {
  auto worker = worker_of(index);
  auto code = fleet_.signal(index, SIGTERM, true,
                            std::chrono::duration_cast<std::chrono::milliseconds>(limit));
  if (code != 0)
    return failure{worker + ": the drain ended with exit code " +
                   (code ? std::to_string(*code) : std::string("unknown")) + " (limit " +
                   format_duration(limit) + ")"};
  return done{};
}

status consume_fleet::cut(int index, duration limit) {
  consume_check::fault_event f;
  f.kind = consume_check::fault_kind::cut;
  f.worker = worker_of(index);
  auto& relay = *relays_.at(index);
  f.begin_ms = wall_ms();
  relay.cut();
  const auto deadline = steady::now() + limit;
  // Its own view (the HTTP port is not behind the relay) and the others'.
  auto lapsed_and_moved = [&] {
    auto own = fleet_.status(index);
    if (!own) return false;
    for (const auto& n : *own)
      if (!n.partitions.empty()) return false;
    fleet::ownership o;
    for (int i : fleet_.alive()) {
      if (i == index) continue;
      auto s = fleet_.status(i);
      if (!s) return false;
      for (const auto& n : *s)
        for (const auto& p : n.partitions) o[p].insert(n.worker);
    }
    return fleet::fully_covered(o, options_.partitions);
  };
  bool moved = false;
  while (!(moved = lapsed_and_moved()) && steady::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  relay.heal();
  f.end_ms = wall_ms();
  faults_.push_back(f);
  if (!moved)
    return failure{f.worker + ": within " + format_duration(limit) +
                   " of the cut, its lease did not lapse or the others did not own every "
                   "partition"};
  return done{};
}

void consume_fleet::restart_server() {
  consume_check::fault_event f;
  f.kind = consume_check::fault_kind::server_restart;
  f.begin_ms = wall_ms();
  server_.stop();
  server_.start();
  f.end_ms = wall_ms();
  faults_.push_back(f);
}

void consume_fleet::read_new_records() {
  for (const auto& [index, relay] : relays_) {
    std::ifstream in(record_file(index), std::ios::binary);
    if (!in) continue;
    auto& offset = read_offset_[index];
    in.seekg(static_cast<std::streamoff>(offset));
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto end = chunk.rfind('\n');
    if (end == std::string::npos) continue;  // no complete line yet
    std::istringstream lines(chunk.substr(0, end + 1));
    consume_check::record_set set;
    consume_check::read_records(record_file(index), lines, set);
    for (const auto& r : set.records) {
      auto& last = last_started_[r.partition];
      last = std::max(last, r.started_ms);
    }
    offset += end + 1;
  }
}

/// What one live member answered on /status (nothing: no answer).
struct consume_fleet::member_view {
  int index = 0;
  std::optional<std::vector<fleet::node_view>> nodes;
};

std::vector<consume_fleet::member_view> consume_fleet::look() {
  std::vector<member_view> out;
  for (int i : fleet_.alive()) out.push_back({i, fleet_.status(i)});
  return out;
}

result<duration> consume_fleet::settle(std::int64_t since_ms, duration limit) {
  const auto start = steady::now();
  std::string unsettled;
  while (true) {
    fleet_.reap();
    unsettled = [&]() -> std::string {
      auto members = look();
      if (members.empty()) return "no process runs";
      int leaders = 0;
      fleet::ownership owners;
      const bool all_serve = members.size() <= options_.partitions;
      for (const auto& m : members) {
        if (!m.nodes || m.nodes->empty())
          return "member " + std::to_string(m.index) + " does not answer";
        for (const auto& n : *m.nodes) {
          if (n.state != "Stable" && n.state != "Scaling") return n.worker + " is " + n.state;
          if (all_serve && n.partitions.empty()) return n.worker + " serves no partition";
          leaders += n.leader ? 1 : 0;
          for (const auto& p : n.partitions) owners[p].insert(n.worker);
        }
      }
      if (leaders != 1) return std::to_string(leaders) + " leaders";
      if (auto two = fleet::doubly_owned(owners); !two.empty())
        return two.front() + " is listed by two workers";
      if (!fleet::fully_covered(owners, options_.partitions))
        return std::to_string(options_.partitions -
                              std::min<std::size_t>(options_.partitions, owners.size())) +
               " partitions have no owner";
      read_new_records();
      std::string idle;
      for (const auto& s : subjects_)
        if (last_started_[s.label] < since_ms) idle += (idle.empty() ? "" : ", ") + s.label;
      if (!idle.empty()) return "no message handled since the step on " + idle;
      return "";
    }();
    if (unsettled.empty() && consumers_created_.empty()) {
      // Every partition consumed, so every consumer exists.
      auto created = consumer_creations(*conn_, options_.stream);
      if (!created)
        unsettled = created.error();
      else if (created->size() < subjects_.size())
        unsettled = std::to_string(created->size()) + " consumers";
      else
        consumers_created_ = std::move(*created);
    }
    auto took = steady::now() - start;
    if (unsettled.empty()) return std::chrono::duration_cast<duration>(took);
    if (took >= limit)
      return failure{"not settled within " + format_duration(limit) + ": " + unsettled};
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

consume_outcome consume_fleet::finish(duration limit) {
  consume_outcome out;
  const auto deadline = steady::now() + limit;
  producer_->stop();
  out.produced = producer_->report();
  out.faults = faults_.size();

  // What the stream holds is what was published (also a publish given up at the stop that the
  // stream stored anyway). The connection may still be reconnecting after a server restart.
  result<consume_check::published_set> published = failure{"not read"};
  while (!(published = read_published(*conn_, options_.stream,
                                      stream_subject(options_.subject_template), subjects_)) &&
         steady::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(250));

  auto read_all = [&] {
    consume_check::record_set set;
    for (const auto& [index, relay] : relays_) {
      std::ifstream in(record_file(index));
      consume_check::read_records(record_file(index), in, set);
    }
    return set;
  };
  if (published) {
    while (true) {
      out.all_handled = consume_check::check(*published, read_all().records).missing.empty();
      if (out.all_handled || steady::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }

  // Restart intent: a quick stop without hand-offs (there is nothing left to hand off).
  auto members = fleet_.alive();
  for (int i : members) fleet_.signal(i, SIGUSR1, false);
  for (int i : members) fleet_.wait(i, std::chrono::seconds(30));

  if (!published) {
    out.error = "cannot read back the stream: " + published.error();
    return out;
  }
  auto created = consumer_creations(*conn_, options_.stream);
  if (!created) {
    out.error = created.error();
    return out;
  }
  // After its restart the server reports a consumer's creation time a fraction of a millisecond
  // later: a creation counts as another one when it is more than 50 ms later (a consumer
  // created again is created after the first settle, which takes longer).
  constexpr std::int64_t same_creation_ns = 50'000'000;
  for (const auto& [name, at] : consumers_created_) {
    auto it = created->find(name);
    if (it == created->end() || it->second - at > same_creation_ns)
      out.recreated_consumers.push_back(name);
  }
  auto records = read_all();
  out.report = consume_check::check(*published, records.records);
  out.bad_lines = std::move(records.bad);
  const auto window = std::chrono::duration_cast<std::chrono::milliseconds>(options_.ack_wait +
                                                                            std::chrono::seconds(1))
                          .count();
  out.duplicates = consume_check::explain_duplicates(records.records, faults_, window);
  return out;
}

}  // namespace parti::consume_app
