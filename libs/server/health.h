#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "grpc/health/v1/health.grpc.pb.h"

namespace billing::server {

// grpc.health.v1.Health built from Debian's health.proto, so reflection can
// describe it and grpcurl / buf curl can call it (the built-in health service
// has no descriptor in the C++ pool). Kubernetes' native gRPC probes use it
// too.
//
// Every service name registered (and "" for the whole server) starts
// NOT_SERVING. Unknown names get NOT_FOUND from Check, per the protocol.
// "liveness" is SERVING for as long as the process serves at all (until
// Shutdown), whatever the database does: a liveness probe on "" would
// restart every replica during a database outage, which cures nothing.
//
// A process may serve health on several gRPC servers (the main port, a
// fenced port, a plaintext port for kubelet probes, which cannot speak TLS).
// A gRPC service object can be registered with one server only, so Share()
// makes another object over the same statuses.
class HealthService final : public grpc::health::v1::Health::Service {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  static constexpr const char* kLiveness = "liveness";

  HealthService();
  // Another service object that reads and writes the same statuses.
  std::unique_ptr<HealthService> Share() const;

  void Register(const std::string& service);
  // Sets every registered name (and ""). Ignored after Shutdown.
  void SetAll(ServingStatus status);
  ServingStatus Get(const std::string& service) const;
  // NOT_SERVING for good, and ends every Watch stream so server shutdown
  // does not wait for them.
  void Shutdown();

  grpc::Status Check(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  struct State {
    mutable std::mutex mu;
    std::condition_variable changed;
    std::map<std::string, ServingStatus> statuses{{"", grpc::health::v1::HealthCheckResponse::NOT_SERVING}};
    bool shutdown = false;
  };
  explicit HealthService(std::shared_ptr<State> state) : state_(std::move(state)) {}

  std::shared_ptr<State> state_;
};

}  // namespace billing::server
