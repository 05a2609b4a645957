#pragma once
// msgpack encoding of the KV records (docs/WIRE.md): maps with string keys, so fields can be
// added without breaking older readers.
//
// Decoding is total: garbage, truncated input, wrong types, trailing bytes or absurd lengths give
// a failure naming the record and field; unknown fields are ignored and missing fields keep their
// defaults. It never throws. Every container's announced length is checked against the input
// size before anything is allocated; nested containers can still make msgpack reserve up to
// (nesting depth x input size) elements (depth is capped at 32), which fails cleanly
// (std::bad_alloc -> an error) under a memory limit.
#include <string>
#include <string_view>

#include "parti/messages/records.hpp"
#include "parti/messages/result.hpp"

namespace parti {

std::string encode(const partition& x);
std::string encode(const id_claim& x);
std::string encode(const leader_lease& x);
std::string encode(const heartbeat_record& x);
std::string encode(const assignment_record& x);
std::string encode(const manifest_record& x);
std::string encode(const control_record& x);

/// Decodes one record of type T (one of the records above) from `bytes`.
template <class T>
result<T> decode(std::string_view bytes);

/// The record's name as used in error messages ("heartbeat", "assignment", ...).
template <class T>
const char* record_name();

}  // namespace parti
