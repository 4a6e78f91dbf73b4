#pragma once

#include <google/protobuf/timestamp.pb.h>

#include "billing/common/v1/money.pb.h"
#include "billing/invoice/v1/invoice_service.pb.h"
#include "domain/invoice_manager.h"
#include "domain/pay_flow.h"
#include "domain/model.h"
#include "protoconv/protoconv.h"

// proto <-> domain for the invoice service. The To* (proto -> domain)
// functions validate shapes and throw errors::Error naming the field; rules
// that need stored state live in the domain.
namespace billing::invoice::api {

namespace v1 = ::billing::invoice::v1;
namespace common = ::billing::common::v1;

domain::UpsertBookingCommand ToUpsertBookingCommand(const v1::UpsertBookingRequest& req,
                                                    const std::string& caller);
domain::CreateInvoiceCommand ToCreateInvoiceCommand(const v1::CreateInvoiceRequest& req,
                                                    const std::string& caller);
domain::RecordExternalPaymentCommand ToRecordExternalPaymentCommand(const v1::RecordExternalPaymentRequest& req,
                                                                    const std::string& caller);
domain::ResendInvoiceCommand ToResendInvoiceCommand(const v1::ResendInvoiceRequest& req, const std::string& caller);
domain::CloseInvoiceCommand ToCloseInvoiceCommand(const v1::CloseInvoiceRequest& req, const std::string& caller);
domain::InvoiceFilter ToInvoiceFilter(const v1::ListInvoicesRequest& req);
domain::PayInvoiceCommand ToPayInvoiceCommand(const v1::PayInvoiceRequest& req, const std::string& caller);
domain::PaymentEventCommand ToPaymentEventCommand(const v1::ApplyPaymentEventRequest& req, const std::string& caller);
void ToProto(const domain::PayInvoiceResult& r, const std::string& pay_url, v1::PayInvoiceResponse* out);
// A payment link token: 1..128 base64url characters. The token is a secret,
// so the error never echoes it.
void RequireLinkToken(const std::string& token);
// A page token as given: bounded in size, checked by the domain.
void RequirePageToken(const std::string& token);

using protoconv::ToProto;
using protoconv::ToTime;
void ToProto(const domain::Booking& b, v1::Booking* out);
void ToProto(const domain::Invoice& inv, const std::string& pay_url, v1::Invoice* out);
void ToProto(const domain::CustomerPayment& p, v1::CustomerPayment* out);
void ToProto(const domain::InvoiceView& view, const std::string& pay_url, v1::GetInvoiceResponse* out);
void ToProto(const domain::NotificationSummary& n, v1::NotificationRecord* out);
void ToProto(const domain::InvoiceEvent& e, v1::InvoiceEvent* out);


}  // namespace billing::invoice::api
