#include "api/invoice_api.h"

#include "api/convert.h"
#include "errors/error.h"
#include "server/call_context.h"
#include "server/handler.h"
#include "validation/validation.h"

namespace billing::invoice::api {
using errors::InvalidField;

namespace {

// The booking side's group (invoice's ADMIN_CALLERS option): with bearer
// tokens on, only it may name an invoice by id. The payment page knows the
// link's token; an id would let it read (and pay) any invoice, the customer's
// details and link included.
constexpr char kAdminCallers[] = "ADMIN_CALLERS";

void RequireAdminForIdLookup(grpc::ServerContext* ctx) {
  if (!server::CallerInGroup(ctx, kAdminCallers)) {
    throw errors::Error(errors::Reason::kPermissionDenied,
                        "this caller looks invoices up by their link's token, not by invoice_id", "invoice_id");
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
    for (const auto& inv : result.changed_invoices) ToProto(inv, manager_.PayUrl(inv), resp->add_changed_invoices());
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
        RequireAdminForIdLookup(ctx);
        validation::RequireUuid("invoice_id", req->invoice_id());
        view = manager_.GetInvoiceById(req->invoice_id());
        break;
      case v1::GetInvoiceRequest::kToken:
        RequireLinkToken(req->token());
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

grpc::Status InvoiceApi::RecordExternalPayment(grpc::ServerContext* ctx, const v1::RecordExternalPaymentRequest* req,
                                               v1::RecordExternalPaymentResponse* resp) {
  return server::Handle(ctx, [&] {
    server::Annotate(ctx, "booking_id", req->booking_id());
    const auto result = manager_.RecordExternalPayment(ToRecordExternalPaymentCommand(*req, server::CallerOf(ctx)));
    ToProto(result.payment, resp->mutable_payment());
    ToProto(result.booking, resp->mutable_booking());
    for (const auto& inv : result.settled_invoices) ToProto(inv, manager_.PayUrl(inv), resp->add_settled_invoices());
  });
}

grpc::Status InvoiceApi::ListInvoices(grpc::ServerContext* ctx, const v1::ListInvoicesRequest* req,
                                      v1::ListInvoicesResponse* resp) {
  return server::Handle(ctx, [&] {
    const auto filter = ToInvoiceFilter(*req);
    const int page_size = validation::RequirePageSize(req->page_size(), 50, 100);
    RequirePageToken(req->page_token());
    const auto page = manager_.ListInvoices(filter, page_size, req->page_token());
    for (const auto& inv : page.invoices) ToProto(inv, manager_.PayUrl(inv), resp->add_invoices());
    resp->set_next_page_token(page.next_page_token);
  });
}

grpc::Status InvoiceApi::ResendInvoice(grpc::ServerContext* ctx, const v1::ResendInvoiceRequest* req,
                                       v1::ResendInvoiceResponse* resp) {
  return server::Handle(ctx, [&] {
    server::Annotate(ctx, "invoice_id", req->invoice_id());
    const auto result = manager_.ResendInvoice(ToResendInvoiceCommand(*req, server::CallerOf(ctx)));
    ToProto(result.invoice, manager_.PayUrl(result.invoice), resp->mutable_invoice());
    ToProto(domain::Summarize(result.notification), resp->mutable_notification());
  });
}

grpc::Status InvoiceApi::CloseInvoice(grpc::ServerContext* ctx, const v1::CloseInvoiceRequest* req,
                                      v1::CloseInvoiceResponse* resp) {
  return server::Handle(ctx, [&] {
    server::Annotate(ctx, "invoice_id", req->invoice_id());
    const auto invoice = manager_.CloseInvoice(ToCloseInvoiceCommand(*req, server::CallerOf(ctx)));
    ToProto(invoice, manager_.PayUrl(invoice), resp->mutable_invoice());
  });
}

grpc::Status InvoiceApi::ListInvoiceEvents(grpc::ServerContext* ctx, const v1::ListInvoiceEventsRequest* req,
                                           v1::ListInvoiceEventsResponse* resp) {
  return server::Handle(ctx, [&] {
    validation::RequireUuid("invoice_id", req->invoice_id());
    server::Annotate(ctx, "invoice_id", req->invoice_id());
    const int page_size = validation::RequirePageSize(req->page_size(), 100, 500);
    RequirePageToken(req->page_token());
    const auto page = manager_.ListEvents(req->invoice_id(), page_size, req->page_token());
    for (const auto& e : page.events) ToProto(e, resp->add_events());
    resp->set_next_page_token(page.next_page_token);
  });
}

// Served by the pay-flow release; the contract is public already so clients
// can be written against it.
grpc::Status InvoiceApi::PayInvoice(grpc::ServerContext* ctx, const v1::PayInvoiceRequest* req,
                                    v1::PayInvoiceResponse* resp) {
  return server::Handle(ctx, [&] {
    const auto cmd = ToPayInvoiceCommand(*req, server::CallerOf(ctx));
    if (!cmd.invoice_id.empty()) RequireAdminForIdLookup(ctx);
    if (!cmd.invoice_id.empty()) server::Annotate(ctx, "invoice_id", cmd.invoice_id);
    const auto result = pay_.Pay(cmd);
    server::Annotate(ctx, "invoice_id", result.view.invoice.invoice_id);
    server::Annotate(ctx, "attempt_outcome", std::string(domain::Name(result.outcome)));
    if (!result.payment_intent_id.empty()) server::Annotate(ctx, "payment_intent_id", result.payment_intent_id);
    ToProto(result, manager_.PayUrl(result.view.invoice), resp);
  });
}

grpc::Status PaymentEventApi::ApplyPaymentEvent(grpc::ServerContext* ctx, const v1::ApplyPaymentEventRequest* req,
                                                v1::ApplyPaymentEventResponse* resp) {
  return server::Handle(ctx, [&] {
    const auto cmd = ToPaymentEventCommand(*req, server::CallerOf(ctx));
    server::Annotate(ctx, "invoice_id", cmd.invoice_id);
    server::Annotate(ctx, "payment_id", cmd.payment_id);
    const auto result = pay_.ApplyPaymentEvent(cmd);
    resp->set_applied(result.applied);
    // The payment link is the customer's secret; payments has no use for it.
    ToProto(result.invoice, "", resp->mutable_invoice());
    resp->mutable_invoice()->clear_token();
  });
}

}  // namespace billing::invoice::api
