#include "support/fake_payment_events.h"

#include <grpcpp/server_builder.h>

namespace billing::testing {

namespace iv1 = billing::invoice::v1;

FakePaymentEvents::FakePaymentEvents() {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
}

FakePaymentEvents::~FakePaymentEvents() {
  server_->Shutdown(std::chrono::system_clock::now());
  // Shutdown waits for the handlers inside gRPC, where TSan cannot see it;
  // taking the lock they wrote under makes that order visible.
  std::lock_guard lock(mu_);
}

std::vector<iv1::ApplyPaymentEventRequest> FakePaymentEvents::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

std::vector<iv1::ApplyPaymentEventRequest> FakePaymentEvents::EventsOf(const std::string& payment_id) const {
  std::lock_guard lock(mu_);
  std::vector<iv1::ApplyPaymentEventRequest> out;
  for (const auto& e : events_) {
    if (e.payment_id() == payment_id) out.push_back(e);
  }
  return out;
}

grpc::Status FakePaymentEvents::ApplyPaymentEvent(grpc::ServerContext*, const iv1::ApplyPaymentEventRequest* req,
                                                  iv1::ApplyPaymentEventResponse* resp) {
  ++calls_;
  if (!available_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "invoice is down (fake)");
  std::lock_guard lock(mu_);
  const bool fresh = seen_.emplace(req->request_id(), events_.size()).second;
  if (fresh) events_.push_back(*req);
  resp->set_applied(fresh);
  return grpc::Status::OK;
}

}  // namespace billing::testing
