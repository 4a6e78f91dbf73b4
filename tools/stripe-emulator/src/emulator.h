#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_error.h"
#include "cards.h"

namespace billing::stripe_emulator {

using Json = nlohmann::json;

// Facts about the API request that caused an operation (they end up in
// events' `request` field).
struct RequestContext {
  std::string request_id;
  std::string idempotency_key;
};

// The emulator's clock, in Unix seconds: real time plus an offset, or a
// frozen value. Object timestamps and idempotency-key expiry use it.
class EmulatorClock {
 public:
  int64_t Now() const;
  void Advance(int64_t seconds);
  void Freeze(int64_t unix_seconds);
  void Reset();

 private:
  std::atomic<int64_t> offset_{0};
  std::atomic<int64_t> frozen_{0};  // 0 = running
};

struct PaymentMethod {
  std::string id;
  TestCard card;
  int64_t created = 0;
  Json ToJson() const;
};

struct Charge {
  std::string id;
  std::string payment_intent;
  std::string payment_method;
  std::string currency;
  int64_t amount = 0;
  int64_t amount_captured = 0;
  int64_t amount_refunded = 0;
  bool captured = false;
  std::string status;  // "succeeded" or "failed"
  std::string failure_code;
  std::string failure_message;
  int64_t created = 0;
  Json ToJson() const;
};

struct Refund {
  std::string id;
  std::string charge;
  std::string payment_intent;
  std::string currency;
  int64_t amount = 0;
  std::string reason;
  std::string status = "succeeded";
  Json metadata = Json::object();
  int64_t created = 0;
  Json ToJson() const;
};

struct PaymentIntent {
  std::string id;
  std::string client_secret;
  int64_t amount = 0;
  std::string currency;
  std::string status;
  std::string capture_method = "automatic_async";
  std::string confirmation_method = "automatic";
  bool automatic_payment_methods = true;
  std::string allow_redirects = "always";
  std::vector<std::string> payment_method_types = {"card"};
  std::string payment_method;
  std::string description;
  std::string receipt_email;
  Json metadata = Json::object();
  Json last_payment_error = nullptr;
  Json next_action = nullptr;
  std::string latest_charge;
  int64_t amount_capturable = 0;
  int64_t amount_received = 0;
  int64_t created = 0;
  int64_t canceled_at = 0;
  std::string cancellation_reason;
  std::string return_url;  // kept for next_action; not an attribute of the object
  Json ToJson() const;
};

struct ConfirmationToken {
  std::string id;
  std::string payment_method;
  std::string return_url;
  std::string setup_future_usage;
  std::string payment_intent;  // the PaymentIntent it confirmed, once used
  int64_t created = 0;
  int64_t expires_at = 0;
  Json ToJson(const PaymentMethod* pm) const;
};

struct Event {
  std::string id;
  std::string type;
  int64_t created = 0;
  Json object;
  RequestContext request;
  Json ToJson() const;
};

struct WebhookEndpoint {
  std::string id;
  std::string url;
  std::vector<std::string> secrets;  // all sign every delivery (rolling secrets)
  std::vector<std::string> enabled_events;
  int64_t created = 0;
  bool Wants(const std::string& type) const;
  Json ToJson(bool with_secret) const;
};

// The state of the emulated Stripe account and every operation on it. All
// methods are thread-safe (one lock; Stripe's own per-object locking is not
// modelled). Operations return the response body or throw ApiError.
class Emulator {
 public:
  explicit Emulator(std::string public_base_url);

  // Called (outside the lock) with every event and the endpoints that want
  // it.
  void SetEventSink(std::function<void(const Event&, const std::vector<WebhookEndpoint>&)> sink);

  EmulatorClock& clock() { return clock_; }
  // Where next_action URLs point (known once the port is bound).
  void SetPublicBaseUrl(std::string url);

