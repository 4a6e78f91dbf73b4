#include "server/error_status.h"

#include <array>
#include <stdexcept>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace billing::server {
namespace {

using errors::Reason;
using grpc::StatusCode;

// THE table. Every errors::Reason appears exactly once (checked by
// tests/unit/error_status_test.cc, which also checks the names against
// billing.common.v1.ErrorReason).
constexpr std::array kTable = {
    ReasonInfo{Reason::kInvalidField, StatusCode::INVALID_ARGUMENT, "INVALID_FIELD"},
    ReasonInfo{Reason::kAmountExceedsBalance, StatusCode::INVALID_ARGUMENT, "AMOUNT_EXCEEDS_BALANCE"},
    ReasonInfo{Reason::kCurrencyMismatch, StatusCode::INVALID_ARGUMENT, "CURRENCY_MISMATCH"},
    ReasonInfo{Reason::kRequestTooLarge, StatusCode::INVALID_ARGUMENT, "REQUEST_TOO_LARGE"},
    ReasonInfo{Reason::kMalformedRequest, StatusCode::INVALID_ARGUMENT, "MALFORMED_REQUEST"},
    ReasonInfo{Reason::kBookingNotFound, StatusCode::NOT_FOUND, "BOOKING_NOT_FOUND"},
    ReasonInfo{Reason::kInvoiceNotFound, StatusCode::NOT_FOUND, "INVOICE_NOT_FOUND"},
    ReasonInfo{Reason::kPaymentNotFound, StatusCode::NOT_FOUND, "PAYMENT_NOT_FOUND"},
    ReasonInfo{Reason::kNotificationNotFound, StatusCode::NOT_FOUND, "NOTIFICATION_NOT_FOUND"},
    ReasonInfo{Reason::kRefundNotFound, StatusCode::NOT_FOUND, "REFUND_NOT_FOUND"},
    ReasonInfo{Reason::kIdempotencyKeyReused, StatusCode::FAILED_PRECONDITION, "IDEMPOTENCY_KEY_REUSED"},
    ReasonInfo{Reason::kBookingCanceled, StatusCode::FAILED_PRECONDITION, "BOOKING_CANCELED"},
    ReasonInfo{Reason::kNoBalance, StatusCode::FAILED_PRECONDITION, "NO_BALANCE"},
    ReasonInfo{Reason::kRecipientInvalid, StatusCode::FAILED_PRECONDITION, "RECIPIENT_INVALID"},
    ReasonInfo{Reason::kInvoiceNotOpen, StatusCode::FAILED_PRECONDITION, "INVOICE_NOT_OPEN"},
    ReasonInfo{Reason::kInvoiceAlreadyPaid, StatusCode::FAILED_PRECONDITION, "INVOICE_ALREADY_PAID"},
    ReasonInfo{Reason::kAgreementsNotAccepted, StatusCode::FAILED_PRECONDITION, "AGREEMENTS_NOT_ACCEPTED"},
    ReasonInfo{Reason::kSlotNotHeld, StatusCode::FAILED_PRECONDITION, "SLOT_NOT_HELD"},
    ReasonInfo{Reason::kBookingCurrencyLocked, StatusCode::FAILED_PRECONDITION, "BOOKING_CURRENCY_LOCKED"},
    ReasonInfo{Reason::kPaymentStateConflict, StatusCode::FAILED_PRECONDITION, "PAYMENT_STATE_CONFLICT"},
    ReasonInfo{Reason::kRefundExceedsCaptured, StatusCode::FAILED_PRECONDITION, "REFUND_EXCEEDS_CAPTURED"},
    ReasonInfo{Reason::kProviderRejected, StatusCode::FAILED_PRECONDITION, "PROVIDER_REJECTED"},
    ReasonInfo{Reason::kPaymentPending, StatusCode::FAILED_PRECONDITION, "PAYMENT_PENDING"},
    ReasonInfo{Reason::kBookingIdTaken, StatusCode::ALREADY_EXISTS, "BOOKING_ID_TAKEN"},
    ReasonInfo{Reason::kPaymentAlreadyRecorded, StatusCode::ALREADY_EXISTS, "PAYMENT_ALREADY_RECORDED"},
    ReasonInfo{Reason::kPaymentInProgress, StatusCode::ABORTED, "PAYMENT_IN_PROGRESS"},
    ReasonInfo{Reason::kIdempotencyKeyInUse, StatusCode::ABORTED, "IDEMPOTENCY_KEY_IN_USE"},
    ReasonInfo{Reason::kConcurrentModification, StatusCode::ABORTED, "CONCURRENT_MODIFICATION"},
    ReasonInfo{Reason::kDatabaseUnavailable, StatusCode::UNAVAILABLE, "DATABASE_UNAVAILABLE"},
    ReasonInfo{Reason::kUpstreamUnavailable, StatusCode::UNAVAILABLE, "UPSTREAM_UNAVAILABLE"},
    ReasonInfo{Reason::kUpstreamTimeout, StatusCode::DEADLINE_EXCEEDED, "UPSTREAM_TIMEOUT"},
    ReasonInfo{Reason::kNotServing, StatusCode::UNAVAILABLE, "NOT_SERVING"},
    ReasonInfo{Reason::kUnauthenticated, StatusCode::UNAUTHENTICATED, "UNAUTHENTICATED"},
    ReasonInfo{Reason::kPermissionDenied, StatusCode::PERMISSION_DENIED, "PERMISSION_DENIED"},
    ReasonInfo{Reason::kNotImplemented, StatusCode::UNIMPLEMENTED, "NOT_IMPLEMENTED"},
    ReasonInfo{Reason::kInternal, StatusCode::INTERNAL, "INTERNAL"},
};

std::string& DomainStorage() {
  static std::string domain = "billing";
  return domain;
}

}  // namespace

