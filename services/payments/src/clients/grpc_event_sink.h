#pragma once

#include <chrono>
#include <memory>

#include <grpcpp/channel.h>

#include "billing/invoice/v1/invoice_service.grpc.pb.h"
#include "domain/event_sink.h"

namespace billing::payments::clients {

// billing.invoice.v1.PaymentEventService over gRPC, with a deadline per call.
// INVALID_ARGUMENT, NOT_FOUND, OUT_OF_RANGE and FAILED_PRECONDITION are
// refusals of the event itself; ALREADY_EXISTS means delivered; everything
// else (down, overloaded, an older invoice service that does not serve the
// method yet) is retried.
class GrpcEventSink final : public domain::PaymentEventSink {
 public:
  GrpcEventSink(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout);
  domain::SinkAnswer Deliver(const domain::PaymentEvent& event) override;

 private:
  std::unique_ptr<billing::invoice::v1::PaymentEventService::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

}  // namespace billing::payments::clients
