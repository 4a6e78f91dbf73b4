#include "emulator.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <set>

#include "money/currency.h"

namespace billing::stripe_emulator {
namespace {

Json NullIfEmpty(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }
Json NullIfZero(int64_t v) { return v == 0 ? Json(nullptr) : Json(v); }

// Typed access to form parameters, with Stripe's errors for unknown names and
// wrong types. An empty string means "not given", as in Stripe's API.
class Params {
 public:
  Params(const Json& j, std::initializer_list<const char*> allowed) : j_(j) {
    for (const auto& item : j.items()) {
      const std::string& key = item.key();  // clang 14 cannot capture a structured binding
      if (key == "expand") continue;
      if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; })) {
        throw UnknownParam(key);
      }
    }
  }

  bool Has(const std::string& name) const {
    if (!j_.contains(name)) return false;
    const Json& v = j_.at(name);
    return !(v.is_string() && v.get<std::string>().empty());
  }

  std::string Str(const std::string& name) const {
    if (!Has(name)) return "";
    const Json& v = j_.at(name);
    if (!v.is_string()) throw InvalidRequest("Invalid string: " + v.dump(), name);
    return v.get<std::string>();
  }

  std::optional<int64_t> Int(const std::string& name) const {
    if (!Has(name)) return std::nullopt;
    const std::string s = Str(name);
    std::size_t i = s[0] == '-' ? 1 : 0;
    if (i == s.size() || s.size() > 19) throw InvalidInteger(name, s);
    for (; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') throw InvalidInteger(name, s);
    }
    return std::stoll(s);
  }

  std::optional<bool> Bool(const std::string& name) const {
    if (!Has(name)) return std::nullopt;
    const std::string s = Str(name);
    if (s == "true") return true;
    if (s == "false") return false;
    throw InvalidBoolean(name, s);
  }

  std::vector<std::string> StrArray(const std::string& name) const {
    std::vector<std::string> out;
    if (!Has(name)) return out;
    const Json& v = j_.at(name);
    if (!v.is_array()) throw InvalidRequest("Invalid array", name);
    for (const auto& item : v) {
      if (!item.is_string()) throw InvalidRequest("Invalid array", name);
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  const Json* Object(const std::string& name) const {
    if (!Has(name)) return nullptr;
    const Json& v = j_.at(name);
    if (!v.is_object()) throw InvalidRequest("Invalid object", name);
    return &v;
  }

  // Stripe's metadata limits: 50 keys, keys up to 40 characters, values up
  // to 500.
  Json Metadata() const {
    const Json* m = Object("metadata");
    if (m == nullptr) return Json::object();
    if (m->size() > 50) throw InvalidRequest("You can only specify up to 50 metadata keys.", "metadata");
    for (const auto& [k, v] : m->items()) {
      if (!v.is_string()) throw InvalidRequest("Invalid metadata value for key " + k, "metadata[" + k + "]");
      if (k.size() > 40) {
        throw InvalidRequest("Metadata keys can have up to 40 characters.", "metadata[" + k + "]");
      }
      if (v.get<std::string>().size() > 500) {
        throw InvalidRequest("Metadata values can have up to 500 characters.", "metadata[" + k + "]");
      }
    }
    return *m;
  }

 private:
  const Json& j_;
};

// Stripe's minimum charge amounts (docs.stripe.com/currencies), minor units.
int64_t MinimumAmount(const std::string& currency) {
  static const std::map<std::string, int64_t> kMinimums = {
      {"usd", 50},  {"aed", 200},  {"aud", 50},   {"bgn", 100}, {"brl", 50},   {"cad", 50},
      {"chf", 50},  {"czk", 1500}, {"dkk", 250},  {"eur", 50},  {"gbp", 30},   {"hkd", 400},
      {"huf", 17500}, {"inr", 50}, {"jpy", 50},   {"mxn", 1000}, {"myr", 200}, {"nok", 300},
      {"nzd", 50},  {"pln", 200},  {"ron", 200},  {"sek", 300}, {"sgd", 50},   {"thb", 1000},
  };
  auto it = kMinimums.find(currency);
  return it == kMinimums.end() ? 1 : it->second;
}

constexpr int64_t kMaxAmount = 99999999;  // "up to eight digits"

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string RequireCurrency(const Params& p) {
  if (!p.Has("currency")) throw MissingParam("currency");
  const std::string currency = p.Str("currency");
  const bool lower = std::all_of(currency.begin(), currency.end(), [](char c) { return c >= 'a' && c <= 'z'; });
  if (currency.size() != 3 || !lower || !money::FindCurrency(Upper(currency))) {
    throw InvalidRequest("Invalid currency: " + currency +
                             ". Stripe currently supports these currencies: usd, eur, gbp, jpy, ... "
                             "(three-letter ISO codes in lowercase).",
                         "currency");
  }
  return currency;
}

void CheckAmount(int64_t amount, const std::string& currency, const std::string& param) {
  if (amount < 1) throw InvalidRequest("This value must be greater than or equal to 1.", param);
  const int64_t minimum = MinimumAmount(currency);
  if (amount < minimum) {
    throw InvalidRequest("Amount must be at least " + FormatAmount(minimum, currency) + " " + currency, param,
                         "amount_too_small");
  }
  if (amount > kMaxAmount) {
    throw InvalidRequest("Amount must be no more than " + FormatAmount(kMaxAmount, currency), param,
                         "amount_too_large");
  }
  if (IsThreeDecimal(currency) && amount % 10 != 0) {
    throw InvalidRequest("Amounts in " + currency + " must be multiples of 10 (the last of the three decimals must be 0).",
                         param);
  }
}

Json CardDetails(const TestCard& card) {
  return {{"brand", std::string(card.brand)},
          {"country", std::string(card.country)},
          {"exp_month", 12},
          {"exp_year", 2034},
          {"funding", std::string(card.funding)},
          {"last4", std::string(card.last4)},
          {"networks", {{"available", {std::string(card.brand)}}, {"preferred", nullptr}}},
          {"three_d_secure_usage", {{"supported", true}}},
          {"wallet", nullptr}};
}

ApiError MissingReturnUrl() {
  return InvalidRequest(
      "This PaymentIntent is configured to accept payment methods enabled in your Dashboard. Because some of "
      "these payment methods might redirect your customer off of your page, you must provide a `return_url`. "
      "If you don't want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` "
      "to `true` and `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and "
      "Payment Intents.");
}

const std::set<std::string> kCancelableStatuses = {"requires_payment_method", "requires_capture",
                                                   "requires_confirmation", "requires_action", "processing"};

}  // namespace

