#include "clients/stripe_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <random>
#include <thread>

#include "clients/stripe_json.h"

namespace billing::payments::clients {
namespace {

using domain::StripeFailure;
using domain::StripeOutcome;
using nlohmann::json;

constexpr std::size_t kMaxIdleHandles = 16;

std::size_t CollectBody(char* data, std::size_t size, std::size_t n, void* out) {
  auto* body = static_cast<std::string*>(out);
  if (body->size() < 1024 * 1024) body->append(data, size * n);
  return size * n;
}

std::size_t CollectHeader(char* data, std::size_t size, std::size_t n, void* out) {
  auto* response = static_cast<StripeClient::Response*>(out);
  std::string line(data, size * n);
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "stripe-should-retry") {
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.pop_back();
      for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      response->should_retry = value;
    }
  }
  return size * n;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Whether this answer may be tried again with the same idempotency key.
bool Retryable(const StripeClient::Response& r) {
  if (r.should_retry == "false") return false;
  if (r.should_retry == "true") return true;
  if (r.curl_code != CURLE_OK) return true;  // connect failure, timeout, dropped connection
  return r.status == 409 || r.status == 429 || r.status >= 500;
}

std::string OutcomeLabel(const StripeClient::Response& r) {
  if (r.curl_code != CURLE_OK) return "network";
  if (r.status >= 200 && r.status < 300) return "ok";
  if (r.status == 402) return "card_error";
  if (r.status == 401 || r.status == 403) return "auth_error";
  if (r.status == 409 || r.status == 429 || r.status >= 500) return "retryable";
  return "invalid_request";
}

}  // namespace

StripeClient::StripeClient(Options options, Observer observer)
    : options_(std::move(options)), observer_(std::move(observer)) {
  while (!options_.api_base.empty() && options_.api_base.back() == '/') options_.api_base.pop_back();
}

StripeClient::~StripeClient() {
  for (CURL* h : idle_) curl_easy_cleanup(h);
}

CURL* StripeClient::TakeHandle() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      CURL* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void StripeClient::ReturnHandle(CURL* handle) {
  if (handle == nullptr) return;
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdleHandles) {
    idle_.push_back(handle);  // keeps its connection alive for the next call
  } else {
    curl_easy_cleanup(handle);
  }
}

std::chrono::milliseconds StripeClient::RetryDelay(int retry) const {
  auto delay = options_.retry_base;
  for (int i = 1; i < retry && delay < options_.retry_max; ++i) delay *= 2;
  delay = std::min(delay, options_.retry_max);
  thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> factor(0.5, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(delay.count()) * factor(rng)));
}

StripeClient::Response StripeClient::Perform(const std::string& method, const std::string& path,
                                             const std::string& body, const std::string& idempotency_key) {
  Response response;
  CURL* h = TakeHandle();
  if (h == nullptr) {
    response.curl_code = CURLE_FAILED_INIT;
    return response;
  }
  curl_easy_reset(h);  // keeps the live connection
  const std::string url = options_.api_base + path;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, ("Authorization: Bearer " + options_.secret_key).c_str());
  headers = curl_slist_append(headers, ("Stripe-Version: " + options_.api_version).c_str());
  headers = curl_slist_append(headers, "User-Agent: billing-payments/1");
  if (!idempotency_key.empty()) headers = curl_slist_append(headers, ("Idempotency-Key: " + idempotency_key).c_str());
  if (method == "POST") headers = curl_slist_append(headers, "Content-Type: application/x-www-form-urlencoded");
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, CollectHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &response);
  if (method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  }
  const CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(headers);  // it held the key; freed before anything else happens
  response.curl_code = rc;
  if (rc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  if (rc == CURLE_OK) {
    ReturnHandle(h);
  } else {
    curl_easy_cleanup(h);  // a broken connection is not reused
  }
  return response;
}

