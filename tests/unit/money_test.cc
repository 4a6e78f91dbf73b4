#include <gtest/gtest.h>

#include <limits>

#include "money/currency.h"
#include "money/money.h"

namespace billing::money {
namespace {

TEST(CurrencyTest, KnowsMinorUnits) {
  EXPECT_EQ(FindCurrency("USD")->minor_digits, 2);
  EXPECT_EQ(FindCurrency("JPY")->minor_digits, 0);
  EXPECT_EQ(FindCurrency("KWD")->minor_digits, 3);
  EXPECT_EQ(FindCurrency("EUR")->minor_digits, 2);
}

TEST(CurrencyTest, RejectsUnknownAndNonCanonical) {
  EXPECT_FALSE(FindCurrency("XXX"));
  EXPECT_FALSE(FindCurrency("usd"));
  EXPECT_FALSE(FindCurrency(""));
  EXPECT_FALSE(FindCurrency("USDX"));
  EXPECT_FALSE(FindCurrency("XAU"));  // a metal, not money a customer pays in
}

TEST(MoneyTest, FormatsByMinorUnits) {
  EXPECT_EQ(Format({1234, "USD"}), "USD 12.34");
  EXPECT_EQ(Format({5, "USD"}), "USD 0.05");
  EXPECT_EQ(Format({1200, "JPY"}), "JPY 1200");
  EXPECT_EQ(Format({1005, "KWD"}), "KWD 1.005");
  EXPECT_EQ(Format({-250, "USD"}), "USD -2.50");
  EXPECT_EQ(Format({std::numeric_limits<int64_t>::min(), "USD"}), "USD -92233720368547758.08");
}

TEST(MoneyTest, CheckedArithmeticCatchesOverflow) {
  EXPECT_EQ(*CheckedAdd(2, 3), 5);
  EXPECT_FALSE(CheckedAdd(std::numeric_limits<int64_t>::max(), 1));
  EXPECT_EQ(*CheckedMul(10000, kMaxAmountMinor), 10000 * kMaxAmountMinor);
  EXPECT_FALSE(CheckedMul(std::numeric_limits<int64_t>::max() / 2, 3));
}

}  // namespace
}  // namespace billing::money
