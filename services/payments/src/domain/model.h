#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clock/clock.h"
#include "errors/error.h"
#include "money/money.h"

// The payments service's domain model: plain data, no protobuf, no SQL, no
// JSON. A Payment is one attempt to charge an invoice: one Stripe
// PaymentIntent.
namespace billing::payments::domain {

using clock::Time;
using money::Money;

// Our view of a PaymentIntent. PENDING: recorded here, Stripe's answer not
// known yet (not created, not confirmed, or the answer was lost).
enum class PaymentStatus { kPending, kRequiresAction, kProcessing, kSucceeded, kFailed, kCanceled };
enum class RefundStatus { kPending, kSucceeded, kFailed, kCanceled };
enum class RefundReason { kNone, kDuplicate, kFraudulent, kRequestedByCustomer };
enum class CancellationReason { kNone, kDuplicate, kFraudulent, kRequestedByCustomer, kAbandoned };
// How the customer pays: a PaymentMethod ("pm_...") or a ConfirmationToken
// ("ctoken_...").
enum class MethodKind { kPaymentMethod, kConfirmationToken };

std::string_view Name(PaymentStatus s);
std::string_view Name(RefundStatus s);
std::string_view Name(RefundReason r);
std::string_view Name(CancellationReason r);
std::string_view Name(MethodKind k);
std::optional<PaymentStatus> ParsePaymentStatus(std::string_view s);
std::optional<RefundStatus> ParseRefundStatus(std::string_view s);
std::optional<RefundReason> ParseRefundReason(std::string_view s);
std::optional<CancellationReason> ParseCancellationReason(std::string_view s);
std::optional<MethodKind> ParseMethodKind(std::string_view s);

bool IsFinal(PaymentStatus s);
// Payment states only move forward, so events that arrive late or out of
// order cannot undo newer news. Captured money outranks everything; FAILED
// and CANCELED rank the same (neither replaces the other).
int Rank(PaymentStatus s);
// Refunds too: PENDING, then one final status that never changes.
bool IsFinal(RefundStatus s);

// Why a payment failed, as Stripe said.
struct PaymentFailure {
  std::string code{};          // "card_declined", "authentication_required", ...
  std::string decline_code{};  // "insufficient_funds", ... (card declines)
  std::string message{};       // safe to show the customer
  bool empty() const { return code.empty() && message.empty(); }
};

struct Refund {
  std::string refund_id{};
  std::string payment_id{};
  std::string caller{};      // "" for automatic refunds
  std::string request_id{};  // "" for automatic refunds
  Money amount{};
  RefundStatus status = RefundStatus::kPending;
  RefundReason reason = RefundReason::kNone;
  // Made by this service on its own: an abandoned payment that succeeded.
  bool automatic = false;
  std::string provider_refund_id{};  // "re_..."
  std::string failure_reason{};
  Time created_at{};
  Time updated_at{};
};

struct Payment {
  std::string payment_id{};
  std::string caller{};
  std::string request_id{};  // CreatePayment's
  std::string invoice_id{};
  Money amount{};
  MethodKind method_kind = MethodKind::kPaymentMethod;
  std::string method_id{};
  std::string return_url{};
  std::string description{};
  std::map<std::string, std::string> metadata{};  // the caller's, without ours
  PaymentStatus status = PaymentStatus::kPending;
  std::string payment_intent_id{};
  std::string client_secret{};  // never logged
  PaymentFailure failure{};
  int64_t amount_received_minor = 0;
  int64_t amount_refunded_minor = 0;
  // When we gave the payment up (CancelPayment, an abandoned 3-D Secure, a
  // lost answer). From then on its PaymentIntent is canceled at Stripe, and
  // money it still captures is refunded automatically.
  std::optional<Time> abandoned_at{};
  CancellationReason cancellation_reason = CancellationReason::kNone;
  Time created_at{};
  Time updated_at{};
  // When the sweeper should look at it next; nullopt when nothing is left
  // to do.
  std::optional<Time> next_sweep_at{};
  std::vector<Refund> refunds{};  // oldest first; filled by reads that need them
};

// Stripe's PaymentIntent as the gateway reports it.
struct Intent {
  std::string id{};
  std::string status{};  // Stripe's: "requires_action", "succeeded", ...
  int64_t amount = 0;
  int64_t amount_received = 0;
  std::string currency{};  // upper case
  std::string client_secret{};
  PaymentFailure last_error{};  // last_payment_error
  std::map<std::string, std::string> metadata{};
};

// Our status for a PaymentIntent: requires_payment_method with an error is a
// failed attempt; without one (and requires_confirmation) it was never
// confirmed, which stays PENDING.
PaymentStatus StatusOf(const Intent& intent);

struct StripeRefund {
  std::string id{};
  std::string status{};  // "succeeded", "pending", "failed", "canceled", "requires_action"
  int64_t amount = 0;
  std::string currency{};
  std::string payment_intent{};
  std::string failure_reason{};
  std::map<std::string, std::string> metadata{};
};

// What a Stripe event says, as far as payments care.
struct StripeEvent {
  std::string id{};    // "evt_..."
  std::string type{};  // "payment_intent.succeeded", "charge.refunded", ...
  Time created{};
  std::optional<Intent> intent{};          // payment_intent.*
  std::optional<StripeRefund> refund{};    // refund.*
  // charge.*: the charge's PaymentIntent and what it has refunded so far.
  std::string charge_payment_intent{};
  std::optional<int64_t> charge_amount_refunded{};
};

// An outcome to forward to the invoice service (the outbox row).
struct PaymentEvent {
  std::string event_key{};  // idempotency key at the invoice service
  std::string payment_id{};
  std::string invoice_id{};
  std::string payment_intent_id{};
  PaymentStatus status = PaymentStatus::kPending;
  Money amount_received{};
  std::string failure_code{};
  std::string failure_message{};
  Time occurred_at{};
  int attempts = 0;
  int64_t seq = 0;  // the outbox's order
  // The payment's metadata (the invoice service's attempt_id), read with
  // the event rather than copied into it.
  std::map<std::string, std::string> metadata{};
};

// The request fields that define an idempotent call, for the fingerprint.
struct CreatePaymentCommand {
  std::string caller{};
  std::string request_id{};
  std::string invoice_id{};
  Money amount{};
  MethodKind method_kind = MethodKind::kPaymentMethod;
  std::string method_id{};
  std::string return_url{};  // "" = the service's default
  std::string description{};
  std::map<std::string, std::string> metadata{};
  std::string Fingerprint() const;
};

struct ConfirmPaymentCommand {
  std::string caller{};
  std::string request_id{};
  std::string invoice_id{};
  std::string payment_intent_id{};
  std::string Fingerprint() const;
};

struct CancelPaymentCommand {
  std::string caller{};
  std::string request_id{};
  std::string payment_id{};
  CancellationReason reason = CancellationReason::kNone;
  std::string Fingerprint() const;
};

struct RefundPaymentCommand {
  std::string caller{};
  std::string request_id{};
  std::string payment_id{};
  std::optional<Money> amount{};  // nullopt: everything not yet refunded
  RefundReason reason = RefundReason::kNone;
  std::string Fingerprint() const;
};

// What an idempotent call answered, kept with its key and replayed.
struct StoredResponse {
  std::optional<errors::Reason> error{};  // set: the call failed
  std::string error_message{};
  std::string error_field{};
  std::optional<Payment> payment{};
  std::optional<Refund> refund{};
};

// One idempotency key: (caller, request_id) of one operation.
struct IdempotencyKey {
  std::string caller{};
  std::string request_id{};
  std::string operation{};  // "CreatePayment", "ConfirmPayment", ...
  std::string fingerprint{};
  // In flight until then: another call with the key is ABORTED, and the
  // sweeper leaves the payment alone. A crashed call's lock runs out.
  std::optional<Time> locked_until{};
  // The phase reached: "started", "intent_created" (CreatePayment's
  // PaymentIntent exists), "finished" (the answer is stored).
  std::string recovery_point = "started";
  bool finished = false;
  std::string payment_id{};
  std::string refund_id{};
  std::optional<StoredResponse> response{};
  Time created_at{};
  Time last_used_at{};
};

}  // namespace billing::payments::domain
