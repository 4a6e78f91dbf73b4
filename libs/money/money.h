#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace billing::money {

// An amount in a currency's minor units. Never floating point.
struct Money {
  int64_t amount_minor = 0;
  std::string currency;  // ISO 4217 code, upper case

  bool operator==(const Money&) const = default;
};

// The largest amount the services accept in any single amount field:
// 10^12 minor units (ten billion dollars). Well inside int64 even after
// summing thousands of them, so sums need no overflow dance beyond Checked*.
inline constexpr int64_t kMaxAmountMinor = 1'000'000'000'000;

// a + b, or nullopt on int64 overflow.
std::optional<int64_t> CheckedAdd(int64_t a, int64_t b);
// a × b, or nullopt on int64 overflow.
std::optional<int64_t> CheckedMul(int64_t a, int64_t b);

// "USD 12.34", "JPY 1200", "KWD 1.005": for logs and plain-text messages.
// Unknown currencies print the minor units as they are.
std::string Format(const Money& m);

}  // namespace billing::money
