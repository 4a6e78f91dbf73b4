#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace billing::stripe_emulator {

// Stripe's v1 idempotency layer (docs.stripe.com/api/idempotent_requests):
// the first request with a key claims it; once its endpoint has executed,
// the status and body are stored and every later request with the key gets
// them back. Results of requests that never executed (validation failures,
// conflicts) are not stored, so the key can be used again.
class IdempotencyStore {
 public:
  struct Stored {
    int status = 0;
    std::string body;
    std::string original_request_id;
  };
  enum class Claim { kClaimed, kReplay, kInProgress, kMismatch };
  struct ClaimResult {
    Claim claim;
    Stored stored;  // for kReplay
  };

  explicit IdempotencyStore(int64_t ttl_seconds) : ttl_seconds_(ttl_seconds) {}

  // scope: the API key (keys are per account). fingerprint: method, path and
  // parameters. now: the emulator clock, for expiry.
  ClaimResult ClaimOrReplay(const std::string& scope, const std::string& key, const std::string& fingerprint,
                            const std::string& request_id, int64_t now);
  void Complete(const std::string& scope, const std::string& key, int status, const std::string& body);
  void Release(const std::string& scope, const std::string& key);
  void Clear();
  void set_ttl_seconds(int64_t ttl) { ttl_seconds_ = ttl; }

 private:
  struct Entry {
    std::string fingerprint;
    bool done = false;
    Stored stored;
    int64_t created = 0;
  };
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Entry> entries_;
  int64_t ttl_seconds_;
};

}  // namespace billing::stripe_emulator
