#include "server/grpc_server.h"

#include <stdexcept>
#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/server_builder.h>

#include "server/interceptor.h"

namespace billing::server {

GrpcServer::GrpcServer(GrpcServerOptions options, metrics::Metrics& metrics)
    : options_(std::move(options)), metrics_(metrics) {}

GrpcServer::~GrpcServer() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
  }
}

void GrpcServer::AddService(const std::string& full_name, std::unique_ptr<grpc::Service> service) {
  health_.Register(full_name);
  services_.push_back(std::move(service));
}

void GrpcServer::Start() {
  // gcc's --as-needed drops the reflection library unless it is referenced;
  // this call is that reference.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen_address, MakeServerCredentials(options_.tls), &port_);
  grpc::ResourceQuota quota("billing-server");
  quota.SetMaxThreads(options_.max_threads);
  builder.SetResourceQuota(quota);
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  builder.RegisterService(&health_);
  for (auto& service : services_) builder.RegisterService(service.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(MakeObservabilityInterceptorFactory(metrics_));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));

  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    throw std::runtime_error("cannot listen on " + options_.listen_address);
  }
}

void GrpcServer::Shutdown() {
  if (!server_) return;
  health_.SetAll(grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  if (options_.drain_delay.count() > 0) std::this_thread::sleep_for(options_.drain_delay);
  health_.Shutdown();
  server_->Shutdown(std::chrono::system_clock::now() + options_.shutdown_timeout);
  server_->Wait();
  server_.reset();
}

}  // namespace billing::server
