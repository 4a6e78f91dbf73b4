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

GrpcServer::~GrpcServer() {
  const auto now = std::chrono::system_clock::now();
  for (auto& l : extra_) {
    if (l.server) l.server->Shutdown(now);
  }
  if (server_) server_->Shutdown(now);
  for (auto& l : extra_) {
    if (l.server) l.server->Wait();
  }
  if (server_) server_->Wait();
}

void GrpcServer::AddService(const std::string& full_name, std::unique_ptr<grpc::Service> service,
                            const std::string& listener) {
  if (!listener.empty() && !options_.extra_listen_addresses.contains(listener)) {
    throw std::runtime_error("no listener named " + listener + " for " + full_name);
  }
  health_.Register(full_name);
  grpc::Service* raw = service.get();
  owned_.push_back(std::move(service));
  if (listener.empty()) {
    main_services_.push_back(raw);
  } else {
    extra_services_[listener].push_back(raw);
  }
}

std::unique_ptr<grpc::Server> GrpcServer::Build(Listener& listener, grpc::Service* health) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listener.address,
                           listener.tls ? MakeServerCredentials(options_.tls) : grpc::InsecureServerCredentials(),
                           &listener.port);
  // One quota per server: the main port's handler threads bound concurrency;
  // the small ports (probes, fenced RPCs) must not starve behind it.
  grpc::ResourceQuota quota("billing-server-" + (listener.name.empty() ? std::string("grpc") : listener.name));
  quota.SetMaxThreads(options_.max_threads);
  builder.SetResourceQuota(quota);
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  builder.RegisterService(health);
  for (auto* service : listener.services) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(MakeObservabilityInterceptorFactory(metrics_));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  auto server = builder.BuildAndStart();
  if (!server || listener.port == 0) {
    throw std::runtime_error("cannot listen on " + listener.address +
                             (listener.name.empty() ? "" : " (" + listener.name + ")"));
  }
  return server;
}

void GrpcServer::Start() {
  // gcc's --as-needed drops the reflection library unless it is referenced;
  // this call is that reference. The plugin adds reflection to every server
  // built from here on.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  Listener main{.name = "", .address = options_.listen_address, .tls = true, .services = main_services_};
  server_ = Build(main, &health_);
  port_ = main.port;
  for (const auto& [name, address] : options_.extra_listen_addresses) {
    extra_.push_back({.name = name, .address = address, .tls = true, .services = extra_services_[name],
                      .health = health_.Share()});
  }
  if (!options_.health_listen_address.empty()) {
    extra_.push_back({.name = "health", .address = options_.health_listen_address, .tls = false,
                      .health = health_.Share()});
  }
  for (auto& l : extra_) {
    l.server = Build(l, l.health.get());
    extra_ports_[l.name] = l.port;
  }
}

void GrpcServer::Shutdown() {
  if (!server_) return;
  health_.SetAll(grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  if (options_.drain_delay.count() > 0) std::this_thread::sleep_for(options_.drain_delay);
  health_.Shutdown();
  const auto deadline = std::chrono::system_clock::now() + options_.shutdown_timeout;
  server_->Shutdown(deadline);
  for (auto& l : extra_) l.server->Shutdown(deadline);
  server_->Wait();
  for (auto& l : extra_) l.server->Wait();
  server_.reset();
  extra_.clear();
}

}  // namespace billing::server