// --- clock ---------------------------------------------------------------

int64_t EmulatorClock::Now() const {
  const int64_t frozen = frozen_.load();
  if (frozen != 0) return frozen;
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
             .count() +
         offset_.load();
}
void EmulatorClock::Advance(int64_t seconds) {
  if (frozen_.load() != 0) {
    frozen_ += seconds;
  } else {
    offset_ += seconds;
  }
}
void EmulatorClock::Freeze(int64_t unix_seconds) { frozen_ = unix_seconds; }
void EmulatorClock::Reset() {
  offset_ = 0;
  frozen_ = 0;
}

// --- currencies ------------------------------------------------------------

bool IsZeroDecimal(const std::string& c) {
  static const std::set<std::string> kZero = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga",
                                              "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"};
  return kZero.count(c) > 0;
}

bool IsThreeDecimal(const std::string& c) {
  static const std::set<std::string> kThree = {"bhd", "jod", "kwd", "omr", "tnd"};
  return kThree.count(c) > 0;
}

std::string FormatAmount(int64_t amount, const std::string& currency) {
  static const std::map<std::string, std::string> kSymbols = {
      {"usd", "$"}, {"eur", "€"}, {"gbp", "£"}, {"jpy", "¥"}, {"cad", "CA$"}, {"aud", "A$"}};
  const int digits = IsZeroDecimal(currency) ? 0 : IsThreeDecimal(currency) ? 3 : 2;
  int64_t scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  const bool negative = amount < 0;
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(amount) : static_cast<uint64_t>(amount);
  std::string whole = std::to_string(magnitude / static_cast<uint64_t>(scale));
  for (int i = static_cast<int>(whole.size()) - 3; i > 0; i -= 3) whole.insert(static_cast<std::size_t>(i), ",");
  std::string out = whole;
  if (digits > 0) {
    std::string frac = std::to_string(magnitude % static_cast<uint64_t>(scale));
    out += "." + std::string(static_cast<std::size_t>(digits) - frac.size(), '0') + frac;
  }
  auto it = kSymbols.find(currency);
  const std::string prefix = it != kSymbols.end() ? it->second : Upper(currency) + " ";
  return (negative ? "-" : "") + prefix + out;
}

// --- object rendering --------------------------------------------------------

Json PaymentMethod::ToJson() const {
  return {{"id", id},
          {"object", "payment_method"},
          {"billing_details",
           {{"address",
             {{"city", nullptr}, {"country", nullptr}, {"line1", nullptr}, {"line2", nullptr},
              {"postal_code", nullptr}, {"state", nullptr}}},
            {"email", nullptr},
            {"name", nullptr},
            {"phone", nullptr}}},
          {"card", CardDetails(card)},
          {"created", created},
          {"customer", nullptr},
          {"livemode", false},
          {"metadata", Json::object()},
          {"type", "card"}};
}

Json Charge::ToJson() const {
  const bool ok = status == "succeeded";
  Json outcome = ok ? Json{{"network_status", "approved_by_network"}, {"reason", nullptr}, {"risk_level", "normal"},
                           {"seller_message", "Payment complete."}, {"type", "authorized"}}
                    : Json{{"network_status", "declined_by_network"}, {"reason", NullIfEmpty(failure_code)},
                           {"risk_level", "normal"},
                           {"seller_message", "The bank did not return any further details with this decline."},
                           {"type", "issuer_declined"}};
  return {{"id", id},
          {"object", "charge"},
          {"amount", amount},
          {"amount_captured", amount_captured},
          {"amount_refunded", amount_refunded},
          {"balance_transaction", ok && captured ? Json("txn_" + id.substr(3)) : Json(nullptr)},
          {"captured", captured},
          {"created", created},
          {"currency", currency},
          {"failure_code", NullIfEmpty(failure_code)},
          {"failure_message", NullIfEmpty(failure_message)},
          {"livemode", false},
          {"metadata", Json::object()},
          {"outcome", outcome},
          {"paid", ok},
          {"payment_intent", payment_intent},
          {"payment_method", payment_method},
          {"refunded", amount_captured > 0 && amount_refunded == amount_captured},
          {"status", status}};
}

Json Refund::ToJson() const {
  return {{"id", id},
          {"object", "refund"},
          {"amount", amount},
          {"balance_transaction", "txn_" + id.substr(3)},
          {"charge", charge},
          {"created", created},
          {"currency", currency},
          {"metadata", metadata},
          {"payment_intent", payment_intent},
          {"reason", NullIfEmpty(reason)},
          {"receipt_number", nullptr},
          {"source_transfer_reversal", nullptr},
          {"status", status},
          {"transfer_reversal", nullptr}};
}

