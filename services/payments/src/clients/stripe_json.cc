#include "clients/stripe_json.h"

#include <cctype>
#include <cstdint>
#include <initializer_list>

#include "validation/validation.h"

namespace billing::payments::clients {
namespace {

using nlohmann::json;

// Stripe's strings are stored and logged: a "\u0000" in JSON decodes to a NUL,
// which PostgreSQL's text refuses (the statement would fail on every retry),
// so every string read from Stripe is made storable here, where it enters.
// Stripe's own values (ids, statuses, secrets, messages) are far shorter
// than the cap and pass unchanged.
constexpr std::size_t kMaxStripeText = 2000;

std::string Text(const json& v) { return validation::StorableText(v.get_ref<const std::string&>(), kMaxStripeText); }

std::string Str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
  return Text(j[key]);
}

int64_t Int(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_integer()) return 0;
  return j[key].get<int64_t>();
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::map<std::string, std::string> Metadata(const json& j) {
  std::map<std::string, std::string> out;
  if (!j.is_object() || !j.contains("metadata") || !j["metadata"].is_object()) return out;
  for (const auto& [k, v] : j["metadata"].items()) {
    if (v.is_string()) out[validation::StorableText(k, kMaxStripeText)] = Text(v);
  }
  return out;
}

// An event's money fields, when present, are whole minor units in Stripe's
// range: a negative, fractional or overflowing amount (2^63 parses as an
// unsigned and would wrap) is no Stripe event, whatever its signature says.
bool AmountsAreSane(const json& object, std::initializer_list<const char*> keys) {
  constexpr uint64_t kMaxAmount = 1'000'000'000'000;  // the API's own cap on an amount
  for (const char* key : keys) {
    if (!object.contains(key) || object[key].is_null()) continue;
    const json& v = object[key];
    if (v.is_number_unsigned()) {
      if (v.get<uint64_t>() > kMaxAmount) return false;
    } else if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > static_cast<int64_t>(kMaxAmount)) {
      return false;
    }
  }
  return true;
}

}  // namespace

domain::Intent IntentFromJson(const json& pi) {
  domain::Intent i;
  i.id = Str(pi, "id");
  i.status = Str(pi, "status");
  i.amount = Int(pi, "amount");
  i.amount_received = Int(pi, "amount_received");
  i.currency = Upper(Str(pi, "currency"));
  i.client_secret = Str(pi, "client_secret");
  if (pi.is_object() && pi.contains("last_payment_error") && pi["last_payment_error"].is_object()) {
    const auto& e = pi["last_payment_error"];
    i.last_error = {Str(e, "code"), Str(e, "decline_code"), Str(e, "message")};
    if (i.last_error.code.empty() && i.last_error.message.empty()) i.last_error.code = Str(e, "type");
  }
  i.metadata = Metadata(pi);
  return i;
}

domain::StripeRefund RefundFromJson(const json& re) {
  domain::StripeRefund r;
  r.id = Str(re, "id");
  r.status = Str(re, "status");
  r.amount = Int(re, "amount");
  r.currency = Upper(Str(re, "currency"));
  r.payment_intent = Str(re, "payment_intent");
  r.failure_reason = Str(re, "failure_reason");
  r.metadata = Metadata(re);
  return r;
}

domain::StripeFailure FailureFromJson(int http_status, const json& body) {
  domain::StripeFailure f;
  f.http_status = http_status;
  const json error = body.is_object() && body.contains("error") ? body["error"] : json::object();
  f.type = Str(error, "type");
  f.code = Str(error, "code");
  f.decline_code = Str(error, "decline_code");
  f.message = Str(error, "message");
  f.param = Str(error, "param");
  if (error.is_object() && error.contains("payment_intent") && error["payment_intent"].is_object()) {
    f.intent = IntentFromJson(error["payment_intent"]);
  }
  if (f.message.empty()) f.message = "HTTP " + std::to_string(http_status);
  if (f.type == "idempotency_error") {
    // Stripe ran an earlier request with this key and different
    // parameters: what happened is not "nothing", so it is an unknown
    // outcome (and a bug to look into), never a plain refusal.
    f.outcome = domain::StripeOutcome::kUnavailable;
  } else if (http_status == 402) {
    f.outcome = domain::StripeOutcome::kCardError;
  } else if (http_status == 401 || http_status == 403) {
    f.outcome = domain::StripeOutcome::kAuthError;
  } else if (http_status >= 400 && http_status < 500 && http_status != 409 && http_status != 429) {
    f.outcome = domain::StripeOutcome::kInvalidRequest;
  } else {
    f.outcome = domain::StripeOutcome::kUnavailable;
  }
  return f;
}

std::optional<domain::StripeEvent> EventFromJson(const std::string& payload) {
  const json j = json::parse(payload, nullptr, false);
  if (!j.is_object() || Str(j, "object") != "event" || Str(j, "id").empty() || Str(j, "type").empty()) {
    return std::nullopt;
  }
  if (!j.contains("data") || !j["data"].is_object() || !j["data"].contains("object") ||
      !j["data"]["object"].is_object()) {
    return std::nullopt;
  }
  domain::StripeEvent e;
  e.id = Str(j, "id");
  e.type = Str(j, "type");
  // Unix seconds. Beyond year 9999 it is no Stripe timestamp, and the
  // conversion to microseconds would overflow (webhook_fuzz found it).
  constexpr int64_t kMaxUnixSeconds = 253402300799;
  const int64_t created = Int(j, "created");
  if (created < 0 || created > kMaxUnixSeconds) return std::nullopt;
  e.created = clock::FromUnixMicros(created * 1000000);
  const json& object = j["data"]["object"];
  const std::string kind = Str(object, "object");
  // Only the objects read below: other kinds (invoice items, balance
  // transactions) may hold negative amounts legitimately, and are ignored.
  if ((kind == "payment_intent" || kind == "refund" || kind == "charge") &&
      !AmountsAreSane(object, {"amount", "amount_received", "amount_refunded"})) {
    return std::nullopt;
  }
  if (kind == "payment_intent") {
    e.intent = IntentFromJson(object);
  } else if (kind == "refund") {
    e.refund = RefundFromJson(object);
  } else if (kind == "charge") {
    e.charge_payment_intent = Str(object, "payment_intent");
    if (object.contains("amount_refunded") && object["amount_refunded"].is_number_integer()) {
      e.charge_amount_refunded = object["amount_refunded"].get<int64_t>();
    }
  }
  return e;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const auto escape = [](const std::string& s, bool key) {
    std::string out;
    for (unsigned char c : s) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (key && (c == '[' || c == ']'))) {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
    return out;
  };
  std::string body;
  for (const auto& [k, v] : fields) {
    if (!body.empty()) body += '&';
    body += escape(k, true) + "=" + escape(v, false);
  }
  return body;
}

}  // namespace billing::payments::clients
