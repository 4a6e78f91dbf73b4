#include "api/notify_api.h"

#include "server/handler.h"

namespace billing::notify::api {

grpc::Status NotifyApi::SendInvoiceLink(grpc::ServerContext*, const v1::SendInvoiceLinkRequest*,
                                        v1::SendInvoiceLinkResponse*) {
  return server::NotImplemented("SendInvoiceLink");
}
grpc::Status NotifyApi::SendReceipt(grpc::ServerContext*, const v1::SendReceiptRequest*,
                                    v1::SendReceiptResponse*) {
  return server::NotImplemented("SendReceipt");
}
grpc::Status NotifyApi::SendBookingConfirmation(grpc::ServerContext*,
                                                const v1::SendBookingConfirmationRequest*,
                                                v1::SendBookingConfirmationResponse*) {
  return server::NotImplemented("SendBookingConfirmation");
}
grpc::Status NotifyApi::SendPaymentReminder(grpc::ServerContext*, const v1::SendPaymentReminderRequest*,
                                            v1::SendPaymentReminderResponse*) {
  return server::NotImplemented("SendPaymentReminder");
}
grpc::Status NotifyApi::GetNotification(grpc::ServerContext*, const v1::GetNotificationRequest*,
                                        v1::GetNotificationResponse*) {
  return server::NotImplemented("GetNotification");
}
grpc::Status NotifyApi::ListNotifications(grpc::ServerContext*, const v1::ListNotificationsRequest*,
                                          v1::ListNotificationsResponse*) {
  return server::NotImplemented("ListNotifications");
}

}  // namespace billing::notify::api
