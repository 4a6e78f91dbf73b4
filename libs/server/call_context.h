#pragma once

#include <map>
#include <string>

#include <grpcpp/server_context.h>

namespace billing::server {

// Per-call facts shared between the observability interceptor and the
// handler: the request id (from the caller's x-request-id metadata, or
// generated) and annotations the handler adds for the RPC's log line
// (invoice_id, booking_id, payment_id, reason). Never annotate secrets,
// tokens or card data.
struct CallFacts {
  std::string request_id;
  std::map<std::string, std::string> annotations;
  bool handled = false;  // the handler ran (server::Handle)
};

// Called by the interceptor when a call starts and ends.
void BeginCall(const grpc::ServerContextBase* ctx, std::string request_id);
CallFacts EndCall(const grpc::ServerContextBase* ctx);

// The call's request id (correlation id); "" outside an intercepted call.
// Pass it on as x-request-id when calling other services.
std::string RequestId(const grpc::ServerContextBase* ctx);

// Whether MarkHandled was called for this call.
bool HandledFlag(const grpc::ServerContextBase* ctx);

// Records that the call reached its handler (so a status it did not set,
// like a request that failed to decode, can be told apart).
void MarkHandled(const grpc::ServerContextBase* ctx);

// Adds key=value to the call's log line.
void Annotate(const grpc::ServerContextBase* ctx, const std::string& key, std::string value);

}  // namespace billing::server

namespace billing::server {

// Who is calling, for scoping idempotency keys: the common name of the
// client's certificate under mTLS, else "" (one shared scope). Bearer-token
// callers (a later release) get their token's principal here.
std::string CallerOf(const grpc::ServerContext* ctx);

}  // namespace billing::server
