#include "parti/messages/codec.hpp"

#include <msgpack.hpp>

#include <cstdint>
#include <stdexcept>
#include <type_traits>

namespace parti {

template <>
const char* record_name<partition>() {
  return "partition";
}
template <>
const char* record_name<partition_grant>() {
  return "partition_grant";
}
template <>
const char* record_name<id_claim>() {
  return "id_claim";
}
template <>
const char* record_name<leader_lease>() {
  return "leader_lease";
}
template <>
const char* record_name<heartbeat_record>() {
  return "heartbeat";
}
template <>
const char* record_name<assignment_record>() {
  return "assignment";
}
template <>
const char* record_name<manifest_record>() {
  return "manifest";
}
template <>
const char* record_name<control_record>() {
  return "control";
}

namespace {

/// Thrown while converting; carries the path of the offending field ("partitions[3].weight").
struct field_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class T>
struct is_record : std::false_type {};
template <>
struct is_record<partition> : std::true_type {};
template <>
struct is_record<partition_grant> : std::true_type {};
template <>
struct is_record<id_claim> : std::true_type {};
template <>
struct is_record<leader_lease> : std::true_type {};
template <>
struct is_record<heartbeat_record> : std::true_type {};
template <>
struct is_record<assignment_record> : std::true_type {};
template <>
struct is_record<manifest_record> : std::true_type {};
template <>
struct is_record<control_record> : std::true_type {};

template <class T>
const char* type_label() {
  if constexpr (std::is_same_v<T, bool>)
    return "a boolean";
  else if constexpr (std::is_same_v<T, std::string>)
    return "a string";
  else if constexpr (std::is_unsigned_v<T>)
    return "a non-negative integer";
  else if constexpr (std::is_integral_v<T>)
    return "an integer";
  else if constexpr (is_record<T>::value)
    return "a map";
  else
    return "a list";
}

template <class T>
void read_value(const msgpack::object& obj, T& out, const std::string& path);

/// Reads a map with string keys into a record: known fields by name, the rest ignored.
template <class Record>
void read_record(const msgpack::object& obj, Record& out, const std::string& path) {
  if (obj.type != msgpack::type::MAP) throw field_error(path + ": expected a map of fields");
  const auto& map = obj.via.map;
  for (std::uint32_t i = 0; i < map.size; ++i) {
    const auto& entry = map.ptr[i];
    if (entry.key.type != msgpack::type::STR) continue;  // not a field name: ignore, like unknowns
    std::string_view name(entry.key.via.str.ptr, entry.key.via.str.size);
    auto visit = [&](const char* field_name, auto& field) {
      if (name == field_name) read_value(entry.val, field, path + "." + field_name);
    };
    describe(visit, out);
  }
}

template <class T>
void read_value(const msgpack::object& obj, T& out, const std::string& path) {
  if constexpr (is_record<T>::value) {
    read_record(obj, out, path);
  } else if constexpr (std::is_same_v<T, std::vector<partition>> ||
                       std::is_same_v<T, std::vector<partition_grant>> ||
                       std::is_same_v<T, std::vector<std::string>>) {
    if (obj.type != msgpack::type::ARRAY) throw field_error(path + ": expected a list");
    out.clear();
    out.resize(obj.via.array.size);
    for (std::uint32_t i = 0; i < obj.via.array.size; ++i)
      read_value(obj.via.array.ptr[i], out[i], path + "[" + std::to_string(i) + "]");
  } else {
    try {
      obj.convert(out);
    } catch (const std::exception&) {  // msgpack::type_error, overflow
      throw field_error(path + ": expected " + type_label<T>());
    }
  }
}

template <class Stream, class Record>
void write_record(msgpack::packer<Stream>& pk, const Record& record);

template <class Stream>
struct field_writer {
  msgpack::packer<Stream>& pk;
  template <class T>
  void operator()(const char* name, const T& value) {
    pk.pack(std::string_view(name));
    write(value);
  }
  template <class T>
  void write(const T& value) {
    if constexpr (is_record<T>::value) {
      write_record(pk, value);
    } else if constexpr (std::is_same_v<T, std::vector<partition>> ||
                         std::is_same_v<T, std::vector<partition_grant>>) {
      pk.pack_array(static_cast<std::uint32_t>(value.size()));
      for (const auto& p : value) write_record(pk, p);
    } else {
      pk.pack(value);
    }
  }
};

template <class Stream, class Record>
void write_record(msgpack::packer<Stream>& pk, const Record& record) {
  std::uint32_t count = 0;
  auto counter = [&](const char*, auto&) { ++count; };
  describe(counter, const_cast<Record&>(record));
  pk.pack_map(count);
  field_writer<Stream> writer{pk};
  describe(writer, const_cast<Record&>(record));
}

template <class Record>
std::string encode_record(const Record& record) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  write_record(pk, record);
  return std::string(buffer.data(), buffer.size());
}

/// Limits derived from the input size: every element takes at least one byte, so a header that
/// announces more elements than there are bytes is a lie, rejected before anything is allocated.
msgpack::unpack_limit limits_for(std::size_t bytes) {
  auto n = static_cast<std::size_t>(bytes);
  return msgpack::unpack_limit(n, n / 2 + 1, n, n, n, 32 /* depth */);
}

}  // namespace

std::string encode(const partition& x) {
  return encode_record(x);
}
std::string encode(const id_claim& x) {
  return encode_record(x);
}
std::string encode(const leader_lease& x) {
  return encode_record(x);
}
std::string encode(const heartbeat_record& x) {
  return encode_record(x);
}
std::string encode(const assignment_record& x) {
  return encode_record(x);
}
std::string encode(const manifest_record& x) {
  return encode_record(x);
}
std::string encode(const control_record& x) {
  return encode_record(x);
}

template <class T>
result<T> decode(std::string_view bytes) {
  const std::string name = record_name<T>();
  if (bytes.empty()) return failure{name + ": empty value"};
  try {
    std::size_t offset = 0;
    auto handle = msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr,
                                  limits_for(bytes.size()));
    if (offset != bytes.size())
      return failure{name + ": " + std::to_string(bytes.size() - offset) +
                     " trailing bytes after the record"};
    T out;
    read_record(handle.get(), out, name);
    return out;
  } catch (const field_error& e) {
    return failure{e.what()};
  } catch (const msgpack::insufficient_bytes&) {
    return failure{name + ": truncated value (" + std::to_string(bytes.size()) + " bytes)"};
  } catch (const msgpack::depth_size_overflow&) {  // before size_overflow, its base class
    return failure{name + ": value nested too deeply"};
  } catch (const msgpack::size_overflow&) {
    return failure{name + ": a length in the value exceeds the value's size"};
  } catch (const std::exception& e) {  // msgpack::parse_error and other malformed input
    return failure{name + ": not msgpack (" + e.what() + ")"};
  }
}

template result<partition> decode<partition>(std::string_view);
template result<id_claim> decode<id_claim>(std::string_view);
template result<leader_lease> decode<leader_lease>(std::string_view);
template result<heartbeat_record> decode<heartbeat_record>(std::string_view);
template result<assignment_record> decode<assignment_record>(std::string_view);
template result<manifest_record> decode<manifest_record>(std::string_view);
template result<control_record> decode<control_record>(std::string_view);

}  // namespace parti
