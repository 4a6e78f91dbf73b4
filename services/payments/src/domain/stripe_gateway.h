#pragma once

#include <map>
#include <optional>
#include <string>

#include "domain/model.h"

// Stripe, as the domain needs it. The production implementation is
// clients/stripe_client (libcurl against STRIPE_API_BASE); unit tests fake it.
namespace billing::payments::domain {

// How a call to Stripe ended, after the client's own retries.
enum class StripeOutcome {
  kOk,
  // 402 card_error: declined or authentication failed. `intent` holds the
  // PaymentIntent from the error when Stripe sent it.
  kCardError,
  // 400/404: Stripe refused the request itself (unknown payment method, used
  // confirmation token, wrong state, amount too small). Nothing happened.
  kInvalidRequest,
  // 401/403: our API key is wrong or lacks permission. Nothing happened.
  kAuthError,
  // The network, a timeout, 409, 429 or 5xx, still failing after retries:
  // Stripe may or may not have executed the request. Retrying with the same
  // idempotency key finds out.
  kUnavailable,
};

struct StripeFailure {
  StripeOutcome outcome = StripeOutcome::kOk;
  int http_status = 0;
  std::string type{};  // Stripe's error type
  std::string code{};
  std::string decline_code{};
  std::string message{};  // Stripe's; never contains our key
  std::string param{};
  std::optional<Intent> intent{};
};

template <typename T>
struct StripeResult {
  std::optional<T> value{};
  StripeFailure failure{};
  bool ok() const { return value.has_value(); }
};

struct CreateIntentParams {
  Money amount{};
  std::string description{};
  std::map<std::string, std::string> metadata{};  // ours (invoice_id, payment_id) included
};

struct ConfirmIntentParams {
  MethodKind method_kind = MethodKind::kPaymentMethod;
  std::string method_id{};
  std::string return_url{};
};

struct RefundParams {
  std::string payment_intent_id{};
  Money amount{};
  RefundReason reason = RefundReason::kNone;
  std::map<std::string, std::string> metadata{};
};

class StripeGateway {
 public:
  virtual ~StripeGateway() = default;
  // Creates a PaymentIntent without confirming it (so a replay of a lost
  // answer can never charge).
  virtual StripeResult<Intent> CreateIntent(const CreateIntentParams& params, const std::string& idempotency_key) = 0;
  virtual StripeResult<Intent> ConfirmIntent(const std::string& intent_id, const ConfirmIntentParams& params,
                                             const std::string& idempotency_key) = 0;
  virtual StripeResult<Intent> RetrieveIntent(const std::string& intent_id) = 0;
  virtual StripeResult<Intent> CancelIntent(const std::string& intent_id, CancellationReason reason,
                                            const std::string& idempotency_key) = 0;
  virtual StripeResult<StripeRefund> CreateRefund(const RefundParams& params, const std::string& idempotency_key) = 0;
  virtual StripeResult<StripeRefund> RetrieveRefund(const std::string& refund_id) = 0;
};

}  // namespace billing::payments::domain