Json PaymentIntent::ToJson() const {
  return {{"id", id},
          {"object", "payment_intent"},
          {"amount", amount},
          {"amount_capturable", amount_capturable},
          {"amount_details", {{"tip", Json::object()}}},
          {"amount_received", amount_received},
          {"application", nullptr},
          {"application_fee_amount", nullptr},
          {"automatic_payment_methods",
           automatic_payment_methods ? Json{{"allow_redirects", allow_redirects}, {"enabled", true}} : Json(nullptr)},
          {"canceled_at", NullIfZero(canceled_at)},
          {"cancellation_reason", NullIfEmpty(cancellation_reason)},
          {"capture_method", capture_method},
          {"client_secret", client_secret},
          {"confirmation_method", confirmation_method},
          {"created", created},
          {"currency", currency},
          {"customer", nullptr},
          {"description", NullIfEmpty(description)},
          {"last_payment_error", last_payment_error},
          {"latest_charge", NullIfEmpty(latest_charge)},
          {"livemode", false},
          {"metadata", metadata},
          {"next_action", next_action},
          {"on_behalf_of", nullptr},
          {"payment_method", NullIfEmpty(payment_method)},
          {"payment_method_options",
           {{"card", {{"installments", nullptr}, {"mandate_options", nullptr}, {"network", nullptr},
                      {"request_three_d_secure", "automatic"}}}}},
          {"payment_method_types", payment_method_types},
          {"processing", nullptr},
          {"receipt_email", NullIfEmpty(receipt_email)},
          {"review", nullptr},
          {"setup_future_usage", nullptr},
          {"shipping", nullptr},
          {"source", nullptr},
          {"statement_descriptor", nullptr},
          {"statement_descriptor_suffix", nullptr},
          {"status", status},
          {"transfer_data", nullptr},
          {"transfer_group", nullptr}};
}

Json ConfirmationToken::ToJson(const PaymentMethod* pm) const {
  Json preview = nullptr;
  if (pm != nullptr) {
    preview = {{"billing_details", pm->ToJson()["billing_details"]}, {"card", CardDetails(pm->card)}, {"type", "card"}};
  }
  return {{"id", id},
          {"object", "confirmation_token"},
          {"created", created},
          {"expires_at", expires_at},
          {"livemode", false},
          {"mandate_data", nullptr},
          {"payment_intent", NullIfEmpty(payment_intent)},
          {"payment_method_options", nullptr},
          {"payment_method_preview", preview},
          {"return_url", NullIfEmpty(return_url)},
          {"setup_future_usage", NullIfEmpty(setup_future_usage)},
          {"setup_intent", nullptr},
          {"shipping", nullptr},
          {"use_stripe_sdk", true}};
}

Json Event::ToJson() const {
  return {{"id", id},
          {"object", "event"},
          {"api_version", "2024-06-20"},
          {"created", created},
          {"data", {{"object", object}}},
          {"livemode", false},
          {"pending_webhooks", 0},
          {"request", {{"id", NullIfEmpty(request.request_id)}, {"idempotency_key", NullIfEmpty(request.idempotency_key)}}},
          {"type", type}};
}

bool WebhookEndpoint::Wants(const std::string& type) const {
  return std::any_of(enabled_events.begin(), enabled_events.end(),
                     [&](const std::string& e) { return e == "*" || e == type; });
}

Json WebhookEndpoint::ToJson(bool with_secret) const {
  Json j = {{"id", id},
            {"object", "webhook_endpoint"},
            {"api_version", nullptr},
            {"application", nullptr},
            {"created", created},
            {"description", nullptr},
            {"enabled_events", enabled_events},
            {"livemode", false},
            {"metadata", Json::object()},
            {"status", "enabled"},
            {"url", url}};
  if (with_secret && !secrets.empty()) j["secret"] = secrets.front();
  return j;
}

// --- the emulator ------------------------------------------------------------

namespace {
// Sends what was emitted once the state lock is released (declared before
// the lock so it runs after the lock's destructor).
struct FlushGuard {
  std::function<void()> flush;
  ~FlushGuard() { flush(); }
};
}  // namespace

Emulator::Emulator(std::string public_base_url) : public_base_url_(std::move(public_base_url)) {}

void Emulator::SetPublicBaseUrl(std::string url) {
  std::lock_guard lock(mu_);
  public_base_url_ = std::move(url);
}

void Emulator::SetEventSink(std::function<void(const Event&, const std::vector<WebhookEndpoint>&)> sink) {
  std::lock_guard lock(mu_);
  sink_ = std::move(sink);
}

std::string Emulator::NewId(const std::string& prefix, std::size_t len) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int> pick(0, 61);
  std::string out = prefix;
  for (std::size_t i = 0; i < len; ++i) out.push_back(kAlphabet[pick(rng)]);
  return out;
}

void Emulator::Emit(const std::string& type, const Json& object, const RequestContext& ctx) {
  Event e{NewId("evt_"), type, clock_.Now(), object, ctx};
  events_.push_back(e);
  std::vector<WebhookEndpoint> targets;
  for (const auto& [id, endpoint] : webhook_endpoints_) {
    if (endpoint.Wants(type)) targets.push_back(endpoint);
  }
  pending_.push_back({std::move(e), std::move(targets)});
}

void Emulator::Flush() {
  std::vector<Emitted> batch;
  std::function<void(const Event&, const std::vector<WebhookEndpoint>&)> sink;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
    sink = sink_;
  }
  if (!sink) return;
  for (const auto& e : batch) sink(e.event, e.endpoints);
}

PaymentIntent& Emulator::FindPaymentIntent(const std::string& id, const std::string& param) {
  auto it = payment_intents_.find(id);
  if (it == payment_intents_.end()) throw NotFound("payment_intent", id, param);
  return it->second;
}

