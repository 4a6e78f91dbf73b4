#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace billing::stripe_emulator {

// What a test card does when charged, per Stripe's testing docs.
enum class CardBehavior {
  kSucceed,
  kDecline,                   // 402 card_error at confirmation
  kAuthAlways,                // 3-D Secure on every payment, on- or off-session
  kAuthThenSucceed,           // 3-D Secure on-session, then succeeds
  kAuthThenDecline,           // 3-D Secure, then declines with the card's code
  kAuthOnSessionOnly,         // 3-D Secure on-session; off-session payments succeed
};

struct TestCard {
  std::string_view alias;  // "pm_card_visa"
  std::string_view brand;  // "visa"
  std::string_view last4;
  std::string_view funding;  // "credit", "debit", "prepaid"
  std::string_view country;
  CardBehavior behavior;
  // For declines (immediate or after authentication).
  std::string_view code;
  std::string_view decline_code;
  std::string_view param;
  std::string_view advice_code;
  std::string_view message;
};

// The test PaymentMethod aliases the emulator knows (pm_card_visa, the
// pm_card_visa_chargeDeclined* and pm_card_chargeDeclined* families, the
// authentication cards). Unknown aliases are nullopt.
std::optional<TestCard> FindTestCard(std::string_view alias);

}  // namespace billing::stripe_emulator
