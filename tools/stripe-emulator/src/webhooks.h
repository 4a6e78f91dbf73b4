#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulator.h"
#include "faults.h"

namespace billing::stripe_emulator {

// Delivers events to webhook endpoints as Stripe does: a JSON POST with a
// `Stripe-Signature: t=...,v1=...` header (one v1 per endpoint secret,
// HMAC-SHA256 over "t.body", a fresh t on every attempt), retried with
// exponential backoff until a 2xx or the last attempt. Webhook fault rules
// are applied when an event is queued.
class WebhookDispatcher {
 public:
  struct Options {
    int max_attempts = 6;
    int64_t retry_base_ms = 500;
    int64_t retry_max_ms = 60000;
    int64_t timeout_ms = 5000;
  };

  WebhookDispatcher(Options options, Faults& faults);
  ~WebhookDispatcher();

  void Enqueue(const Event& event, const std::vector<WebhookEndpoint>& endpoints);
  // Every attempt so far, oldest first.
  nlohmann::json Deliveries() const;
  void Clear();

  static std::string SignatureHeader(const std::vector<std::string>& secrets, int64_t timestamp,
                                     const std::string& payload);

 private:
  struct Delivery {
    std::string event_id;
    std::string event_type;
    std::string payload;
    WebhookEndpoint endpoint;
    int attempt = 0;
    std::chrono::steady_clock::time_point due;
    bool bad_signature = false;
    bool stale_timestamp = false;
    bool held = false;  // reorder: waits for the next delivery to the endpoint
  };

  void Run(std::stop_token stop);
  void Send(Delivery& d);

  Options options_;
  Faults& faults_;
  mutable std::mutex mu_;
  std::condition_variable_any wake_;
  std::vector<Delivery> queue_;
  bool changed_ = false;
  nlohmann::json log_ = nlohmann::json::array();
  std::jthread worker_;
};

}  // namespace billing::stripe_emulator
