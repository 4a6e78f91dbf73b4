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
  explicit BearerTokenInterceptor(const std::string* header) : header_(header) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *header_);
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class BearerTokenFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenFactory(std::string token) : header_(std::string(kBearer) + token) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo*) override {
    return new BearerTokenInterceptor(&header_);
  }

 private:
  const std::string header_;
};

}  // namespace

Authorizer::Authorizer(std::string_view tokens, std::map<std::string, std::set<std::string>> groups,
                       std::vector<AccessRule> rules)
    : groups_(std::move(groups)), rules_(std::move(rules)) {
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
      throw std::invalid_argument(where + " (" + std::string(caller) + "): the token must have at least " +
                                  std::to_string(kMinTokenLength) + " characters");
    }
    const auto [it, inserted] = caller_by_token_hash_.emplace(crypto::Sha256Hex(token), std::string(caller));
    if (!inserted && it->second != caller) {
      throw std::invalid_argument(where + " (" + std::string(caller) + "): the same token is also " + it->second +
                                  "'s");
    }
  }
  if (caller_by_token_hash_.empty()) throw std::invalid_argument("CALLER_TOKENS has no caller=token entry");
  for (const auto& rule : rules_) {
    for (const auto& group : rule.groups) {
      if (!groups_.contains(group)) throw std::invalid_argument("access rule for " + rule.methods + " names unknown group " + group);
    }
  }
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
  const auto it = caller_by_token_hash_.find(crypto::Sha256Hex(authorization->substr(kBearer.size())));
  if (it == caller_by_token_hash_.end()) {
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
  for (const auto& [hash, caller] : caller_by_token_hash_) out.insert(caller);
  return out;
}

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> MakeBearerTokenInterceptorFactory(
    std::string token) {
  return std::make_unique<BearerTokenFactory>(std::move(token));
}

}  // namespace billing::server
