// Request validation, the first thing every RPC runs on caller input: any
// bytes get a yes or a precise errors::Error, never a crash or another
// exception, and what passes has the shape the rest of the code relies on.
#include <algorithm>

#include "errors/error.h"
#include "fuzz_input.h"
#include "money/money.h"
#include "validation/validation.h"

namespace v = billing::validation;

namespace {

// Runs a Require*; true if it passed. Anything but errors::Error aborts.
template <typename F>
bool Passes(F f) {
  try {
    f();
    return true;
  } catch (const billing::errors::Error&) {
    return false;
  } catch (...) {
    FUZZ_CHECK(false && "validation threw something other than errors::Error");
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  billing::fuzz::FuzzInput in(data, size);
  const std::string s = in.Next();
  const int64_t n = in.NextInt();

  const bool utf8 = v::IsValidUtf8(s);
  if (utf8) FUZZ_CHECK(v::CodePointCount(s) <= s.size());
  // Whatever comes from outside becomes valid UTF-8 without control
  // characters, within its cap, and text that is already so is kept whole.
  const std::size_t cap = static_cast<std::size_t>(n < 0 ? -(n + 1) : n) % 64;
  const std::string stored = v::StorableText(s, cap);
  FUZZ_CHECK(stored.size() <= cap && v::IsValidUtf8(stored));
  FUZZ_CHECK(std::none_of(stored.begin(), stored.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  }));
  // U+0080..U+009F (C1 controls) are 0xC2 0x80..0x9F.
  const bool has_c1 = std::adjacent_find(s.begin(), s.end(), [](char a, char b) {
                        return static_cast<unsigned char>(a) == 0xC2 && static_cast<unsigned char>(b) < 0xA0;
                      }) != s.end();
  if (s.size() <= cap && !has_c1 && Passes([&] { v::RequireText("f", s, 0, 100000); })) FUZZ_CHECK(stored == s);
  if (v::IsE164(s)) {
    FUZZ_CHECK(s.size() >= 3 && s.size() <= 16 && s[0] == '+' && s[1] != '0');
    FUZZ_CHECK(std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; }));
  }
  if (v::IsValidEmail(s)) {
    FUZZ_CHECK(s.size() <= 254 && std::count(s.begin(), s.end(), '@') == 1 && utf8);
    FUZZ_CHECK(s.find_first_of(" \"<>\r\n") == std::string::npos);  // header injection
  }
  if (Passes([&] { v::RequireText("f", s, 0, 100000); })) {
    FUZZ_CHECK(utf8 && s.find('\n') == std::string::npos && s.find('\r') == std::string::npos);
  }
  if (Passes([&] { v::RequireRequestId(s); })) FUZZ_CHECK(!s.empty() && s.size() <= 128);
  if (Passes([&] { v::RequireId("f", s); })) FUZZ_CHECK(!s.empty() && s.size() <= 64);
  if (Passes([&] { v::RequireUuid("f", s); })) FUZZ_CHECK(s.size() == 36 && v::IsUuid(s));
  if (Passes([&] { v::RequireStripeId("f", s, "pi_"); })) {
    FUZZ_CHECK(s.rfind("pi_", 0) == 0 && s.size() <= 255);
  }
  if (Passes([&] { v::RequireReturnUrl("f", s); }) && !s.empty()) {
    FUZZ_CHECK(s.rfind("https://", 0) == 0 || s.rfind("http://localhost", 0) == 0 ||
               s.rfind("http://127.0.0.1", 0) == 0);
    // Printable ASCII only, no double quotes, angle brackets or backslashes
    // (single quotes are legal in URLs).
    FUZZ_CHECK(s.size() <= 2048 && s.find_first_of("\"<>\\") == std::string::npos);
    FUZZ_CHECK(std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7F; }));
  }
  const billing::money::Money m{.amount_minor = n, .currency = s.substr(0, 4)};
  if (Passes([&] { v::RequireMoney("f", m); })) {
    FUZZ_CHECK(m.amount_minor > 0);
    (void)billing::money::Format(m);  // every accepted amount formats
  }
  (void)Passes([&] { v::RequirePageSize(static_cast<int32_t>(n), 50, 500); });
  return 0;
}
