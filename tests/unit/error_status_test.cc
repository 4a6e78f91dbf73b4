#include <gtest/gtest.h>

#include <set>

#include "billing/common/v1/error_reason.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "server/error_status.h"

namespace billing::server {
namespace {

TEST(ErrorStatusTest, TableCoversEveryReasonOnceAndMatchesTheProtoEnum) {
  std::set<int> reasons;
  std::set<std::string_view> names;
  for (const auto& row : AllReasons()) {
    EXPECT_TRUE(reasons.insert(static_cast<int>(row.reason)).second) << row.name;
    EXPECT_TRUE(names.insert(row.name).second) << row.name;
    EXPECT_EQ(errors::ParseReason(row.name), row.reason) << "stored answers read names back";
    billing::common::v1::ErrorReason proto;
    EXPECT_TRUE(billing::common::v1::ErrorReason_Parse("ERROR_REASON_" + std::string(row.name), &proto))
        << "billing.common.v1.ErrorReason lacks " << row.name;
    EXPECT_NE(row.code, grpc::StatusCode::OK);
  }
  // Every C++ reason up to the last one has a row.
  EXPECT_EQ(reasons.size(), static_cast<std::size_t>(errors::Reason::kInternal) + 1);
  // And every proto reason has a row.
  const auto* descriptor = billing::common::v1::ErrorReason_descriptor();
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const std::string name = descriptor->value(i)->name();
    if (name == "ERROR_REASON_UNSPECIFIED") continue;
    EXPECT_TRUE(names.count(name.substr(std::string("ERROR_REASON_").size())) == 1) << name;
  }
}

TEST(ErrorStatusTest, PreciseCodes) {
  EXPECT_EQ(Describe(errors::Reason::kInvalidField).code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Describe(errors::Reason::kInvoiceNotFound).code, grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Describe(errors::Reason::kInvoiceNotOpen).code, grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Describe(errors::Reason::kPaymentInProgress).code, grpc::StatusCode::ABORTED);
  EXPECT_EQ(Describe(errors::Reason::kDatabaseUnavailable).code, grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Describe(errors::Reason::kUpstreamTimeout).code, grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST(ErrorStatusTest, StatusCarriesErrorInfoWithField) {
  SetErrorDomain("invoice.billing");
  const grpc::Status s = ToStatus(errors::InvalidField("amount.amount_minor", "must be greater than 0"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "amount.amount_minor must be greater than 0");
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(s.error_details()));
  EXPECT_EQ(details.code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "INVALID_FIELD");
  EXPECT_EQ(info.domain(), "invoice.billing");
  EXPECT_EQ(info.metadata().at("field"), "amount.amount_minor");
}

TEST(ErrorStatusTest, InternalSaysNothingSpecific) {
  const grpc::Status s = InternalStatus();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(s.error_message().find("SQL"), std::string::npos);
  EXPECT_NE(s.error_message().find("x-request-id"), std::string::npos);
}

}  // namespace
}  // namespace billing::server