const PaymentMethod& Emulator::ResolvePaymentMethod(const std::string& id_or_alias) {
  if (auto it = payment_methods_.find(id_or_alias); it != payment_methods_.end()) return it->second;
  const auto card = FindTestCard(id_or_alias);
  if (!card) throw NotFound("PaymentMethod", id_or_alias, "payment_method");
  // A test alias makes a new PaymentMethod with an id of its own, as on
  // Stripe.
  PaymentMethod pm{NewId("pm_"), *card, clock_.Now()};
  return payment_methods_.emplace(pm.id, pm).first->second;
}

Json Emulator::CreatePaymentIntent(const Json& params, const RequestContext& ctx) {
  FlushGuard guard{[this] { Flush(); }};
  std::lock_guard lock(mu_);
  Params p(params, {"amount", "currency", "confirm", "payment_method", "confirmation_token", "return_url",
                    "metadata", "capture_method", "confirmation_method", "description", "off_session",
                    "error_on_requires_action", "payment_method_types", "automatic_payment_methods",
                    "receipt_email", "statement_descriptor_suffix"});
  // Validate everything before anything exists, so a validation failure
  // leaves no trace (and is not stored by the idempotency layer).
  if (!p.Has("amount")) throw MissingParam("amount");
  const int64_t amount = *p.Int("amount");
  const std::string currency = RequireCurrency(p);
  CheckAmount(amount, currency, "amount");
  const bool confirm = p.Bool("confirm").value_or(false);
  PaymentIntent pi;
  pi.capture_method = p.Has("capture_method") ? p.Str("capture_method") : "automatic_async";
  if (pi.capture_method != "automatic" && pi.capture_method != "automatic_async" && pi.capture_method != "manual") {
    throw InvalidRequest("Invalid capture_method: must be one of automatic, automatic_async, or manual",
                         "capture_method");
  }
  pi.confirmation_method = p.Has("confirmation_method") ? p.Str("confirmation_method") : "automatic";
  if (pi.confirmation_method != "automatic" && pi.confirmation_method != "manual") {
    throw InvalidRequest("Invalid confirmation_method: must be one of automatic or manual", "confirmation_method");
  }
  const auto types = p.StrArray("payment_method_types");
  const Json* apm = p.Object("automatic_payment_methods");
  if (!types.empty() && apm != nullptr) {
    throw InvalidRequest("You may only specify one of these parameters: automatic_payment_methods, payment_method_types.");
  }
  if (!types.empty()) {
    for (const auto& t : types) {
      if (t != "card") {
        throw InvalidRequest("The payment method type \"" + t + "\" is not supported by this emulator.",
                             "payment_method_types");
      }
    }
    pi.automatic_payment_methods = false;
    pi.payment_method_types = types;
  } else if (apm != nullptr) {
    if (apm->contains("allow_redirects")) {
      const std::string ar = apm->at("allow_redirects").get<std::string>();
      if (ar != "always" && ar != "never") {
        throw InvalidRequest("Invalid automatic_payment_methods[allow_redirects]: must be one of always or never",
                             "automatic_payment_methods[allow_redirects]");
      }
      pi.allow_redirects = ar;
    }
  }
  if (p.Has("off_session") && !confirm) {
    throw InvalidRequest("You can only pass `off_session` when `confirm` is `true`.", "off_session");
  }
  if (p.Has("error_on_requires_action") && !confirm) {
    throw InvalidRequest("You can only pass `error_on_requires_action` when `confirm` is `true`.",
                         "error_on_requires_action");
  }
  if (p.Has("confirmation_token") && !confirm) {
    throw InvalidRequest("You can only pass `confirmation_token` when `confirm` is `true`.", "confirmation_token");
  }
  pi.metadata = p.Metadata();
  pi.description = p.Str("description");
  pi.receipt_email = p.Str("receipt_email");
  pi.return_url = p.Str("return_url");
  if (p.Has("payment_method")) pi.payment_method = ResolvePaymentMethod(p.Str("payment_method")).id;
  std::string token_return_url;
  if (p.Has("confirmation_token")) {
    auto it = confirmation_tokens_.find(p.Str("confirmation_token"));
    if (it == confirmation_tokens_.end()) {
      throw NotFound("confirmation_token", p.Str("confirmation_token"), "confirmation_token");
    }
    token_return_url = it->second.return_url;
  }
  // Confirmation parameters are validated before the PaymentIntent exists,
  // so a rejected create leaves nothing behind.
  if (confirm && pi.automatic_payment_methods && pi.allow_redirects != "never" && pi.return_url.empty() &&
      token_return_url.empty()) {
    throw MissingReturnUrl();
  }

  pi.id = NewId("pi_");
  pi.client_secret = pi.id + "_secret_" + NewId("", 25);
  pi.amount = amount;
  pi.currency = currency;
  pi.created = clock_.Now();
  pi.status = pi.payment_method.empty() ? "requires_payment_method" : "requires_confirmation";
  auto& stored = payment_intents_.emplace(pi.id, pi).first->second;
  creation_order_.push_back(pi.id);
  Emit("payment_intent.created", stored.ToJson(), ctx);
  if (!confirm) return stored.ToJson();
  return Confirm(stored, params, ctx);
}

Json Emulator::RetrievePaymentIntent(const std::string& id, const Json& params) {
  std::lock_guard lock(mu_);
  Params p(params, {"client_secret"});
  const PaymentIntent& pi = FindPaymentIntent(id, "intent");
  if (p.Has("client_secret") && p.Str("client_secret") != pi.client_secret) {
    throw InvalidRequest("The client_secret provided does not match the client_secret associated with the PaymentIntent.",
                         "client_secret");
  }
  return pi.ToJson();
}

