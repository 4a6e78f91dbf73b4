#include <gtest/gtest.h>

#include "crypto/crypto.h"

namespace billing::crypto {
namespace {

TEST(CryptoTest, Sha256KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CryptoTest, HmacSha256Rfc4231Case2) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(CryptoTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(CryptoTest, FingerprintSeparatesFields) {
  EXPECT_NE(Fingerprint("k").Add("ab").Add("c").Digest(), Fingerprint("k").Add("a").Add("bc").Digest());
  EXPECT_NE(Fingerprint("k").AddInt(1).Digest(), Fingerprint("j").AddInt(1).Digest());
  EXPECT_EQ(Fingerprint("k").AddInt(-5).AddBool(true).Digest(),
            Fingerprint("k").AddInt(-5).AddBool(true).Digest());
}

}  // namespace
}  // namespace billing::crypto
