#include "apps/lib/node_probes.hpp"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <utility>

#include "parti/messages/inspect.hpp"
#include "parti/messages/node_events.hpp"
#include "parti/runtime/config.hpp"

namespace parti::node_app {

void node_handles::set(std::vector<caf::actor> nodes) {
  std::lock_guard<std::mutex> guard(mutex_);
  nodes_ = std::move(nodes);
}

std::vector<caf::actor> node_handles::get() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return nodes_;
}

http_page liveness(caf::actor_system& sys, const node_handles& handles,
                   std::chrono::milliseconds deadline) {
  using nlohmann::json;
  auto nodes = handles.get();
  json out{{"alive", true}, {"nodes", json::array()}};
  if (nodes.empty()) {
    out["starting"] = true;
    return http_page{200, out.dump()};
  }
  std::string reason;
  {
    caf::scoped_actor self{sys};  // ends here: a scoped actor counts as a running actor
    // Every request is sent before the first answer is awaited: one deadline for all of them.
    std::vector<decltype(self->request(nodes[0], deadline, caf::get_atom::value))> pending;
    for (const auto& n : nodes) pending.push_back(self->request(n, deadline, caf::get_atom::value));
    for (std::size_t i = 0; i < pending.size(); ++i) {
      json node{{"index", i}};
      std::string problem;
      pending[i].receive(
          [&](const node_status& st) {
            node["worker"] = st.worker;
            node["state"] = st.state;
            if (st.state == "Failed") problem = "failed";
          },
          [&](const caf::error& e) {
            problem = e == caf::sec::request_timeout
                          ? "no answer within " + format_duration(deadline)
                          : "not answering: " + sys.render(e);
          });
      node["alive"] = problem.empty();
      if (!problem.empty()) {
        node["reason"] = problem;
        if (reason.empty()) reason = "node " + std::to_string(i) + ": " + problem;
      }
      out["nodes"].push_back(std::move(node));
    }
  }
  if (reason.empty()) return http_page{200, out.dump()};
  out["alive"] = false;
  out["reason"] = reason;
  return http_page{503, out.dump()};
}

}  // namespace parti::node_app
