#pragma once

#include <exception>
#include <utility>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "errors/error.h"
#include "server/call_context.h"
#include "server/error_status.h"

namespace billing::server {

// Logs an unexpected exception under the call's request id (the caller only
// gets a generic INTERNAL).
void LogInternalError(const grpc::ServerContextBase* ctx, const std::exception* e);

// Answers a call the interceptor refused (bearer tokens: UNAUTHENTICATED or
// PERMISSION_DENIED) without running the body. Otherwise runs a handler
// body and turns its outcome into a status: OK, the table's
// status for an errors::Error, or INTERNAL (with the details only in the log)
// for anything else. Every api handler body goes through it, so no exception
// text ever reaches a caller.
template <typename Body>
grpc::Status Handle(grpc::ServerContext* ctx, Body&& body) {
  MarkHandled(ctx);
  if (auto denied = Denied(ctx)) {
    Annotate(ctx, "reason", std::string(Describe(denied->reason()).name));
    return ToStatus(*denied);
  }
  try {
    std::forward<Body>(body)();
    return grpc::Status::OK;
  } catch (const errors::Error& e) {
    Annotate(ctx, "reason", std::string(Describe(e.reason()).name));
    if (!e.field().empty()) Annotate(ctx, "field", e.field());
    return ToStatus(e);
  } catch (const std::exception& e) {
    LogInternalError(ctx, &e);
    return InternalStatus();
  } catch (...) {
    LogInternalError(ctx, nullptr);
    return InternalStatus();
  }
}

// UNIMPLEMENTED for a method a later release serves.
inline grpc::Status NotImplemented(const char* method) {
  return ToStatus(errors::Error(errors::Reason::kNotImplemented,
                                std::string(method) + " is not implemented yet"));
}

}  // namespace billing::server
