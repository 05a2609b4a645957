// Uses the installed library through its one public include, <parti/parti.hpp>: the settings,
// a partition source and a strategy, the embedding facade (a start it must refuse, so that no
// NATS server is needed), the log sink, and the generated version.
#include <parti/parti.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <string>

namespace {

int fail(const std::string& what) {
  std::cerr << "consumer: " << what << "\n";
  return 1;
}

}  // namespace

int main() {
  parti::node_config config;
  config.group = "consumer";
  config = parti::with_fitted_timings(config);
  if (auto ok = config.validate(); !ok) return fail("default settings rejected: " + ok.error());

  auto partitions = parti::count_source(4)->load();
  if (!partitions || partitions->size() != 4) return fail("count_source(4) did not load 4");
  parti::strategy_registry strategies;
  auto sticky = strategies.find(parti::strategy_registry::default_name);
  if (!sticky) return fail(sticky.error());
  auto assigned = parti::checked_assign(**sticky, {}, {"worker-1", "worker-2"}, *partitions, {});
  if (!assigned) return fail(assigned.error());

  // Without a partition source the facade refuses to start, at once and without connecting.
  std::atomic<int> log_lines{0};
  parti::embedded_options options;
  options.config = config;
  options.log = [&](parti::log_level, const std::string&) { ++log_lines; };
  std::string rejected;
  options.callbacks.on_error = [&](const parti::embedded_error& e) {
    rejected = std::string(parti::to_string(e.kind));
  };
  {
    parti::embedded_node node(options);
    if (node.start(std::chrono::seconds(5))) return fail("started without a partition source");
  }  // the executor ran on_error before the destructor returned
  if (rejected != "configuration_rejected") return fail("on_error told '" + rejected + "'");
  if (log_lines == 0) return fail("the log sink got no line");

  std::cout << "consumer: assigned " << partitions->size() << " partitions to " << assigned->size()
            << " workers; start refused (" << rejected << ")\n";
  std::cout << "consumer: parti " << parti::version_string << " (commit " << parti::git_commit
            << ")\n";
  return 0;
}
