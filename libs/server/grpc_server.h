#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server.h>

#include "metrics/metrics.h"
#include "server/health.h"
#include "server/tls.h"

namespace billing::server {

struct GrpcServerOptions {
  std::string listen_address = "0.0.0.0:0";
  TlsFiles tls;
  // Handler threads; with the synchronous API each in-flight RPC holds one,
  // so this bounds concurrency (and database connection demand).
  int max_threads = 64;
  int max_receive_message_bytes = 4 * 1024 * 1024;
  // After SIGTERM: how long to keep serving while reporting NOT_SERVING (so
  // load balancers stop sending), then how long in-flight calls get to
  // finish before they are cancelled.
  std::chrono::milliseconds drain_delay{0};
  std::chrono::milliseconds shutdown_timeout{10000};
};

// A gRPC server with health, reflection and the observability interceptor.
//
// The synchronous API is the one threading model for every service: handlers
// block on SOCI, and a bounded thread pool (ResourceQuota) keeps that from
// tying up gRPC's callback threads. Each handler thread holds at most one
// database lease at a time.
class GrpcServer {
 public:
  GrpcServer(GrpcServerOptions options, metrics::Metrics& metrics);
  ~GrpcServer();

  // Registers a service; `full_name` (e.g. "billing.invoice.v1.InvoiceService")
  // becomes a health-checkable name.
  void AddService(const std::string& full_name, std::unique_ptr<grpc::Service> service);

  // Binds and starts. Throws std::runtime_error if the port cannot be bound
  // or TLS files cannot be read (start-up errors are fatal).
  void Start();
  int port() const { return port_; }
  HealthService& health() { return health_; }

  // NOT_SERVING, wait drain_delay, end Watch streams, Shutdown(deadline), Wait.
  void Shutdown();

 private:
  GrpcServerOptions options_;
  metrics::Metrics& metrics_;
  HealthService health_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace billing::server