Json Emulator::ConfirmPaymentIntent(const std::string& id, const Json& params, const RequestContext& ctx) {
  FlushGuard guard{[this] { Flush(); }};
  std::lock_guard lock(mu_);
  Params p(params, {"payment_method", "confirmation_token", "return_url", "off_session",
                    "error_on_requires_action", "receipt_email", "capture_method"});
  PaymentIntent& pi = FindPaymentIntent(id, "intent");
  if (p.Has("payment_method")) ResolvePaymentMethod(p.Str("payment_method"));  // 404 before any change
  return Confirm(pi, params, ctx);
}

Json Emulator::Confirm(PaymentIntent& pi, const Json& params, const RequestContext& ctx) {
  Params p(params, {"amount", "currency", "confirm", "payment_method", "confirmation_token", "return_url",
                    "metadata", "capture_method", "confirmation_method", "description", "off_session",
                    "error_on_requires_action", "payment_method_types", "automatic_payment_methods",
                    "receipt_email", "statement_descriptor_suffix"});
  if (pi.status == "succeeded") {
    throw UnexpectedState("You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.");
  }
  if (pi.status != "requires_payment_method" && pi.status != "requires_confirmation" &&
      pi.status != "requires_action") {
    throw UnexpectedState("You cannot confirm this PaymentIntent because it has a status of " + pi.status +
                          ". Only a PaymentIntent with one of the following statuses may be confirmed: "
                          "requires_payment_method, requires_confirmation, requires_action.");
  }
  std::string pm_id = pi.payment_method;
  ConfirmationToken* token = nullptr;
  if (p.Has("confirmation_token")) {
    auto it = confirmation_tokens_.find(p.Str("confirmation_token"));
    if (it == confirmation_tokens_.end()) {
      throw NotFound("confirmation_token", p.Str("confirmation_token"), "confirmation_token");
    }
    token = &it->second;
    if (!token->payment_intent.empty() || token->expires_at <= clock_.Now()) {
      throw InvalidRequest("This ConfirmationToken has already been used or has expired; create a new one.", "",
                           "payment_intent_confirmation_token_invalid");
    }
    pm_id = token->payment_method;
  }
  if (p.Has("payment_method")) pm_id = ResolvePaymentMethod(p.Str("payment_method")).id;
  if (pm_id.empty()) {
    throw UnexpectedState("You cannot confirm this PaymentIntent because it's missing a payment method. "
                          "Update it with a payment_method, or pass one when confirming.");
  }
  std::string return_url = p.Has("return_url") ? p.Str("return_url") : pi.return_url;
  if (return_url.empty() && token != nullptr) return_url = token->return_url;
  if (pi.automatic_payment_methods && pi.allow_redirects != "never" && return_url.empty()) {
    throw MissingReturnUrl();
  }
  const bool off_session = p.Has("off_session") && p.Str("off_session") != "false";
  const bool error_on_requires_action = p.Bool("error_on_requires_action").value_or(false);

  // From here on the confirmation executes.
  if (token != nullptr) token->payment_intent = pi.id;
  pi.return_url = return_url;
  pi.payment_method = pm_id;
  pi.last_payment_error = nullptr;
  pi.next_action = nullptr;
  if (p.Has("receipt_email")) pi.receipt_email = p.Str("receipt_email");
  const PaymentMethod& pm = payment_methods_.at(pm_id);
  const TestCard& card = pm.card;
  const bool needs_auth = card.behavior == CardBehavior::kAuthAlways ||
                          card.behavior == CardBehavior::kAuthThenSucceed ||
                          card.behavior == CardBehavior::kAuthThenDecline ||
                          (card.behavior == CardBehavior::kAuthOnSessionOnly && !off_session);
  if (card.behavior == CardBehavior::kDecline) {
    Decline(pi, pm, std::string(card.code), std::string(card.decline_code), std::string(card.param),
            std::string(card.advice_code), std::string(card.message), ctx, true);
  }
  if (needs_auth && off_session) {
    Decline(pi, pm, "authentication_required", "authentication_required", "", "",
            "Your card was declined. This transaction requires authentication.", ctx, true);
  }
  if (needs_auth && error_on_requires_action) {
    Decline(pi, pm, "authentication_required", "authentication_not_handled", "", "",
            "This payment required an authentication action to complete, but `error_on_requires_action` was set. "
            "When you're ready, you can upgrade your integration to handle actions at "
            "https://stripe.com/docs/payments/payment-intents/upgrade-to-handle-actions.",
            ctx, false);
  }
  if (needs_auth) {
    RequireAction(pi, ctx);
    return pi.ToJson();
  }
  Succeed(pi, pm, ctx);
  return pi.ToJson();
}

void Emulator::RequireAction(PaymentIntent& pi, const RequestContext& ctx) {
  pi.status = "requires_action";
  const std::string url = public_base_url_ + "/_emulator/3ds/" + pi.id;
  if (!pi.return_url.empty()) {
    pi.next_action = {{"type", "redirect_to_url"}, {"redirect_to_url", {{"url", url}, {"return_url", pi.return_url}}}};
  } else {
    pi.next_action = {{"type", "use_stripe_sdk"},
                      {"use_stripe_sdk", {{"type", "three_d_secure_redirect"}, {"stripe_js", url}}}};
  }
  Emit("payment_intent.requires_action", pi.ToJson(), ctx);
}

void Emulator::Succeed(PaymentIntent& pi, const PaymentMethod& pm, const RequestContext& ctx) {
  Charge ch;
  ch.id = NewId("ch_");
  ch.payment_intent = pi.id;
  ch.payment_method = pm.id;
  ch.currency = pi.currency;
  ch.amount = pi.amount;
  ch.status = "succeeded";
  ch.created = clock_.Now();
  const bool manual = pi.capture_method == "manual";
  ch.captured = !manual;
  ch.amount_captured = manual ? 0 : pi.amount;
  charges_[ch.id] = ch;
  pi.latest_charge = ch.id;
  pi.next_action = nullptr;
  pi.last_payment_error = nullptr;
  if (manual) {
    pi.status = "requires_capture";
    pi.amount_capturable = pi.amount;
    Emit("charge.succeeded", ch.ToJson(), ctx);
    Emit("payment_intent.amount_capturable_updated", pi.ToJson(), ctx);
  } else {
    pi.status = "succeeded";
    pi.amount_received = pi.amount;
    Emit("charge.succeeded", ch.ToJson(), ctx);
    Emit("payment_intent.succeeded", pi.ToJson(), ctx);
  }
}

