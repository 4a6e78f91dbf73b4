#include "server/health.h"

#include <chrono>

namespace billing::server {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

HealthService::HealthService() : state_(std::make_shared<State>()) {
  state_->statuses.emplace(kLiveness, HealthCheckResponse::SERVING);
}

std::unique_ptr<HealthService> HealthService::Share() const {
  return std::unique_ptr<HealthService>(new HealthService(state_));
}

void HealthService::Register(const std::string& service) {
  std::lock_guard lock(state_->mu);
  state_->statuses.emplace(service, HealthCheckResponse::NOT_SERVING);
}

void HealthService::SetAll(ServingStatus status) {
  {
    std::lock_guard lock(state_->mu);
    if (state_->shutdown) return;
    for (auto& [name, s] : state_->statuses) {
      if (name != kLiveness) s = status;
    }
  }
  state_->changed.notify_all();
}

HealthService::ServingStatus HealthService::Get(const std::string& service) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->statuses.find(service);
  return it == state_->statuses.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
}

void HealthService::Shutdown() {
  {
    std::lock_guard lock(state_->mu);
    state_->shutdown = true;
    for (auto& [name, s] : state_->statuses) s = HealthCheckResponse::NOT_SERVING;
  }
  state_->changed.notify_all();
}

grpc::Status HealthService::Check(grpc::ServerContext*, const HealthCheckRequest* request,
                                  HealthCheckResponse* response) {
  std::lock_guard lock(state_->mu);
  auto it = state_->statuses.find(request->service());
  if (it == state_->statuses.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
  response->set_status(it->second);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* ctx, const HealthCheckRequest* request,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  std::unique_lock lock(state_->mu);
  bool first = true;
  ServingStatus last = HealthCheckResponse::UNKNOWN;
  while (true) {
    auto it = state_->statuses.find(request->service());
    const ServingStatus now = it == state_->statuses.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
    if (first || now != last) {
      HealthCheckResponse response;
      response.set_status(now);
      lock.unlock();
      const bool ok = writer->Write(response);
      lock.lock();
      if (!ok) return grpc::Status::OK;
      first = false;
      last = now;
    }
    if (state_->shutdown) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down");
    // Wake up now and then to notice a caller that went away.
    state_->changed.wait_for(lock, std::chrono::milliseconds(500));
    if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
  }
}

}  // namespace billing::server
