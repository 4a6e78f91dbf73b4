#pragma once

#include <stdexcept>
#include <string>

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
  kInternal,
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

// INVALID_FIELD with the message "<field> <problem>", for example
// InvalidField("booking_id", "is required").
Error InvalidField(const std::string& field, const std::string& problem);

}  // namespace billing::errors
