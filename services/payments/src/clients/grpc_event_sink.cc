#include "clients/grpc_event_sink.h"

#include <grpcpp/client_context.h>

#include "protoconv/protoconv.h"
#include "validation/validation.h"

namespace billing::payments::clients {
namespace {

namespace iv1 = billing::invoice::v1;

iv1::PaymentEventStatus ToProto(domain::PaymentStatus s) {
  switch (s) {
    case domain::PaymentStatus::kRequiresAction: return iv1::PAYMENT_EVENT_STATUS_REQUIRES_ACTION;
    case domain::PaymentStatus::kProcessing: return iv1::PAYMENT_EVENT_STATUS_PROCESSING;
    case domain::PaymentStatus::kSucceeded: return iv1::PAYMENT_EVENT_STATUS_SUCCEEDED;
    case domain::PaymentStatus::kFailed: return iv1::PAYMENT_EVENT_STATUS_FAILED;
    case domain::PaymentStatus::kCanceled: return iv1::PAYMENT_EVENT_STATUS_CANCELED;
    case domain::PaymentStatus::kPending: break;
  }
  return iv1::PAYMENT_EVENT_STATUS_UNSPECIFIED;
}

}  // namespace

GrpcEventSink::GrpcEventSink(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout)
    : stub_(iv1::PaymentEventService::NewStub(std::move(channel))), timeout_(timeout) {}

domain::SinkAnswer GrpcEventSink::Deliver(const domain::PaymentEvent& e) {
  iv1::ApplyPaymentEventRequest req;
  req.set_request_id(e.event_key);
  req.set_invoice_id(e.invoice_id);
  req.set_payment_id(e.payment_id);
  req.set_payment_intent_id(e.payment_intent_id);
  req.set_status(ToProto(e.status));
  // CANCELED carries money only when a payment we had given up captured it
  // anyway (we refund it automatically): the invoice records the refund.
  if (e.status == domain::PaymentStatus::kSucceeded ||
      (e.status == domain::PaymentStatus::kCanceled && e.amount_received.amount_minor > 0)) {
    protoconv::ToProto(e.amount_received, req.mutable_amount_received());
  }
  // Stripe's text, within the limits invoice accepts (100 and 1,000
  // characters): a longer decline message must not get the whole event
  // refused as INVALID_ARGUMENT, and so never applied.
  req.set_failure_code(validation::StorableText(e.failure_code, 100));
  req.set_failure_message(validation::StorableText(e.failure_message, 1000));
  protoconv::ToProto(e.occurred_at, req.mutable_occur_time());
  for (const auto& [k, v] : e.metadata) (*req.mutable_metadata())[k] = v;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  ctx.AddMetadata("x-request-id", e.event_key);
  iv1::ApplyPaymentEventResponse resp;
  const grpc::Status status = stub_->ApplyPaymentEvent(&ctx, req, &resp);
  if (status.ok()) return {domain::DeliveryResult::kApplied, ""};
  const auto code = status.error_code();
  // It has this event already (under its request_id): delivered.
  if (code == grpc::StatusCode::ALREADY_EXISTS) return {domain::DeliveryResult::kApplied, ""};
  const std::string error = "invoice service: code " + std::to_string(static_cast<int>(code)) + ": " +
                            validation::StorableText(status.error_message(), 300);
  // Refusals of the event itself. Everything else (down, overloaded,
  // PERMISSION_DENIED while credentials are fixed, UNIMPLEMENTED until the
  // invoice service is upgraded) is retried.
  if (code == grpc::StatusCode::INVALID_ARGUMENT || code == grpc::StatusCode::NOT_FOUND ||
      code == grpc::StatusCode::OUT_OF_RANGE || code == grpc::StatusCode::FAILED_PRECONDITION) {
    return {domain::DeliveryResult::kRejected, error};
  }
  return {domain::DeliveryResult::kTransient, error};
}

}  // namespace billing::payments::clients