void Emulator::Decline(PaymentIntent& pi, const PaymentMethod& pm, const std::string& code,
                       const std::string& decline_code, const std::string& param, const std::string& advice_code,
                       const std::string& message, const RequestContext& ctx, bool create_charge) {
  Json err = {{"type", "card_error"}, {"code", code}, {"decline_code", decline_code}, {"message", message},
              {"doc_url", DocUrl(code)}, {"payment_method", pm.ToJson()}};
  if (!param.empty()) err["param"] = param;
  if (!advice_code.empty()) err["advice_code"] = advice_code;
  if (create_charge) {
    Charge ch;
    ch.id = NewId("ch_");
    ch.payment_intent = pi.id;
    ch.payment_method = pm.id;
    ch.currency = pi.currency;
    ch.amount = pi.amount;
    ch.status = "failed";
    ch.failure_code = code;
    ch.failure_message = message;
    ch.created = clock_.Now();
    charges_[ch.id] = ch;
    pi.latest_charge = ch.id;
    err["charge"] = ch.id;
    Emit("charge.failed", ch.ToJson(), ctx);
  }
  pi.status = "requires_payment_method";
  pi.payment_method.clear();
  pi.next_action = nullptr;
  pi.last_payment_error = err;
  Emit("payment_intent.payment_failed", pi.ToJson(), ctx);
  ApiError e;
  e.status = 402;
  e.error = err;
  e.error["payment_intent"] = pi.ToJson();
  e.executed = true;
  throw e;
}

Json Emulator::CancelPaymentIntent(const std::string& id, const Json& params, const RequestContext& ctx) {
  FlushGuard guard{[this] { Flush(); }};
  std::lock_guard lock(mu_);
  Params p(params, {"cancellation_reason"});
  PaymentIntent& pi = FindPaymentIntent(id, "intent");
  const std::string reason = p.Str("cancellation_reason");
  if (!reason.empty() && reason != "duplicate" && reason != "fraudulent" && reason != "requested_by_customer" &&
      reason != "abandoned") {
    throw InvalidRequest("Invalid cancellation_reason: must be one of duplicate, fraudulent, requested_by_customer, or abandoned",
                         "cancellation_reason");
  }
  if (kCancelableStatuses.count(pi.status) == 0) {
    throw UnexpectedState("You cannot cancel this PaymentIntent because it has a status of " + pi.status +
                          ". Only a PaymentIntent with one of the following statuses may be canceled: "
                          "requires_payment_method, requires_capture, requires_confirmation, requires_action, "
                          "processing.");
  }
  if (pi.status == "requires_capture" && !pi.latest_charge.empty()) {
    // The authorization is released: nothing was captured.
    pi.amount_capturable = 0;
  }
  pi.status = "canceled";
  pi.canceled_at = clock_.Now();
  pi.cancellation_reason = reason;
  pi.next_action = nullptr;
  Emit("payment_intent.canceled", pi.ToJson(), ctx);
  return pi.ToJson();
}

Json Emulator::CapturePaymentIntent(const std::string& id, const Json& params, const RequestContext& ctx) {
  FlushGuard guard{[this] { Flush(); }};
  std::lock_guard lock(mu_);
  Params p(params, {"amount_to_capture", "metadata"});
  PaymentIntent& pi = FindPaymentIntent(id, "intent");
  if (pi.status != "requires_capture") {
    throw UnexpectedState("This PaymentIntent could not be captured because it has a status of " + pi.status +
                          ". Only a PaymentIntent with one of the following statuses may be captured: "
                          "requires_capture.");
  }
  const int64_t amount = p.Int("amount_to_capture").value_or(pi.amount_capturable);
  if (amount < 1 || amount > pi.amount_capturable) {
    throw InvalidRequest("The amount_to_capture must be between 1 and the amount capturable (" +
                             std::to_string(pi.amount_capturable) + ").",
                         "amount_to_capture");
  }
  Charge& ch = charges_.at(pi.latest_charge);
  ch.captured = true;
  ch.amount_captured = amount;
  pi.status = "succeeded";
  pi.amount_received = amount;
  pi.amount_capturable = 0;
  Emit("charge.captured", ch.ToJson(), ctx);
  Emit("payment_intent.succeeded", pi.ToJson(), ctx);
  return pi.ToJson();
}

