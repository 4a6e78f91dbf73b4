#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace billing::ids {

// Cryptographically secure random bytes (OpenSSL's RAND_bytes). Aborts the
// process if the generator fails: an id or token from a broken generator is
// worse than no answer.
std::vector<unsigned char> RandomBytes(std::size_t n);

// A random (version 4) UUID in canonical lower-case form.
std::string NewUuid();

// A URL-safe random token of `bytes` random bytes, base64url without padding
// (32 bytes = 256 bits = 43 characters).
std::string NewToken(std::size_t bytes = 32);

// base64url (RFC 4648 §5) without padding, and its inverse. Decode returns
// false on any character outside the alphabet or an impossible length.
std::string Base64UrlEncode(const std::string& raw);
bool Base64UrlDecode(const std::string& text, std::string* raw);

// Sources of new ids and tokens for domain code; fakes make tests
// deterministic.
class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  virtual std::string NewId() = 0;           // a UUID
  virtual std::string NewSecretToken() = 0;  // at least 128 random bits, URL-safe
};

class RandomIdGenerator final : public IdGenerator {
 public:
  std::string NewId() override { return NewUuid(); }
  std::string NewSecretToken() override { return NewToken(32); }
};

}  // namespace billing::ids
