#pragma once

#include "billing/payments/v1/payments_service.grpc.pb.h"

namespace billing::payments::api {

namespace v1 = ::billing::payments::v1;

// billing.payments.v1.PaymentService. Every method answers UNIMPLEMENTED
// until the payments issue lands; the contract is public already.
class PaymentApi final : public v1::PaymentService::Service {
 public:
  grpc::Status CreatePayment(grpc::ServerContext*, const v1::CreatePaymentRequest*,
                             v1::CreatePaymentResponse*) override;
  grpc::Status ConfirmPayment(grpc::ServerContext*, const v1::ConfirmPaymentRequest*,
                              v1::ConfirmPaymentResponse*) override;
  grpc::Status GetPayment(grpc::ServerContext*, const v1::GetPaymentRequest*,
                          v1::GetPaymentResponse*) override;
  grpc::Status ListPayments(grpc::ServerContext*, const v1::ListPaymentsRequest*,
                            v1::ListPaymentsResponse*) override;
  grpc::Status CancelPayment(grpc::ServerContext*, const v1::CancelPaymentRequest*,
                             v1::CancelPaymentResponse*) override;
  grpc::Status RefundPayment(grpc::ServerContext*, const v1::RefundPaymentRequest*,
                             v1::RefundPaymentResponse*) override;
};

}  // namespace billing::payments::api
