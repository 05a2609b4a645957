#pragma once
// Typed actor interfaces: what each actor accepts and answers. New actors add theirs here.
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "messages/atoms.hpp"
#include "messages/events.hpp"
#include "messages/inspect.hpp"

namespace parti {

/// One KV bucket, served on a thread of its own (the calls block on the network). Failures come
/// back as caf::error in the "parti_kv" category (kv_errc), with the reason as context.
using kv_actor = caf::typed_actor<
    caf::replies_to<caf::get_atom, std::string>::with<kv_entry>,
    caf::replies_to<caf::put_atom, std::string, std::string>::with<std::uint64_t>,
    caf::replies_to<create_atom, std::string, std::string>::with<std::uint64_t>,
    caf::replies_to<caf::update_atom, std::string, std::string, std::uint64_t>::with<std::uint64_t>,
    caf::replies_to<caf::delete_atom, std::string>::with<caf::ok_atom>,
    caf::replies_to<purge_atom, std::string>::with<caf::ok_atom>,
    caf::replies_to<keys_atom>::with<std::vector<std::string>>,
    caf::replies_to<caf::get_atom, keys_atom>::with<std::vector<kv_entry>>,
    caf::replies_to<write_atom, std::vector<kv_write>>::with<std::vector<std::uint64_t>>>;

}  // namespace parti
