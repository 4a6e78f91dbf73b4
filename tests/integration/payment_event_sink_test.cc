// payments' gRPC client for invoice's PaymentEventService, against an
// in-process server: what it sends must fit what invoice accepts
// (ApplyPaymentEventRequest: failure_code at most 100 characters,
// failure_message at most 1,000, no control characters), or invoice
// refuses the whole event as INVALID_ARGUMENT and it is never applied.
#include <gtest/gtest.h>

#include <grpcpp/create_channel.h>

#include "clients/grpc_event_sink.h"
#include "support/fake_payment_events.h"
#include "validation/validation.h"

namespace billing::payments::clients {
namespace {

TEST(GrpcEventSinkTest, StripesLongDeclineTextIsCutToWhatInvoiceAccepts) {
  billing::testing::FakePaymentEvents invoice;
  GrpcEventSink sink(grpc::CreateChannel(invoice.address(), grpc::InsecureChannelCredentials()),
                     std::chrono::seconds(5));
  domain::PaymentEvent e;
  e.event_key = "payments-evt-1";
  e.payment_id = "7d1f0c0e-2d5a-4a8e-9a51-3c2f1f6f0a01";
  e.invoice_id = "0b6a3f9e-5c1d-4f57-8d2e-6a7b8c9d0e1f";
  e.payment_intent_id = "pi_123";
  e.status = domain::PaymentStatus::kFailed;
  e.failure_code = std::string(150, 'c');
  for (int i = 0; i < 1500; ++i) e.failure_message += "東";  // 1,500 characters, 4,500 bytes
  e.occurred_at = clock::FromUnixMicros(1'800'000'000'000'000);

  const auto answer = sink.Deliver(e);
  ASSERT_EQ(answer.result, domain::DeliveryResult::kApplied) << answer.error;
  const auto events = invoice.events();
  ASSERT_EQ(events.size(), 1u);
  const auto& got = events[0];
  EXPECT_EQ(got.failure_code(), std::string(100, 'c'));
  EXPECT_TRUE(validation::IsValidUtf8(got.failure_message()));
  EXPECT_LE(validation::CodePointCount(got.failure_message()), 1000u);
  EXPECT_TRUE(e.failure_message.starts_with(got.failure_message()));
  EXPECT_GE(got.failure_message().size(), 999u) << "cut at 1,000 bytes, on a character boundary";
}

}  // namespace
}  // namespace billing::payments::clients
