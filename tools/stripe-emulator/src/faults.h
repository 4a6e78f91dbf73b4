#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace billing::stripe_emulator {

// What an injected HTTP fault does to a matching /v1 request.
enum class FaultAction {
  kLatency,           // wait latency_ms, then handle normally
  kError,             // answer `status` (500, 503, 429, 409) without executing
  kExecuteThenError,  // execute (and store for idempotency), then answer 500
  kExecuteThenDrop,   // execute, then close the connection without answering
  kHang,              // hold the request (hang_ms, or until faults are cleared), never executing or replaying
};

struct FaultRule {
  int64_t id = 0;
  std::string method = "*";  // "POST", "GET", or "*"
  std::string path = "*";    // exact, or with "*" matching one path segment ("/v1/payment_intents/*/confirm")
  FaultAction action = FaultAction::kError;
  int status = 500;
  std::string code;  // for 429: "lock_timeout" (default) or "rate_limit"
  int64_t latency_ms = 0;
  int64_t hang_ms = 120000;
  int remaining = 1;  // uses left; 0 = sticky (forever)
  nlohmann::json ToJson() const;
};

// What an injected webhook fault does to the next matching event delivery.
enum class WebhookFaultAction {
  kDuplicate,       // deliver the event twice
  kTwin,            // also deliver a second event (new id) with the same type and object
  kReorder,         // hold the event until the next event to the endpoint has gone out
  kDelay,           // deliver delay_ms later
  kDrop,            // never deliver it
  kBadSignature,    // first attempt signed with a wrong secret
  kStaleTimestamp,  // first attempt signed with a timestamp 10 minutes old
};

struct WebhookFaultRule {
  int64_t id = 0;
  std::string event_type = "*";
  WebhookFaultAction action = WebhookFaultAction::kDuplicate;
  int64_t delay_ms = 1000;
  int remaining = 1;
  nlohmann::json ToJson() const;
};

// The fault rules; control endpoints add and clear them, the request
// pipeline and the webhook dispatcher consume them.
class Faults {
 public:
  // Throws std::invalid_argument with a message for a bad rule.
  FaultRule AddHttp(const nlohmann::json& spec);
  WebhookFaultRule AddWebhook(const nlohmann::json& spec);
  // The first rule that matches, consuming one use of it.
  std::optional<FaultRule> TakeHttp(const std::string& method, const std::string& path);
  std::vector<WebhookFaultRule> TakeWebhook(const std::string& event_type);
  nlohmann::json List() const;
  // Removes every rule and wakes hanging requests.
  void Clear();
  // Sleeps for ms or until Clear; returns false if woken by Clear.
  bool Sleep(int64_t ms);

 private:
  mutable std::mutex mu_;
  std::condition_variable cleared_;
  uint64_t generation_ = 0;
  int64_t next_id_ = 1;
  std::vector<FaultRule> http_;
  std::vector<WebhookFaultRule> webhook_;
};

bool PathMatches(const std::string& pattern, const std::string& path);

}  // namespace billing::stripe_emulator
