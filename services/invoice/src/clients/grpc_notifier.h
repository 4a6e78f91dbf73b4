#pragma once

#include <chrono>
#include <memory>

#include <grpcpp/channel.h>

#include "billing/notify/v1/notify_service.grpc.pb.h"
#include "domain/notifier.h"

namespace billing::invoice::clients {

// The notify service over gRPC. Every call has a deadline. INVALID_ARGUMENT,
// FAILED_PRECONDITION and OUT_OF_RANGE mean notify refuses this request
// (permanent); every other failure is transient.
class GrpcNotifier final : public domain::Notifier {
 public:
  GrpcNotifier(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout);

  Accepted Send(const std::string& request_id, const domain::NotificationRequest& request) override;
  std::optional<Accepted> Status(const std::string& notification_id) override;
  std::optional<Accepted> StatusByRequest(const std::string& request_id) override;

 private:
  std::optional<Accepted> Get(const billing::notify::v1::GetNotificationRequest& req);

  std::unique_ptr<billing::notify::v1::NotifyService::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

}  // namespace billing::invoice::clients
