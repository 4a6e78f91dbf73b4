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
    ReasonInfo(Reason::kInvalidField, StatusCode::INVALID_ARGUMENT),
    ReasonInfo(Reason::kAmountExceedsBalance, StatusCode::INVALID_ARGUMENT),
    ReasonInfo(Reason::kCurrencyMismatch, StatusCode::INVALID_ARGUMENT),
    ReasonInfo(Reason::kRequestTooLarge, StatusCode::INVALID_ARGUMENT),
    ReasonInfo(Reason::kMalformedRequest, StatusCode::INVALID_ARGUMENT),
    ReasonInfo(Reason::kBookingNotFound, StatusCode::NOT_FOUND),
    ReasonInfo(Reason::kInvoiceNotFound, StatusCode::NOT_FOUND),
    ReasonInfo(Reason::kPaymentNotFound, StatusCode::NOT_FOUND),
    ReasonInfo(Reason::kNotificationNotFound, StatusCode::NOT_FOUND),
    ReasonInfo(Reason::kRefundNotFound, StatusCode::NOT_FOUND),
    ReasonInfo(Reason::kIdempotencyKeyReused, StatusCode::FAILED_PRECONDITION),
    ReasonInfo(Reason::kBookingCanceled, StatusCode::FAILED_PRECONDITION),
    ReasonInfo(Reason::kNoBalance, StatusCode::FAILED_PRECONDITION),
    ReasonInfo(Reason::kRecipientInvalid, StatusCode::FAILED_PRECONDITION),
    ReasonInfo(Reason::kInvoiceNotOpen, StatusCode::FAILED_PRECONDITION),
    ReasonInfo(Reason::kInvoiceAlreadyPaid, StatusCode::FAILED_PRECONDITION),
    ReasonInfo(Reason::kAgreementsNotAccepted, StatusCode::FAILED_PRECONDITION),
    ReasonInfo(Reason::kSlotNotHeld, StatusCode::FAILED_PRECONDITION),
    ReasonInfo(Reason::kBookingCurrencyLocked, StatusCode::FAILED_PRECONDITION),
    ReasonInfo(Reason::kPaymentStateConflict, StatusCode::FAILED_PRECONDITION),
    ReasonInfo(Reason::kRefundExceedsCaptured, StatusCode::FAILED_PRECONDITION),
    ReasonInfo(Reason::kProviderRejected, StatusCode::FAILED_PRECONDITION),
    ReasonInfo(Reason::kPaymentPending, StatusCode::FAILED_PRECONDITION),
    ReasonInfo(Reason::kBookingIdTaken, StatusCode::ALREADY_EXISTS),
    ReasonInfo(Reason::kPaymentAlreadyRecorded, StatusCode::ALREADY_EXISTS),
    ReasonInfo(Reason::kPaymentInProgress, StatusCode::ABORTED),
    ReasonInfo(Reason::kIdempotencyKeyInUse, StatusCode::ABORTED),
    ReasonInfo(Reason::kConcurrentModification, StatusCode::ABORTED),
    ReasonInfo(Reason::kDatabaseUnavailable, StatusCode::UNAVAILABLE),
    ReasonInfo(Reason::kUpstreamUnavailable, StatusCode::UNAVAILABLE),
    ReasonInfo(Reason::kUpstreamTimeout, StatusCode::DEADLINE_EXCEEDED),
    ReasonInfo(Reason::kNotServing, StatusCode::UNAVAILABLE),
    ReasonInfo(Reason::kUnauthenticated, StatusCode::UNAUTHENTICATED),
    ReasonInfo(Reason::kPermissionDenied, StatusCode::PERMISSION_DENIED),
    ReasonInfo(Reason::kNotImplemented, StatusCode::UNIMPLEMENTED),
    ReasonInfo(Reason::kInternal, StatusCode::INTERNAL),
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
