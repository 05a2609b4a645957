// Uses installed headers (<parti/...>) and the installed library: the codec and the actor layer,
// and the generated version header.
#include <parti/messages/codec.hpp>
#include <parti/messages/interfaces.hpp>
#include <parti/runtime/nats/connection.hpp>
#include <parti/version.hpp>

#include <caf/all.hpp>

#include <iostream>

int main() {
  parti::leader_lease lease{"worker-7", "instance", 3, 0};
  auto back = parti::decode<parti::leader_lease>(parti::encode(lease));
  if (!back) return 1;
  auto urls = parti::split_urls("nats://127.0.0.1:4222");
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::cout << "consumer: decoded " << back->worker << " epoch " << back->epoch << " ("
            << urls.size() << " url)\n";
  std::cout << "consumer: parti " << parti::version_string << " (commit " << parti::git_commit
            << ")\n";
  return 0;
}
