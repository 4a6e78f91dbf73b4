#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <grpcpp/support/client_interceptor.h>

#include "errors/error.h"

// Per-caller authorization with bearer tokens (DESIGN.md §8). Each service
// knows its callers by name ("payment-page", "booking", "invoice",
// "payments"); CALLER_TOKENS (a Secret, or CALLER_TOKENS_FILE) gives each
// caller its token(s), and the service's access rules say which group of
// callers may call which method. A caller may hold several tokens at once,
// so a token rotates with no downtime: add the new one, roll the callers,
// remove the old one.
namespace billing::server {

// Which callers may call which methods: `methods` is a full method
// ("/billing.invoice.v1.InvoiceService/PayInvoice") or a whole service
// ("/billing.invoice.v1.InvoiceService/*"); `groups` name configuration
// options that each list callers (e.g. "PUBLIC_CALLERS"). The first rule
// that matches a method decides; a method no rule matches is refused.
struct AccessRule {
  std::string methods;
  std::vector<std::string> groups;
};

class Authorizer {
 public:
  // tokens: "caller=token" entries separated by commas or whitespace.
  // groups: each group's callers. Throws std::invalid_argument (naming the
  // entry, never the token) on a malformed entry, a token shorter than 16
  // characters, a token given to two callers, or a rule naming an unknown
  // group.
  Authorizer(std::string_view tokens, std::map<std::string, std::set<std::string>> groups,
             std::vector<AccessRule> rules);

  struct Decision {
    std::string caller;                  // the token's caller, when it is known
    std::set<std::string> groups;        // every group that lists the caller
    std::optional<errors::Error> error;  // UNAUTHENTICATED or PERMISSION_DENIED
  };
  // `authorization` is the call's "authorization" metadata, if any.
  Decision Check(std::string_view method, std::optional<std::string_view> authorization) const;

  // The callers that hold tokens (for the start-up log).
  std::set<std::string> Callers() const;

 private:
  const AccessRule* RuleFor(std::string_view method) const;

  // SHA-256 of each token → its caller: lookups never compare the secret
  // itself, so their timing tells nothing about it.
  std::unordered_map<std::string, std::string> caller_by_token_hash_;
  std::map<std::string, std::set<std::string>> groups_;
  std::vector<AccessRule> rules_;
};

// Caller names separated by commas or whitespace (a *_CALLERS option).
std::set<std::string> ParseCallerList(std::string_view list);

// A client interceptor that sends "authorization: Bearer <token>" on every
// call of the channel it is installed on (server::MakeClientChannel).
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> MakeBearerTokenInterceptorFactory(
    std::string token);

}  // namespace billing::server
