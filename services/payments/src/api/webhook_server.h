#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "clock/clock.h"
#include "domain/payment_service.h"

namespace billing::payments::api {

// Stripe's webhooks: POST <path> on its own port (so it can be exposed to
// Stripe without exposing gRPC).
//
// The signature is checked before anything else (400 when it fails, and
// nothing is touched); a verified event is stored once and applied in one
// transaction, and the answer is quick: forwarding to the invoice service
// goes through the outbox. 2xx for applied, duplicate and ignored events;
// 503 when the database is down and 500 for anything unexpected, so Stripe
// retries.
class WebhookServer {
 public:
  struct Options {
    std::vector<std::string> secrets;  // every current whsec_..., for rotation
    std::chrono::seconds tolerance{300};
    std::string path = "/stripe/webhook";
    std::size_t max_body_bytes = 1 << 20;
  };
  // Each request: the event type ("" when unreadable) and the result
  // ("applied", "duplicate", "ignored", "bad_signature", "bad_payload",
  // "error"). For metrics and logs; never the payload.
  using Observer = std::function<void(const std::string& event_id, const std::string& type, const std::string& result,
                                      const std::string& detail)>;

  WebhookServer(domain::PaymentService& service, const clock::Clock& clock, Options options, Observer observer);

  // Installs a new list of signing secrets (a rotation, from
  // STRIPE_WEBHOOK_SECRETS_FILE) for the requests that arrive from now on.
  // Throws std::invalid_argument on an empty list, keeping the old one.
  void ReplaceSecrets(std::vector<std::string> secrets);

  // Binds host:port (0 picks one); returns the port. Throws when it cannot.
  int Bind(const std::string& host, int port);
  // Serves until stop is requested.
  void Run(std::stop_token stop);

 private:
  void Handle(const httplib::Request& req, httplib::Response& res);

  domain::PaymentService& service_;
  const clock::Clock& clock_;
  std::shared_ptr<const std::vector<std::string>> Secrets() const;

  Options options_;  // options_.secrets: only the first list, see secrets_
  mutable std::mutex secrets_mu_;
  std::shared_ptr<const std::vector<std::string>> secrets_;  // replaced whole, never changed in place
  Observer observer_;
  httplib::Server server_;
};

}  // namespace billing::payments::api
