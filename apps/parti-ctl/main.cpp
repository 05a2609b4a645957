// parti-ctl: inspects and operates a parti group through its KV buckets (no actors, no node).
//
//   parti-ctl status                    the group at a glance; exit 3 when unhealthy, 4 when
//                                       NATS refuses the credentials, 5 a subject
//   parti-ctl --json status | jq ...    the same for scripts
//   parti-ctl drain worker-3            ask the leader to hand worker-3's partitions off
//   parti-ctl produce --stream=S --subject-template=s.{0} --partitions=6 --rate=50 --duration=1m
//   parti-ctl consume-check --stream=S --subject-template=s.{0} --partitions=6 records-*.jsonl
//
// Requests to the leader go through the `_control` record of the assignments bucket, updated
// by compare-and-swap so that concurrent operators never lose each other's requests.
#include <algorithm>
#include <iostream>

#include "apps/lib/version_flag.hpp"
#include "apps/parti-ctl/args.hpp"
#include "apps/parti-ctl/consume_commands.hpp"
#include "apps/parti-ctl/render.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/nats/group_inspect.hpp"

using namespace parti;
using namespace parti::ctl;

namespace {

int fail(exit_code code, const std::string& message) {
  std::cerr << "parti-ctl: " << message << "\n";
  return code;
}

void print(const arguments& a, const nlohmann::json& j, const std::string& text) {
  if (a.json)
    std::cout << j.dump(2) << "\n";
  else
    std::cout << text;
}

int show_status(const arguments& a, const group_state& state) {
  auto health = assess(state);
  print(a, status_json(state, health), status_table(state, health));
  return health.healthy ? exit_ok : exit_unhealthy;
}

int show_assignments(const arguments& a, const group_state& state) {
  print(a, assignments_json(state), assignments_table(state));
  return exit_ok;
}

int explain(const arguments& a, const group_state& state) {
  auto owners = owners_of_key(state, a.operand);
  print(a, explain_json(state, a.operand, owners), explain_text(state, a.operand, owners));
  return owners.empty() ? exit_unhealthy : exit_ok;
}

/// The change each control command makes; applied again on every CAS retry.
std::function<void(control_record&)> control_change(const arguments& a) {
  const auto& worker = a.operand;
  if (a.command == "rebalance") return [](control_record& c) { ++c.rebalance_seq; };
  if (a.command == "refresh") return [](control_record& c) { ++c.refresh_seq; };
  if (a.command == "freeze") return [](control_record& c) { c.frozen = true; };
  if (a.command == "unfreeze") return [](control_record& c) { c.frozen = false; };
  if (a.command == "drain")
    return [worker](control_record& c) {
      if (std::find(c.drain.begin(), c.drain.end(), worker) == c.drain.end())
        c.drain.push_back(worker);
    };
  return [worker](control_record& c) {  // undrain
    c.drain.erase(std::remove(c.drain.begin(), c.drain.end(), worker), c.drain.end());
  };
}

int fail_request(const connection& conn, const std::string& message);

int update(const arguments& a, const connection& conn, const group_stores& stores) {
  if (a.command == "drain" || a.command == "undrain") {
    if (!is_valid_kv_key(a.operand))
      return fail(exit_usage, a.command + ": \"" + a.operand + "\" is not a worker id");
    // Draining an id the group has never seen is allowed (it may be starting), but say so.
    auto state = read_group(stores);
    if (state && a.command == "drain" && !state->workers.count(a.operand))
      std::cerr << "parti-ctl: note: " << a.operand << " is not known in group " << a.group
                << " (no claim, heartbeat or assignment)\n";
  }
  auto written = update_control(*stores.assignments, control_change(a));
  if (!written) return fail_request(conn, written.error());
  nlohmann::json j = control_json(written->record);
  j["revision"] = written->revision;
  print(a, j, a.command + ": done; control is now " + control_text(written->record) + "\n");
  return exit_ok;
}

/// A failed request: a permission error when the server denied a subject (it says so only
/// asynchronously; the request itself just times out), else a store error.
int fail_request(const connection& conn, const std::string& message) {
  if (auto denied = conn.last_permission_violation(); !denied.empty())
    return fail(exit_permission_denied,
                "permission denied: " + denied + " (the NATS user lacks it; see docs/SECURITY.md)");
  return fail(exit_store_error, message);
}

int run(const arguments& a) {
  if (a.command == "produce") return produce(a);
  if (a.command == "consume-check") return consume_check(a);
  auto conn = connection::open(a.connection);
  if (!conn) {
    if (refusal_in(conn.error()) == nats_refusal::authorization)
      return fail(exit_authorization_failed,
                  "NATS refused the credentials (authorization violation): " + conn.error());
    return fail(exit_store_error, "cannot reach NATS: " + conn.error());
  }
  auto stores = group_stores::open(*conn, a.group);
  if (!stores) return fail_request(**conn, "group " + a.group + ": " + stores.error());
  if (a.command != "status" && a.command != "assignments" && a.command != "explain")
    return update(a, **conn, *stores);
  auto state = read_group(*stores);
  if (!state) return fail_request(**conn, state.error());
  if (a.command == "status") return show_status(a, *state);
  if (a.command == "assignments") return show_assignments(a, *state);
  return explain(a, *state);
}

}  // namespace

int main(int argc, char** argv) {
  if (node_app::print_version_if_asked("parti-ctl", argc, argv)) return exit_ok;
  auto parsed = parse_arguments(std::vector<std::string>(argv + 1, argv + argc),
                                read_nats_environment(process_environment()));
  if (!parsed) {
    std::cerr << "parti-ctl: " << parsed.error() << " (see parti-ctl --help)\n";
    return exit_usage;
  }
  if (parsed->help) {
    std::cout << usage_text();
    return exit_ok;
  }
  try {
    return run(*parsed);
  } catch (const std::exception& e) {  // a bug, but never a core dump in an operator's shell
    return fail(exit_store_error, std::string("unexpected error: ") + e.what());
  }
}
