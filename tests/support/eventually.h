#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace billing::testing {

// Polls `done` every `every` until it is true or `timeout` passes; returns
// its last answer. For state that another process changes in the background.
inline bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds every = std::chrono::milliseconds(50)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(every);
  }
  return done();
}

}  // namespace billing::testing
