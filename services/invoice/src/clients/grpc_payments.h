#pragma once

#include <chrono>
#include <memory>

#include <grpcpp/channel.h>

#include "billing/payments/v1/payments_service.grpc.pb.h"
#include "domain/payments.h"

namespace billing::invoice::clients {

// The payments service over gRPC, a deadline per call. Failures are sorted
// by the answer's code and google.rpc.ErrorInfo reason: UNAVAILABLE,
// DEADLINE_EXCEEDED and the like are unknown outcomes; ABORTED is a call
// still in progress; PAYMENT_STATE_CONFLICT / REFUND_EXCEEDS_CAPTURED are
// conflicts; other refusals are rejections.
class GrpcPayments final : public domain::Payments {
 public:
  GrpcPayments(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout);

  domain::PaymentView Create(const domain::CreatePaymentRequest& request) override;
  domain::PaymentView Confirm(const std::string& request_id, const std::string& invoice_id,
                              const std::string& payment_intent_id) override;
  std::optional<domain::PaymentView> Get(const std::string& payment_id) override;
  std::vector<domain::PaymentView> ListForInvoice(const std::string& invoice_id) override;
  void Cancel(const std::string& request_id, const std::string& payment_id) override;
  void Refund(const std::string& request_id, const std::string& payment_id) override;

 private:
  std::unique_ptr<billing::payments::v1::PaymentService::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

}  // namespace billing::invoice::clients
