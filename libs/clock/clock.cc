#include "clock/clock.h"

namespace billing::clock {

int64_t ToUnixMicros(Time t) { return t.time_since_epoch().count(); }

Time FromUnixMicros(int64_t us) { return Time(std::chrono::microseconds(us)); }

Time SystemClock::Now() const {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

Time FakeClock::Now() const {
  std::lock_guard lock(mu_);
  return now_;
}

void FakeClock::Advance(std::chrono::microseconds d) {
  std::lock_guard lock(mu_);
  now_ += d;
}

void FakeClock::Set(Time t) {
  std::lock_guard lock(mu_);
  now_ = t;
}

}  // namespace billing::clock
