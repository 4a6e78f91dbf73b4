#pragma once

#include <memory>
#include <string>

#include <grpcpp/support/server_interceptor.h>

#include "metrics/metrics.h"
#include "server/authz.h"

namespace billing::server {

// Creates the per-RPC interceptor that:
//  - takes the request id from x-request-id metadata (or makes one), echoes it
//    back in the response's initial metadata, and registers the call;
//  - counts grpc_server_started_total, grpc_server_handled_total and
//    grpc_server_handling_seconds with go-grpc-prometheus's names and labels
//    (grpc_type, grpc_service, grpc_method, grpc_code);
//  - writes one JSON log line per RPC (method, code, latency, request id, the
//    handler's annotations, and the status message for failures). Health and
//    reflection calls log at debug level so probes do not flood the log;
//  - with an authorizer (bearer tokens on), decides whether the caller may
//    call the method (health and reflection stay open) and records the
//    decision for server::Handle, which answers a refusal.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeObservabilityInterceptorFactory(metrics::Metrics& metrics, const Authorizer* authorizer = nullptr);

}  // namespace billing::server
