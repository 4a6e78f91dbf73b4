#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/server.h>

#include "billing/invoice/v1/invoice_service.grpc.pb.h"

// An in-process invoice PaymentEventService on a free port, for testing the
// payments service's outbox before (and apart from) the real invoice
// service. Idempotent on request_id, as the real one must be; can be
// switched off (UNAVAILABLE).
namespace billing::testing {

class FakePaymentEvents final : public billing::invoice::v1::PaymentEventService::Service {
 public:
  FakePaymentEvents();
  ~FakePaymentEvents() override;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void SetAvailable(bool available) { available_ = available; }
  int calls() const { return calls_; }
  // Distinct events by request_id, in arrival order.
  std::vector<billing::invoice::v1::ApplyPaymentEventRequest> events() const;
  // The events of one payment.
  std::vector<billing::invoice::v1::ApplyPaymentEventRequest> EventsOf(const std::string& payment_id) const;

  grpc::Status ApplyPaymentEvent(grpc::ServerContext*, const billing::invoice::v1::ApplyPaymentEventRequest* req,
                                 billing::invoice::v1::ApplyPaymentEventResponse* resp) override;

 private:
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> available_{true};
  std::atomic<int> calls_{0};
  mutable std::mutex mu_;
  std::map<std::string, std::size_t> seen_;
  std::vector<billing::invoice::v1::ApplyPaymentEventRequest> events_;
};

}  // namespace billing::testing
