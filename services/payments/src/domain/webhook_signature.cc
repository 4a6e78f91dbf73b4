#include "domain/webhook_signature.h"

#include <cstdlib>

#include "crypto/crypto.h"

namespace billing::payments::domain {

std::string_view Describe(SignatureCheck check) {
  switch (check) {
    case SignatureCheck::kValid: return "valid";
    case SignatureCheck::kMissing: return "no Stripe-Signature header";
    case SignatureCheck::kMalformed: return "malformed Stripe-Signature header";
    case SignatureCheck::kNoMatch: return "no signature matches the endpoint's secrets";
    case SignatureCheck::kStale: return "signature timestamp outside the tolerance";
  }
  return "invalid";
}

SignatureCheck VerifyStripeSignature(std::string_view header, std::string_view payload,
                                     const std::vector<std::string>& secrets, clock::Time now,
                                     std::chrono::seconds tolerance) {
  if (header.empty()) return SignatureCheck::kMissing;
  std::string timestamp;
  std::vector<std::string_view> signatures;
  std::size_t start = 0;
  while (start <= header.size()) {
    const std::size_t comma = header.find(',', start);
    std::string_view item = header.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    const std::size_t eq = item.find('=');
    if (eq != std::string_view::npos) {
      const std::string_view key = item.substr(0, eq);
      const std::string_view value = item.substr(eq + 1);
      if (key == "t") timestamp = std::string(value);
      if (key == "v1" && !value.empty()) signatures.push_back(value);
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (timestamp.empty() || timestamp.size() > 12 || timestamp.find_first_not_of("0123456789") != std::string::npos ||
      signatures.empty()) {
    return SignatureCheck::kMalformed;
  }
  std::string signed_payload = timestamp;
  signed_payload += '.';
  signed_payload.append(payload);
  bool match = false;
  for (const auto& secret : secrets) {
    const std::string expected = crypto::HmacSha256Hex(secret, signed_payload);
    // Every candidate is compared (no early exit), in constant time each.
    for (const auto& sig : signatures) match = crypto::ConstantTimeEquals(expected, sig) || match;
  }
  if (!match) return SignatureCheck::kNoMatch;
  const int64_t t = std::strtoll(timestamp.c_str(), nullptr, 10);
  const int64_t now_s = clock::ToUnixMicros(now) / 1000000;
  if (std::llabs(now_s - t) > tolerance.count()) return SignatureCheck::kStale;
  return SignatureCheck::kValid;
}

}  // namespace billing::payments::domain
