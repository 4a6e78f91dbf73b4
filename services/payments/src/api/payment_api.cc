#include "api/payment_api.h"

#include "server/handler.h"

namespace billing::payments::api {

grpc::Status PaymentApi::CreatePayment(grpc::ServerContext*, const v1::CreatePaymentRequest*,
                                       v1::CreatePaymentResponse*) {
  return server::NotImplemented("CreatePayment");
}
grpc::Status PaymentApi::ConfirmPayment(grpc::ServerContext*, const v1::ConfirmPaymentRequest*,
                                        v1::ConfirmPaymentResponse*) {
  return server::NotImplemented("ConfirmPayment");
}
grpc::Status PaymentApi::GetPayment(grpc::ServerContext*, const v1::GetPaymentRequest*,
                                    v1::GetPaymentResponse*) {
  return server::NotImplemented("GetPayment");
}
grpc::Status PaymentApi::ListPayments(grpc::ServerContext*, const v1::ListPaymentsRequest*,
                                      v1::ListPaymentsResponse*) {
  return server::NotImplemented("ListPayments");
}
grpc::Status PaymentApi::CancelPayment(grpc::ServerContext*, const v1::CancelPaymentRequest*,
                                       v1::CancelPaymentResponse*) {
  return server::NotImplemented("CancelPayment");
}
grpc::Status PaymentApi::RefundPayment(grpc::ServerContext*, const v1::RefundPaymentRequest*,
                                       v1::RefundPaymentResponse*) {
  return server::NotImplemented("RefundPayment");
}

}  // namespace billing::payments::api
