#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace billing::crypto {

// SHA-256 of data, as 64 lower-case hex characters.
std::string Sha256Hex(std::string_view data);

// HMAC-SHA256 of data under key, as 64 lower-case hex characters.
std::string HmacSha256Hex(std::string_view key, std::string_view data);

// Compares two strings in time that depends only on their lengths, for
// signatures and tokens.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace billing::crypto

namespace billing::crypto {

// Builds a digest of a request's defining fields for idempotency checks.
// Each value is length-prefixed, so ("ab","c") and ("a","bc") differ.
class Fingerprint {
 public:
  explicit Fingerprint(std::string_view kind) { Add(kind); }
  Fingerprint& Add(std::string_view value);
  Fingerprint& AddInt(int64_t value);
  Fingerprint& AddBool(bool value) { return AddInt(value ? 1 : 0); }
  // SHA-256 of everything added, hex.
  std::string Digest() const { return Sha256Hex(buffer_); }

 private:
  std::string buffer_;
};

}  // namespace billing::crypto
