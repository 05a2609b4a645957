// Every record lists its fields twice: in `describe` (the codec, by wire name) and in
// `tie_fields` (equality and the CAF inspectors). These tests fail when a field is in one list
// and not in the other: it would be compared but never sent, or sent but never compared.
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <tuple>
#include <type_traits>

#include "parti/messages/codec.hpp"

using namespace parti;

namespace {

using record_types =
    boost::mpl::list<partition, partition_grant, id_claim, leader_lease, heartbeat_record,
                     assignment_record, manifest_record, control_record>;

template <class T>
std::size_t described_count() {
  T x;
  std::size_t n = 0;
  auto count = [&](const char*, auto&) { ++n; };
  describe(count, x);
  return n;
}

template <class T>
constexpr std::size_t tied_count() {
  return std::tuple_size_v<decltype(tie_fields(std::declval<T&>()))>;
}

// A value that differs from the field's default, for each field type the records use.
void change(bool& x) {
  x = !x;
}
template <class Integer, class = std::enable_if_t<std::is_integral_v<Integer>>>
void change(Integer& x) {
  x += 7;
}
void change(std::string& x) {
  x += "changed";
}
void change(std::vector<std::string>& x) {
  x.push_back("changed");
}
void change(std::vector<partition>& x) {
  x.push_back(partition{{"changed"}, 3});
}
void change(std::vector<partition_grant>& x) {
  x.push_back(partition_grant{{"changed"}, 4, 5});
}

/// A default T with the field that `describe` lists at `index` changed.
template <class T>
T with_described_field_changed(std::size_t index) {
  T x;
  std::size_t n = 0;
  auto visit = [&](const char*, auto& field) {
    if (n++ == index) change(field);
  };
  describe(visit, x);
  return x;
}

/// A default T with the field that `tie_fields` lists at `index` changed.
template <class T>
T with_tied_field_changed(std::size_t index) {
  T x;
  std::size_t n = 0;
  std::apply([&](auto&... field) { ((n++ == index ? change(field) : void()), ...); },
             tie_fields(x));
  return x;
}

/// Through the codec and back. A grant has no encoding of its own: it travels in an assignment.
template <class T>
T round_trip(const T& x) {
  if constexpr (std::is_same_v<T, partition_grant>) {
    assignment_record carrier;
    carrier.grants = {x};
    auto back = decode<assignment_record>(encode(carrier)).value();
    BOOST_REQUIRE(back.grants.size() == 1u);
    return back.grants.front();
  } else {
    return decode<T>(encode(x)).value();
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(both_lists_have_as_many_fields, T, record_types) {
  BOOST_TEST(described_count<T>() == tied_count<T>());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(every_described_field_is_compared, T, record_types) {
  for (std::size_t i = 0; i < described_count<T>(); ++i) {
    auto changed = with_described_field_changed<T>(i);
    BOOST_TEST((changed != T{}), "described field " << i << " is not in tie_fields");
    BOOST_TEST((round_trip(changed) == changed), "described field " << i << " does not round-trip");
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(every_compared_field_is_sent, T, record_types) {
  for (std::size_t i = 0; i < tied_count<T>(); ++i) {
    auto changed = with_tied_field_changed<T>(i);
    BOOST_TEST((changed != T{}), "tied field " << i << " did not change");
    BOOST_TEST((round_trip(changed) == changed), "tied field " << i << " is not in describe");
  }
}
