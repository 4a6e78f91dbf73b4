#include "money/money.h"

#include <cstdlib>
#include <string>

#include "money/currency.h"

namespace billing::money {

std::optional<int64_t> CheckedAdd(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_add_overflow(a, b, &out)) return std::nullopt;
  return out;
}

std::optional<int64_t> CheckedMul(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

std::string Format(const Money& m) {
  const auto currency = FindCurrency(m.currency);
  const int digits = currency ? currency->minor_digits : 0;
  // Work on the magnitude as unsigned so INT64_MIN does not overflow.
  const bool negative = m.amount_minor < 0;
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(m.amount_minor)
                                      : static_cast<uint64_t>(m.amount_minor);
  uint64_t scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  std::string out = m.currency + " " + (negative ? "-" : "") + std::to_string(magnitude / scale);
  if (digits > 0) {
    std::string frac = std::to_string(magnitude % scale);
    out += "." + std::string(static_cast<std::size_t>(digits) - frac.size(), '0') + frac;
  }
  return out;
}

}  // namespace billing::money
