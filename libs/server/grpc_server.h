#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server.h>

#include "metrics/metrics.h"
#include "server/authz.h"
#include "server/health.h"
#include "server/tls.h"

namespace billing::server {

struct GrpcServerOptions {
  std::string listen_address = "0.0.0.0:0";
  // Named extra ports, each a server of its own that serves only the services
  // added under its name (plus health and reflection), so a NetworkPolicy can
  // fence that surface by port. Same TLS as the main port.
  std::map<std::string, std::string> extra_listen_addresses;
  // A plaintext port that serves only grpc.health.v1.Health, for kubelet's
  // native gRPC probes (they cannot present TLS or client certificates).
  // Empty: none.
  std::string health_listen_address;
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
  // Bearer tokens: who may call what (null: anyone who reaches the port).
  // Owned by the caller; must outlive the server.
  const Authorizer* authorizer = nullptr;
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

  // Registers a service on the main port, or on the extra port named
  // `listener`; `full_name` (e.g. "billing.invoice.v1.InvoiceService")
  // becomes a health-checkable name.
  void AddService(const std::string& full_name, std::unique_ptr<grpc::Service> service,
                  const std::string& listener = "");

  // Binds and starts every port. Throws std::runtime_error if a port cannot
  // be bound, a listener is unknown, or TLS files cannot be read (start-up
  // errors are fatal).
  void Start();
  int port() const { return port_; }
  // Bound ports of the extra listeners (by name) and "health" when set.
  const std::map<std::string, int>& extra_ports() const { return extra_ports_; }
  HealthService& health() { return health_; }

  // NOT_SERVING, wait drain_delay, end Watch streams, Shutdown(deadline), Wait.
  void Shutdown();

 private:
  GrpcServerOptions options_;
  metrics::Metrics& metrics_;
  // One gRPC server per port: the main one first, then the named extra
  // ports, then the health-only port.
  struct Listener {
    std::string name;  // "" for the main port
    std::string address;
    bool tls = true;
    std::vector<grpc::Service*> services = {};
    std::unique_ptr<HealthService> health = nullptr;  // shares health_'s statuses
    std::unique_ptr<grpc::Server> server = nullptr;
    int port = 0;
  };
  void Build(Listener& listener);
  void StopAll(std::chrono::system_clock::time_point deadline);

  HealthService health_;  // owns the statuses; each listener serves a Share()
  std::vector<std::unique_ptr<grpc::Service>> owned_;
  std::map<std::string, std::vector<grpc::Service*>> services_;  // by listener name
  std::vector<Listener> listeners_;
  int port_ = 0;
  std::map<std::string, int> extra_ports_;
};

}  // namespace billing::server
