#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "money/money.h"

// Checks on request fields shared by every service's api layer (and by domain
// rules that need the same definitions). The Require* functions throw
// errors::Error (INVALID_FIELD) whose message starts with the field's proto
// path, so callers never have to word these themselves.
namespace billing::validation {

// True for well-formed UTF-8 (no overlongs, surrogates or code points past
// U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Text from outside our control (Stripe's answers, an SMTP server's reply,
// an SMS provider's body, another service's gRPC status message) made safe
// to store, log and show: a byte that starts no well-formed UTF-8 sequence
// becomes U+FFFD, a control character (NUL included, which PostgreSQL's text
// refuses, and CR/LF, which would split a log line) becomes a space, and the
// result is cut to at most max_bytes on a character boundary. A plain
// substr() of such text can split a character, which the database refuses.
std::string StorableText(std::string_view raw, std::size_t max_bytes);

// The number of code points in valid UTF-8.
std::size_t CodePointCount(std::string_view s);

// A pragmatic email check: one '@', a local part of 1..64 printable ASCII
// characters without spaces or quotes, a domain of dot-separated labels
// (letters, digits, hyphens; not starting or ending with a hyphen) with at
// least one dot, and at most 254 characters in all. It accepts what mail
// relays accept and refuses typos like "ann@", "ann@example" or "a b@x.io".
bool IsValidEmail(std::string_view s);

// E.164: '+', a non-zero digit, then 1..14 more digits (at most 15 digits).
bool IsE164(std::string_view s);

// request_id: 1..128 printable ASCII characters, no spaces.
void RequireRequestId(std::string_view value, const std::string& field = "request_id");

// An identifier: 1..max_len characters of [A-Za-z0-9_.:-].
void RequireId(const std::string& field, std::string_view value, std::size_t max_len = 64);

// A UUID in canonical text form (8-4-4-4-12 hex digits, any case).
void RequireUuid(const std::string& field, std::string_view value);
bool IsUuid(std::string_view value);

// Free text: valid UTF-8, min_len..max_len code points, no control
// characters other than tab and newline (allowed only when multiline).
void RequireText(const std::string& field, std::string_view value, std::size_t min_len,
                 std::size_t max_len, bool multiline = false);

// A currency code that ISO 4217 knows.
void RequireCurrency(const std::string& field, std::string_view code);

// An amount in 1..kMaxAmountMinor (or 0..kMaxAmountMinor when allow_zero).
void RequireAmount(const std::string& field, int64_t amount_minor, bool allow_zero = false);

// A complete Money: field + ".currency_code" and field + ".amount_minor".
void RequireMoney(const std::string& field, const money::Money& money, bool allow_zero = false);

// A Stripe object id: the prefix ("pm_", "pi_", ...), then letters, digits
// and underscores, at most 255 characters (test aliases such as
// pm_card_visa included).
void RequireStripeId(const std::string& field, std::string_view id, std::string_view prefix);

// A return URL for redirect-based authentication: empty (the default), or
// https (http only to localhost, for local runs), at most 2048 characters,
// printable ASCII without spaces, double quotes, backslashes or angle
// brackets.
void RequireReturnUrl(const std::string& field, std::string_view url);

// A page_size in 0..max (0 means the default).
int32_t RequirePageSize(int32_t page_size, int32_t default_size, int32_t max_size,
                        const std::string& field = "page_size");

}  // namespace billing::validation