Json Emulator::CreateRefund(const Json& params, const RequestContext& ctx) {
  FlushGuard guard{[this] { Flush(); }};
  std::lock_guard lock(mu_);
  Params p(params, {"payment_intent", "charge", "amount", "reason", "metadata"});
  Charge* ch = nullptr;
  PaymentIntent* pi = nullptr;
  if (p.Has("charge")) {
    auto it = charges_.find(p.Str("charge"));
    if (it == charges_.end()) throw NotFound("charge", p.Str("charge"), "charge");
    ch = &it->second;
    pi = &payment_intents_.at(ch->payment_intent);
  } else if (p.Has("payment_intent")) {
    pi = &FindPaymentIntent(p.Str("payment_intent"), "payment_intent");
    if (pi->status == "requires_capture") {
      throw InvalidRequest("This PaymentIntent has not been captured; cancel it instead of refunding it "
                           "(POST /v1/payment_intents/" + pi->id + "/cancel).");
    }
    if (pi->status != "succeeded") {
      throw InvalidRequest("This PaymentIntent does not have a successful charge to refund.", "payment_intent");
    }
    ch = &charges_.at(pi->latest_charge);
  } else {
    throw InvalidRequest("One of the following params should be provided for this request: payment_intent or charge.");
  }
  const std::string reason = p.Str("reason");
  if (!reason.empty() && reason != "duplicate" && reason != "fraudulent" && reason != "requested_by_customer") {
    throw InvalidRequest("Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer", "reason");
  }
  const Json metadata = p.Metadata();
  if (ch->status != "succeeded" || !ch->captured) {
    throw InvalidRequest("This charge cannot be refunded because it was not captured.", "charge");
  }
  const int64_t remaining = ch->amount_captured - ch->amount_refunded;
  if (remaining <= 0) {
    ApiError e = InvalidRequest("Charge " + ch->id + " has already been refunded.", "", "charge_already_refunded");
    e.executed = true;
    throw e;
  }
  const int64_t amount = p.Int("amount").value_or(remaining);
  if (amount < 1) throw InvalidRequest("This value must be greater than or equal to 1.", "amount");
  if (amount > remaining) {
    ApiError e = InvalidRequest("Refund amount (" + FormatAmount(amount, ch->currency) +
                                    ") is greater than unrefunded amount on charge (" +
                                    FormatAmount(remaining, ch->currency) + ")",
                                "amount");
    e.executed = true;
    throw e;
  }
  Refund r;
  r.id = NewId("re_");
  r.charge = ch->id;
  r.payment_intent = pi->id;
  r.currency = ch->currency;
  r.amount = amount;
  r.reason = reason;
  r.metadata = metadata;
  r.created = clock_.Now();
  refunds_[r.id] = r;
  ch->amount_refunded += amount;
  Emit("refund.created", r.ToJson(), ctx);
  Emit("charge.refunded", ch->ToJson(), ctx);
  return r.ToJson();
}

Json Emulator::RetrieveRefund(const std::string& id, const Json& params) {
  std::lock_guard lock(mu_);
  Params p(params, {});
  auto it = refunds_.find(id);
  if (it == refunds_.end()) throw NotFound("refund", id, "id");
  return it->second.ToJson();
}

Json Emulator::RetrieveCharge(const std::string& id, const Json& params) {
  std::lock_guard lock(mu_);
  Params p(params, {});
  auto it = charges_.find(id);
  if (it == charges_.end()) throw NotFound("charge", id, "id");
  return it->second.ToJson();
}

Json Emulator::RetrievePaymentMethod(const std::string& id, const Json& params) {
  std::lock_guard lock(mu_);
  Params p(params, {});
  auto it = payment_methods_.find(id);
  if (it == payment_methods_.end()) throw NotFound("PaymentMethod", id, "payment_method");
  return it->second.ToJson();
}

Json Emulator::CreateTestConfirmationToken(const Json& params, const RequestContext&) {
  std::lock_guard lock(mu_);
  Params p(params, {"payment_method", "return_url", "setup_future_usage"});
  const std::string sfu = p.Str("setup_future_usage");
  if (!sfu.empty() && sfu != "off_session" && sfu != "on_session") {
    throw InvalidRequest("Invalid setup_future_usage: must be one of off_session or on_session", "setup_future_usage");
  }
  const PaymentMethod& pm = ResolvePaymentMethod(p.Has("payment_method") ? p.Str("payment_method") : "pm_card_visa");
  ConfirmationToken t;
  t.id = NewId("ctoken_");
  t.payment_method = pm.id;
  t.return_url = p.Str("return_url");
  t.setup_future_usage = sfu;
  t.created = clock_.Now();
  t.expires_at = t.created + 12 * 3600;
  confirmation_tokens_[t.id] = t;
  return t.ToJson(&pm);
}

Json Emulator::RetrieveConfirmationToken(const std::string& id, const Json& params) {
  std::lock_guard lock(mu_);
  Params p(params, {});
  auto it = confirmation_tokens_.find(id);
  if (it == confirmation_tokens_.end()) throw NotFound("confirmation_token", id, "confirmation_token");
  auto pm = payment_methods_.find(it->second.payment_method);
  return it->second.ToJson(pm == payment_methods_.end() ? nullptr : &pm->second);
}

Json Emulator::RetrieveEvent(const std::string& id, const Json& params) {
  std::lock_guard lock(mu_);
  Params p(params, {});
  for (const auto& e : events_) {
    if (e.id == id) return e.ToJson();
  }
  throw NotFound("event", id, "id");
}

Json Emulator::ListEvents(const Json& params) {
  std::lock_guard lock(mu_);
  Params p(params, {"type", "limit"});
  const int64_t limit = p.Int("limit").value_or(10);
  if (limit < 1 || limit > 100) throw InvalidRequest("This value must be between 1 and 100.", "limit");
  const std::string type = p.Str("type");
  Json data = Json::array();
  bool has_more = false;
  for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
    if (!type.empty() && it->type != type) continue;
    if (static_cast<int64_t>(data.size()) == limit) {
      has_more = true;
      break;
    }
    data.push_back(it->ToJson());
  }
  return {{"object", "list"}, {"data", data}, {"has_more", has_more}, {"url", "/v1/events"}};
}

Json Emulator::CreateWebhookEndpoint(const Json& params) {
  std::lock_guard lock(mu_);
  Params p(params, {"url", "enabled_events", "description", "api_version", "metadata"});
  if (!p.Has("url")) throw MissingParam("url");
  const auto events = p.StrArray("enabled_events");
  if (events.empty()) throw MissingParam("enabled_events");
  WebhookEndpoint w{NewId("we_"), p.Str("url"), {"whsec_" + NewId("", 32)}, events, clock_.Now()};
  webhook_endpoints_[w.id] = w;
  return w.ToJson(true);
}