StripeClient::CallResult StripeClient::Call(const std::string& method, const std::string& path,
                                            const std::string& endpoint,
                                            const std::vector<std::pair<std::string, std::string>>& form,
                                            const std::string& idempotency_key) {
  const std::string body = FormEncode(form);
  CallResult result;
  for (int attempt = 0;; ++attempt) {
    const auto started = std::chrono::steady_clock::now();
    const Response r = Perform(method, path, body, idempotency_key);
    if (observer_) {
      observer_(endpoint, OutcomeLabel(r),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    if (r.curl_code == CURLE_OK && r.status >= 200 && r.status < 300) {
      auto j = json::parse(r.body, nullptr, false);
      if (j.is_object()) {
        result.body = std::move(j);
        return result;
      }
      // A 2xx we cannot read: what happened is unknown, like a lost answer.
      result.failure.outcome = StripeOutcome::kUnavailable;
      result.failure.message = "Stripe answered with a body that is not JSON";
      if (attempt >= options_.max_retries) return result;
    } else if (!Retryable(r) || attempt >= options_.max_retries) {
      if (r.curl_code != CURLE_OK) {
        result.failure.outcome = StripeOutcome::kUnavailable;
        result.failure.message = std::string("no answer from Stripe: ") + curl_easy_strerror(static_cast<CURLcode>(r.curl_code));
      } else {
        result.failure = FailureFromJson(static_cast<int>(r.status), json::parse(r.body, nullptr, false));
        // Told not to retry a 5xx: still an unknown outcome.
        if (r.status >= 500) result.failure.outcome = StripeOutcome::kUnavailable;
      }
      return result;
    }
    std::this_thread::sleep_for(RetryDelay(attempt + 1));
  }
}

namespace {

template <typename T, typename F>
domain::StripeResult<T> Map(const std::optional<json>& body, const StripeFailure& failure, F parse) {
  domain::StripeResult<T> out;
  if (body) {
    out.value = parse(*body);
  } else {
    out.failure = failure;
  }
  return out;
}

std::string LowerCurrency(const std::string& c) { return Lower(c); }

}  // namespace

domain::StripeResult<domain::Intent> StripeClient::CreateIntent(const domain::CreateIntentParams& p,
                                                                const std::string& key) {
  std::vector<std::pair<std::string, std::string>> form = {
      {"amount", std::to_string(p.amount.amount_minor)},
      {"currency", LowerCurrency(p.amount.currency)},
  };
  if (!p.description.empty()) form.emplace_back("description", p.description);
  for (const auto& [k, v] : p.metadata) form.emplace_back("metadata[" + k + "]", v);
  const auto r = Call("POST", "/v1/payment_intents", "POST /v1/payment_intents", form, key);
  return Map<domain::Intent>(r.body, r.failure, IntentFromJson);
}

domain::StripeResult<domain::Intent> StripeClient::ConfirmIntent(const std::string& id,
                                                                 const domain::ConfirmIntentParams& p,
                                                                 const std::string& key) {
  std::vector<std::pair<std::string, std::string>> form;
  form.emplace_back(p.method_kind == domain::MethodKind::kConfirmationToken ? "confirmation_token" : "payment_method",
                    p.method_id);
  if (!p.return_url.empty()) form.emplace_back("return_url", p.return_url);
  const auto r = Call("POST", "/v1/payment_intents/" + id + "/confirm", "POST /v1/payment_intents/{id}/confirm",
                      form, key);
  return Map<domain::Intent>(r.body, r.failure, IntentFromJson);
}

domain::StripeResult<domain::Intent> StripeClient::RetrieveIntent(const std::string& id) {
  const auto r = Call("GET", "/v1/payment_intents/" + id, "GET /v1/payment_intents/{id}", {}, "");
  return Map<domain::Intent>(r.body, r.failure, IntentFromJson);
}

domain::StripeResult<domain::Intent> StripeClient::CancelIntent(const std::string& id,
                                                                domain::CancellationReason reason,
                                                                const std::string& key) {
  std::vector<std::pair<std::string, std::string>> form;
  if (reason != domain::CancellationReason::kNone) form.emplace_back("cancellation_reason", std::string(domain::Name(reason)));
  const auto r = Call("POST", "/v1/payment_intents/" + id + "/cancel", "POST /v1/payment_intents/{id}/cancel", form,
                      key);
  return Map<domain::Intent>(r.body, r.failure, IntentFromJson);
}

domain::StripeResult<domain::StripeRefund> StripeClient::CreateRefund(const domain::RefundParams& p,
                                                                      const std::string& key) {
  std::vector<std::pair<std::string, std::string>> form = {
      {"payment_intent", p.payment_intent_id},
      {"amount", std::to_string(p.amount.amount_minor)},
  };
  if (p.reason != domain::RefundReason::kNone) form.emplace_back("reason", std::string(domain::Name(p.reason)));
  for (const auto& [k, v] : p.metadata) form.emplace_back("metadata[" + k + "]", v);
  const auto r = Call("POST", "/v1/refunds", "POST /v1/refunds", form, key);
  return Map<domain::StripeRefund>(r.body, r.failure, RefundFromJson);
}

domain::StripeResult<domain::StripeRefund> StripeClient::RetrieveRefund(const std::string& id) {
  const auto r = Call("GET", "/v1/refunds/" + id, "GET /v1/refunds/{id}", {}, "");
  return Map<domain::StripeRefund>(r.body, r.failure, RefundFromJson);
}

}  // namespace billing::payments::clients
