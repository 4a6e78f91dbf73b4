#pragma once

#include "billing/notify/v1/notify_service.grpc.pb.h"
#include "domain/notification_service.h"

namespace billing::notify::api {

namespace v1 = ::billing::notify::v1;

// billing.notify.v1.NotifyService: validates, converts, calls the domain,
// and maps errors through server::Handle.
class NotifyApi final : public v1::NotifyService::Service {
 public:
  explicit NotifyApi(domain::NotificationService& service) : service_(service) {}

  grpc::Status SendInvoiceLink(grpc::ServerContext*, const v1::SendInvoiceLinkRequest*,
                               v1::SendInvoiceLinkResponse*) override;
  grpc::Status SendReceipt(grpc::ServerContext*, const v1::SendReceiptRequest*, v1::SendReceiptResponse*) override;
  grpc::Status SendBookingConfirmation(grpc::ServerContext*, const v1::SendBookingConfirmationRequest*,
                                       v1::SendBookingConfirmationResponse*) override;
  grpc::Status SendPaymentReminder(grpc::ServerContext*, const v1::SendPaymentReminderRequest*,
                                   v1::SendPaymentReminderResponse*) override;
  grpc::Status GetNotification(grpc::ServerContext*, const v1::GetNotificationRequest*,
                               v1::GetNotificationResponse*) override;
  grpc::Status ListNotifications(grpc::ServerContext*, const v1::ListNotificationsRequest*,
                                 v1::ListNotificationsResponse*) override;

 private:
  template <typename Req, typename Resp>
  grpc::Status Send(grpc::ServerContext* ctx, const Req* req, Resp* resp);

  domain::NotificationService& service_;
};

}  // namespace billing::notify::api
