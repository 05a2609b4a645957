#include "parti/runtime/nats/watch_hub.hpp"

#include <caf/all.hpp>

#include "parti/messages/atoms.hpp"
#include "parti/messages/inspect.hpp"
#include "parti/runtime/nats/watch.hpp"

namespace parti {

namespace {

using self_ptr = watch_hub_actor::stateful_pointer<watch_hub_state>;

/// What a new (or resyncing) consumer of `key` needs: the current value, then ready.
void replay(self_ptr self, const std::string& key, const key_consumer& consumer) {
  auto& st = self->state;
  if (auto it = st.current.find(key); it != st.current.end())
    self->send(consumer, watch_update{st.bucket, it->second, true});
  self->send(consumer, watch_ready{st.bucket, false, {}, 0});
}

void on_update(self_ptr self, watch_update& u) {
  auto& st = self->state;
  st.current[u.entry.key] = u.entry;
  if (!st.ready) return;  // consumers get the replay when it is complete
  auto range = st.consumers.equal_range(u.entry.key);
  for (auto it = range.first; it != range.second; ++it)
    self->send(it->second, watch_update{st.bucket, u.entry, false});
}

void on_ready(self_ptr self, const watch_ready& r) {
  auto& st = self->state;
  if (!st.ready) {
    st.ready = true;
    for (auto& [key, consumer] : st.consumers) replay(self, key, consumer);
    return;
  }
  if (r.resumed) {
    // Keys that vanished while the watch was down (expiry gives no event): forget them, so a
    // resync does not replay a value that is gone.
    std::unordered_map<std::string, kv_entry> kept;
    for (const auto& key : r.present)
      if (auto it = st.current.find(key); it != st.current.end()) kept.emplace(key, it->second);
    st.current = std::move(kept);
  }
}

void on_subscribe(self_ptr self, const std::string& key, const key_consumer& consumer) {
  self->monitor(consumer);
  self->state.consumers.emplace(key, consumer);
  if (self->state.ready) replay(self, key, consumer);
}

void on_down(self_ptr self, const caf::down_msg& dm) {
  auto& consumers = self->state.consumers;
  for (auto it = consumers.begin(); it != consumers.end();)
    it = it->second.address() == dm.source ? consumers.erase(it) : std::next(it);
}

watch_hub_actor::behavior_type watch_hub(self_ptr self, std::shared_ptr<kv_store> store,
                                         std::shared_ptr<metrics> stats) {
  self->state.bucket = store->bucket();
  auto bucket = store->bucket();
  auto watch = spawn_watch(self->system(), std::move(store), self, watch_options{},
                           count_watch_failures(stats, "", bucket));
  self->link_to(watch);
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, dm); });
  return {
      [=](watch_update& u) { on_update(self, u); },
      [=](const watch_ready& r) { on_ready(self, r); },
      [=](caf::subscribe_atom, const std::string& key, const key_consumer& consumer) {
        on_subscribe(self, key, consumer);
      },
      [=](resync_atom, const std::string& key, const key_consumer& consumer) {
        if (self->state.ready) replay(self, key, consumer);
      },
  };
}

}  // namespace

watch_hub_actor spawn_watch_hub(caf::actor_system& sys, std::shared_ptr<kv_store> store,
                                std::shared_ptr<metrics> stats) {
  return sys.spawn(watch_hub, std::move(store), std::move(stats));
}

}  // namespace parti
