#include "server/health.h"

#include <chrono>

namespace billing::server {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

void HealthService::Register(const std::string& service) {
  std::lock_guard lock(mu_);
  statuses_.emplace(service, HealthCheckResponse::NOT_SERVING);
}

void HealthService::SetAll(ServingStatus status) {
  {
    std::lock_guard lock(mu_);
    if (shutdown_) return;
    for (auto& [name, s] : statuses_) s = status;
  }
  changed_.notify_all();
}

HealthService::ServingStatus HealthService::Get(const std::string& service) const {
  std::lock_guard lock(mu_);
  auto it = statuses_.find(service);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
}

void HealthService::Shutdown() {
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
    for (auto& [name, s] : statuses_) s = HealthCheckResponse::NOT_SERVING;
  }
  changed_.notify_all();
}

grpc::Status HealthService::Check(grpc::ServerContext*, const HealthCheckRequest* request,
                                  HealthCheckResponse* response) {
  std::lock_guard lock(mu_);
  auto it = statuses_.find(request->service());
  if (it == statuses_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
  response->set_status(it->second);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* ctx, const HealthCheckRequest* request,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  std::unique_lock lock(mu_);
  bool first = true;
  ServingStatus last = HealthCheckResponse::UNKNOWN;
  while (true) {
    auto it = statuses_.find(request->service());
    const ServingStatus now = it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
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
    if (shutdown_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down");
    // Wake up now and then to notice a caller that went away.
    changed_.wait_for(lock, std::chrono::milliseconds(500));
    if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
  }
}

}  // namespace billing::server