const ReasonInfo& Describe(errors::Reason reason) {
  for (const auto& row : kTable) {
    if (row.reason == reason) return row;
  }
  return kTable.back();  // unreachable while the table is complete (unit-tested)
}

std::span<const ReasonInfo> AllReasons() { return kTable; }

void SetErrorDomain(std::string domain) { DomainStorage() = std::move(domain); }
const std::string& ErrorDomain() { return DomainStorage(); }

grpc::Status ToStatus(const errors::Error& error) {
  const ReasonInfo& info = Describe(error.reason());
  google::rpc::ErrorInfo detail;
  detail.set_reason(std::string(info.name));
  detail.set_domain(ErrorDomain());
  if (!error.field().empty()) (*detail.mutable_metadata())["field"] = error.field();
  google::rpc::Status status;
  status.set_code(static_cast<int>(info.code));
  status.set_message(error.what());
  status.add_details()->PackFrom(detail);
  return grpc::Status(info.code, error.what(), status.SerializeAsString());
}

grpc::Status InternalStatus() {
  return ToStatus(errors::Error(errors::Reason::kInternal,
                                "internal error; the server log has details under this request's x-request-id"));
}

std::string_view CodeName(grpc::StatusCode code) {
  switch (code) {
    case StatusCode::OK: return "OK";
    case StatusCode::CANCELLED: return "CANCELLED";
    case StatusCode::UNKNOWN: return "UNKNOWN";
    case StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case StatusCode::NOT_FOUND: return "NOT_FOUND";
    case StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case StatusCode::ABORTED: return "ABORTED";
    case StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case StatusCode::INTERNAL: return "INTERNAL";
    case StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case StatusCode::DATA_LOSS: return "DATA_LOSS";
    case StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

std::string_view CodeLabel(grpc::StatusCode code) {
  switch (code) {
    case StatusCode::OK: return "OK";
    case StatusCode::CANCELLED: return "Canceled";
    case StatusCode::UNKNOWN: return "Unknown";
    case StatusCode::INVALID_ARGUMENT: return "InvalidArgument";
    case StatusCode::DEADLINE_EXCEEDED: return "DeadlineExceeded";
    case StatusCode::NOT_FOUND: return "NotFound";
    case StatusCode::ALREADY_EXISTS: return "AlreadyExists";
    case StatusCode::PERMISSION_DENIED: return "PermissionDenied";
    case StatusCode::RESOURCE_EXHAUSTED: return "ResourceExhausted";
    case StatusCode::FAILED_PRECONDITION: return "FailedPrecondition";
    case StatusCode::ABORTED: return "Aborted";
    case StatusCode::OUT_OF_RANGE: return "OutOfRange";
    case StatusCode::UNIMPLEMENTED: return "Unimplemented";
    case StatusCode::INTERNAL: return "Internal";
    case StatusCode::UNAVAILABLE: return "Unavailable";
    case StatusCode::DATA_LOSS: return "DataLoss";
    case StatusCode::UNAUTHENTICATED: return "Unauthenticated";
    default: return "Unknown";
  }
}

}  // namespace billing::server
