#include "api/payment_api.h"

#include "api/convert.h"
#include "errors/error.h"
#include "server/call_context.h"
#include "server/handler.h"
#include "validation/validation.h"

namespace billing::payments::api {
namespace {

void AnnotatePayment(grpc::ServerContext* ctx, const domain::Payment& p) {
  server::Annotate(ctx, "payment_id", p.payment_id);
  server::Annotate(ctx, "invoice_id", p.invoice_id);
  if (!p.payment_intent_id.empty()) server::Annotate(ctx, "payment_intent_id", p.payment_intent_id);
  server::Annotate(ctx, "payment_status", std::string(domain::Name(p.status)));
}

}  // namespace

grpc::Status PaymentApi::CreatePayment(grpc::ServerContext* ctx, const v1::CreatePaymentRequest* req,
                                       v1::CreatePaymentResponse* resp) {
  return server::Handle(ctx, [&] {
    const auto payment = service_.CreatePayment(ToCommand(*req, server::CallerOf(ctx)));
    AnnotatePayment(ctx, payment);
    ToProto(payment, resp->mutable_payment());
  });
}

grpc::Status PaymentApi::ConfirmPayment(grpc::ServerContext* ctx, const v1::ConfirmPaymentRequest* req,
                                        v1::ConfirmPaymentResponse* resp) {
  return server::Handle(ctx, [&] {
    const auto payment = service_.ConfirmPayment(ToCommand(*req, server::CallerOf(ctx)));
    AnnotatePayment(ctx, payment);
    ToProto(payment, resp->mutable_payment());
  });
}

grpc::Status PaymentApi::GetPayment(grpc::ServerContext* ctx, const v1::GetPaymentRequest* req,
                                    v1::GetPaymentResponse* resp) {
  return server::Handle(ctx, [&] {
    std::string payment_id;
    std::string intent_id;
    switch (req->lookup_case()) {
      case v1::GetPaymentRequest::kPaymentId:
        validation::RequireUuid("payment_id", req->payment_id());
        payment_id = req->payment_id();
        break;
      case v1::GetPaymentRequest::kPaymentIntentId:
        CheckPaymentIntentId("payment_intent_id", req->payment_intent_id());
        intent_id = req->payment_intent_id();
        break;
      case v1::GetPaymentRequest::LOOKUP_NOT_SET:
        throw errors::InvalidField("payment_id", "or payment_intent_id is required");
    }
    const auto payment = service_.GetPayment(payment_id, intent_id, req->refresh());
    AnnotatePayment(ctx, payment);
    ToProto(payment, resp->mutable_payment());
  });
}

grpc::Status PaymentApi::ListPayments(grpc::ServerContext* ctx, const v1::ListPaymentsRequest* req,
                                      v1::ListPaymentsResponse* resp) {
  return server::Handle(ctx, [&] {
    const auto filter = ToFilter(*req);
    server::Annotate(ctx, "invoice_id", filter.invoice_id);
    const int page_size = validation::RequirePageSize(req->page_size(), 50, 100);
    const auto page = service_.ListPayments(filter, page_size, req->page_token());
    for (const auto& p : page.payments) ToProto(p, resp->add_payments());
    resp->set_next_page_token(page.next_page_token);
  });
}

grpc::Status PaymentApi::CancelPayment(grpc::ServerContext* ctx, const v1::CancelPaymentRequest* req,
                                       v1::CancelPaymentResponse* resp) {
  return server::Handle(ctx, [&] {
    const auto cmd = ToCommand(*req, server::CallerOf(ctx));
    server::Annotate(ctx, "payment_id", cmd.payment_id);
    const auto payment = service_.CancelPayment(cmd);
    AnnotatePayment(ctx, payment);
    ToProto(payment, resp->mutable_payment());
  });
}

grpc::Status PaymentApi::RefundPayment(grpc::ServerContext* ctx, const v1::RefundPaymentRequest* req,
                                       v1::RefundPaymentResponse* resp) {
  return server::Handle(ctx, [&] {
    const auto cmd = ToCommand(*req, server::CallerOf(ctx));
    server::Annotate(ctx, "payment_id", cmd.payment_id);
    const auto [refund, payment] = service_.RefundPayment(cmd);
    server::Annotate(ctx, "refund_id", refund.refund_id);
    ToProto(refund, resp->mutable_refund());
    ToProto(payment, resp->mutable_payment());
  });
}

}  // namespace billing::payments::api
