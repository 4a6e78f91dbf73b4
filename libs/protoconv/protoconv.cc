#include "protoconv/protoconv.h"

#include "errors/error.h"
#include "validation/validation.h"

namespace billing::protoconv {
namespace {
// Timestamp's documented range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;
}  // namespace

money::Money FromProto(const billing::common::v1::Money& m) { return {m.amount_minor(), m.currency_code()}; }

void ToProto(const money::Money& m, billing::common::v1::Money* out) {
  out->set_amount_minor(m.amount_minor);
  out->set_currency_code(m.currency);
}

clock::Time ToTime(const google::protobuf::Timestamp& ts, const std::string& field) {
  if (ts.seconds() < kMinTimestampSeconds || ts.seconds() > kMaxTimestampSeconds || ts.nanos() < 0 ||
      ts.nanos() > 999'999'999) {
    throw errors::InvalidField(field, "is not a valid timestamp");
  }
  return clock::FromUnixMicros(ts.seconds() * 1'000'000 + ts.nanos() / 1000);
}

void ToProto(clock::Time t, google::protobuf::Timestamp* out) {
  const int64_t us = clock::ToUnixMicros(t);
  int64_t seconds = us / 1'000'000;
  int64_t micros = us % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    seconds -= 1;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(micros * 1000));
}

money::Money RequireMoney(const billing::common::v1::Money& m, bool present, const std::string& field,
                          bool allow_zero) {
  if (!present) throw errors::InvalidField(field, "is required");
  const money::Money out = FromProto(m);
  validation::RequireMoney(field, out, allow_zero);
  return out;
}

}  // namespace billing::protoconv
