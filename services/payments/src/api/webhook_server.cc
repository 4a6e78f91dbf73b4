#include "api/webhook_server.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "clients/stripe_json.h"
#include "db/pool.h"
#include "domain/webhook_signature.h"
#include "errors/error.h"

namespace billing::payments::api {
namespace {

void Answer(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(nlohmann::json{{status < 300 ? "result" : "error", message}}.dump(), "application/json");
}

// Stripe posts "application/json; charset=utf-8". The media type is
// compared case-insensitively and its parameters are ignored.
bool IsJson(const std::string& content_type) {
  std::string media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.pop_back();
  std::size_t start = 0;
  while (start < media.size() && (media[start] == ' ' || media[start] == '\t')) ++start;
  media = media.substr(start);
  for (char& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return media == "application/json";
}

}  // namespace

WebhookServer::WebhookServer(domain::PaymentService& service, const clock::Clock& clock, Options options,
                             Observer observer)
    : service_(service),
      clock_(clock),
      options_(std::move(options)),
      secrets_(std::make_shared<const std::vector<std::string>>(options_.secrets)),
      observer_(std::move(observer)) {
  server_.set_payload_max_length(options_.max_body_bytes);
  server_.set_read_timeout(10, 0);
  server_.new_task_queue = [] { return new httplib::ThreadPool(8); };
  server_.Post(options_.path, [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); });
}

int WebhookServer::Bind(const std::string& host, int port) {
  const int bound = port == 0 ? server_.bind_to_any_port(host) : (server_.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) throw std::runtime_error("cannot bind the webhook port " + host + ":" + std::to_string(port));
  return bound;
}

void WebhookServer::Run(std::stop_token stop) {
  std::atomic<bool> ended{false};
  std::thread serving([&] {
    server_.listen_after_bind();
    ended = true;
  });
  // httplib's stop() does nothing before the server runs, so wait for that
  // (or for listening to end) before waiting for the stop request.
  while (!server_.is_running() && !ended) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  while (!stop.stop_requested() && !ended) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server_.stop();
  serving.join();
  if (!stop.stop_requested()) throw std::runtime_error("the webhook server stopped listening");
}

void WebhookServer::ReplaceSecrets(std::vector<std::string> secrets) {
  if (secrets.empty()) throw std::invalid_argument("STRIPE_WEBHOOK_SECRETS must list at least one secret");
  auto next = std::make_shared<const std::vector<std::string>>(std::move(secrets));
  std::lock_guard lock(secrets_mu_);
  secrets_ = std::move(next);
}

std::shared_ptr<const std::vector<std::string>> WebhookServer::Secrets() const {
  std::lock_guard lock(secrets_mu_);
  return secrets_;
}

void WebhookServer::Handle(const httplib::Request& req, httplib::Response& res) {
  // Whatever else arrives is not from Stripe; it is refused before the HMAC.
  if (!IsJson(req.get_header_value("Content-Type"))) {
    if (observer_) observer_("", "", "bad_payload", "Content-Type is not application/json");
    Answer(res, 415, "Content-Type must be application/json");
    return;
  }
  const auto check = domain::VerifyStripeSignature(req.get_header_value("Stripe-Signature"), req.body,
                                                   *Secrets(), clock_.Now(), options_.tolerance);
  if (check != domain::SignatureCheck::kValid) {
    if (observer_) observer_("", "", "bad_signature", std::string(domain::Describe(check)));
    Answer(res, 400, std::string(domain::Describe(check)));
    return;
  }
  const auto event = clients::EventFromJson(req.body);
  if (!event) {
    if (observer_) observer_("", "", "bad_payload", "not a Stripe event");
    Answer(res, 400, "not a Stripe event");
    return;
  }
  try {
    const auto result = service_.ApplyStripeEvent(*event);
    const char* name = result == domain::PaymentService::EventResult::kApplied     ? "applied"
                       : result == domain::PaymentService::EventResult::kDuplicate ? "duplicate"
                                                                                   : "ignored";
    if (observer_) observer_(event->id, event->type, name, "");
    Answer(res, 200, name);
  } catch (const errors::Error& e) {
    const bool unavailable = e.reason() == errors::Reason::kDatabaseUnavailable;
    if (observer_) observer_(event->id, event->type, "error", e.what());
    Answer(res, unavailable ? 503 : 500, unavailable ? "database unavailable; retry" : "could not apply the event");
  } catch (const std::exception& e) {
    if (observer_) observer_(event->id, event->type, "error", db::DescribeError(e));
    Answer(res, 500, "could not apply the event");
  }
}

}  // namespace billing::payments::api
