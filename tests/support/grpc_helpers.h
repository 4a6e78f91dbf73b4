#pragma once

#include <string>

#include <grpcpp/support/status.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "support/process.h"

namespace billing::testing {

// The google.rpc.ErrorInfo a status carries (empty if none).
inline google::rpc::ErrorInfo ErrorInfoOf(const grpc::Status& status) {
  google::rpc::Status details;
  google::rpc::ErrorInfo info;
  if (details.ParseFromString(status.error_details()) && details.details_size() > 0) {
    details.details(0).UnpackTo(&info);
  }
  return info;
}

// `buf curl` against a plaintext gRPC server: method is "pkg.Service/Method".
inline CommandResult BufCurl(const std::string& target, const std::string& method,
                             const std::string& json) {
  return RunCommand({BufBinary(), "curl", "--protocol", "grpc", "--http2-prior-knowledge",
                     "http://" + target + "/" + method, "-d", json});
}

inline CommandResult BufListServices(const std::string& target) {
  return RunCommand({BufBinary(), "curl", "--protocol", "grpc", "--http2-prior-knowledge",
                     "--list-services", "http://" + target});
}

}  // namespace billing::testing
