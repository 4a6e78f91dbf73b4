// A local, stateful stand-in for the parts of Stripe's API the payments
// service uses. Wiring only; see README.md and STRIPE-DIFFS.md.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "config/config.h"
#include "logging/log.h"
#include "src/emulator.h"
#include "src/faults.h"
#include "src/http_server.h"
#include "src/idempotency.h"
#include "src/webhooks.h"

namespace {

using billing::config::Kind;
using billing::config::Option;

std::vector<Option> Options() {
  return {
      {.name = "LISTEN_ADDRESS", .help = "host:port to serve on (port 0 picks a free port and logs it).",
       .default_value = "127.0.0.1:12111", .kind = Kind::kHostPort},
      {.name = "API_KEYS",
       .help = "Comma-separated secret keys to accept; empty accepts any key that starts with sk_test_.",
       .secret = true},
      {.name = "DEFAULT_STRIPE_VERSION", .help = "Stripe-Version when a request sends none.",
       .default_value = "2024-06-20"},
      {.name = "IDEMPOTENCY_TTL_S", .help = "How long idempotency keys are kept (emulator clock).",
       .default_value = "86400", .kind = Kind::kInt, .min = 1, .max = 30 * 86400},
      {.name = "WEBHOOK_MAX_ATTEMPTS", .help = "Delivery attempts per event and endpoint.",
       .default_value = "6", .kind = Kind::kInt, .min = 1, .max = 100},
      {.name = "WEBHOOK_RETRY_BASE_MS", .help = "First retry delay; doubles per attempt.",
       .default_value = "500", .kind = Kind::kInt, .min = 1, .max = 3600000},
      {.name = "WEBHOOK_TIMEOUT_MS", .help = "Connect and read timeout per delivery.",
       .default_value = "5000", .kind = Kind::kInt, .min = 10, .max = 120000},
      {.name = "WEBHOOK_URL",
       .help = "A webhook endpoint registered at start for every event type (a dev cluster's payments "
               "webhook); more can be added under /_emulator."},
      {.name = "WEBHOOK_SECRETS",
       .help = "Comma-separated signing secrets of WEBHOOK_URL (whsec_...); required with it.",
       .secret = true},
      {.name = "PUBLIC_BASE_URL",
       .help = "Base URL for next_action links; default http://<listen address>."},
      {.name = "LOG_LEVEL", .help = "Minimum log level.", .default_value = "info", .kind = Kind::kChoice,
       .choices = {"debug", "info", "warn", "error"}},
      {.name = "PORTS_FILE", .help = "When set, the bound port is written here as JSON (for tests)."},
      {.name = "CHECK_CONFIG", .help = "Validate the configuration, print one line, exit (0 if valid, 2 if not).",
       .default_value = "false", .kind = Kind::kBool},
  };
}

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace billing::stripe_emulator;
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // dropped connections must not kill the process

  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << billing::config::Usage(
          "stripe-emulator",
          "A local, stateful stand-in for Stripe's PaymentIntents, Refunds, ConfirmationTokens, webhooks and "
          "idempotency, with fault injection. Control endpoints live under /_emulator (see README.md).",
          Options());
      return 0;
    }
  }
  billing::config::Config cfg;
  try {
    cfg = billing::config::Parse(Options(), args, [](const char* n) { return std::getenv(n); });
    if (cfg.IsSet("WEBHOOK_URL") != cfg.IsSet("WEBHOOK_SECRETS")) {
      throw billing::config::ConfigError("WEBHOOK_URL and WEBHOOK_SECRETS must be set together");
    }
  } catch (const billing::config::ConfigError& e) {
    std::fprintf(stderr, "stripe-emulator: configuration error: %s\n", e.what());
    return 2;
  }
  if (cfg.GetBool("CHECK_CONFIG")) {
    std::cout << "stripe-emulator: configuration ok\n";
    return 0;
  }
  billing::logging::Init("stripe-emulator", billing::logging::ParseLevel(cfg.Get("LOG_LEVEL")));

  const std::string listen = cfg.Get("LISTEN_ADDRESS");
  const auto colon = listen.rfind(':');
  HttpServerOptions options;
  options.host = listen.substr(0, colon);
  options.port = std::stoi(listen.substr(colon + 1));
  options.api_keys = SplitCommas(cfg.Get("API_KEYS"));
  options.default_stripe_version = cfg.Get("DEFAULT_STRIPE_VERSION");

  Faults faults;
  IdempotencyStore idempotency(cfg.GetInt("IDEMPOTENCY_TTL_S"));
  WebhookDispatcher webhooks({.max_attempts = static_cast<int>(cfg.GetInt("WEBHOOK_MAX_ATTEMPTS")),
                              .retry_base_ms = cfg.GetInt("WEBHOOK_RETRY_BASE_MS"),
                              .retry_max_ms = 60000,
                              .timeout_ms = cfg.GetInt("WEBHOOK_TIMEOUT_MS")},
                             faults);
  Emulator emulator("");
  emulator.SetEventSink([&webhooks](const Event& e, const std::vector<WebhookEndpoint>& endpoints) {
    webhooks.Enqueue(e, endpoints);
  });
  if (cfg.IsSet("WEBHOOK_URL")) {
    const auto endpoint = emulator.AddWebhookEndpoint(cfg.Get("WEBHOOK_URL"), SplitCommas(cfg.Get("WEBHOOK_SECRETS")),
                                                      {"*"});
    billing::logging::Info("webhook endpoint registered",
                           {{"id", endpoint.at("id")}, {"url", cfg.Get("WEBHOOK_URL")}});
  }
  HttpServer server(options, emulator, idempotency, faults, webhooks);
  int port = 0;
  try {
    port = server.Bind();
  } catch (const std::exception& e) {
    billing::logging::Error("fatal start-up error", {{"error", e.what()}});
    return 1;
  }
  emulator.SetPublicBaseUrl(cfg.IsSet("PUBLIC_BASE_URL") ? cfg.Get("PUBLIC_BASE_URL")
                                                         : "http://" + options.host + ":" + std::to_string(port));
  billing::logging::Info("listening", {{"port", port}, {"config", cfg.Redacted()}});
  if (cfg.IsSet("PORTS_FILE")) {
    const std::string tmp = cfg.Get("PORTS_FILE") + ".tmp";
    std::ofstream(tmp) << "{\"http\":" << port << "}\n";
    std::rename(tmp.c_str(), cfg.Get("PORTS_FILE").c_str());
  }
  std::thread serving([&server] { server.Serve(); });

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  billing::logging::Info("stopping", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
  server.Stop();
  serving.join();
  return 0;
}