  // --- /v1 -----------------------------------------------------------------
  Json CreatePaymentIntent(const Json& params, const RequestContext& ctx);
  Json RetrievePaymentIntent(const std::string& id, const Json& params);
  Json ConfirmPaymentIntent(const std::string& id, const Json& params, const RequestContext& ctx);
  Json CancelPaymentIntent(const std::string& id, const Json& params, const RequestContext& ctx);
  Json CapturePaymentIntent(const std::string& id, const Json& params, const RequestContext& ctx);
  Json CreateRefund(const Json& params, const RequestContext& ctx);
  Json RetrieveRefund(const std::string& id, const Json& params);
  Json RetrieveCharge(const std::string& id, const Json& params);
  Json RetrievePaymentMethod(const std::string& id, const Json& params);
  Json CreateTestConfirmationToken(const Json& params, const RequestContext& ctx);
  Json RetrieveConfirmationToken(const std::string& id, const Json& params);
  Json RetrieveEvent(const std::string& id, const Json& params);
  Json ListEvents(const Json& params);
  Json CreateWebhookEndpoint(const Json& params);
  Json ListWebhookEndpoints(const Json& params);
  Json RetrieveWebhookEndpoint(const std::string& id, const Json& params);
  Json DeleteWebhookEndpoint(const std::string& id, const Json& params);

  // --- control (outside /v1) -------------------------------------------------
  // Completes (success) or fails 3-D Secure for a PaymentIntent in
  // requires_action, as the customer's browser would.
  Json Authenticate(const std::string& id, bool success);
  // Registers an endpoint with chosen secrets (tests need to know them).
  Json AddWebhookEndpoint(const std::string& url, const std::vector<std::string>& secrets,
                          const std::vector<std::string>& enabled_events);
  Json AddWebhookSecret(const std::string& endpoint_id, const std::string& secret);
  // Every PaymentIntent, charge and refund, plus totals per currency.
  Json Ledger() const;
  void Reset();

 private:
  struct Emitted {
    Event event;
    std::vector<WebhookEndpoint> endpoints;
  };

  void Emit(const std::string& type, const Json& object, const RequestContext& ctx);
  void Flush();
  std::string NewId(const std::string& prefix, std::size_t len = 24);

  PaymentIntent& FindPaymentIntent(const std::string& id, const std::string& param);
  const PaymentMethod& ResolvePaymentMethod(const std::string& id_or_alias);
  // The shared confirmation logic of create(confirm=true) and confirm.
  Json Confirm(PaymentIntent& pi, const Json& params, const RequestContext& ctx);
  void Succeed(PaymentIntent& pi, const PaymentMethod& pm, const RequestContext& ctx);
  [[noreturn]] void Decline(PaymentIntent& pi, const PaymentMethod& pm, const std::string& code,
                            const std::string& decline_code, const std::string& param,
                            const std::string& advice_code, const std::string& message,
                            const RequestContext& ctx, bool create_charge);
  void RequireAction(PaymentIntent& pi, const RequestContext& ctx);

  std::string public_base_url_;
  EmulatorClock clock_;
  mutable std::mutex mu_;
  std::map<std::string, PaymentIntent> payment_intents_;
  std::map<std::string, Charge> charges_;
  std::map<std::string, Refund> refunds_;
  std::map<std::string, PaymentMethod> payment_methods_;
  std::map<std::string, ConfirmationToken> confirmation_tokens_;
  std::vector<Event> events_;
  std::map<std::string, WebhookEndpoint> webhook_endpoints_;
  std::vector<std::string> creation_order_;  // payment intent ids, oldest first
  std::vector<Emitted> pending_;             // emitted under the lock, sent after it
  std::function<void(const Event&, const std::vector<WebhookEndpoint>&)> sink_;
};

// Stripe's zero-decimal currencies, minimum charge amounts and formatting.
bool IsZeroDecimal(const std::string& currency);
bool IsThreeDecimal(const std::string& currency);
// "$25.00", "€0.50", "¥500", "KWD 1.250".
std::string FormatAmount(int64_t amount, const std::string& currency);

}  // namespace billing::stripe_emulator
