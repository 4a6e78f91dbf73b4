#include "api/notify_api.h"

#include "api/convert.h"
#include "errors/error.h"
#include "server/call_context.h"
#include "server/handler.h"
#include "validation/validation.h"

namespace billing::notify::api {

template <typename Req, typename Resp>
grpc::Status NotifyApi::Send(grpc::ServerContext* ctx, const Req* req, Resp* resp) {
  return server::Handle(ctx, [&] {
    if (!req->invoice_id().empty()) server::Annotate(ctx, "invoice_id", req->invoice_id());
    const auto n = service_.Send(ToCommand(*req, server::CallerOf(ctx)));
    server::Annotate(ctx, "notification_id", n.notification_id);
    ToProto(n, {}, resp->mutable_notification());
  });
}

grpc::Status NotifyApi::SendInvoiceLink(grpc::ServerContext* ctx, const v1::SendInvoiceLinkRequest* req,
                                        v1::SendInvoiceLinkResponse* resp) {
  return Send(ctx, req, resp);
}
grpc::Status NotifyApi::SendReceipt(grpc::ServerContext* ctx, const v1::SendReceiptRequest* req,
                                    v1::SendReceiptResponse* resp) {
  return Send(ctx, req, resp);
}
grpc::Status NotifyApi::SendBookingConfirmation(grpc::ServerContext* ctx,
                                                const v1::SendBookingConfirmationRequest* req,
                                                v1::SendBookingConfirmationResponse* resp) {
  return Send(ctx, req, resp);
}
grpc::Status NotifyApi::SendPaymentReminder(grpc::ServerContext* ctx, const v1::SendPaymentReminderRequest* req,
                                            v1::SendPaymentReminderResponse* resp) {
  return Send(ctx, req, resp);
}

grpc::Status NotifyApi::GetNotification(grpc::ServerContext* ctx, const v1::GetNotificationRequest* req,
                                        v1::GetNotificationResponse* resp) {
  return server::Handle(ctx, [&] {
    std::vector<domain::DeliveryAttempt> attempts;
    domain::Notification n;
    if (!req->request_id().empty()) {
      if (!req->notification_id().empty()) {
        throw errors::InvalidField("request_id", "must not be set together with notification_id");
      }
      validation::RequireRequestId(req->request_id());
      n = service_.GetByRequest(server::CallerOf(ctx), req->request_id(), &attempts);
    } else {
      validation::RequireUuid("notification_id", req->notification_id());
      n = service_.Get(req->notification_id(), &attempts);
    }
    server::Annotate(ctx, "notification_id", n.notification_id);
    ToProto(n, attempts, resp->mutable_notification());
  });
}

grpc::Status NotifyApi::ListNotifications(grpc::ServerContext* ctx, const v1::ListNotificationsRequest* req,
                                          v1::ListNotificationsResponse* resp) {
  return server::Handle(ctx, [&] {
    if (req->invoice_id().empty() && req->booking_id().empty() && req->recipient().empty()) {
      throw errors::InvalidField("invoice_id", "or booking_id or recipient is required");
    }
    domain::ListFilter filter;
    if (!req->invoice_id().empty()) validation::RequireId("invoice_id", req->invoice_id());
    if (!req->booking_id().empty()) validation::RequireId("booking_id", req->booking_id());
    filter.invoice_id = req->invoice_id();
    filter.booking_id = req->booking_id();
    if (!req->recipient().empty()) {
      validation::RequireText("recipient", req->recipient(), 1, 254);
      const bool email = req->recipient().find('@') != std::string::npos;
      try {
        filter.recipient = service_.NormalizeRecipient(email ? domain::Channel::kEmail : domain::Channel::kSms,
                                                       email ? req->recipient() : "", email ? "" : req->recipient());
      } catch (const errors::Error&) {
        throw errors::InvalidField("recipient", "must be an email address or a phone number");
      }
    }
    switch (req->status()) {
      case v1::NOTIFICATION_STATUS_UNSPECIFIED: break;
      case v1::NOTIFICATION_STATUS_QUEUED: filter.status = domain::Status::kQueued; break;
      case v1::NOTIFICATION_STATUS_SENT: filter.status = domain::Status::kSent; break;
      case v1::NOTIFICATION_STATUS_FAILED: filter.status = domain::Status::kFailed; break;
      default: throw errors::InvalidField("status", "is not a known NotificationStatus");
    }
    const int page_size = validation::RequirePageSize(req->page_size(), 50, 100);
    const auto page = service_.List(filter, page_size, req->page_token());
    for (const auto& n : page.notifications) ToProto(n, {}, resp->add_notifications());
    resp->set_next_page_token(page.next_page_token);
  });
}

}  // namespace billing::notify::api
