#include "server/grpc_server.h"

#include <stdexcept>
#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "server/interceptor.h"

namespace billing::server {

GrpcServer::GrpcServer(GrpcServerOptions options, metrics::Metrics& metrics)
    : options_(std::move(options)), metrics_(metrics) {}

GrpcServer::~GrpcServer() { StopAll(std::chrono::system_clock::now()); }

void GrpcServer::StopAll(std::chrono::system_clock::time_point deadline) {
  // Shut every port down before waiting on any, so they drain together.
  for (auto& l : listeners_) {
    if (l.server) l.server->Shutdown(deadline);
  }
  for (auto& l : listeners_) {
    if (l.server) l.server->Wait();
  }
  listeners_.clear();
}

void GrpcServer::AddService(const std::string& full_name, std::unique_ptr<grpc::Service> service,
                            const std::string& listener) {
  if (!listener.empty() && !options_.extra_listen_addresses.contains(listener)) {
    throw std::runtime_error("no listener named " + listener + " for " + full_name);
  }
  health_.Register(full_name);
  services_[listener].push_back(service.get());
  owned_.push_back(std::move(service));
}

void GrpcServer::Build(Listener& listener) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listener.address,
                           listener.tls ? MakeServerCredentials(options_.tls) : grpc::InsecureServerCredentials(),
                           &listener.port);
  // One quota per server: the main port's handler threads bound concurrency;
  // the small ports (probes, fenced RPCs) must not starve behind it.
  grpc::ResourceQuota quota("billing-server-" + (listener.name.empty() ? std::string("grpc") : listener.name));
  quota.SetMaxThreads(options_.max_threads);
  builder.SetResourceQuota(quota);
  // gRPC's sync server lets at most MAX_POLLERS threads wait for calls
  // (default 2): under load every other handler thread exited after its call
  // and a new one was created for the next, which a profile of GetInvoice
  // showed as thread creation, stack unmapping and TLB flushes on every
  // call. Up to max_threads may now wait, so the threads a burst created
  // stay as a pool (gRPC retires a waiting thread only above MAX_POLLERS):
  // in the benchmark invoice went from 16 threads idle to 38 under load and
  // kept them, with its peak RSS unchanged (31 MB).
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, options_.max_threads);
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  builder.RegisterService(listener.health.get());
  for (auto* service : listener.services) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(MakeObservabilityInterceptorFactory(metrics_, options_.authorizer));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  listener.server = builder.BuildAndStart();
  if (!listener.server || listener.port == 0) {
    throw std::runtime_error("cannot listen on " + listener.address +
                             (listener.name.empty() ? "" : " (" + listener.name + ")"));
  }
}

void GrpcServer::Start() {
  // gcc's --as-needed drops the reflection library unless it is referenced;
  // this call is that reference. The plugin adds reflection to every server
  // built from here on.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  listeners_.push_back({.name = "", .address = options_.listen_address, .services = services_[""]});
  for (const auto& [name, address] : options_.extra_listen_addresses) {
    listeners_.push_back({.name = name, .address = address, .services = services_[name]});
  }
  if (!options_.health_listen_address.empty()) {
    listeners_.push_back({.name = "health", .address = options_.health_listen_address, .tls = false});
  }
  for (auto& l : listeners_) {
    l.health = health_.Share();
    Build(l);
    if (l.name.empty()) {
      port_ = l.port;
    } else {
      extra_ports_[l.name] = l.port;
    }
  }
}

void GrpcServer::Shutdown() {
  if (listeners_.empty()) return;
  health_.SetAll(grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  if (options_.drain_delay.count() > 0) std::this_thread::sleep_for(options_.drain_delay);
  health_.Shutdown();
  StopAll(std::chrono::system_clock::now() + options_.shutdown_timeout);
}

}  // namespace billing::server
