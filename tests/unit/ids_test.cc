#include <gtest/gtest.h>

#include <set>

#include "ids/ids.h"
#include "validation/validation.h"

namespace billing::ids {
namespace {

TEST(IdsTest, UuidsAreVersion4AndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewUuid();
    ASSERT_TRUE(validation::IsUuid(id)) << id;
    EXPECT_EQ(id[14], '4');
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(IdsTest, TokensCarry256BitsUrlSafe) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string t = NewToken();
    ASSERT_EQ(t.size(), 43u);
    for (char c : t) ASSERT_TRUE(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << t;
    std::string raw;
    ASSERT_TRUE(Base64UrlDecode(t, &raw));
    EXPECT_EQ(raw.size(), 32u);
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(IdsTest, Base64UrlRoundTripsAndRejectsJunk) {
  for (std::string raw : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
    std::string back;
    ASSERT_TRUE(Base64UrlDecode(Base64UrlEncode(raw), &back));
    EXPECT_EQ(back, raw);
  }
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  std::string out;
  EXPECT_FALSE(Base64UrlDecode("Zm9v+g", &out));
  EXPECT_FALSE(Base64UrlDecode("Z", &out));
  EXPECT_FALSE(Base64UrlDecode("Zh", &out));  // non-zero leftover bits
}

}  // namespace
}  // namespace billing::ids
