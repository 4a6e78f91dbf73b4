#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "clock/clock.h"

// Stripe's webhook signatures, checked as Stripe's own libraries do.
namespace billing::payments::domain {

enum class SignatureCheck {
  kValid,
  kMissing,    // no Stripe-Signature header
  kMalformed,  // no t= or no v1=
  kNoMatch,    // no v1 matches any of our secrets
  kStale,      // signed more than the tolerance away from now (a replay)
};

std::string_view Describe(SignatureCheck check);

// `header` is Stripe-Signature: "t=<unix seconds>,v1=<hex>[,v1=<hex>...]".
// Valid when some v1 equals HMAC-SHA256(secret, "<t>.<payload>") for some
// secret (several during a rotation), compared in constant time, and t is
// within `tolerance` of now (Stripe's libraries use 300 s).
SignatureCheck VerifyStripeSignature(std::string_view header, std::string_view payload,
                                     const std::vector<std::string>& secrets, clock::Time now,
                                     std::chrono::seconds tolerance);

}  // namespace billing::payments::domain
