// The partition loader with sources that hang and throw, on real threads: the loader alone in an
// actor system (timeouts, no second load while one hangs, the last good set kept, an exception
// as a failure, a shutdown that does not wait for a hung load), then whole groups on a real
// nats-server whose leader's source hangs or throws (the leader recovers and publishes; a hang
// after a good load keeps the group working on the last good set; no node ends).
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "parti/actors/leader/leader_actor.hpp"
#include "parti/actors/partition_loader/partition_loader_actor.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/leader_group.hpp"

using namespace parti;
using namespace std::chrono_literals;

using test::leader_group;
using test::partition_count;

namespace {

/// A partition source the test steers: `partition_count` partitions, except that calls hang
/// while `hang` is set (until release()) and the next `throws` calls throw.
struct steered_source {
  std::mutex mutex;
  std::condition_variable released;
  bool hang = false;
  int throws = 0;
  std::atomic<int> calls{0};
  std::atomic<int> hanging{0};  // calls blocked now

  result<std::vector<partition>> load() {
    ++calls;
    std::unique_lock<std::mutex> lock(mutex);
    if (throws > 0) {
      --throws;
      throw std::runtime_error("boom");
    }
    if (hang) {
      ++hanging;
      released.wait(lock, [&] { return !hang; });
      --hanging;
    }
    return count_source(partition_count)->load();
  }

  void set_hang(bool on) {
    {
      std::lock_guard<std::mutex> guard(mutex);
      hang = on;
    }
    released.notify_all();
  }

  void set_throws(int n) {
    std::lock_guard<std::mutex> guard(mutex);
    throws = n;
  }
};

/// Reads the steered source on every load; holds it shared, so a load's thread that outlives
/// the test still has it.
std::shared_ptr<partition_source> source_of(std::shared_ptr<steered_source> s) {
  return callback_source([s]() -> result<std::vector<partition>> { return s->load(); });
}

/// Lets every hung call return when the test ends, also by a failed requirement, so no load's
/// thread is left blocked when the program exits.
struct release_at_end {
  std::shared_ptr<steered_source> source;
  ~release_at_end() {
    source->set_hang(false);
    test::eventually([&] { return source->hanging.load() == 0; }, 5s);
  }
};

double value_of(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.compare(0, series.size(), series) == 0 && line.size() > series.size() &&
        line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  return std::numeric_limits<double>::quiet_NaN();
}

double source_failures(const metrics& m, const std::string& worker, const std::string& reason) {
  return value_of(m.text(), "parti_partition_source_failures_total{reason=\"" + reason +
                                "\",worker=\"" + worker + "\"}");
}

// -- the loader alone ---------------------------------------------------------------------------

struct loader_system {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<steered_source> steer = std::make_shared<steered_source>();
  release_at_end release{steer};
  std::shared_ptr<metrics> stats = std::make_shared<metrics>();

  std::vector<caf::actor> spawned;  // ended with the test, also by a failed requirement

