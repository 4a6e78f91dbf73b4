#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace billing::clock {

// Wall-clock time at microsecond resolution, the resolution PostgreSQL's
// timestamptz keeps, so values round-trip through the database unchanged.
using Time = std::chrono::sys_time<std::chrono::microseconds>;

int64_t ToUnixMicros(Time t);
Time FromUnixMicros(int64_t us);

// The source of "now" for domain code. Interfaces for anything
// non-deterministic keep domain rules (due dates, expiry, key retention)
// testable without sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Time Now() const = 0;
};

// The system clock.
class SystemClock final : public Clock {
 public:
  Time Now() const override;
};

// A clock that only moves when told to; for tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Time start) : now_(start) {}
  Time Now() const override;
  void Advance(std::chrono::microseconds d);
  void Set(Time t);

 private:
  mutable std::mutex mu_;
  Time now_;
};

}  // namespace billing::clock
