#include "api/convert.h"

#include <algorithm>

#include "errors/error.h"
#include "protoconv/protoconv.h"
#include "validation/validation.h"

namespace billing::payments::api {
namespace {

using errors::InvalidField;

// Stripe's largest amount in any currency (eight digits).
constexpr int64_t kStripeMaxAmount = 99'999'999;


// Stripe's metadata limits: 50 keys of 40 characters, values of 500; we
// keep 20 for the caller (ours ride along) and reserve our own keys.
void CheckMetadata(const google::protobuf::Map<std::string, std::string>& metadata) {
  if (metadata.size() > 20) throw InvalidField("metadata", "may have at most 20 keys");
  for (const auto& [k, v] : metadata) {
    if (k.empty() || k.size() > 40) throw InvalidField("metadata", "keys must be 1 to 40 characters");
    if (k.find_first_of("[]") != std::string::npos) throw InvalidField("metadata", "keys must not contain [ or ]");
    if (k == "invoice_id" || k == "payment_id") throw InvalidField("metadata", "keys invoice_id and payment_id are reserved");
    if (!validation::IsValidUtf8(k)) throw InvalidField("metadata", "keys must be UTF-8");
    // PostgreSQL's jsonb refuses NUL, and Stripe's dashboard shows keys raw.
    if (std::any_of(k.begin(), k.end(), [](unsigned char c) { return c < 0x20 || c == 0x7F; })) {
      throw InvalidField("metadata", "keys must not contain control characters");
    }
    validation::RequireText("metadata[" + k.substr(0, 40) + "]", v, 0, 500);
  }
}

domain::Money CheckAmount(const billing::common::v1::Money& m, bool present, const std::string& field) {
  const auto money = protoconv::RequireMoney(m, present, field);
  if (money.amount_minor > kStripeMaxAmount) {
    throw InvalidField(field + ".amount_minor", "must be at most 99999999 (Stripe's limit)");
  }
  return money;
}

v1::PaymentStatus ToProto(domain::PaymentStatus s) {
  switch (s) {
    case domain::PaymentStatus::kPending: return v1::PAYMENT_STATUS_PENDING;
    case domain::PaymentStatus::kRequiresAction: return v1::PAYMENT_STATUS_REQUIRES_ACTION;
    case domain::PaymentStatus::kProcessing: return v1::PAYMENT_STATUS_PROCESSING;
    case domain::PaymentStatus::kSucceeded: return v1::PAYMENT_STATUS_SUCCEEDED;
    case domain::PaymentStatus::kFailed: return v1::PAYMENT_STATUS_FAILED;
    case domain::PaymentStatus::kCanceled: return v1::PAYMENT_STATUS_CANCELED;
  }
  return v1::PAYMENT_STATUS_UNSPECIFIED;
}

v1::RefundStatus ToProto(domain::RefundStatus s) {
  switch (s) {
    case domain::RefundStatus::kPending: return v1::REFUND_STATUS_PENDING;
    case domain::RefundStatus::kSucceeded: return v1::REFUND_STATUS_SUCCEEDED;
    case domain::RefundStatus::kFailed: return v1::REFUND_STATUS_FAILED;
    case domain::RefundStatus::kCanceled: return v1::REFUND_STATUS_CANCELED;
  }
  return v1::REFUND_STATUS_UNSPECIFIED;
}

v1::RefundReason ToProto(domain::RefundReason r) {
  switch (r) {
    case domain::RefundReason::kDuplicate: return v1::REFUND_REASON_DUPLICATE;
    case domain::RefundReason::kFraudulent: return v1::REFUND_REASON_FRAUDULENT;
    case domain::RefundReason::kRequestedByCustomer: return v1::REFUND_REASON_REQUESTED_BY_CUSTOMER;
    case domain::RefundReason::kNone: break;
  }
  return v1::REFUND_REASON_UNSPECIFIED;
}

}  // namespace

void CheckPaymentIntentId(const std::string& field, const std::string& id) { validation::RequireStripeId(field, id, "pi_"); }

domain::CreatePaymentCommand ToCommand(const v1::CreatePaymentRequest& req, const std::string& caller) {
  validation::RequireRequestId(req.request_id());
  validation::RequireId("invoice_id", req.invoice_id());
  domain::CreatePaymentCommand cmd;
  cmd.caller = caller;
  cmd.request_id = req.request_id();
  cmd.invoice_id = req.invoice_id();
  cmd.amount = CheckAmount(req.amount(), req.has_amount(), "amount");
  switch (req.method_case()) {
    case v1::CreatePaymentRequest::kPaymentMethodId:
      validation::RequireStripeId("payment_method_id", req.payment_method_id(), "pm_");
      cmd.method_kind = domain::MethodKind::kPaymentMethod;
      cmd.method_id = req.payment_method_id();
      break;
    case v1::CreatePaymentRequest::kConfirmationTokenId:
      validation::RequireStripeId("confirmation_token_id", req.confirmation_token_id(), "ctoken_");
      cmd.method_kind = domain::MethodKind::kConfirmationToken;
      cmd.method_id = req.confirmation_token_id();
      break;
    case v1::CreatePaymentRequest::METHOD_NOT_SET:
      throw InvalidField("payment_method_id", "or confirmation_token_id is required");
  }
  validation::RequireReturnUrl("return_url", req.return_url());
  cmd.return_url = req.return_url();
  validation::RequireText("description", req.description(), 0, 500);
  cmd.description = req.description();
  CheckMetadata(req.metadata());
  cmd.metadata = {req.metadata().begin(), req.metadata().end()};
  return cmd;
}

domain::ConfirmPaymentCommand ToCommand(const v1::ConfirmPaymentRequest& req, const std::string& caller) {
  validation::RequireRequestId(req.request_id());
  validation::RequireId("invoice_id", req.invoice_id());
  CheckPaymentIntentId("payment_intent_id", req.payment_intent_id());
  return {caller, req.request_id(), req.invoice_id(), req.payment_intent_id()};
}

domain::CancelPaymentCommand ToCommand(const v1::CancelPaymentRequest& req, const std::string& caller) {
  validation::RequireRequestId(req.request_id());
  validation::RequireUuid("payment_id", req.payment_id());
  domain::CancelPaymentCommand cmd{caller, req.request_id(), req.payment_id(), domain::CancellationReason::kNone};
  switch (req.reason()) {
    case v1::CANCELLATION_REASON_UNSPECIFIED: break;
    case v1::CANCELLATION_REASON_DUPLICATE: cmd.reason = domain::CancellationReason::kDuplicate; break;
    case v1::CANCELLATION_REASON_FRAUDULENT: cmd.reason = domain::CancellationReason::kFraudulent; break;
    case v1::CANCELLATION_REASON_REQUESTED_BY_CUSTOMER:
      cmd.reason = domain::CancellationReason::kRequestedByCustomer;
      break;
    case v1::CANCELLATION_REASON_ABANDONED: cmd.reason = domain::CancellationReason::kAbandoned; break;
    default: throw InvalidField("reason", "is not a known CancellationReason");
  }
  return cmd;
}

domain::RefundPaymentCommand ToCommand(const v1::RefundPaymentRequest& req, const std::string& caller) {
  validation::RequireRequestId(req.request_id());
  validation::RequireUuid("payment_id", req.payment_id());
  domain::RefundPaymentCommand cmd{caller, req.request_id(), req.payment_id(), std::nullopt,
                                   domain::RefundReason::kNone};
  if (req.has_amount()) cmd.amount = CheckAmount(req.amount(), true, "amount");
  switch (req.reason()) {
    case v1::REFUND_REASON_UNSPECIFIED: break;
    case v1::REFUND_REASON_DUPLICATE: cmd.reason = domain::RefundReason::kDuplicate; break;
    case v1::REFUND_REASON_FRAUDULENT: cmd.reason = domain::RefundReason::kFraudulent; break;
    case v1::REFUND_REASON_REQUESTED_BY_CUSTOMER: cmd.reason = domain::RefundReason::kRequestedByCustomer; break;
    default: throw InvalidField("reason", "is not a known RefundReason");
  }
  return cmd;
}

domain::PaymentFilter ToFilter(const v1::ListPaymentsRequest& req) {
  validation::RequireId("invoice_id", req.invoice_id());
  domain::PaymentFilter f;
  f.invoice_id = req.invoice_id();
  switch (req.status()) {
    case v1::PAYMENT_STATUS_UNSPECIFIED: break;
    case v1::PAYMENT_STATUS_PENDING: f.status = domain::PaymentStatus::kPending; break;
    case v1::PAYMENT_STATUS_REQUIRES_ACTION: f.status = domain::PaymentStatus::kRequiresAction; break;
    case v1::PAYMENT_STATUS_PROCESSING: f.status = domain::PaymentStatus::kProcessing; break;
    case v1::PAYMENT_STATUS_SUCCEEDED: f.status = domain::PaymentStatus::kSucceeded; break;
    case v1::PAYMENT_STATUS_FAILED: f.status = domain::PaymentStatus::kFailed; break;
    case v1::PAYMENT_STATUS_CANCELED: f.status = domain::PaymentStatus::kCanceled; break;
    default: throw InvalidField("status", "is not a known PaymentStatus");
  }
  return f;
}

void ToProto(const domain::Refund& r, v1::Refund* out) {
  out->set_refund_id(r.refund_id);
  out->set_payment_id(r.payment_id);
  protoconv::ToProto(r.amount, out->mutable_amount());
  out->set_status(ToProto(r.status));
  out->set_reason(ToProto(r.reason));
  out->set_provider_refund_id(r.provider_refund_id);
  out->set_failure_reason(r.failure_reason);
  protoconv::ToProto(r.created_at, out->mutable_create_time());
}

void ToProto(const domain::Payment& p, v1::Payment* out) {
  out->set_payment_id(p.payment_id);
  out->set_invoice_id(p.invoice_id);
  protoconv::ToProto(p.amount, out->mutable_amount());
  out->set_status(ToProto(p.status));
  out->set_payment_intent_id(p.payment_intent_id);
  // The client secret lets Stripe.js finish 3-D Secure; it is handed out
  // only while that is what the payment waits for.
  if (p.status == domain::PaymentStatus::kRequiresAction) out->set_client_secret(p.client_secret);
  if (p.status == domain::PaymentStatus::kFailed) {
    out->mutable_failure()->set_code(p.failure.code);
    out->mutable_failure()->set_decline_code(p.failure.decline_code);
    out->mutable_failure()->set_message(p.failure.message);
  }
  protoconv::ToProto({p.amount_received_minor, p.amount.currency}, out->mutable_amount_received());
  protoconv::ToProto({p.amount_refunded_minor, p.amount.currency}, out->mutable_amount_refunded());
  for (const auto& r : p.refunds) ToProto(r, out->add_refunds());
  for (const auto& [k, v] : p.metadata) (*out->mutable_metadata())[k] = v;
  protoconv::ToProto(p.created_at, out->mutable_create_time());
  protoconv::ToProto(p.updated_at, out->mutable_update_time());
  if (p.abandoned_at) protoconv::ToProto(*p.abandoned_at, out->mutable_abandon_time());
}

}  // namespace billing::payments::api
