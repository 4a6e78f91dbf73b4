#pragma once

#include <gtest/gtest.h>

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

// A refused call as the API promises it: the precise code (never
// INTERNAL), google.rpc.ErrorInfo naming the field at fault ("" when no
// single field is), a message that names it too, and no echo of huge input.
inline void ExpectRefusal(const grpc::Status& status, grpc::StatusCode code, const std::string& field) {
  EXPECT_EQ(status.error_code(), code) << status.error_message();
  EXPECT_NE(status.error_code(), grpc::StatusCode::INTERNAL) << status.error_message();
  const auto info = ErrorInfoOf(status);
  EXPECT_EQ(info.metadata().count("field") ? info.metadata().at("field") : "", field) << status.error_message();
  if (!field.empty()) {
    EXPECT_NE(status.error_message().find(field), std::string::npos) << status.error_message();
  }
  EXPECT_LT(status.error_message().size(), 400u) << "the message does not echo huge input";
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
