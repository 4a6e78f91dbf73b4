#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/server.h>

#include "billing/notify/v1/notify_service.grpc.pb.h"

// An in-process notify service on a free port, for testing callers before
// (and apart from) the real notify binary. It is idempotent on request_id,
// as notify must be, and can be switched off to simulate an outage
// (UNAVAILABLE).
namespace billing::testing {

class FakeNotify final : public billing::notify::v1::NotifyService::Service {
 public:
  FakeNotify();
  ~FakeNotify() override;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void SetAvailable(bool available) { available_ = available; }

  // Every call, including refused and repeated ones.
  int calls() const { return calls_; }
  // Distinct accepted sends by request_id.
  std::map<std::string, billing::notify::v1::SendInvoiceLinkRequest> links() const;
  std::size_t distinct_sends() const;

  grpc::Status SendInvoiceLink(grpc::ServerContext*, const billing::notify::v1::SendInvoiceLinkRequest* req,
                               billing::notify::v1::SendInvoiceLinkResponse* resp) override;
  grpc::Status SendReceipt(grpc::ServerContext*, const billing::notify::v1::SendReceiptRequest* req,
                           billing::notify::v1::SendReceiptResponse* resp) override;
  grpc::Status SendBookingConfirmation(grpc::ServerContext*,
                                      const billing::notify::v1::SendBookingConfirmationRequest* req,
                                      billing::notify::v1::SendBookingConfirmationResponse* resp) override;
  grpc::Status GetNotification(grpc::ServerContext*, const billing::notify::v1::GetNotificationRequest* req,
                               billing::notify::v1::GetNotificationResponse* resp) override;

 private:
  grpc::Status Accept(const std::string& request_id, billing::notify::v1::Notification* out);

  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> available_{true};
  std::atomic<int> calls_{0};
  mutable std::mutex mu_;
  std::map<std::string, billing::notify::v1::Notification> by_request_;
  std::map<std::string, billing::notify::v1::SendInvoiceLinkRequest> links_;
};

}  // namespace billing::testing
