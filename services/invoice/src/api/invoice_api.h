#pragma once

#include "billing/invoice/v1/invoice_service.grpc.pb.h"
#include "domain/invoice_manager.h"
#include "domain/pay_flow.h"

namespace billing::invoice::api {

// billing.invoice.v1.InvoiceService: validates, converts, calls the domain,
// and maps errors through server::Handle. No rules live here.
class InvoiceApi final : public billing::invoice::v1::InvoiceService::Service {
 public:
  InvoiceApi(domain::InvoiceManager& manager, domain::PayFlow& pay) : manager_(manager), pay_(pay) {}

  grpc::Status UpsertBooking(grpc::ServerContext* ctx, const v1::UpsertBookingRequest* req,
                             v1::UpsertBookingResponse* resp) override;
  grpc::Status GetBooking(grpc::ServerContext* ctx, const v1::GetBookingRequest* req,
                          v1::GetBookingResponse* resp) override;
  grpc::Status RecordExternalPayment(grpc::ServerContext* ctx,
                                     const v1::RecordExternalPaymentRequest* req,
                                     v1::RecordExternalPaymentResponse* resp) override;
  grpc::Status CreateInvoice(grpc::ServerContext* ctx, const v1::CreateInvoiceRequest* req,
                             v1::CreateInvoiceResponse* resp) override;
  grpc::Status GetInvoice(grpc::ServerContext* ctx, const v1::GetInvoiceRequest* req,
                          v1::GetInvoiceResponse* resp) override;
  grpc::Status ListInvoices(grpc::ServerContext* ctx, const v1::ListInvoicesRequest* req,
                            v1::ListInvoicesResponse* resp) override;
  grpc::Status ResendInvoice(grpc::ServerContext* ctx, const v1::ResendInvoiceRequest* req,
                             v1::ResendInvoiceResponse* resp) override;
  grpc::Status CloseInvoice(grpc::ServerContext* ctx, const v1::CloseInvoiceRequest* req,
                            v1::CloseInvoiceResponse* resp) override;
  grpc::Status PayInvoice(grpc::ServerContext* ctx, const v1::PayInvoiceRequest* req,
                          v1::PayInvoiceResponse* resp) override;
  grpc::Status ListInvoiceEvents(grpc::ServerContext* ctx, const v1::ListInvoiceEventsRequest* req,
                                 v1::ListInvoiceEventsResponse* resp) override;

 private:
  domain::InvoiceManager& manager_;
  domain::PayFlow& pay_;
};

// billing.invoice.v1.PaymentEventService (payments -> invoice). Under mTLS
// the caller's certificate name scopes its event keys.
class PaymentEventApi final : public billing::invoice::v1::PaymentEventService::Service {
 public:
  explicit PaymentEventApi(domain::PayFlow& pay) : pay_(pay) {}
  grpc::Status ApplyPaymentEvent(grpc::ServerContext* ctx, const v1::ApplyPaymentEventRequest* req,
                                 v1::ApplyPaymentEventResponse* resp) override;

 private:
  domain::PayFlow& pay_;
};

}  // namespace billing::invoice::api
