#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace billing::stripe_emulator {

// A Stripe error response: the HTTP status and the object inside
// {"error": {...}} (type, code, decline_code, message, param, doc_url,
// payment_intent, ...).
struct ApiError {
  int status = 400;
  nlohmann::json error = nlohmann::json::object();
  // True when the endpoint had started executing (declines, wrong states):
  // Stripe's idempotency layer stores those results. Parameter validation
  // failures are not stored, so the same key can be retried.
  bool executed = false;
  std::map<std::string, std::string> headers;
};

// "https://stripe.com/docs/error-codes/card-declined" for "card_declined".
std::string DocUrl(const std::string& code);

ApiError InvalidRequest(const std::string& message, const std::string& param = "",
                        const std::string& code = "");
ApiError MissingParam(const std::string& param);
ApiError UnknownParam(const std::string& param);
ApiError InvalidInteger(const std::string& param, const std::string& value);
ApiError InvalidBoolean(const std::string& param, const std::string& value);
ApiError NotFound(const std::string& kind, const std::string& id, const std::string& param);
ApiError UnexpectedState(const std::string& message);

}  // namespace billing::stripe_emulator