  loader_system() {
    cfg.set("scheduler.max-threads", 2);
    cfg.set("logger.verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  ~loader_system() {
    for (auto& a : spawned) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }

  partition_loader_actor spawn_loader() {
    partition_loader_settings s;
    s.source = source_of(steer);
    s.options.timeout = 300ms;
    s.options.retry = {100ms, 1s, 2.0, 0.0};
    s.stats = stats;
    s.worker = "w-1";
    auto loader = sys->spawn(partition_loader, s);
    spawned.push_back(caf::actor_cast<caf::actor>(loader));
    return loader;
  }

  /// One question to the loader and its answer.
  partition_load ask(const partition_loader_actor& loader) {
    caf::scoped_actor self{*sys};
    partition_load out;
    self->request(loader, 5s, load_atom::value)
        .receive(
            [&](const partition_load& l) { out = l; },
            [&](const caf::error& e) { BOOST_FAIL("the loader failed: " << caf::to_string(e)); });
    return out;
  }

  static std::chrono::milliseconds since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t0);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(partition_loader_alone, loader_system)

BOOST_AUTO_TEST_CASE(a_hanging_source_times_out_is_not_called_again_and_counts_once_it_returns) {
  auto loader = spawn_loader();
  // The failure series exist from the start, at 0.
  BOOST_REQUIRE(
      test::eventually([&] { return source_failures(*stats, "w-1", "timeout") == 0.0; }, 5s));
  BOOST_TEST(source_failures(*stats, "w-1", "error") == 0.0);
  steer->set_hang(true);
  auto t0 = std::chrono::steady_clock::now();
  auto first = ask(loader);
  BOOST_TEST(since(t0) >= 300ms);
  BOOST_TEST(since(t0) < 3s);
  BOOST_TEST(!first.loaded);
  BOOST_TEST(!first.fresh);
  BOOST_TEST(first.problem == "partition source: no answer within 300ms");
  BOOST_TEST(source_failures(*stats, "w-1", "timeout") == 1.0);
  // While it hangs, questions are answered at once, and nothing calls the source again.
  for (int i = 0; i < 3; ++i) {
    t0 = std::chrono::steady_clock::now();
    auto again = ask(loader);
    BOOST_TEST(since(t0) < 250ms);
    BOOST_TEST(!again.loaded);
  }
  BOOST_TEST(steer->calls.load() == 1);
  BOOST_TEST(steer->hanging.load() == 1);
  // It returns: that set counts, and the next question loads again (fresh).
  steer->set_hang(false);
  BOOST_REQUIRE(test::eventually(
      [&] {
        return !std::isnan(
            value_of(stats->text(),
                     "parti_partition_source_last_success_timestamp_seconds{worker=\"w-1\"}"));
      },
      5s));
  auto fresh = ask(loader);
  BOOST_TEST(fresh.fresh);
  BOOST_TEST(fresh.partitions.size() == partition_count);
  BOOST_TEST(steer->calls.load() == 2);
}

BOOST_AUTO_TEST_CASE(a_hang_after_a_good_load_answers_the_last_good_set) {
  auto loader = spawn_loader();
  auto good = ask(loader);
  BOOST_REQUIRE(good.fresh);
  steer->set_hang(true);
  auto kept = ask(loader);
  BOOST_TEST(kept.loaded);
  BOOST_TEST(!kept.fresh);
  BOOST_TEST(kept.partitions == good.partitions);
  BOOST_TEST(ask(loader).partitions == good.partitions);  // and while it still hangs
  BOOST_TEST(steer->calls.load() == 2);
}

BOOST_AUTO_TEST_CASE(a_source_that_throws_is_a_failed_load_retried_with_backoff) {
  auto loader = spawn_loader();
  steer->set_throws(1);
  auto failed = ask(loader);
  BOOST_TEST(!failed.loaded);
  BOOST_TEST(failed.problem == "partition source: load() threw: boom");
  BOOST_TEST(source_failures(*stats, "w-1", "error") == 1.0);
  // The loader lives on and retries on its own after the backoff (100ms): the source recovers
  // without anyone asking.
  BOOST_REQUIRE(test::eventually([&] { return steer->calls.load() == 2; }, 5s));
  BOOST_REQUIRE(test::eventually([&] { return ask(loader).loaded; }, 5s));
  auto fresh = ask(loader);
  BOOST_TEST(fresh.fresh);
  BOOST_TEST(fresh.partitions.size() == partition_count);
}

BOOST_AUTO_TEST_CASE(a_load_that_hangs_does_not_hold_up_the_actor_system_s_end) {
  steer->set_hang(true);
  {
    auto loader = spawn_loader();
    BOOST_TEST(!ask(loader).loaded);
    caf::anon_send_exit(loader, caf::exit_reason::user_shutdown);
  }
  spawned.clear();  // no handle may outlive the system
  auto t0 = std::chrono::steady_clock::now();
  sys.reset();  // waits for every actor; the hung load's thread is not one
  BOOST_TEST(since(t0) < 2s);
  BOOST_TEST(steer->hanging.load() == 1);
  steer->set_hang(false);  // its result now goes nowhere
  BOOST_TEST(test::eventually([&] { return steer->hanging.load() == 0; }, 5s));
}

BOOST_AUTO_TEST_SUITE_END()

// -- a group whose leader's source hangs or throws -----------------------------------------------

namespace {

struct steered_group : leader_group {
  std::shared_ptr<steered_source> steer = std::make_shared<steered_source>();
  release_at_end release{steer};

