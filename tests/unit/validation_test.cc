#include <gtest/gtest.h>

#include "errors/error.h"
#include "validation/validation.h"

namespace billing::validation {
namespace {

// The message and field of the error a call throws.
template <typename F>
std::pair<std::string, std::string> ErrorOf(F&& f) {
  try {
    f();
  } catch (const errors::Error& e) {
    EXPECT_EQ(e.reason(), errors::Reason::kInvalidField);
    return {e.what(), e.field()};
  }
  ADD_FAILURE() << "no error thrown";
  return {};
}

TEST(EmailTest, AcceptsOrdinaryAddresses) {
  for (const char* ok : {"ann@example.com", "a.b+tag@mail.example.co.uk", "x_y-z@sub-domain.io",
                         "O'Neil@example.ie"}) {
    EXPECT_TRUE(IsValidEmail(ok)) << ok;
  }
}

TEST(EmailTest, RejectsTyposAndHostileInput) {
  for (const char* bad : {"", "ann", "ann@", "@example.com", "ann@example", "ann@@example.com",
                          "a b@example.com", "ann@exa mple.com", "ann@-example.com",
                          "ann@example-.com", "ann@example..com", ".ann@example.com",
                          "ann.@example.com", "a..b@example.com", "ann@example.com\n",
                          "\"ann\"@example.com", "ann@exam_ple.com"}) {
    EXPECT_FALSE(IsValidEmail(bad)) << bad;
  }
  EXPECT_FALSE(IsValidEmail(std::string(250, 'a') + "@x.io"));
}

TEST(E164Test, Format) {
  EXPECT_TRUE(IsE164("+14155550123"));
  EXPECT_TRUE(IsE164("+442071838750"));
  EXPECT_FALSE(IsE164("14155550123"));
  EXPECT_FALSE(IsE164("+04155550123"));
  EXPECT_FALSE(IsE164("+1 415 555 0123"));
  EXPECT_FALSE(IsE164("+1234567890123456"));  // 16 digits
  EXPECT_FALSE(IsE164("+"));
}

TEST(Utf8Test, ValidatesEncoding) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("Zoë · 東京 · 🚣"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("abc\xE2\x82"));       // truncated
  EXPECT_EQ(CodePointCount("Zoë"), 3u);
}

TEST(StorableTextTest, KeepsTextAndReplacesWhatTheDatabaseRefuses) {
  EXPECT_EQ(StorableText("Your card was declined. Zoë · 東京 · 🚣", 1000), "Your card was declined. Zoë · 東京 · 🚣");
  // NUL (from a JSON "\u0000"), CR/LF, DEL and C1 controls become spaces.
  const std::string controls("a\0b\r\nc\x7F\xC2\x85" "d", 10);
  EXPECT_EQ(StorableText(controls, 100), "a b  c  d");
  // Each byte that starts no well-formed sequence becomes U+FFFD.
  EXPECT_EQ(StorableText("ok\xFF\xC0\xAF!", 100), "ok\uFFFD\uFFFD\uFFFD!");
  EXPECT_EQ(StorableText("\xED\xA0\x80", 100), "\uFFFD\uFFFD\uFFFD");  // a surrogate
  EXPECT_EQ(StorableText("", 10), "");
}

TEST(StorableTextTest, CutsOnACharacterBoundary) {
  // 200 three-byte characters: a byte cut at 500 would split the 167th.
  std::string wide;
  for (int i = 0; i < 200; ++i) wide += "東";
  const std::string cut = StorableText(wide, 500);
  EXPECT_EQ(cut.size(), 498u);
  EXPECT_TRUE(IsValidUtf8(cut));
  EXPECT_EQ(StorableText("abcdef", 3), "abc");
  EXPECT_EQ(StorableText("ab🚣", 5), "ab");  // the 4-byte character does not fit whole
  EXPECT_EQ(StorableText("\xFF\xFF", 4), "\uFFFD");  // nor does a second replacement
  EXPECT_EQ(StorableText("abc", 0), "");
}

TEST(RequireTest, MessagesNameTheField) {
  auto [msg, field] = ErrorOf([] { RequireRequestId(""); });
  EXPECT_EQ(msg, "request_id is required");
  EXPECT_EQ(field, "request_id");

  std::tie(msg, field) = ErrorOf([] { RequireId("booking_id", "bk 1"); });
  EXPECT_EQ(field, "booking_id");
  std::tie(msg, field) = ErrorOf([] { RequireId("booking_id", std::string(65, 'a')); });
  EXPECT_EQ(msg, "booking_id must be at most 64 characters");

  std::tie(msg, field) = ErrorOf([] { RequireText("customer.name", "\xFF", 0, 10); });
  EXPECT_EQ(msg, "customer.name must be valid UTF-8");
  std::tie(msg, field) = ErrorOf([] { RequireText("customer.name", "a\x01", 0, 10); });
  EXPECT_EQ(msg, "customer.name must not contain control characters");
  std::tie(msg, field) = ErrorOf([] { RequireText("name", "", 1, 10); });
  EXPECT_EQ(msg, "name is required");

  std::tie(msg, field) = ErrorOf([] { RequireMoney("amount", {100, "ZZZ"}); });
  EXPECT_EQ(field, "amount.currency_code");
  std::tie(msg, field) = ErrorOf([] { RequireMoney("amount", {0, "USD"}); });
  EXPECT_EQ(msg, "amount.amount_minor must be greater than 0");
  std::tie(msg, field) = ErrorOf([] { RequireMoney("amount", {-1, "USD"}, true); });
  EXPECT_EQ(msg, "amount.amount_minor must not be negative");
  std::tie(msg, field) = ErrorOf([] { RequireAmount("amount", money::kMaxAmountMinor + 1); });
  EXPECT_EQ(field, "amount");
  EXPECT_NO_THROW(RequireMoney("amount", {0, "JPY"}, true));

  std::tie(msg, field) = ErrorOf([] { RequireUuid("invoice_id", "not-a-uuid"); });
  EXPECT_EQ(msg, "invoice_id must be a UUID");
  EXPECT_NO_THROW(RequireUuid("invoice_id", "0b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8"));

  std::tie(msg, field) = ErrorOf([] { RequirePageSize(101, 50, 100); });
  EXPECT_EQ(msg, "page_size must be at most 100");
  EXPECT_EQ(RequirePageSize(0, 50, 100), 50);
}

}  // namespace
}  // namespace billing::validation
