#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/stripe_gateway.h"

typedef void CURL;

namespace billing::payments::clients {

// Stripe's REST API over libcurl.
//
// Form-encoded bodies, `Authorization: Bearer <key>`, a pinned
// `Stripe-Version`, connections kept alive in a small handle pool, connect
// and total timeouts. Retries with exponential backoff and jitter on network
// errors, 409, 429 and 5xx, unless Stripe says `Stripe-Should-Retry: false`
// (and whenever it says `true`); every retry of a POST carries the same
// Idempotency-Key, so Stripe replays instead of executing twice. The key
// never appears in errors or logs.
class StripeClient final : public domain::StripeGateway {
 public:
  struct Options {
    std::string api_base = "https://api.stripe.com";
    std::string secret_key;
    std::string api_version = "2024-06-20";
    std::chrono::milliseconds connect_timeout{3000};
    std::chrono::milliseconds timeout{20000};
    int max_retries = 3;
    std::chrono::milliseconds retry_base{500};
    std::chrono::milliseconds retry_max{5000};
  };
  // Each HTTP attempt: endpoint ("POST /v1/payment_intents/{id}/confirm"),
  // outcome ("ok", "card_error", "invalid_request", "auth_error",
  // "retryable", "network"), seconds. For metrics; no ids or secrets.
  using Observer = std::function<void(const std::string& endpoint, const std::string& outcome, double seconds)>;

  StripeClient(Options options, Observer observer = nullptr);
  ~StripeClient() override;
  StripeClient(const StripeClient&) = delete;
  StripeClient& operator=(const StripeClient&) = delete;

  domain::StripeResult<domain::Intent> CreateIntent(const domain::CreateIntentParams& params,
                                                    const std::string& idempotency_key) override;
  domain::StripeResult<domain::Intent> ConfirmIntent(const std::string& intent_id,
                                                     const domain::ConfirmIntentParams& params,
                                                     const std::string& idempotency_key) override;
  domain::StripeResult<domain::Intent> RetrieveIntent(const std::string& intent_id) override;
  domain::StripeResult<domain::Intent> CancelIntent(const std::string& intent_id, domain::CancellationReason reason,
                                                    const std::string& idempotency_key) override;
  domain::StripeResult<domain::StripeRefund> CreateRefund(const domain::RefundParams& params,
                                                          const std::string& idempotency_key) override;
  domain::StripeResult<domain::StripeRefund> RetrieveRefund(const std::string& refund_id) override;

  // The delay before retry n (1-based): base * 2^(n-1), capped, times a
  // random factor in [0.5, 1].
  std::chrono::milliseconds RetryDelay(int retry) const;

  struct Response {
    long status = 0;     // 0: no HTTP answer
    int curl_code = 0;   // CURLE_OK, or the network failure
    std::string body;
    std::string should_retry;  // Stripe-Should-Retry, lower case
  };

 private:
  // One call with retries; the JSON body of a 2xx, or the failure.
  struct CallResult {
    std::optional<nlohmann::json> body;
    domain::StripeFailure failure;
  };
  CallResult Call(const std::string& method, const std::string& path, const std::string& endpoint,
                  const std::vector<std::pair<std::string, std::string>>& form, const std::string& idempotency_key);
  Response Perform(const std::string& method, const std::string& path, const std::string& body,
                   const std::string& idempotency_key);
  CURL* TakeHandle();
  void ReturnHandle(CURL* handle);

  Options options_;
  Observer observer_;
  std::mutex mu_;
  std::vector<CURL*> idle_;
};

}  // namespace billing::payments::clients
