#include "clients/grpc_notifier.h"

#include <grpcpp/client_context.h>

#include "protoconv/protoconv.h"
#include "validation/validation.h"

namespace billing::invoice::clients {
namespace {

namespace nv1 = billing::notify::v1;
using domain::Notifier;

using protoconv::ToProto;

void SetRecipient(const domain::NotificationRequest& r, nv1::Recipient* out) {
  out->set_channel(r.channel == domain::Channel::kSms ? billing::common::v1::CHANNEL_SMS
                                                      : billing::common::v1::CHANNEL_EMAIL);
  out->set_email(r.email);
  out->set_phone(r.phone);
  out->set_name(r.recipient_name);
}

void SetBooking(const domain::BookingDetails& b, nv1::BookingDetails* out) {
  out->set_booking_id(b.booking_id);
  out->set_activity_name(b.activity_name);
  out->set_date(b.date);
  out->set_start(b.start);
  out->set_end(b.end);
  out->set_end_date(b.end_date);
  out->set_confirmation_code(b.confirmation_code);
}

// Only an answer about the request itself is final. Everything else
// (unreachable, overloaded, credentials being rotated, an older notify that
// does not serve the method yet) can be fixed on notify's side, so the
// notification waits and is sent then.
bool Transient(grpc::StatusCode code) {
  return code != grpc::StatusCode::INVALID_ARGUMENT && code != grpc::StatusCode::FAILED_PRECONDITION &&
         code != grpc::StatusCode::OUT_OF_RANGE;
}

Notifier::Accepted FromProto(const nv1::Notification& n) {
  Notifier::Accepted a;
  a.notification_id = n.notification_id();
  switch (n.status()) {
    case nv1::NOTIFICATION_STATUS_SENT: a.state = domain::NotificationState::kSent; break;
    case nv1::NOTIFICATION_STATUS_FAILED: a.state = domain::NotificationState::kFailed; break;
    default: a.state = domain::NotificationState::kQueued; break;
  }
  a.failure_reason = n.failure_reason();
  if (n.has_sent_time()) {
    try {
      a.sent_at = protoconv::ToTime(n.sent_time(), "sent_time");
    } catch (const std::exception&) {
      // A malformed time from notify must not turn a delivered message into
      // one that is sent again; the time is simply unknown.
    }
  }
  return a;
}

}  // namespace

GrpcNotifier::GrpcNotifier(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout)
    : stub_(nv1::NotifyService::NewStub(std::move(channel))), timeout_(timeout) {}

Notifier::Accepted GrpcNotifier::Send(const std::string& request_id, const domain::NotificationRequest& r) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  ctx.AddMetadata("x-request-id", request_id);
  grpc::Status status;
  nv1::Notification out;
  switch (r.purpose) {
    case domain::NotificationPurpose::kInvoiceLink:
    case domain::NotificationPurpose::kPaymentReminder: {
      const bool reminder = r.purpose == domain::NotificationPurpose::kPaymentReminder;
      nv1::SendInvoiceLinkRequest link;
      link.set_request_id(request_id);
      SetRecipient(r, link.mutable_recipient());
      link.set_invoice_id(r.invoice_id);
      link.set_pay_url(r.pay_url);
      ToProto(r.amount, link.mutable_amount_due());
      link.set_business_name(r.business_name);
      SetBooking(r.booking, link.mutable_booking());
      if (r.due_at) ToProto(*r.due_at, link.mutable_due_time());
      if (reminder) {
        nv1::SendPaymentReminderRequest req;
        req.set_request_id(link.request_id());
        *req.mutable_recipient() = link.recipient();
        req.set_invoice_id(link.invoice_id());
        req.set_pay_url(link.pay_url());
        *req.mutable_amount_due() = link.amount_due();
        req.set_business_name(link.business_name());
        *req.mutable_booking() = link.booking();
        if (link.has_due_time()) *req.mutable_due_time() = link.due_time();
        nv1::SendPaymentReminderResponse resp;
        status = stub_->SendPaymentReminder(&ctx, req, &resp);
        out = resp.notification();
      } else {
        nv1::SendInvoiceLinkResponse resp;
        status = stub_->SendInvoiceLink(&ctx, link, &resp);
        out = resp.notification();
      }
      break;
    }
    case domain::NotificationPurpose::kReceipt: {
      nv1::SendReceiptRequest req;
      req.set_request_id(request_id);
      SetRecipient(r, req.mutable_recipient());
      req.set_invoice_id(r.invoice_id);
      ToProto(r.amount, req.mutable_amount_paid());
      if (r.balance_remaining) ToProto(*r.balance_remaining, req.mutable_balance_remaining());
      req.set_business_name(r.business_name);
      SetBooking(r.booking, req.mutable_booking());
      nv1::SendReceiptResponse resp;
      status = stub_->SendReceipt(&ctx, req, &resp);
      out = resp.notification();
      break;
    }
    case domain::NotificationPurpose::kBookingConfirmation: {
      nv1::SendBookingConfirmationRequest req;
      req.set_request_id(request_id);
      SetRecipient(r, req.mutable_recipient());
      req.set_invoice_id(r.invoice_id);
      req.set_business_name(r.business_name);
      SetBooking(r.booking, req.mutable_booking());
      nv1::SendBookingConfirmationResponse resp;
      status = stub_->SendBookingConfirmation(&ctx, req, &resp);
      out = resp.notification();
      break;
    }
  }
  if (!status.ok()) {
    throw Notifier::Error(!Transient(status.error_code()),
                          "notify answered " + std::to_string(static_cast<int>(status.error_code())) + ": " +
                              validation::StorableText(status.error_message(), 300));
  }
  return FromProto(out);
}

std::optional<Notifier::Accepted> GrpcNotifier::Status(const std::string& notification_id) {
  nv1::GetNotificationRequest req;
  req.set_notification_id(notification_id);
  return Get(req);
}

std::optional<Notifier::Accepted> GrpcNotifier::StatusByRequest(const std::string& request_id) {
  nv1::GetNotificationRequest req;
  req.set_request_id(request_id);
  return Get(req);
}

std::optional<Notifier::Accepted> GrpcNotifier::Get(const nv1::GetNotificationRequest& req) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  nv1::GetNotificationResponse resp;
  const auto status = stub_->GetNotification(&ctx, req, &resp);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;
  if (!status.ok()) {
    throw Notifier::Error(!Transient(status.error_code()), validation::StorableText(status.error_message(), 300));
  }
  return FromProto(resp.notification());
}

}  // namespace billing::invoice::clients
