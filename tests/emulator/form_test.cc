#include <gtest/gtest.h>

#include "src/emulator.h"
#include "src/form.h"

namespace billing::stripe_emulator {
namespace {

TEST(FormTest, NestedKeysArraysAndEncoding) {
  const auto j = ParseForm(
      "amount=2000&metadata[order]=A%26B&metadata%5Bnote%5D=a+b&expand[]=x&expand[]=y&"
      "items[0][price]=p1&items[0][quantity]=2&items[1][price]=p2&empty=");
  EXPECT_EQ(j["amount"], "2000");
  EXPECT_EQ(j["metadata"]["order"], "A&B");
  EXPECT_EQ(j["metadata"]["note"], "a b");
  EXPECT_EQ(j["expand"], nlohmann::json::array({"x", "y"}));
  EXPECT_EQ(j["items"][0]["price"], "p1");
  EXPECT_EQ(j["items"][0]["quantity"], "2");
  EXPECT_EQ(j["items"][1]["price"], "p2");
  EXPECT_EQ(j["empty"], "");
  EXPECT_EQ(ParseForm("").size(), 0u);
}

// A numeric top-level name is a key, not an array position (form_fuzz found
// "1=x" refused as "Invalid array").
TEST(FormTest, NumericTopLevelNamesAreKeys) {
  const auto j = ParseForm("1=x&2[0]=y");
  EXPECT_EQ(j["1"], "x");
  EXPECT_EQ(j["2"][0], "y");
  EXPECT_THROW(ParseForm("a[1]=z"), FormError) << "index 1 of an empty array";
}

TEST(FormTest, RejectsMalformedInput) {
  EXPECT_THROW(ParseForm("a=%zz"), FormError);
  EXPECT_THROW(ParseForm("a[b=1"), FormError);
  EXPECT_THROW(ParseForm("a=1&a[b]=2"), FormError);      // scalar then hash
  EXPECT_THROW(ParseForm("a[]=1&a[x]=2"), FormError);     // array then hash
  EXPECT_THROW(ParseForm("a[5]=1"), FormError);           // index gap
  EXPECT_THROW(ParseForm("[x]=1"), FormError);
}

TEST(FormTest, AmountsFormatLikeStripe) {
  EXPECT_EQ(FormatAmount(2500, "usd"), "$25.00");
  EXPECT_EQ(FormatAmount(99999999, "usd"), "$999,999.99");
  EXPECT_EQ(FormatAmount(500, "jpy"), "¥500");
  EXPECT_EQ(FormatAmount(1250, "kwd"), "KWD 1.250");
  EXPECT_TRUE(IsZeroDecimal("jpy"));
  EXPECT_TRUE(IsThreeDecimal("kwd"));
}

}  // namespace
}  // namespace billing::stripe_emulator
