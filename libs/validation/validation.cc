#include "validation/validation.h"

#include <algorithm>
#include <string>

#include "errors/error.h"
#include "money/currency.h"

namespace billing::validation {
namespace {

bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool IsDomainLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  for (char c : label) {
    if (!IsAsciiAlnum(c) && c != '-') return false;
  }
  return true;
}

// The length of the well-formed UTF-8 sequence that starts at s[i] (no
// overlongs, surrogates or code points past U+10FFFF), or 0 if none does;
// its code point goes to *cp when cp is not null.
std::size_t SequenceAt(std::string_view s, std::size_t i, uint32_t* cp) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t len;
  uint32_t value;
  if (c < 0x80) {
    len = 1;
    value = c;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2;
    value = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    value = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    value = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    value = (value << 6) | (cc & 0x3F);
  }
  constexpr uint32_t kMinForLen[] = {0, 0, 0x80, 0x800, 0x10000};
  if (value < kMinForLen[len] || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
  if (cp != nullptr) *cp = value;
  return len;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t len = SequenceAt(s, i, nullptr);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string StorableText(std::string_view raw, std::size_t max_bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(std::min(raw.size(), max_bytes));
  for (std::size_t i = 0; i < raw.size();) {
    uint32_t cp = 0;
    std::size_t len = SequenceAt(raw, i, &cp);
    std::string_view piece;
    if (len == 0) {
      piece = kReplacement;  // one per byte that starts no well-formed sequence
      len = 1;
    } else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) {
      piece = " ";  // C0 (NUL, CR, LF, ...), DEL and C1 controls
    } else {
      piece = raw.substr(i, len);
    }
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    i += len;
  }
  return out;
}

std::size_t CodePointCount(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

bool IsValidEmail(std::string_view s) {
  if (s.empty() || s.size() > 254) return false;
  const auto at = s.find('@');
  if (at == std::string_view::npos || s.find('@', at + 1) != std::string_view::npos) return false;
  const auto local = s.substr(0, at);
  const auto domain = s.substr(at + 1);
  if (local.empty() || local.size() > 64) return false;
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return false;
  }
  for (char c : local) {
    if (c <= ' ' || c >= 127 || c == '"' || c == '(' || c == ')' || c == ',' || c == ':' ||
        c == ';' || c == '<' || c == '>' || c == '[' || c == ']' || c == '\\') {
      return false;
    }
  }
  if (domain.find('.') == std::string_view::npos) return false;
  std::size_t start = 0;
  while (true) {
    const auto dot = domain.find('.', start);
    const auto label = domain.substr(start, dot == std::string_view::npos ? domain.npos : dot - start);
    if (!IsDomainLabel(label)) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool IsE164(std::string_view s) {
  if (s.size() < 3 || s.size() > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9') return false;
  for (std::size_t i = 2; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

void RequireRequestId(std::string_view value, const std::string& field) {
  if (value.empty()) throw errors::InvalidField(field, "is required");
  if (value.size() > 128) throw errors::InvalidField(field, "must be at most 128 characters");
  for (char c : value) {
    if (c <= ' ' || c >= 127) {
      throw errors::InvalidField(field, "must be printable ASCII without spaces");
    }
  }
}

void RequireId(const std::string& field, std::string_view value, std::size_t max_len) {
  if (value.empty()) throw errors::InvalidField(field, "is required");
  if (value.size() > max_len) {
    throw errors::InvalidField(field, "must be at most " + std::to_string(max_len) + " characters");
  }
  for (char c : value) {
    if (!IsAsciiAlnum(c) && c != '_' && c != '-' && c != '.' && c != ':') {
      throw errors::InvalidField(field, "may only contain letters, digits and _ . : -");
    }
  }
}

bool IsUuid(std::string_view value) {
  if (value.size() != 36) return false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? value[i] != '-' : !IsHex(value[i])) return false;
  }
  return true;
}

void RequireUuid(const std::string& field, std::string_view value) {
  if (value.empty()) throw errors::InvalidField(field, "is required");
  if (!IsUuid(value)) throw errors::InvalidField(field, "must be a UUID");
}

void RequireStripeId(const std::string& field, std::string_view id, std::string_view prefix) {
  if (id.empty()) throw errors::InvalidField(field, "is required");
  if (id.size() > 255) throw errors::InvalidField(field, "must be at most 255 characters");
  bool ok = id.starts_with(prefix) && id.size() > prefix.size();
  for (char c : id) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
  }
  if (!ok) throw errors::InvalidField(field, "must be a Stripe id starting with " + std::string(prefix));
}

void RequireReturnUrl(const std::string& field, std::string_view url) {
  if (url.empty()) return;
  if (url.size() > 2048) throw errors::InvalidField(field, "must be at most 2048 characters");
  const bool https = url.starts_with("https://") && url.size() > 8;
  const bool local = url.starts_with("http://localhost") || url.starts_with("http://127.0.0.1");
  if (!https && !local) throw errors::InvalidField(field, "must be an https URL");
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == '"' || c == '<' || c == '>' || c == '\\') {
      throw errors::InvalidField(field, "must be a URL without spaces, quotes or angle brackets");
    }
  }
}

void RequireText(const std::string& field, std::string_view value, std::size_t min_len,
                 std::size_t max_len, bool multiline) {
  if (!IsValidUtf8(value)) throw errors::InvalidField(field, "must be valid UTF-8");
  const auto n = CodePointCount(value);
  if (n < min_len) {
    throw errors::InvalidField(field, min_len == 1 ? "is required"
                                                   : "must be at least " + std::to_string(min_len) +
                                                         " characters");
  }
  if (n > max_len) {
    throw errors::InvalidField(field, "must be at most " + std::to_string(max_len) + " characters");
  }
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    const bool allowed_ws = multiline && (c == '\n' || c == '\t');
    if ((u < 0x20 || u == 0x7F) && !allowed_ws) {
      throw errors::InvalidField(field, "must not contain control characters");
    }
  }
}

void RequireCurrency(const std::string& field, std::string_view code) {
  if (code.empty()) throw errors::InvalidField(field, "is required");
  if (!money::FindCurrency(code)) {
    throw errors::InvalidField(field, "must be an ISO 4217 currency code such as USD");
  }
}

void RequireAmount(const std::string& field, int64_t amount_minor, bool allow_zero) {
  if (amount_minor < 0) throw errors::InvalidField(field, "must not be negative");
  if (amount_minor == 0 && !allow_zero) throw errors::InvalidField(field, "must be greater than 0");
  if (amount_minor > money::kMaxAmountMinor) {
    throw errors::InvalidField(field,
                               "must be at most " + std::to_string(money::kMaxAmountMinor));
  }
}

void RequireMoney(const std::string& field, const money::Money& m, bool allow_zero) {
  RequireCurrency(field + ".currency_code", m.currency);
  RequireAmount(field + ".amount_minor", m.amount_minor, allow_zero);
}

int32_t RequirePageSize(int32_t page_size, int32_t default_size, int32_t max_size,
                        const std::string& field) {
  if (page_size < 0) throw errors::InvalidField(field, "must not be negative");
  if (page_size > max_size) {
    throw errors::InvalidField(field, "must be at most " + std::to_string(max_size));
  }
  return page_size == 0 ? default_size : page_size;
}

}  // namespace billing::validation
