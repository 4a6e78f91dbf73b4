#include "idempotency.h"

namespace billing::stripe_emulator {

IdempotencyStore::ClaimResult IdempotencyStore::ClaimOrReplay(const std::string& scope, const std::string& key,
                                                              const std::string& fingerprint,
                                                              const std::string& request_id, int64_t now) {
  std::lock_guard lock(mu_);
  auto id = std::make_pair(scope, key);
  auto it = entries_.find(id);
  if (it != entries_.end() && it->second.done && now - it->second.created >= ttl_seconds_) {
    // Pruned: "We generate a new request if a key is reused after the
    // original is pruned."
    entries_.erase(it);
    it = entries_.end();
  }
  if (it == entries_.end()) {
    Entry e;
    e.fingerprint = fingerprint;
    e.created = now;
    e.stored.original_request_id = request_id;
    entries_[id] = e;
    return {Claim::kClaimed, {}};
  }
  if (!it->second.done) return {Claim::kInProgress, {}};
  if (it->second.fingerprint != fingerprint) return {Claim::kMismatch, {}};
  return {Claim::kReplay, it->second.stored};
}

void IdempotencyStore::Complete(const std::string& scope, const std::string& key, int status, const std::string& body) {
  std::lock_guard lock(mu_);
  auto it = entries_.find({scope, key});
  if (it == entries_.end()) return;
  it->second.done = true;
  it->second.stored.status = status;
  it->second.stored.body = body;
}

void IdempotencyStore::Release(const std::string& scope, const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase({scope, key});
}

void IdempotencyStore::Clear() {
  std::lock_guard lock(mu_);
  entries_.clear();
}

}  // namespace billing::stripe_emulator
