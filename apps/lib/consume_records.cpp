#include "apps/lib/consume_records.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <numeric>
#include <set>
#include <sstream>

namespace parti::consume_check {

using nlohmann::json;

std::string to_line(const record& r) {
  // Field by field, so the line keeps this order (nlohmann's objects sort their keys).
  std::string line = "{\"partition\":" + json(r.partition).dump();
  line += ",\"stream_seq\":" + std::to_string(r.stream_seq);
  line += ",\"worker\":" + json(r.worker).dump();
  line += ",\"started_ms\":" + std::to_string(r.started_ms);
  line += ",\"finished_ms\":" + std::to_string(r.finished_ms);
  if (r.delivery > 0) line += ",\"delivery\":" + std::to_string(r.delivery);
  line += "}";
  return line;
}

namespace {

result<std::string> text_field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string() || it->get<std::string>().empty())
    return failure{std::string("\"") + name + "\": missing or not a non-empty string"};
  return it->get<std::string>();
}

result<std::int64_t> number_field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer())
    return failure{std::string("\"") + name + "\": missing or not an integer"};
  return it->get<std::int64_t>();
}

}  // namespace

result<record> parse_line(std::string_view line) {
  auto j = json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded()) return failure{"not JSON"};
  if (!j.is_object()) return failure{"not a JSON object"};
  record r;
  auto partition = text_field(j, "partition");
  if (!partition) return failure{partition.error()};
  auto worker = text_field(j, "worker");
  if (!worker) return failure{worker.error()};
  auto seq = number_field(j, "stream_seq");
  if (!seq) return failure{seq.error()};
  if (*seq < 1) return failure{"\"stream_seq\": must be at least 1"};
  auto started = number_field(j, "started_ms");
  if (!started) return failure{started.error()};
  auto finished = number_field(j, "finished_ms");
  if (!finished) return failure{finished.error()};
  if (*finished < *started) return failure{"\"finished_ms\": before \"started_ms\""};
  if (j.contains("delivery")) {
    auto delivery = number_field(j, "delivery");
    if (!delivery) return failure{delivery.error()};
    if (*delivery < 1) return failure{"\"delivery\": must be at least 1"};
    r.delivery = static_cast<std::uint64_t>(*delivery);
  }
  r.partition = std::move(*partition);
  r.worker = std::move(*worker);
  r.stream_seq = static_cast<std::uint64_t>(*seq);
  r.started_ms = *started;
  r.finished_ms = *finished;
  return r;
}

void read_records(const std::string& source, std::istream& in, record_set& out) {
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto r = parse_line(line);
    if (r)
      out.records.push_back(std::move(*r));
    else
      out.bad.push_back({source, number, r.error()});
  }
}

namespace {

/// Indices of `records` in the order they started; ties keep the order read.
std::vector<std::size_t> start_order(const std::vector<record>& records) {
  std::vector<std::size_t> order(records.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return records[a].started_ms < records[b].started_ms;
  });
  return order;
}

bool intersect(const record& a, const record& b) {
  return a.started_ms < b.finished_ms && b.started_ms < a.finished_ms;
}

void find_gaps(const published_set& published, const std::vector<record>& records, report& out) {
  std::map<message_id, std::size_t> handlings;
  for (const auto& r : records) ++handlings[{r.partition, r.stream_seq}];
  std::set<message_id> expected;
  for (const auto& [partition, seqs] : published)
    for (auto seq : seqs) expected.insert({partition, seq});
  out.published = expected.size();
  for (const auto& [partition, seqs] : published) out.partitions += seqs.empty() ? 0 : 1;
  for (const auto& id : expected) {
    auto it = handlings.find(id);
    if (it == handlings.end()) {
      out.missing.push_back(id);
      continue;
    }
    ++out.handled;
    if (it->second > 1) {
      ++out.duplicates;
      out.extra_handlings += it->second - 1;
    }
  }
  for (const auto& r : records)
    if (!expected.count({r.partition, r.stream_seq})) out.unexpected.push_back(r);
}

