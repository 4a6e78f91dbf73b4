// Stripe webhooks as an attacker sends them: any Stripe-Signature header, any
// body. Verification must never crash or accept a forged signature; a body
// signed with our secret must always verify; the event parser must never
// crash or throw on any JSON, valid or not.
#include <algorithm>
#include <chrono>
#include <optional>

#include "crypto/crypto.h"
#include "fuzz_input.h"
#include "src/clients/stripe_json.h"
#include "src/domain/webhook_signature.h"
#include "validation/validation.h"

using billing::payments::domain::SignatureCheck;
using billing::payments::domain::VerifyStripeSignature;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  billing::fuzz::FuzzInput in(data, size);
  const std::string header = in.Next();
  const std::string payload = in.Next();
  const std::vector<std::string> secrets = {"whsec_fuzz_one", "whsec_fuzz_two"};
  const auto now = billing::clock::FromUnixMicros(1'700'000'000'000'000);

  const auto check = VerifyStripeSignature(header, payload, secrets, now, std::chrono::seconds(300));
  if (check == SignatureCheck::kValid) {
    // Only a header carrying the true HMAC of this payload can be valid.
    bool carries = false;
    for (const auto& s : secrets) {
      const auto pos = header.find("t=");
      if (pos == std::string::npos) continue;
      const auto end = header.find(',', pos);
      const std::string ts = header.substr(pos + 2, end == std::string::npos ? std::string::npos : end - pos - 2);
      if (header.find(billing::crypto::HmacSha256Hex(s, ts + "." + payload)) != std::string::npos) carries = true;
    }
    FUZZ_CHECK(carries);
  }
  // Signed by us, it verifies, whatever the payload.
  const std::string good = "t=1700000000,v1=" + billing::crypto::HmacSha256Hex("whsec_fuzz_two", "1700000000." + payload);
  FUZZ_CHECK(VerifyStripeSignature(good, payload, secrets, now, std::chrono::seconds(300)) == SignatureCheck::kValid);
  FUZZ_CHECK(VerifyStripeSignature(good, payload + "x", secrets, now, std::chrono::seconds(300)) ==
             SignatureCheck::kNoMatch);

  // Parsing: no crash, no exception, on any bytes; and every string an
  // event yields can be stored (valid UTF-8, no NUL or other control).
  std::optional<billing::payments::domain::StripeEvent> event;
  try {
    event = billing::payments::clients::EventFromJson(payload);
  } catch (...) {
    FUZZ_CHECK(false && "EventFromJson threw");
  }
  if (event) {
    const auto storable = [](const std::string& s) {
      return billing::validation::IsValidUtf8(s) &&
             std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
    };
    FUZZ_CHECK(storable(event->id) && storable(event->type) && storable(event->charge_payment_intent));
    if (event->intent) {
      const auto& i = *event->intent;
      FUZZ_CHECK(storable(i.id) && storable(i.status) && storable(i.client_secret) && storable(i.last_error.code) &&
                 storable(i.last_error.decline_code) && storable(i.last_error.message));
      for (const auto& [k, v] : i.metadata) FUZZ_CHECK(storable(k) && storable(v));
    }
    if (event->refund) FUZZ_CHECK(storable(event->refund->id) && storable(event->refund->failure_reason));
  }
  return 0;
}
