#pragma once

#include <map>
#include <memory>
#include <mutex>
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
// remove the old one. With CALLER_TOKENS_FILE the service re-reads the file
// (server::SecretReloader), so none of those steps needs a restart.
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

  // Installs a new CALLER_TOKENS value (a rotation) for the calls that start
  // from now on. Validated as in the constructor; on std::invalid_argument
  // the tokens in force stay.
  void ReplaceTokens(std::string_view tokens);

  // The callers that hold tokens (for the start-up log).
  std::set<std::string> Callers() const;

 private:
  // SHA-256 of each token → its caller: lookups never compare the secret
  // itself, so their timing tells nothing about it.
  using TokenTable = std::unordered_map<std::string, std::string>;

  const AccessRule* RuleFor(std::string_view method) const;
  std::shared_ptr<const TokenTable> Tokens() const;

  // Replaced whole, never changed in place: a call holds the table it began
  // with while a reload installs the next one.
  mutable std::mutex tokens_mu_;
  std::shared_ptr<const TokenTable> caller_by_token_hash_;
  std::map<std::string, std::set<std::string>> groups_;
  std::vector<AccessRule> rules_;
};

// Caller names separated by commas or whitespace (a *_CALLERS option).
std::set<std::string> ParseCallerList(std::string_view list);

// The token a client sends (a *_TOKEN option, the callee's CALLER_TOKENS).
// Replaceable while calls run, so a rotated token takes effect without a
// restart; each call sends the token in force when it starts.
class BearerToken {
 public:
  // Both throw std::invalid_argument (naming `option`, never the token) when
  // the token is shorter than callees accept or cannot go in a header.
  BearerToken(std::string option, std::string token);
  void Replace(std::string token);

  // "Bearer <token>".
  std::string Header() const;

 private:
  std::string Checked(std::string token) const;

  const std::string option_;
  mutable std::mutex mu_;
  std::string header_;
};

// A client interceptor that sends "authorization: Bearer <token>" on every
// call of the channel it is installed on (server::MakeClientChannel).
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> MakeBearerTokenInterceptorFactory(
    std::shared_ptr<const BearerToken> token);

}  // namespace billing::server