  steered_group() {
    config.partition_source_timeout = 400ms;
    leader_settings s;
    s.partitions = source_of(steer);
    leaders = make_leader_factory(s);
  }

  std::string leader_id() {
    auto l = sole_leader();
    return l ? l->worker : std::string();
  }

  /// Rounds of the leader that failed, over every reason.
  double failed_rounds(const std::string& worker) {
    std::istringstream lines(group->metrics->text());
    double sum = 0;
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("parti_calculator_rebalance_total{", 0) == 0 &&
          line.find("result=\"failure\"") != std::string::npos &&
          line.find("worker=\"" + worker + "\"") != std::string::npos)
        sum += std::stod(line.substr(line.rfind(' ') + 1));
    return sum;
  }

  bool all_running() {
    for (const auto& s : statuses())
      if (s.state == "Gone") return false;
    return true;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(leader_with_a_steered_source, steered_group)

BOOST_AUTO_TEST_CASE(a_source_that_hangs_at_first_delays_the_first_assignment_until_it_returns) {
  steer->set_hang(true);
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return !leader_id().empty(); }, 10s));
  auto leader = leader_id();
  // The leader gave the load up after the timeout, started its pipeline anyway, and its rounds
  // fail (no partitions yet) instead of waiting: the node is not stuck.
  BOOST_REQUIRE(test::eventually([&] { return failed_rounds(leader) >= 1; }, 10s));
  BOOST_TEST(source_failures(*group->metrics, leader, "timeout") == 1.0);
  BOOST_TEST(owners().empty());
  BOOST_TEST(steer->calls.load() == 1, "a hung load was started again");
  BOOST_TEST(all_running());
  steer->set_hang(false);
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  BOOST_TEST(leader_id() == leader);
  BOOST_TEST(all_running());
}

BOOST_AUTO_TEST_CASE(a_source_that_throws_at_first_is_retried_and_the_leader_publishes) {
  steer->set_throws(1);
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  auto leader = leader_id();
  BOOST_TEST(source_failures(*group->metrics, leader, "error") == 1.0);
  BOOST_TEST(source_failures(*group->metrics, leader, "timeout") == 0.0);
  BOOST_TEST(all_running());
}

BOOST_AUTO_TEST_CASE(a_hang_after_a_good_load_keeps_the_group_working_on_the_last_good_set) {
  for (int i = 0; i < 3; ++i) add_node();
  BOOST_REQUIRE(test::eventually([&] { return fully_covered(); }, 20s));
  auto leader = leader_id();
  steer->set_hang(true);
  // A refresh round reloads: the load hangs, the round goes on with the partitions it had.
  caf::actor follower;
  for (auto& n : nodes)
    if (!status(n).leader) follower = n;
  {
    caf::scoped_actor self{sys};
    self->request(follower, 5s, refresh_atom::value)
        .receive([](caf::ok_atom) {},
                 [](const caf::error& e) { BOOST_FAIL("refresh: " << caf::to_string(e)); });
  }
  BOOST_REQUIRE(test::eventually(
      [&] { return source_failures(*group->metrics, leader, "timeout") == 1.0; }, 10s));
  BOOST_TEST(fully_covered());
  // A crashed worker's partitions still move, while the source hangs.
  crash(follower);
  forget(follower);
  BOOST_REQUIRE(test::eventually(
      [&] {
        if (!fully_covered()) return false;
        for (const auto& s : statuses())
          if (s.owned.size() != partition_count / 2) return false;
        return true;
      },
      20s));
  BOOST_TEST(steer->hanging.load() == 1);
  BOOST_TEST(all_running());
}

BOOST_AUTO_TEST_SUITE_END()
