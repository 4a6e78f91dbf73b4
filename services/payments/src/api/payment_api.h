#pragma once

#include "billing/payments/v1/payments_service.grpc.pb.h"
#include "domain/payment_service.h"

namespace billing::payments::api {

namespace v1 = ::billing::payments::v1;

// billing.payments.v1.PaymentService: validates and converts each request,
// calls the domain, and maps errors through server::Handle. No rules here.
class PaymentApi final : public v1::PaymentService::Service {
 public:
  explicit PaymentApi(domain::PaymentService& service) : service_(service) {}

  grpc::Status CreatePayment(grpc::ServerContext* ctx, const v1::CreatePaymentRequest* req,
                             v1::CreatePaymentResponse* resp) override;
  grpc::Status ConfirmPayment(grpc::ServerContext* ctx, const v1::ConfirmPaymentRequest* req,
                              v1::ConfirmPaymentResponse* resp) override;
  grpc::Status GetPayment(grpc::ServerContext* ctx, const v1::GetPaymentRequest* req,
                          v1::GetPaymentResponse* resp) override;
  grpc::Status ListPayments(grpc::ServerContext* ctx, const v1::ListPaymentsRequest* req,
                            v1::ListPaymentsResponse* resp) override;
  grpc::Status CancelPayment(grpc::ServerContext* ctx, const v1::CancelPaymentRequest* req,
                             v1::CancelPaymentResponse* resp) override;
  grpc::Status RefundPayment(grpc::ServerContext* ctx, const v1::RefundPaymentRequest* req,
                             v1::RefundPaymentResponse* resp) override;

 private:
  domain::PaymentService& service_;
};

}  // namespace billing::payments::api
