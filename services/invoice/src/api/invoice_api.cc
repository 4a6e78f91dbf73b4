#include "api/invoice_api.h"

#include "api/convert.h"
#include "errors/error.h"
#include "server/call_context.h"
#include "server/handler.h"
#include "validation/validation.h"

namespace billing::invoice::api {
namespace {

using errors::InvalidField;

// Link tokens are base64url; anything else cannot name an invoice. Checked
// before the database so junk input never costs a query.
void RequireToken(const std::string& token) {
  if (token.empty()) throw InvalidField("token", "is required");
  if (token.size() > 128) throw InvalidField("token", "must be at most 128 characters");
  for (char c : token) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) throw InvalidField("token", "must be a payment link token (base64url)");
  }
}

}  // namespace

grpc::Status InvoiceApi::UpsertBooking(grpc::ServerContext* ctx, const v1::UpsertBookingRequest* req,
                                       v1::UpsertBookingResponse* resp) {
  return server::Handle(ctx, [&] {
    server::Annotate(ctx, "booking_id", req->booking().booking_id());
    const auto result = manager_.UpsertBooking(ToUpsertBookingCommand(*req, server::CallerOf(ctx)));
    ToProto(result.booking, resp->mutable_booking());
    resp->set_ignored_as_stale(result.ignored_as_stale);
  });
}

grpc::Status InvoiceApi::GetBooking(grpc::ServerContext* ctx, const v1::GetBookingRequest* req,
                                    v1::GetBookingResponse* resp) {
  return server::Handle(ctx, [&] {
    validation::RequireId("booking_id", req->booking_id());
    server::Annotate(ctx, "booking_id", req->booking_id());
    std::vector<domain::CustomerPayment> payments;
    const auto booking = manager_.GetBooking(req->booking_id(), &payments);
    ToProto(booking, resp->mutable_booking());
    for (const auto& p : payments) ToProto(p, resp->add_payments());
  });
}

grpc::Status InvoiceApi::CreateInvoice(grpc::ServerContext* ctx, const v1::CreateInvoiceRequest* req,
                                       v1::CreateInvoiceResponse* resp) {
  return server::Handle(ctx, [&] {
    server::Annotate(ctx, "booking_id", req->booking_id());
    const auto invoice = manager_.CreateInvoice(ToCreateInvoiceCommand(*req, server::CallerOf(ctx)));
    server::Annotate(ctx, "invoice_id", invoice.invoice_id);
    ToProto(invoice, manager_.PayUrl(invoice), resp->mutable_invoice());
  });
}

grpc::Status InvoiceApi::GetInvoice(grpc::ServerContext* ctx, const v1::GetInvoiceRequest* req,
                                    v1::GetInvoiceResponse* resp) {
  return server::Handle(ctx, [&] {
    domain::InvoiceView view;
    switch (req->lookup_case()) {
      case v1::GetInvoiceRequest::kInvoiceId:
        validation::RequireUuid("invoice_id", req->invoice_id());
        view = manager_.GetInvoiceById(req->invoice_id());
        break;
      case v1::GetInvoiceRequest::kToken:
        RequireToken(req->token());
        view = manager_.GetInvoiceByToken(req->token());
        break;
      case v1::GetInvoiceRequest::LOOKUP_NOT_SET:
        throw InvalidField("invoice_id", "or token is required");
    }
    server::Annotate(ctx, "invoice_id", view.invoice.invoice_id);
    server::Annotate(ctx, "booking_id", view.invoice.booking_id);
    ToProto(view, manager_.PayUrl(view.invoice), resp);
  });
}

// Served by later releases (see the issues that own them); the contract is
// public already so clients can be written against it.
grpc::Status InvoiceApi::RecordExternalPayment(grpc::ServerContext*, const v1::RecordExternalPaymentRequest*,
                                               v1::RecordExternalPaymentResponse*) {
  return server::NotImplemented("RecordExternalPayment");
}
grpc::Status InvoiceApi::ListInvoices(grpc::ServerContext*, const v1::ListInvoicesRequest*,
                                      v1::ListInvoicesResponse*) {
  return server::NotImplemented("ListInvoices");
}
grpc::Status InvoiceApi::ResendInvoice(grpc::ServerContext*, const v1::ResendInvoiceRequest*,
                                       v1::ResendInvoiceResponse*) {
  return server::NotImplemented("ResendInvoice");
}
grpc::Status InvoiceApi::CloseInvoice(grpc::ServerContext*, const v1::CloseInvoiceRequest*,
                                      v1::CloseInvoiceResponse*) {
  return server::NotImplemented("CloseInvoice");
}
grpc::Status InvoiceApi::PayInvoice(grpc::ServerContext*, const v1::PayInvoiceRequest*,
                                    v1::PayInvoiceResponse*) {
  return server::NotImplemented("PayInvoice");
}
grpc::Status InvoiceApi::ListInvoiceEvents(grpc::ServerContext*, const v1::ListInvoiceEventsRequest*,
                                           v1::ListInvoiceEventsResponse*) {
  return server::NotImplemented("ListInvoiceEvents");
}
grpc::Status PaymentEventApi::ApplyPaymentEvent(grpc::ServerContext*, const v1::ApplyPaymentEventRequest*,
                                                v1::ApplyPaymentEventResponse*) {
  return server::NotImplemented("ApplyPaymentEvent");
}

}  // namespace billing::invoice::api
