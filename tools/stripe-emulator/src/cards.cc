#include "cards.h"

#include <array>

namespace billing::stripe_emulator {
namespace {

using B = CardBehavior;

// Sources: docs.stripe.com/testing (aliases and numbers), and outcomes
// observed against Stripe test mode (code, decline_code, param, advice_code,
// message); see STRIPE-DIFFS.md for what is unconfirmed.
constexpr std::array kCards = {
    TestCard{"pm_card_visa", "visa", "4242", "credit", "US", B::kSucceed, "", "", "", "", ""},
    TestCard{"pm_card_visa_debit", "visa", "5556", "debit", "US", B::kSucceed, "", "", "", "", ""},
    TestCard{"pm_card_mastercard", "mastercard", "4444", "credit", "US", B::kSucceed, "", "", "", "", ""},
    TestCard{"pm_card_mastercard_debit", "mastercard", "8210", "debit", "US", B::kSucceed, "", "", "", "", ""},
    TestCard{"pm_card_mastercard_prepaid", "mastercard", "5100", "prepaid", "US", B::kSucceed, "", "", "", "", ""},
    TestCard{"pm_card_amex", "amex", "0005", "credit", "US", B::kSucceed, "", "", "", "", ""},
    TestCard{"pm_card_discover", "discover", "1117", "credit", "US", B::kSucceed, "", "", "", "", ""},
    TestCard{"pm_card_jcb", "jcb", "0000", "credit", "JP", B::kSucceed, "", "", "", "", ""},
    TestCard{"pm_card_threeDSecureOptional", "visa", "3055", "credit", "US", B::kSucceed, "", "", "", "", ""},
    TestCard{"pm_card_visa_chargeDeclined", "visa", "0002", "credit", "US", B::kDecline, "card_declined",
             "generic_decline", "", "try_again_later", "Your card was declined."},
    TestCard{"pm_card_visa_chargeDeclinedInsufficientFunds", "visa", "9995", "credit", "US", B::kDecline,
             "card_declined", "insufficient_funds", "", "try_again_later", "Your card has insufficient funds."},
    TestCard{"pm_card_visa_chargeDeclinedLostCard", "visa", "9987", "credit", "US", B::kDecline,
             "card_declined", "lost_card", "", "do_not_try_again", "Your card was declined."},
    TestCard{"pm_card_visa_chargeDeclinedStolenCard", "visa", "9979", "credit", "US", B::kDecline,
             "card_declined", "stolen_card", "", "do_not_try_again", "Your card was declined."},
    TestCard{"pm_card_visa_chargeDeclinedVelocityLimitExceeded", "visa", "6975", "credit", "US", B::kDecline,
             "card_declined", "card_velocity_exceeded", "", "",
             "Your card was declined for making repeated attempts too frequently or exceeding its amount limit."},
    TestCard{"pm_card_chargeDeclinedFraudulent", "visa", "0019", "credit", "US", B::kDecline, "card_declined",
             "fraudulent", "", "", "Your card was declined."},
    TestCard{"pm_card_chargeDeclinedExpiredCard", "visa", "0069", "credit", "US", B::kDecline, "expired_card",
             "expired_card", "exp_month", "confirm_card_data", "Your card has expired."},
    TestCard{"pm_card_chargeDeclinedIncorrectCvc", "visa", "0127", "credit", "US", B::kDecline,
             "incorrect_cvc", "incorrect_cvc", "cvc", "confirm_card_data",
             "Your card's security code is incorrect."},
    TestCard{"pm_card_chargeDeclinedProcessingError", "visa", "0119", "credit", "US", B::kDecline,
             "processing_error", "processing_error", "", "try_again_later",
             "An error occurred while processing your card. Try again in a little bit."},
    TestCard{"pm_card_authenticationRequired", "visa", "3184", "credit", "US", B::kAuthAlways, "", "", "", "", ""},
    TestCard{"pm_card_authenticationRequiredOnSetup", "visa", "3155", "credit", "US", B::kAuthAlways, "", "",
             "", "", ""},
    TestCard{"pm_card_authenticationRequiredSetupForOffSession", "visa", "0446", "credit", "US",
             B::kAuthOnSessionOnly, "", "", "", "", ""},
    TestCard{"pm_card_threeDSecure2Required", "visa", "3220", "credit", "US", B::kAuthThenSucceed, "", "", "",
             "", ""},
    TestCard{"pm_card_authenticationRequiredChargeDeclinedInsufficientFunds", "visa", "3178", "credit", "US",
             B::kAuthThenDecline, "card_declined", "insufficient_funds", "", "try_again_later",
             "Your card has insufficient funds."},
    TestCard{"pm_card_threeDSecureRequiredChargeDeclined", "visa", "1629", "credit", "US", B::kAuthThenDecline,
             "card_declined", "generic_decline", "", "try_again_later", "Your card was declined."},
};

}  // namespace

std::optional<TestCard> FindTestCard(std::string_view alias) {
  for (const auto& card : kCards) {
    if (card.alias == alias) return card;
  }
  return std::nullopt;
}

}  // namespace billing::stripe_emulator
