#include "webhooks.h"

#include <httplib.h>

#include <algorithm>
#include <random>

#include "crypto/crypto.h"
#include "logging/log.h"

namespace billing::stripe_emulator {
namespace {

int64_t WallSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string RandomSuffix() {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int> pick(0, 61);
  std::string out;
  for (int i = 0; i < 24; ++i) out.push_back(kAlphabet[pick(rng)]);
  return out;
}

// "http://host:port/path?x" -> ("http://host:port", "/path?x").
std::pair<std::string, std::string> SplitUrl(const std::string& url) {
  const auto scheme_end = url.find("://");
  const auto path_start = url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  if (path_start == std::string::npos) return {url, "/"};
  return {url.substr(0, path_start), url.substr(path_start)};
}

}  // namespace

WebhookDispatcher::WebhookDispatcher(Options options, Faults& faults) : options_(options), faults_(faults) {
  worker_ = std::jthread([this](std::stop_token stop) { Run(stop); });
}

WebhookDispatcher::~WebhookDispatcher() {
  worker_.request_stop();
  wake_.notify_all();
}

std::string WebhookDispatcher::SignatureHeader(const std::vector<std::string>& secrets, int64_t timestamp,
                                               const std::string& payload) {
  const std::string signed_payload = std::to_string(timestamp) + "." + payload;
  std::string header = "t=" + std::to_string(timestamp);
  for (const auto& secret : secrets) header += ",v1=" + crypto::HmacSha256Hex(secret, signed_payload);
  return header;
}

void WebhookDispatcher::Enqueue(const Event& event, const std::vector<WebhookEndpoint>& endpoints) {
  if (endpoints.empty()) return;
  const auto rules = faults_.TakeWebhook(event.type);
  const auto now = std::chrono::steady_clock::now();
  const std::string payload = event.ToJson().dump();
  std::vector<Delivery> add;
  for (const auto& endpoint : endpoints) {
    Delivery d{event.id, event.type, payload, endpoint, 0, now};
    bool drop = false;
    int copies = 1;
    for (const auto& r : rules) {
      switch (r.action) {
        case WebhookFaultAction::kDuplicate: copies = 2; break;
        case WebhookFaultAction::kDrop: drop = true; break;
        case WebhookFaultAction::kDelay: d.due = now + std::chrono::milliseconds(r.delay_ms); break;
        case WebhookFaultAction::kReorder:
          d.held = true;
          d.due = now + std::chrono::milliseconds(r.delay_ms);  // released early by the next delivery
          break;
        case WebhookFaultAction::kBadSignature: d.bad_signature = true; break;
        case WebhookFaultAction::kStaleTimestamp: d.stale_timestamp = true; break;
        case WebhookFaultAction::kTwin: {
          nlohmann::json twin = event.ToJson();
          twin["id"] = "evt_" + RandomSuffix();
          Delivery t = d;
          t.event_id = twin["id"];
          t.payload = twin.dump();
          add.push_back(t);
          break;
        }
      }
    }
    if (drop) {
      std::lock_guard lock(mu_);
      log_.push_back({{"event_id", event.id}, {"event_type", event.type}, {"endpoint", endpoint.id},
                      {"attempt", 0}, {"dropped", true}});
      continue;
    }
    for (int i = 0; i < copies; ++i) add.push_back(d);
  }
  {
    std::lock_guard lock(mu_);
    for (auto& d : add) queue_.push_back(std::move(d));
    changed_ = true;
  }
  wake_.notify_all();
}

nlohmann::json WebhookDispatcher::Deliveries() const {
  std::lock_guard lock(mu_);
  return log_;
}

void WebhookDispatcher::Clear() {
  std::lock_guard lock(mu_);
  queue_.clear();
  log_ = nlohmann::json::array();
}

void WebhookDispatcher::Run(std::stop_token stop) {
  std::unique_lock lock(mu_);
  while (!stop.stop_requested()) {
    if (queue_.empty()) {
      wake_.wait(lock, stop, [&] { return !queue_.empty(); });
      continue;
    }
    auto next = std::min_element(queue_.begin(), queue_.end(),
                                 [](const Delivery& a, const Delivery& b) { return a.due < b.due; });
    if (next->due > std::chrono::steady_clock::now()) {
      const auto due = next->due;
      changed_ = false;
      // Wakes at the due time, or earlier when something new is queued.
      wake_.wait_until(lock, stop, due, [&] { return changed_; });
      continue;
    }
    Delivery d = std::move(*next);
    queue_.erase(next);
    // A held (reordered) event goes out after the next one to its endpoint.
    for (auto& other : queue_) {
      if (other.held && other.endpoint.id == d.endpoint.id && !d.held) {
        other.held = false;
        other.due = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
      }
    }
    lock.unlock();
    Send(d);
    lock.lock();
  }
}

void WebhookDispatcher::Send(Delivery& d) {
  ++d.attempt;
  const bool first = d.attempt == 1;
  const int64_t t = WallSeconds() - (first && d.stale_timestamp ? 600 : 0);
  std::vector<std::string> secrets = d.endpoint.secrets;
  if (first && d.bad_signature) secrets = {"whsec_wrong_" + RandomSuffix()};
  const std::string signature = SignatureHeader(secrets, t, d.payload);

  const auto [base, path] = SplitUrl(d.endpoint.url);
  httplib::Client client(base);
  client.set_connection_timeout(std::chrono::milliseconds(options_.timeout_ms));
  client.set_read_timeout(std::chrono::milliseconds(options_.timeout_ms));
  client.set_write_timeout(std::chrono::milliseconds(options_.timeout_ms));
  httplib::Headers headers = {{"Stripe-Signature", signature},
                              {"User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}};
  const auto res = client.Post(path, headers, d.payload, "application/json; charset=utf-8");
  const int status = res ? res->status : 0;
  const bool ok = status >= 200 && status < 300;

  nlohmann::json entry = {{"event_id", d.event_id}, {"event_type", d.event_type}, {"endpoint", d.endpoint.id},
                          {"attempt", d.attempt}, {"status", status}, {"signed_at", t},
                          {"bad_signature", first && d.bad_signature}, {"stale_timestamp", first && d.stale_timestamp}};
  if (!res) entry["error"] = httplib::to_string(res.error());
  logging::Info("webhook delivery", entry);

  std::lock_guard lock(mu_);
  log_.push_back(entry);
  if (ok || d.attempt >= options_.max_attempts) return;
  const int64_t backoff = std::min(options_.retry_max_ms, options_.retry_base_ms << std::min(d.attempt - 1, 20));
  d.due = std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff);
  d.held = false;
  queue_.push_back(std::move(d));
}

}  // namespace billing::stripe_emulator
