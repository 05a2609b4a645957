#pragma once
// Lets BOOST_TEST print durations and time points in failure messages (Boost 1.74 cannot in
// C++17). Found by argument-dependent lookup through Boost.Test's customization point.
#include <chrono>
#include <ostream>

namespace std::chrono {

template <class Rep, class Period>
std::ostream& boost_test_print_type(std::ostream& os, const duration<Rep, Period>& d) {
  return os << duration_cast<duration<double, std::milli>>(d).count() << "ms";
}

template <class Clock, class Duration>
std::ostream& boost_test_print_type(std::ostream& os, const time_point<Clock, Duration>& t) {
  return os << "t+" << duration_cast<duration<double, std::milli>>(t.time_since_epoch()).count()
            << "ms";
}

}  // namespace std::chrono