/// Per partition, a sweep in start order over the records still running: exact, and cheap
/// because few run at once.
void find_overlaps(const std::vector<record>& records, const std::vector<std::size_t>& order,
                   report& out) {
  std::map<std::string, std::vector<const record*>> running;  // per partition
  for (auto i : order) {
    const auto& r = records[i];
    auto& active = running[r.partition];
    active.erase(std::remove_if(active.begin(), active.end(),
                                [&](const record* a) { return a->finished_ms <= r.started_ms; }),
                 active.end());
    for (const auto* a : active) {
      if (a->worker == r.worker || !intersect(*a, r)) continue;
      ++out.overlap_count;
      if (out.overlaps.size() < max_examples) out.overlaps.push_back({*a, r});
    }
    active.push_back(&r);
  }
}

void find_order_violations(const std::vector<record>& records,
                           const std::vector<std::size_t>& order, report& out) {
  std::set<message_id> seen;
  std::map<std::pair<std::string, std::string>, const record*> highest;  // (worker, partition)
  for (auto i : order) {
    const auto& r = records[i];
    bool redelivery = !seen.insert({r.partition, r.stream_seq}).second;
    auto& top = highest[{r.worker, r.partition}];
    if (top && r.stream_seq < top->stream_seq && !redelivery) {
      ++out.order_violation_count;
      if (out.order_violations.size() < max_examples) out.order_violations.push_back({*top, r});
    }
    if (!top || r.stream_seq > top->stream_seq) top = &r;
  }
}

}  // namespace

report check(const published_set& published, const std::vector<record>& records) {
  report out;
  out.records = records.size();
  find_gaps(published, records, out);
  auto order = start_order(records);
  find_overlaps(records, order, out);
  find_order_violations(records, order, out);
  return out;
}

