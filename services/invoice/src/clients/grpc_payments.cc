#include "clients/grpc_payments.h"

#include <grpcpp/client_context.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "protoconv/protoconv.h"
#include "validation/validation.h"

namespace billing::invoice::clients {
namespace {

namespace pv1 = billing::payments::v1;
using domain::Payments;

std::string ReasonOf(const grpc::Status& status) {
  google::rpc::Status details;
  google::rpc::ErrorInfo info;
  if (details.ParseFromString(status.error_details()) && details.details_size() > 0 &&
      details.details(0).UnpackTo(&info)) {
    return info.reason();
  }
  return "";
}

[[noreturn]] void Fail(const grpc::Status& status) {
  // A status message is another process's text (or a proxy's): made
  // storable, since it may end up in an attempt's record.
  const std::string message = validation::StorableText(status.error_message(), 300);
  switch (status.error_code()) {
    case grpc::StatusCode::ABORTED:
      throw Payments::Error(Payments::Failure::kInProgress, message);
    case grpc::StatusCode::FAILED_PRECONDITION: {
      const std::string reason = ReasonOf(status);
      if (reason == "PAYMENT_STATE_CONFLICT" || reason == "REFUND_EXCEEDS_CAPTURED") {
        throw Payments::Error(Payments::Failure::kConflict, message);
      }
      // Our key with other request fields: whatever the first call did is
      // not known from here, so it is looked up, never taken as a refusal.
      if (reason == "IDEMPOTENCY_KEY_REUSED") throw Payments::Error(Payments::Failure::kUnavailable, message);
      throw Payments::Error(Payments::Failure::kRejected, message);
    }
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::ALREADY_EXISTS:
      throw Payments::Error(Payments::Failure::kRejected, message);
    default:
      // Unreachable, overloaded, timed out, a bug on their side: what
      // happened is not known.
      throw Payments::Error(Payments::Failure::kUnavailable, message);
  }
}

domain::AttemptStatus StatusOf(pv1::PaymentStatus s) {
  switch (s) {
    case pv1::PAYMENT_STATUS_REQUIRES_ACTION: return domain::AttemptStatus::kRequiresAction;
    case pv1::PAYMENT_STATUS_PROCESSING: return domain::AttemptStatus::kProcessing;
    case pv1::PAYMENT_STATUS_SUCCEEDED: return domain::AttemptStatus::kSucceeded;
    case pv1::PAYMENT_STATUS_FAILED: return domain::AttemptStatus::kFailed;
    case pv1::PAYMENT_STATUS_CANCELED: return domain::AttemptStatus::kCanceled;
    default: return domain::AttemptStatus::kStarted;
  }
}

domain::PaymentView ViewOf(const pv1::Payment& p) {
  domain::PaymentView v;
  v.payment_id = p.payment_id();
  v.payment_intent_id = p.payment_intent_id();
  v.status = StatusOf(p.status());
  // Given up by payments, then succeeded anyway: payments refunds it on its
  // own (and reports it CANCELED in its events), so it pays nothing here.
  if (p.has_abandon_time() && v.status == domain::AttemptStatus::kSucceeded) v.status = domain::AttemptStatus::kCanceled;
  v.client_secret = p.client_secret();
  if (p.has_amount_received()) v.amount_received = protoconv::FromProto(p.amount_received());
  v.failure_code = p.failure().decline_code().empty() ? p.failure().code() : p.failure().decline_code();
  v.failure_message = p.failure().message();
  auto it = p.metadata().find("attempt_id");
  if (it != p.metadata().end()) v.attempt_id = it->second;
  return v;
}

}  // namespace

GrpcPayments::GrpcPayments(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout)
    : stub_(pv1::PaymentService::NewStub(std::move(channel))), timeout_(timeout) {}

domain::PaymentView GrpcPayments::Create(const domain::CreatePaymentRequest& r) {
  pv1::CreatePaymentRequest req;
  req.set_request_id(r.request_id);
  req.set_invoice_id(r.invoice_id);
  protoconv::ToProto(r.amount, req.mutable_amount());
  if (r.method == domain::PayMethod::kConfirmationToken) {
    req.set_confirmation_token_id(r.method_id);
  } else {
    req.set_payment_method_id(r.method_id);
  }
  req.set_return_url(r.return_url);
  req.set_description(validation::StorableText(r.description, 500));
  (*req.mutable_metadata())["attempt_id"] = r.attempt_id;
  (*req.mutable_metadata())["booking_id"] = r.booking_id.substr(0, 500);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  ctx.AddMetadata("x-request-id", r.request_id);
  pv1::CreatePaymentResponse resp;
  const auto status = stub_->CreatePayment(&ctx, req, &resp);
  if (!status.ok()) Fail(status);
  return ViewOf(resp.payment());
}

domain::PaymentView GrpcPayments::Confirm(const std::string& request_id, const std::string& invoice_id,
                                          const std::string& payment_intent_id) {
  pv1::ConfirmPaymentRequest req;
  req.set_request_id(request_id);
  req.set_invoice_id(invoice_id);
  req.set_payment_intent_id(payment_intent_id);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  ctx.AddMetadata("x-request-id", request_id);
  pv1::ConfirmPaymentResponse resp;
  const auto status = stub_->ConfirmPayment(&ctx, req, &resp);
  if (!status.ok()) Fail(status);
  return ViewOf(resp.payment());
}

std::optional<domain::PaymentView> GrpcPayments::Get(const std::string& payment_id) {
  pv1::GetPaymentRequest req;
  req.set_payment_id(payment_id);
  req.set_refresh(true);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  pv1::GetPaymentResponse resp;
  const auto status = stub_->GetPayment(&ctx, req, &resp);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;
  if (!status.ok()) Fail(status);
  return ViewOf(resp.payment());
}

std::vector<domain::PaymentView> GrpcPayments::ListForInvoice(const std::string& invoice_id) {
  std::vector<domain::PaymentView> out;
  pv1::ListPaymentsRequest req;
  req.set_invoice_id(invoice_id);
  req.set_page_size(100);
  for (int page = 0; page < 20; ++page) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    pv1::ListPaymentsResponse resp;
    const auto status = stub_->ListPayments(&ctx, req, &resp);
    if (!status.ok()) Fail(status);
    for (const auto& p : resp.payments()) out.push_back(ViewOf(p));
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  return out;
}

void GrpcPayments::Cancel(const std::string& request_id, const std::string& payment_id) {
  pv1::CancelPaymentRequest req;
  req.set_request_id(request_id);
  req.set_payment_id(payment_id);
  req.set_reason(pv1::CANCELLATION_REASON_ABANDONED);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  ctx.AddMetadata("x-request-id", request_id);
  pv1::CancelPaymentResponse resp;
  const auto status = stub_->CancelPayment(&ctx, req, &resp);
  if (!status.ok()) Fail(status);
}

void GrpcPayments::Refund(const std::string& request_id, const std::string& payment_id) {
  pv1::RefundPaymentRequest req;
  req.set_request_id(request_id);
  req.set_payment_id(payment_id);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  ctx.AddMetadata("x-request-id", request_id);
  pv1::RefundPaymentResponse resp;
  const auto status = stub_->RefundPayment(&ctx, req, &resp);
  if (!status.ok()) Fail(status);
}

}  // namespace billing::invoice::clients
