#include "server/authz.h"

#include <cctype>
#include <stdexcept>
#include <utility>

#include "crypto/crypto.h"

namespace billing::server {
namespace {

using errors::Error;
using errors::Reason;

constexpr std::size_t kMinTokenLength = 16;
// A header value, well under gRPC's 8 KiB metadata limit.
constexpr std::size_t kMaxTokenLength = 4096;
constexpr std::string_view kBearer = "Bearer ";

bool IsSeparator(char c) { return c == ',' || std::isspace(static_cast<unsigned char>(c)) != 0; }

std::vector<std::string_view> Entries(std::string_view spec) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < spec.size()) {
    while (i < spec.size() && IsSeparator(spec[i])) ++i;
    std::size_t j = i;
    while (j < spec.size() && !IsSeparator(spec[j])) ++j;
    if (j > i) out.push_back(spec.substr(i, j - i));
    i = j;
  }
  return out;
}

bool ValidCallerName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

class BearerTokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(const BearerToken* token) : token_(token) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", token_->Header());
    }
    methods->Proceed();
  }

 private:
  const BearerToken* token_;
};

class BearerTokenFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenFactory(std::shared_ptr<const BearerToken> token) : token_(std::move(token)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo*) override {
    return new BearerTokenInterceptor(token_.get());
  }

 private:
  const std::shared_ptr<const BearerToken> token_;
};

// "caller=token" entries → the table, or std::invalid_argument naming the
// entry by its number only: a token pasted without "caller=" would pass as
// a caller name, and these messages are logged.
std::unordered_map<std::string, std::string> ParseTokens(std::string_view tokens) {
  std::unordered_map<std::string, std::string> caller_by_token_hash;
  std::unordered_map<std::string, int> entry_by_token_hash;
  int n = 0;
  for (const std::string_view entry : Entries(tokens)) {
    ++n;
    const auto eq = entry.find('=');
    const std::string where = "CALLER_TOKENS entry " + std::to_string(n);
    if (eq == std::string_view::npos) throw std::invalid_argument(where + " is not caller=token");
    const std::string_view caller = entry.substr(0, eq);
    const std::string_view token = entry.substr(eq + 1);
    if (!ValidCallerName(caller)) {
      throw std::invalid_argument(where + ": the caller name must be 1-64 letters, digits, '-', '_' or '.'");
    }
    if (token.size() < kMinTokenLength) {
      throw std::invalid_argument(where + ": the token must have at least " + std::to_string(kMinTokenLength) +
                                  " characters");
    }
    const std::string hash = crypto::Sha256Hex(token);
    const auto [it, inserted] = caller_by_token_hash.emplace(hash, std::string(caller));
    if (!inserted && it->second != caller) {
      throw std::invalid_argument(where + ": its token is also entry " + std::to_string(entry_by_token_hash[hash]) +
                                  "'s, another caller's");
    }
    entry_by_token_hash.emplace(hash, n);
  }
  if (caller_by_token_hash.empty()) throw std::invalid_argument("CALLER_TOKENS has no caller=token entry");
  return caller_by_token_hash;
}

}  // namespace

Authorizer::Authorizer(std::string_view tokens, std::map<std::string, std::set<std::string>> groups,
                       std::vector<AccessRule> rules)
    : caller_by_token_hash_(std::make_shared<const TokenTable>(ParseTokens(tokens))),
      groups_(std::move(groups)),
      rules_(std::move(rules)) {
  for (const auto& rule : rules_) {
    for (const auto& group : rule.groups) {
      if (!groups_.contains(group)) throw std::invalid_argument("access rule for " + rule.methods + " names unknown group " + group);
    }
  }
}

void Authorizer::ReplaceTokens(std::string_view tokens) {
  auto table = std::make_shared<const TokenTable>(ParseTokens(tokens));
  std::lock_guard lock(tokens_mu_);
  caller_by_token_hash_ = std::move(table);
}

std::shared_ptr<const Authorizer::TokenTable> Authorizer::Tokens() const {
  std::lock_guard lock(tokens_mu_);
  return caller_by_token_hash_;
}

const AccessRule* Authorizer::RuleFor(std::string_view method) const {
  for (const auto& rule : rules_) {
    const std::string_view m = rule.methods;
    if (m == method) return &rule;
    if (m.size() >= 2 && m.substr(m.size() - 2) == "/*" && method.size() > m.size() - 1 &&
        method.substr(0, m.size() - 1) == m.substr(0, m.size() - 1)) {
      return &rule;
    }
  }
  return nullptr;
}

Authorizer::Decision Authorizer::Check(std::string_view method, std::optional<std::string_view> authorization) const {
  Decision d;
  if (!authorization || authorization->empty()) {
    d.error = Error(Reason::kUnauthenticated,
                    "this service needs a bearer token: send metadata \"authorization: Bearer <token>\"");
    return d;
  }
  if (authorization->substr(0, kBearer.size()) != kBearer || authorization->size() == kBearer.size()) {
    d.error = Error(Reason::kUnauthenticated, "the authorization metadata must be \"Bearer <token>\"");
    return d;
  }
  const auto tokens = Tokens();
  const auto it = tokens->find(crypto::Sha256Hex(authorization->substr(kBearer.size())));
  if (it == tokens->end()) {
    d.error = Error(Reason::kUnauthenticated, "the bearer token is not known to this service");
    return d;
  }
  d.caller = it->second;
  for (const auto& [group, callers] : groups_) {
    if (callers.contains(d.caller)) d.groups.insert(group);
  }
  const AccessRule* rule = RuleFor(method);
  if (rule != nullptr) {
    for (const auto& group : rule->groups) {
      if (groups_.at(group).contains(d.caller)) return d;
    }
  }
  d.error = Error(Reason::kPermissionDenied, "caller " + d.caller + " may not call " + std::string(method));
  return d;
}

std::set<std::string> ParseCallerList(std::string_view list) {
  std::set<std::string> out;
  for (const std::string_view name : Entries(list)) out.emplace(name);
  return out;
}

std::set<std::string> Authorizer::Callers() const {
  std::set<std::string> out;
  for (const auto& [hash, caller] : *Tokens()) out.insert(caller);
  return out;
}

BearerToken::BearerToken(std::string option, std::string token)
    : option_(std::move(option)), header_(Checked(std::move(token))) {}

void BearerToken::Replace(std::string token) {
  std::string header = Checked(std::move(token));
  std::lock_guard lock(mu_);
  header_ = std::move(header);
}

std::string BearerToken::Header() const {
  std::lock_guard lock(mu_);
  return header_;
}

std::string BearerToken::Checked(std::string token) const {
  if (token.size() < kMinTokenLength || token.size() > kMaxTokenLength) {
    throw std::invalid_argument(option_ + ": the token must have " + std::to_string(kMinTokenLength) + " to " +
                                std::to_string(kMaxTokenLength) + " characters");
  }
  for (const char c : token) {
    // Printable ASCII without spaces or commas: what a metadata value
    // carries and what the callee's CALLER_TOKENS can hold.
    if (c <= ' ' || c > '~' || c == ',') {
      throw std::invalid_argument(option_ + ": the token must be printable ASCII without spaces or commas");
    }
  }
  return std::string(kBearer) + token;
}

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> MakeBearerTokenInterceptorFactory(
    std::shared_ptr<const BearerToken> token) {
  return std::make_unique<BearerTokenFactory>(std::move(token));
}

}  // namespace billing::server
