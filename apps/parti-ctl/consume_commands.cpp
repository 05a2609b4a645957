#include "apps/parti-ctl/consume_commands.hpp"

#include <nlohmann/json.hpp>

#include <pthread.h>
#include <signal.h>

#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "apps/lib/consume_records.hpp"
#include "apps/lib/partition_stream.hpp"
#include "apps/lib/stream_producer.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/nats/connection.hpp"

namespace parti::ctl {

namespace {

int fail(exit_code code, const std::string& message) {
  std::cerr << "parti-ctl: " << message << "\n";
  return code;
}

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

/// True when SIGINT or SIGTERM arrived within `limit` (they are blocked in every thread, so
/// only this wait sees them).
bool signalled_within(std::chrono::milliseconds limit) {
  auto set = stop_signals();
  timespec ts{static_cast<std::time_t>(limit.count() / 1000),
              static_cast<long>(limit.count() % 1000) * 1'000'000};
  return sigtimedwait(&set, nullptr, &ts) > 0;
}

std::string seconds_text(duration d) {
  std::ostringstream out;
  out.precision(1);
  out << std::fixed << std::chrono::duration<double>(d).count() << "s";
  return out.str();
}

void print_report(const arguments& a, const consume_app::producer_report& r) {
  if (a.json) {
    nlohmann::json subjects = nlohmann::json::object();
    for (const auto& [subject, seqs] : r.acked) subjects[subject] = seqs;
    nlohmann::json j{
        {"stream", a.stream},
        {"published", r.published},
        {"failed_attempts", r.failed_attempts},
        {"already_stored", r.already_stored},
        {"elapsed_ms", std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed).count()},
        {"subjects", std::move(subjects)}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << "produce: " << r.published << " messages acknowledged by stream " << a.stream
            << " on " << r.acked.size() << " subjects in " << seconds_text(r.elapsed) << "; "
            << r.failed_attempts << " failed attempts retried"
            << (r.last_error.empty() ? "" : " (last: " + r.last_error + ")") << "; "
            << r.already_stored << " already stored\n";
  for (const auto& [subject, seqs] : r.acked)
    std::cout << "  " << subject << ": " << seqs.size() << " messages, stream seqs " << seqs.front()
              << ".." << seqs.back() << "\n";
}

}  // namespace

int produce(const arguments& a) {
  // Before any thread starts (nats.c's), so that every thread inherits the blocked mask.
  auto set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto subjects = consume_app::partition_subjects(a.subject_template, a.partitions);
  if (!subjects) return fail(exit_usage, subjects.error());
  auto conn = connection::open(a.connection);
  if (!conn) return fail(exit_store_error, "cannot reach NATS: " + conn.error());
  if (a.create_stream) {
    auto subject = consume_app::stream_subject(a.subject_template);
    auto created = consume_app::ensure_stream(**conn, a.stream, subject);
    if (!created) return fail(exit_store_error, created.error());
    if (*created)
      std::cerr << "parti-ctl: created stream " << a.stream << " on " << subject << "\n";
  } else if (auto exists = parti::stream_exists(**conn, a.stream); !exists) {
    return fail(exit_store_error, exists.error() + " (--create-stream creates it)");
  }
  consume_app::producer_options options;
  for (const auto& s : *subjects) options.subjects.push_back(s.subject);
  options.rate = a.rate;
  options.run_for = a.run_for;
  consume_app::stream_producer producer(*conn, options);
  while (!producer.finished())
    if (signalled_within(std::chrono::milliseconds(200))) break;
  producer.stop();
  auto report = producer.report();
  print_report(a, report);
  if (report.published == 0 && report.failed_attempts > 0)
    return fail(exit_store_error, "nothing was acknowledged: " + report.last_error);
  return exit_ok;
}

int consume_check(const arguments& a) {
  auto subjects = consume_app::partition_subjects(a.subject_template, a.partitions);
  if (!subjects) return fail(exit_usage, subjects.error());
  consume_check::record_set records;
  for (const auto& file : a.files) {
    std::ifstream in(file);
    if (!in) return fail(exit_store_error, "cannot read " + file + ": " + std::strerror(errno));
    consume_check::read_records(file, in, records);
  }
  auto conn = connection::open(a.connection);
  if (!conn) return fail(exit_store_error, "cannot reach NATS: " + conn.error());
  auto published = consume_app::read_published(
      **conn, a.stream, consume_app::stream_subject(a.subject_template), *subjects);
  if (!published) return fail(exit_store_error, published.error());
  auto report = consume_check::check(*published, records.records);
  if (a.json) {
    nlohmann::json j{{"passed", report.passed()},
                     {"published", report.published},
                     {"records", report.records},
                     {"bad_lines", records.bad.size()},
                     {"handled", report.handled},
                     {"missing", report.missing.size()},
                     {"unexpected", report.unexpected.size()},
                     {"overlaps", report.overlap_count},
                     {"order_violations", report.order_violation_count},
                     {"duplicates", report.duplicates},
                     {"extra_handlings", report.extra_handlings}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << consume_check::render(report, records.bad);
  }
  return report.passed() ? exit_ok : exit_check_failed;
}

}  // namespace parti::ctl
