#pragma once

#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/impl/codegen/service_type.h>

#include "clock/clock.h"
#include "config/config.h"
#include "db/migrator.h"
#include "db/pool.h"
#include "metrics/metrics.h"
#include "server/authz.h"
#include "server/secret_reloader.h"

namespace billing::server {

// What a service's wiring gets to build its handlers and workers.
struct ServiceEnv {
  const config::Config& config;
  db::Pool& pool;
  metrics::Metrics& metrics;
  const clock::Clock& clock;
  // Watches secrets read from files (e.g. a *_TOKEN: WatchedBearerToken).
  SecretReloader& secrets;
};

// Collects a service's gRPC services and background workers.
class ServiceRegistrar {
 public:
  // Adds an implementation of the generated service GrpcService (e.g.
  // v1::InvoiceService); its full name becomes a health name.
  // `listener` names one of the spec's extra listeners; empty is the main
  // gRPC port.
  template <typename GrpcService>
  void AddService(std::unique_ptr<typename GrpcService::Service> impl, std::string listener = "") {
    AddService(GrpcService::service_full_name(), std::move(impl), std::move(listener));
  }
  void AddService(std::string full_name, std::unique_ptr<grpc::Service> impl, std::string listener = "") {
    services.push_back({std::move(full_name), std::move(impl), std::move(listener)});
  }
  // A background loop (outbox dispatcher, sweeper). It starts once the
  // service is first ready and must return soon after stop is requested.
  void AddWorker(std::string name, std::function<void(std::stop_token)> run) {
    workers.emplace_back(std::move(name), std::move(run));
  }
  // An extra port to report in PORTS_FILE and the start-up log (webhook).
  void ReportPort(std::string name, int port) { ports[std::move(name)] = port; }

  struct Registered {
    std::string full_name;
    std::unique_ptr<grpc::Service> impl;
    std::string listener;
  };
  std::vector<Registered> services;
  std::vector<std::pair<std::string, std::function<void(std::stop_token)>>> workers;
  std::map<std::string, int> ports;
};

// A second gRPC port that serves only the services registered under `name`,
// so the network can fence them (e.g. invoice's PaymentEventService, which
// only payments may call). Its address option is empty by default: the
// services are then served on the main port.
struct ExtraListener {
  std::string name;    // "payment_events": the registrar's listener and PORTS_FILE key
  std::string option;  // "PAYMENT_EVENTS_LISTEN_ADDRESS"
  std::string help;
};

struct ServiceSpec {
  std::string name;     // "invoice": log service name, ErrorInfo domain prefix
  std::string summary;  // first paragraph of --help
  int default_grpc_port;
  int default_metrics_port;
  const std::vector<db::Migration>* migrations;
  std::vector<config::Option> options;  // the service's own, after the common ones
  std::vector<ExtraListener> extra_listeners = {};
  std::function<void(ServiceEnv&, ServiceRegistrar&)> build;
  // Who may call what when CALLER_TOKENS is set: each rule's groups are
  // options of this service listing callers (e.g. PUBLIC_CALLERS).
  std::vector<AccessRule> access = {};
  // Options holding a bearer token this service sends (e.g. NOTIFY_TOKEN):
  // checked with the rest of the configuration (exit 2, --check-config),
  // then installed with WatchedBearerToken.
  std::vector<std::string> outgoing_tokens = {};
  // Checks that need several options at once; throws config::ConfigError
  // (one line) to stop before anything binds. Optional.
  std::function<void(const config::Config&)> validate = nullptr;
};

// The options every service has (DATABASE_URL, GRPC_LISTEN_ADDRESS, ...).
std::vector<config::Option> CommonOptions(const ServiceSpec& spec);

// The whole life of a service process:
//  1. blocks SIGTERM/SIGINT (a dedicated wait handles them);
//  2. parses config; --help prints usage and exits 0; a bad or missing value
//     prints one line and exits 2 before anything binds;
//  3. logs the effective config once, secrets redacted;
//  4. with --migrate-only: applies migrations and exits (0 or 1); only
//     DATABASE_URL is required then, and --check-config stops after parsing;
//  5. binds /metrics and the gRPC port (failure: exit 1), reports NOT_SERVING;
//  6. a readiness loop connects, migrates (AUTO_MIGRATE) and pings the
//     database, flipping health between SERVING and NOT_SERVING, and starts the
//     workers when first ready;
//  7. SIGTERM/SIGINT: NOT_SERVING, drain, shutdown within the deadline,
//     workers stopped, exit 0.
int ServiceMain(const ServiceSpec& spec, int argc, char** argv);

}  // namespace billing::server
