#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/model.h"
#include "domain/stripe_gateway.h"

// Stripe's JSON, mapped to the domain's types. Shared by the API client and
// the webhook endpoint (events carry the same objects).
namespace billing::payments::clients {

domain::Intent IntentFromJson(const nlohmann::json& pi);
domain::StripeRefund RefundFromJson(const nlohmann::json& re);
// Stripe's error envelope ({"error": {...}}) of an HTTP status.
domain::StripeFailure FailureFromJson(int http_status, const nlohmann::json& body);
// A webhook payload; nullopt when it is not a Stripe event at all.
std::optional<domain::StripeEvent> EventFromJson(const std::string& payload);

// application/x-www-form-urlencoded, keys as given ("metadata[invoice_id]").
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace billing::payments::clients
