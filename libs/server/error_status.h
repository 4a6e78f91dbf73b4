#pragma once

#include <span>
#include <string>
#include <string_view>

#include <grpcpp/support/status.h>

#include "errors/error.h"

namespace billing::server {

// One row of the error table: a domain reason, the gRPC code it is always
// sent with, and its machine-readable name (google.rpc.ErrorInfo.reason, and
// billing.common.v1.ErrorReason without its prefix). docs/errors.md is this
// table in prose.
struct ReasonInfo {
  constexpr ReasonInfo(errors::Reason r, grpc::StatusCode c) : reason(r), code(c), name(errors::Name(r)) {}
  errors::Reason reason;
  grpc::StatusCode code;
  std::string_view name;
};

const ReasonInfo& Describe(errors::Reason reason);
std::span<const ReasonInfo> AllReasons();

// The service's ErrorInfo domain, e.g. "invoice.billing". Set once at start.
void SetErrorDomain(std::string domain);
const std::string& ErrorDomain();

// The status for a domain error: its code, its message, and a
// google.rpc.Status with one google.rpc.ErrorInfo in the details.
grpc::Status ToStatus(const errors::Error& error);

// INTERNAL without details of what went wrong (those go to the log).
grpc::Status InternalStatus();

// "OK", "INVALID_ARGUMENT", ... (the canonical names, for logs).
std::string_view CodeName(grpc::StatusCode code);
// "OK", "InvalidArgument", ... (go-grpc-prometheus's label values).
std::string_view CodeLabel(grpc::StatusCode code);

}  // namespace billing::server
