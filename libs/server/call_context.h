#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include <grpcpp/server_context.h>

#include "errors/error.h"

namespace billing::server {

// Per-call facts shared between the observability interceptor and the
// handler: the request id (from the caller's x-request-id metadata, or
// generated) and annotations the handler adds for the RPC's log line
// (invoice_id, booking_id, payment_id, reason). Never annotate secrets,
// tokens or card data.
struct CallFacts {
  std::string request_id;
  std::map<std::string, std::string> annotations{};
  bool handled = false;  // the handler ran (server::Handle)
  // With bearer tokens on (server/authz.h): the token's caller, its groups,
  // and why the call is refused, if it is. server::Handle answers the
  // refusal. `auth_required` without `auth_checked` (a method the
  // interceptor did not decide on) is refused too: fail closed.
  bool auth_required = false;
  bool auth_checked = false;
  std::string caller{};
  std::set<std::string> groups{};
  std::optional<errors::Error> denied{};
};

// Called by the interceptor when a call starts and ends. `auth_required`:
// bearer tokens are on for this server.
void BeginCall(const grpc::ServerContextBase* ctx, std::string request_id, bool auth_required = false);
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

// Records the authorization decision for the call (the interceptor).
void SetAuthorization(const grpc::ServerContextBase* ctx, std::string caller, std::set<std::string> groups,
                      std::optional<errors::Error> denied);
// Why the call is refused, if it is.
std::optional<errors::Error> Denied(const grpc::ServerContextBase* ctx);
// Whether the caller is in `group` (e.g. "ADMIN_CALLERS"); true when bearer
// tokens are off. For handlers that serve several groups differently.
bool CallerInGroup(const grpc::ServerContextBase* ctx, const std::string& group);

}  // namespace billing::server

namespace billing::server {

// Who is calling, for scoping idempotency keys: the bearer token's caller
// when tokens are on, else the common name of the client's certificate under
// mTLS, else "" (one shared scope).
std::string CallerOf(const grpc::ServerContext* ctx);

}  // namespace billing::server
