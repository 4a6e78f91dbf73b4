#pragma once

#include <httplib.h>

#include <memory>
#include <string>
#include <vector>

#include "emulator.h"
#include "faults.h"
#include "idempotency.h"
#include "webhooks.h"

namespace billing::stripe_emulator {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 12111;
  // Accepted secret keys; empty accepts any key that starts with sk_test_.
  std::vector<std::string> api_keys;
  std::string default_stripe_version = "2024-06-20";
};

// The HTTP face of the emulator: Stripe's /v1 API (auth, idempotency, fault
// injection, routing) and the /_emulator control endpoints.
class HttpServer {
 public:
  HttpServer(HttpServerOptions options, Emulator& emulator, IdempotencyStore& idempotency, Faults& faults,
             WebhookDispatcher& webhooks);

  // Binds (port 0 picks a free one) and returns the port; throws
  // std::runtime_error when it cannot.
  int Bind();
  // Serves until Stop (blocking).
  void Serve();
  void Stop();

 private:
  void HandleApi(const httplib::Request& req, httplib::Response& res);
  void RegisterControl();
  // Closes the request's connection without a response.
  void DropConnection(const httplib::Request& req);

  HttpServerOptions options_;
  Emulator& emulator_;
  IdempotencyStore& idempotency_;
  Faults& faults_;
  WebhookDispatcher& webhooks_;
  httplib::Server server_;
  int port_ = 0;
};

}  // namespace billing::stripe_emulator
