#include "server/call_context.h"

#include <mutex>
#include <unordered_map>

namespace billing::server {
namespace {

// Calls in flight, keyed by their context. Sharded so that concurrent RPCs
// rarely contend on one mutex.
constexpr std::size_t kShards = 16;

struct Shard {
  std::mutex mu;
  std::unordered_map<const grpc::ServerContextBase*, CallFacts> calls;
};

Shard& ShardFor(const grpc::ServerContextBase* ctx) {
  static Shard shards[kShards];
  return shards[(reinterpret_cast<std::uintptr_t>(ctx) >> 4) % kShards];
}

}  // namespace

void BeginCall(const grpc::ServerContextBase* ctx, std::string request_id, bool auth_required) {
  auto& shard = ShardFor(ctx);
  std::lock_guard lock(shard.mu);
  CallFacts facts;
  facts.request_id = std::move(request_id);
  facts.auth_required = auth_required;
  shard.calls[ctx] = std::move(facts);
}

CallFacts EndCall(const grpc::ServerContextBase* ctx) {
  auto& shard = ShardFor(ctx);
  std::lock_guard lock(shard.mu);
  auto it = shard.calls.find(ctx);
  if (it == shard.calls.end()) return {};
  CallFacts facts = std::move(it->second);
  shard.calls.erase(it);
  return facts;
}

std::string RequestId(const grpc::ServerContextBase* ctx) {
  auto& shard = ShardFor(ctx);
  std::lock_guard lock(shard.mu);
  auto it = shard.calls.find(ctx);
  return it == shard.calls.end() ? std::string() : it->second.request_id;
}

bool HandledFlag(const grpc::ServerContextBase* ctx) {
  auto& shard = ShardFor(ctx);
  std::lock_guard lock(shard.mu);
  auto it = shard.calls.find(ctx);
  return it != shard.calls.end() && it->second.handled;
}

void MarkHandled(const grpc::ServerContextBase* ctx) {
  auto& shard = ShardFor(ctx);
  std::lock_guard lock(shard.mu);
  auto it = shard.calls.find(ctx);
  if (it != shard.calls.end()) it->second.handled = true;
}

void Annotate(const grpc::ServerContextBase* ctx, const std::string& key, std::string value) {
  auto& shard = ShardFor(ctx);
  std::lock_guard lock(shard.mu);
  auto it = shard.calls.find(ctx);
  if (it != shard.calls.end()) it->second.annotations[key] = std::move(value);
}

void SetAuthorization(const grpc::ServerContextBase* ctx, std::string caller, std::set<std::string> groups,
                      std::optional<errors::Error> denied) {
  auto& shard = ShardFor(ctx);
  std::lock_guard lock(shard.mu);
  auto it = shard.calls.find(ctx);
  if (it == shard.calls.end()) return;
  it->second.auth_checked = true;
  it->second.caller = std::move(caller);
  it->second.groups = std::move(groups);
  it->second.denied = std::move(denied);
}

std::optional<errors::Error> Denied(const grpc::ServerContextBase* ctx) {
  auto& shard = ShardFor(ctx);
  std::lock_guard lock(shard.mu);
  auto it = shard.calls.find(ctx);
  if (it == shard.calls.end()) return std::nullopt;
  if (it->second.auth_required && !it->second.auth_checked) {
    return errors::Error(errors::Reason::kPermissionDenied, "this method is not open to bearer-token callers");
  }
  return it->second.denied;
}

bool CallerInGroup(const grpc::ServerContextBase* ctx, const std::string& group) {
  auto& shard = ShardFor(ctx);
  std::lock_guard lock(shard.mu);
  auto it = shard.calls.find(ctx);
  if (it == shard.calls.end() || !it->second.auth_required) return true;
  return it->second.groups.contains(group);
}

}  // namespace billing::server

namespace billing::server {

std::string CallerOf(const grpc::ServerContext* ctx) {
  {
    auto& shard = ShardFor(ctx);
    std::lock_guard lock(shard.mu);
    auto it = shard.calls.find(ctx);
    if (it != shard.calls.end() && !it->second.caller.empty()) return it->second.caller;
  }
  const auto auth = ctx->auth_context();
  if (!auth) return {};
  const auto names = auth->FindPropertyValues("x509_common_name");
  if (names.empty()) return {};
  return std::string(names.front().data(), names.front().size());
}

}  // namespace billing::server
