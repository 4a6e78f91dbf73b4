#pragma once

#include <string>

#include <google/protobuf/timestamp.pb.h>

#include "billing/common/v1/money.pb.h"
#include "clock/clock.h"
#include "money/money.h"

// Conversions between the shared proto types and the domain's, for every
// service's api layer. The To* functions validate and throw errors::Error
// naming the field.
namespace billing::protoconv {

money::Money FromProto(const billing::common::v1::Money& m);
void ToProto(const money::Money& m, billing::common::v1::Money* out);

// A Timestamp within the proto range with valid nanos, truncated to
// microseconds.
clock::Time ToTime(const google::protobuf::Timestamp& ts, const std::string& field);
void ToProto(clock::Time t, google::protobuf::Timestamp* out);

// A present, valid Money (field + ".currency_code" / ".amount_minor").
money::Money RequireMoney(const billing::common::v1::Money& m, bool present, const std::string& field,
                          bool allow_zero = false);

}  // namespace billing::protoconv
