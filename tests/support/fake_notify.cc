#include "support/fake_notify.h"

#include <grpcpp/server_builder.h>

namespace billing::testing {

namespace nv1 = billing::notify::v1;

FakeNotify::FakeNotify() {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
}

FakeNotify::~FakeNotify() {
  server_->Shutdown(std::chrono::system_clock::now());
  // As in FakePaymentEvents: Shutdown waits for the handlers inside gRPC,
  // where TSan cannot see it; taking the lock they wrote under makes that
  // order visible before the maps are destroyed.
  std::lock_guard lock(mu_);
}

grpc::Status FakeNotify::Accept(const std::string& request_id, nv1::Notification* out) {
  ++calls_;
  if (!available_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "notify is down (fake)");
  std::lock_guard lock(mu_);
  auto it = by_request_.find(request_id);
  if (it == by_request_.end()) {
    nv1::Notification n;
    n.set_notification_id("fake-" + std::to_string(by_request_.size() + 1));
    n.set_status(nv1::NOTIFICATION_STATUS_QUEUED);
    it = by_request_.emplace(request_id, n).first;
  }
  *out = it->second;
  return grpc::Status::OK;
}

grpc::Status FakeNotify::SendInvoiceLink(grpc::ServerContext*, const nv1::SendInvoiceLinkRequest* req,
                                         nv1::SendInvoiceLinkResponse* resp) {
  const auto status = Accept(req->request_id(), resp->mutable_notification());
  if (status.ok()) {
    std::lock_guard lock(mu_);
    links_.emplace(req->request_id(), *req);
  }
  return status;
}

grpc::Status FakeNotify::SendReceipt(grpc::ServerContext*, const nv1::SendReceiptRequest* req,
                                     nv1::SendReceiptResponse* resp) {
  return Accept(req->request_id(), resp->mutable_notification());
}

grpc::Status FakeNotify::SendBookingConfirmation(grpc::ServerContext*, const nv1::SendBookingConfirmationRequest* req,
                                                 nv1::SendBookingConfirmationResponse* resp) {
  return Accept(req->request_id(), resp->mutable_notification());
}

grpc::Status FakeNotify::GetNotification(grpc::ServerContext*, const nv1::GetNotificationRequest* req,
                                         nv1::GetNotificationResponse* resp) {
  if (!available_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "notify is down (fake)");
  std::lock_guard lock(mu_);
  for (const auto& [key, n] : by_request_) {
    if (req->request_id().empty() ? n.notification_id() == req->notification_id() : key == req->request_id()) {
      *resp->mutable_notification() = n;
      // The fake delivers instantly once asked.
      resp->mutable_notification()->set_status(nv1::NOTIFICATION_STATUS_SENT);
      return grpc::Status::OK;
    }
  }
  return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such notification");
}

std::map<std::string, nv1::SendInvoiceLinkRequest> FakeNotify::links() const {
  std::lock_guard lock(mu_);
  return links_;
}

std::size_t FakeNotify::distinct_sends() const {
  std::lock_guard lock(mu_);
  return by_request_.size();
}

}  // namespace billing::testing
