#pragma once

#include <memory>
#include <string>

#include <grpcpp/support/server_interceptor.h>

#include "metrics/metrics.h"

namespace billing::server {

// Creates the per-RPC interceptor that:
//  - takes the request id from x-request-id metadata (or makes one), echoes it
//    back in the response's initial metadata, and registers the call;
//  - counts grpc_server_started_total, grpc_server_handled_total and
//    grpc_server_handling_seconds with go-grpc-prometheus's names and labels
//    (grpc_type, grpc_service, grpc_method, grpc_code);
//  - writes one JSON log line per RPC (method, code, latency, request id, the
//    handler's annotations, and the status message for failures). Health and
//    reflection calls log at debug level so probes do not flood the log.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeObservabilityInterceptorFactory(metrics::Metrics& metrics);

}  // namespace billing::server
