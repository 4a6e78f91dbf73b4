#pragma once

#include <optional>
#include <string_view>

namespace billing::money {

// An ISO 4217 currency that money can be moved in.
struct Currency {
  std::string_view code;  // "USD"
  int minor_digits;       // 2 for USD, 0 for JPY, 3 for KWD
};

// Looks up an active ISO 4217 currency by its upper-case alphabetic code.
// Fund codes (BOV, CLF, USN, ...) and precious metals are not money a
// customer pays in, so they are unknown here.
std::optional<Currency> FindCurrency(std::string_view code);

}  // namespace billing::money