Json Emulator::ListWebhookEndpoints(const Json& params) {
  std::lock_guard lock(mu_);
  Params p(params, {"limit"});
  Json data = Json::array();
  for (const auto& [id, w] : webhook_endpoints_) data.push_back(w.ToJson(false));
  return {{"object", "list"}, {"data", data}, {"has_more", false}, {"url", "/v1/webhook_endpoints"}};
}

Json Emulator::RetrieveWebhookEndpoint(const std::string& id, const Json& params) {
  std::lock_guard lock(mu_);
  Params p(params, {});
  auto it = webhook_endpoints_.find(id);
  if (it == webhook_endpoints_.end()) throw NotFound("webhook_endpoint", id, "webhook_endpoint");
  return it->second.ToJson(false);
}

Json Emulator::DeleteWebhookEndpoint(const std::string& id, const Json& params) {
  std::lock_guard lock(mu_);
  Params p(params, {});
  if (webhook_endpoints_.erase(id) == 0) throw NotFound("webhook_endpoint", id, "webhook_endpoint");
  return {{"id", id}, {"object", "webhook_endpoint"}, {"deleted", true}};
}

Json Emulator::Authenticate(const std::string& id, bool success) {
  FlushGuard guard{[this] { Flush(); }};
  std::lock_guard lock(mu_);
  PaymentIntent& pi = FindPaymentIntent(id, "intent");
  if (pi.status != "requires_action") {
    throw InvalidRequest("PaymentIntent " + id + " is " + pi.status + ", not requires_action; nothing to authenticate.");
  }
  const PaymentMethod& pm = payment_methods_.at(pi.payment_method);
  const RequestContext none;
  if (!success) {
    pi.status = "requires_payment_method";
    pi.next_action = nullptr;
    pi.payment_method.clear();
    pi.last_payment_error = {
        {"type", "invalid_request_error"},
        {"code", "payment_intent_authentication_failure"},
        {"doc_url", DocUrl("payment_intent_authentication_failure")},
        {"message", "The provided PaymentMethod has failed authentication. You can provide payment_method_data or "
                    "a new PaymentMethod to attempt to fulfill this PaymentIntent again."},
        {"payment_method", pm.ToJson()}};
    Emit("payment_intent.payment_failed", pi.ToJson(), none);
    return pi.ToJson();
  }
  if (pm.card.behavior == CardBehavior::kAuthThenDecline) {
    try {
      Decline(pi, pm, std::string(pm.card.code), std::string(pm.card.decline_code), std::string(pm.card.param),
              std::string(pm.card.advice_code), std::string(pm.card.message), none, true);
    } catch (const ApiError&) {
      // The customer's browser sees the failure; the API shows it on the
      // PaymentIntent.
    }
    return pi.ToJson();
  }
  if (pi.confirmation_method == "manual") {
    pi.status = "requires_confirmation";
    pi.next_action = nullptr;
    return pi.ToJson();
  }
  Succeed(pi, pm, none);
  return pi.ToJson();
}

Json Emulator::AddWebhookEndpoint(const std::string& url, const std::vector<std::string>& secrets,
                                  const std::vector<std::string>& enabled_events) {
  std::lock_guard lock(mu_);
  WebhookEndpoint w{NewId("we_"), url, secrets, enabled_events.empty() ? std::vector<std::string>{"*"} : enabled_events,
                    clock_.Now()};
  if (w.secrets.empty()) w.secrets.push_back("whsec_" + NewId("", 32));
  webhook_endpoints_[w.id] = w;
  Json j = w.ToJson(true);
  j["secrets"] = w.secrets;
  return j;
}

Json Emulator::AddWebhookSecret(const std::string& endpoint_id, const std::string& secret) {
  std::lock_guard lock(mu_);
  auto it = webhook_endpoints_.find(endpoint_id);
  if (it == webhook_endpoints_.end()) throw NotFound("webhook_endpoint", endpoint_id, "id");
  it->second.secrets.push_back(secret);
  Json j = it->second.ToJson(false);
  j["secrets"] = it->second.secrets;
  return j;
}

Json Emulator::Ledger() const {
  std::lock_guard lock(mu_);
  Json pis = Json::array();
  Json by_status = Json::object();
  for (const auto& id : creation_order_) {
    const auto& pi = payment_intents_.at(id);
    pis.push_back(pi.ToJson());
    by_status[pi.status] = by_status.value(pi.status, 0) + 1;
  }
  Json charges = Json::array();
  Json captured = Json::object();
  Json refunded = Json::object();
  for (const auto& [id, ch] : charges_) {
    charges.push_back(ch.ToJson());
    if (ch.status == "succeeded" && ch.captured) {
      captured[ch.currency] = captured.value(ch.currency, int64_t{0}) + ch.amount_captured;
      refunded[ch.currency] = refunded.value(ch.currency, int64_t{0}) + ch.amount_refunded;
    }
  }
  Json refunds = Json::array();
  for (const auto& [id, r] : refunds_) refunds.push_back(r.ToJson());
  return {{"payment_intents", pis},
          {"charges", charges},
          {"refunds", refunds},
          {"summary", {{"payment_intents_by_status", by_status}, {"captured", captured}, {"refunded", refunded}}}};
}

void Emulator::Reset() {
  std::lock_guard lock(mu_);
  payment_intents_.clear();
  charges_.clear();
  refunds_.clear();
  payment_methods_.clear();
  confirmation_tokens_.clear();
  events_.clear();
  webhook_endpoints_.clear();
  creation_order_.clear();
  pending_.clear();
  clock_.Reset();
}

}  // namespace billing::stripe_emulator
