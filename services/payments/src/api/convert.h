#pragma once

#include <string>

#include "billing/payments/v1/payments_service.pb.h"
#include "domain/model.h"
#include "domain/payment_store.h"

// Protobuf <-> domain for the payments API, with every request field
// checked. Errors name the field (INVALID_ARGUMENT).
namespace billing::payments::api {

namespace v1 = ::billing::payments::v1;

domain::CreatePaymentCommand ToCommand(const v1::CreatePaymentRequest& req, const std::string& caller);
domain::ConfirmPaymentCommand ToCommand(const v1::ConfirmPaymentRequest& req, const std::string& caller);
domain::CancelPaymentCommand ToCommand(const v1::CancelPaymentRequest& req, const std::string& caller);
domain::RefundPaymentCommand ToCommand(const v1::RefundPaymentRequest& req, const std::string& caller);
domain::PaymentFilter ToFilter(const v1::ListPaymentsRequest& req);
void CheckPaymentIntentId(const std::string& field, const std::string& id);

void ToProto(const domain::Payment& p, v1::Payment* out);
void ToProto(const domain::Refund& r, v1::Refund* out);

}  // namespace billing::payments::api
