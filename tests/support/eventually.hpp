#pragma once
// Waiting for a condition with a deadline: integration tests never sleep a fixed time.
#include <chrono>
#include <thread>

namespace parti::test {

/// Polls `condition` every few milliseconds until it holds or `timeout` passes.
template <class Condition, class Rep, class Period>
bool eventually(Condition condition, std::chrono::duration<Rep, Period> timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace parti::test
