#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace billing::errors {

// Why an operation failed, in domain terms. The api layer turns a Reason into
// a gRPC status and a google.rpc.ErrorInfo reason through the one table in
// server/error_status.cc; docs/errors.md documents it. Keep the three in step
// (a unit test checks the table and billing.common.v1.ErrorReason).
enum class Reason {
  kInvalidField,
  kAmountExceedsBalance,
  kCurrencyMismatch,
  kRequestTooLarge,
  kMalformedRequest,
  kBookingNotFound,
  kInvoiceNotFound,
  kPaymentNotFound,
  kNotificationNotFound,
  kRefundNotFound,
  kIdempotencyKeyReused,
  kBookingCanceled,
  kNoBalance,
  kRecipientInvalid,
  kInvoiceNotOpen,
  kInvoiceAlreadyPaid,
  kAgreementsNotAccepted,
  kSlotNotHeld,
  kBookingCurrencyLocked,
  kPaymentStateConflict,
  kRefundExceedsCaptured,
  kProviderRejected,
  kPaymentPending,
  kBookingIdTaken,
  kPaymentAlreadyRecorded,
  kPaymentInProgress,
  kIdempotencyKeyInUse,
  kConcurrentModification,
  kDatabaseUnavailable,
  kUpstreamUnavailable,
  kUpstreamTimeout,
  kNotServing,
  kUnauthenticated,
  kPermissionDenied,
  kNotImplemented,
  kInternal,  // stays last (ParseReason walks up to it)
};

// A failure the caller can act on. The message is shown to the caller as
// is, so it must name the field or state at fault and must never carry SQL,
// exception text from libraries, secrets or card data.
class Error : public std::runtime_error {
 public:
  Error(Reason reason, std::string message, std::string field = {});

  Reason reason() const { return reason_; }
  // The request field at fault, as a proto path ("amount.amount_minor"); may
  // be empty.
  const std::string& field() const { return field_; }

 private:
  Reason reason_;
  std::string field_;
};

// The reason's stable name ("INVALID_FIELD"): google.rpc.ErrorInfo.reason,
// billing.common.v1.ErrorReason without its prefix, and how stored answers
// keep it.
constexpr std::string_view Name(Reason reason) {
  switch (reason) {
    case Reason::kInvalidField: return "INVALID_FIELD";
    case Reason::kAmountExceedsBalance: return "AMOUNT_EXCEEDS_BALANCE";
    case Reason::kCurrencyMismatch: return "CURRENCY_MISMATCH";
    case Reason::kRequestTooLarge: return "REQUEST_TOO_LARGE";
    case Reason::kMalformedRequest: return "MALFORMED_REQUEST";
    case Reason::kBookingNotFound: return "BOOKING_NOT_FOUND";
    case Reason::kInvoiceNotFound: return "INVOICE_NOT_FOUND";
    case Reason::kPaymentNotFound: return "PAYMENT_NOT_FOUND";
    case Reason::kNotificationNotFound: return "NOTIFICATION_NOT_FOUND";
    case Reason::kRefundNotFound: return "REFUND_NOT_FOUND";
    case Reason::kIdempotencyKeyReused: return "IDEMPOTENCY_KEY_REUSED";
    case Reason::kBookingCanceled: return "BOOKING_CANCELED";
    case Reason::kNoBalance: return "NO_BALANCE";
    case Reason::kRecipientInvalid: return "RECIPIENT_INVALID";
    case Reason::kInvoiceNotOpen: return "INVOICE_NOT_OPEN";
    case Reason::kInvoiceAlreadyPaid: return "INVOICE_ALREADY_PAID";
    case Reason::kAgreementsNotAccepted: return "AGREEMENTS_NOT_ACCEPTED";
    case Reason::kSlotNotHeld: return "SLOT_NOT_HELD";
    case Reason::kBookingCurrencyLocked: return "BOOKING_CURRENCY_LOCKED";
    case Reason::kPaymentStateConflict: return "PAYMENT_STATE_CONFLICT";
    case Reason::kRefundExceedsCaptured: return "REFUND_EXCEEDS_CAPTURED";
    case Reason::kProviderRejected: return "PROVIDER_REJECTED";
    case Reason::kPaymentPending: return "PAYMENT_PENDING";
    case Reason::kBookingIdTaken: return "BOOKING_ID_TAKEN";
    case Reason::kPaymentAlreadyRecorded: return "PAYMENT_ALREADY_RECORDED";
    case Reason::kPaymentInProgress: return "PAYMENT_IN_PROGRESS";
    case Reason::kIdempotencyKeyInUse: return "IDEMPOTENCY_KEY_IN_USE";
    case Reason::kConcurrentModification: return "CONCURRENT_MODIFICATION";
    case Reason::kDatabaseUnavailable: return "DATABASE_UNAVAILABLE";
    case Reason::kUpstreamUnavailable: return "UPSTREAM_UNAVAILABLE";
    case Reason::kUpstreamTimeout: return "UPSTREAM_TIMEOUT";
    case Reason::kNotServing: return "NOT_SERVING";
    case Reason::kUnauthenticated: return "UNAUTHENTICATED";
    case Reason::kPermissionDenied: return "PERMISSION_DENIED";
    case Reason::kNotImplemented: return "NOT_IMPLEMENTED";
    case Reason::kInternal: return "INTERNAL";
  }
  return "INTERNAL";
}
// The reason with this name, if any.
std::optional<Reason> ParseReason(std::string_view name);

// INVALID_FIELD with the message "<field> <problem>", for example
// InvalidField("booking_id", "is required").
Error InvalidField(const std::string& field, const std::string& problem);

}  // namespace billing::errors