namespace {

std::string interval(const record& r) {
  return r.worker + " handled seq " + std::to_string(r.stream_seq) + " during [" +
         std::to_string(r.started_ms) + ", " + std::to_string(r.finished_ms) + "] ms";
}

/// "p-1: 17, 18, 19; p-4: 90" for the first `examples` missing messages.
std::string missing_text(const std::vector<message_id>& missing, std::size_t examples) {
  std::string text, partition;
  for (std::size_t i = 0; i < missing.size() && i < examples; ++i) {
    if (missing[i].partition != partition) {
      partition = missing[i].partition;
      text += (text.empty() ? "" : "; ") + partition + ": ";
    } else {
      text += ", ";
    }
    text += std::to_string(missing[i].stream_seq);
  }
  if (missing.size() > examples) text += "; ...";
  return text;
}

std::string plural(std::size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string render(const report& r, const std::vector<bad_line>& bad, std::size_t examples) {
  std::ostringstream out;
  out << "records: " << r.records << " handlings";
  if (!bad.empty()) out << " (" << plural(bad.size(), "bad line", "bad lines") << ", skipped)";
  out << "\n";
  for (std::size_t i = 0; i < bad.size() && i < examples; ++i)
    out << "  bad line " << bad[i].source << ":" << bad[i].line << ": " << bad[i].reason << "\n";
  out << "published: " << plural(r.published, "message", "messages") << " on "
      << plural(r.partitions, "partition", "partitions") << "\n";
  out << "handled: " << r.handled << " of " << r.published << "\n";
  out << "duplicates: " << plural(r.duplicates, "message", "messages")
      << " handled more than once ("
      << plural(r.extra_handlings, "extra handling", "extra handlings") << ")\n";
  out << "missing: " << r.missing.size();
  if (!r.missing.empty()) out << " (" << missing_text(r.missing, examples) << ")";
  out << "\n";
  if (!r.unexpected.empty()) {
    out << "unexpected: " << plural(r.unexpected.size(), "record", "records")
        << " of messages not published on their partition\n";
    for (std::size_t i = 0; i < r.unexpected.size() && i < examples; ++i)
      out << "  " << r.unexpected[i].partition << ": " << interval(r.unexpected[i]) << "\n";
  }
  out << "overlaps: " << r.overlap_count << "\n";
  for (std::size_t i = 0; i < r.overlaps.size() && i < examples; ++i)
    out << "  " << r.overlaps[i].first.partition << ": " << interval(r.overlaps[i].first)
        << ", while " << interval(r.overlaps[i].second) << "\n";
  out << "order violations: " << r.order_violation_count << "\n";
  for (std::size_t i = 0; i < r.order_violations.size() && i < examples; ++i) {
    const auto& v = r.order_violations[i];
    out << "  " << v.late.worker << " on " << v.late.partition << ": seq " << v.late.stream_seq
        << " (started " << v.late.started_ms << ") after seq " << v.before.stream_seq
        << " (started " << v.before.started_ms << ")\n";
  }
  if (r.passed()) {
    out << "no gap, no overlap\n";
    return out.str();
  }
  out << "FAILED: " << r.missing.size() << " missing, " << r.unexpected.size() << " unexpected, "
      << plural(r.overlap_count, "overlap", "overlaps") << ", "
      << plural(r.order_violation_count, "order violation", "order violations") << "\n";
  return out.str();
}

const char* to_string(fault_kind k) {
  switch (k) {
    case fault_kind::kill:
      return "kill -9";
    case fault_kind::cut:
      return "cut";
    case fault_kind::server_restart:
      return "server restart";
  }
  return "?";
}

namespace {

/// How far `t` lies outside [begin, end] (0 inside).
std::int64_t distance(const fault_event& f, std::int64_t t) {
  if (t < f.begin_ms) return f.begin_ms - t;
  if (t > f.end_ms) return t - f.end_ms;
  return 0;
}

/// The nearest fault that explains a lost ack of `handled`, or nullptr.
const fault_event* cause_of(const record& handled, const std::vector<fault_event>& faults,
                            std::int64_t window_ms) {
  const fault_event* best = nullptr;
  for (const auto& f : faults) {
    std::int64_t d = 0;
    if (f.kind == fault_kind::server_restart || f.worker == handled.worker)
      d = distance(f, handled.finished_ms);
    else if (f.kind == fault_kind::cut && handled.finished_ms >= f.end_ms - heal_margin_ms)
      d = std::max<std::int64_t>(0, handled.finished_ms - f.end_ms);  // a stale nak at the heal
    else
      continue;
    if (d > window_ms) continue;
    if (!best || d < distance(*best, handled.finished_ms)) best = &f;
  }
  return best;
}

}  // namespace

duplicate_causes explain_duplicates(const std::vector<record>& records,
                                    const std::vector<fault_event>& faults,
                                    std::int64_t window_ms) {
  duplicate_causes out;
  for (auto kind : {fault_kind::kill, fault_kind::cut, fault_kind::server_restart})
    out.by_cause[kind] = 0;
  std::map<message_id, std::vector<const record*>> handlings;
  for (auto i : start_order(records))
    handlings[{records[i].partition, records[i].stream_seq}].push_back(&records[i]);
  for (const auto& [id, list] : handlings) {
    for (std::size_t i = 0; i + 1 < list.size(); ++i) {
      if (list[i]->delivery > 0 && list[i + 1]->delivery == 1) {
        ++out.delivered_anew;
        continue;
      }
      if (const auto* f = cause_of(*list[i], faults, window_ms)) {
        ++out.by_cause[f->kind];
        continue;
      }
      ++out.unexplained_count;
      if (out.unexplained.size() < max_examples)
        out.unexplained.push_back({*list[i], *list[i + 1]});
    }
  }
  return out;
}

std::string render(const duplicate_causes& d, std::size_t examples) {
  std::ostringstream out;
  out << "duplicates by cause:";
  for (const auto& [kind, count] : d.by_cause) out << " " << to_string(kind) << " " << count << ",";
  out << " delivered anew by the server " << d.delivered_anew << ", unexplained "
      << d.unexplained_count << "\n";
  for (std::size_t i = 0; i < d.unexplained.size() && i < examples; ++i) {
    const auto& u = d.unexplained[i];
    out << "  " << u.handled.partition << " seq " << u.handled.stream_seq << ": "
        << interval(u.handled) << ", again by " << interval(u.again) << "\n";
  }
  return out.str();
}

}  // namespace parti::consume_check
