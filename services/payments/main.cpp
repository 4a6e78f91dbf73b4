// The payments service: wiring only. Rules in src/domain, SQL in src/storage,
// gRPC and the webhook endpoint in src/api, Stripe and the invoice service in
// src/clients.
#include <curl/curl.h>

#include <algorithm>
#include <memory>

#include "api/payment_api.h"
#include "api/webhook_server.h"
#include "clients/grpc_event_sink.h"
#include "clients/stripe_client.h"
#include "db/pool.h"
#include "domain/payment_service.h"
#include "domain/workers.h"
#include "ids/ids.h"
#include "logging/log.h"
#include "payments_migrations/migrations.h"
#include "server/service_main.h"
#include "server/tls.h"
#include "server/worker.h"
#include "storage/pg_payment_store.h"

namespace {

using billing::config::Kind;
using billing::config::Option;

std::vector<Option> PaymentsOptions() {
  return {
      {.name = "STRIPE_SECRET_KEY", .help = "Stripe secret key (sk_live_... / sk_test_...).", .required = true,
       .secret = true},
      {.name = "STRIPE_API_BASE", .help = "Stripe's API base URL; the emulator's in tests and local runs.",
       .default_value = "https://api.stripe.com"},
      {.name = "STRIPE_API_VERSION", .help = "The Stripe-Version every request pins.", .default_value = "2024-06-20"},
      {.name = "STRIPE_CONNECT_TIMEOUT_MS", .help = "Connect timeout per Stripe request.", .default_value = "3000",
       .kind = Kind::kInt, .min = 100, .max = 60000},
      {.name = "STRIPE_TIMEOUT_MS", .help = "Total timeout per Stripe request attempt.", .default_value = "20000",
       .kind = Kind::kInt, .min = 100, .max = 120000},
      {.name = "STRIPE_MAX_RETRIES", .help = "Retries of a Stripe request (same Idempotency-Key).",
       .default_value = "3", .kind = Kind::kInt, .min = 0, .max = 10},
      {.name = "STRIPE_RETRY_BASE_MS", .help = "First Stripe retry delay; doubles, with jitter.",
       .default_value = "500", .kind = Kind::kInt, .min = 1, .max = 60000},
      {.name = "STRIPE_RETRY_MAX_MS", .help = "Longest delay between Stripe retries.", .default_value = "5000",
       .kind = Kind::kInt, .min = 1, .max = 120000},
      {.name = "STRIPE_WEBHOOK_SECRETS",
       .help = "Webhook signing secrets (whsec_...), comma-separated: several during a rotation.",
       .required = true, .secret = true},
      {.name = "WEBHOOK_LISTEN_ADDRESS", .help = "host:port of the Stripe webhook endpoint (POST /stripe/webhook).",
       .default_value = "0.0.0.0:8462", .kind = Kind::kHostPort},
      {.name = "WEBHOOK_TOLERANCE_S", .help = "Accepted age of a webhook signature.", .default_value = "300",
       .kind = Kind::kInt, .min = 1, .max = 3600},
      {.name = "DEFAULT_RETURN_URL", .help = "Where Stripe sends the customer after a redirect, when a call names none.",
       .required = true},
      {.name = "INVOICE_ADDRESS", .help = "host:port of the invoice service (payment outcomes go there).",
       .default_value = "127.0.0.1:50051", .kind = Kind::kHostPort},
      {.name = "INVOICE_TIMEOUT_MS", .help = "Deadline of each call to the invoice service.", .default_value = "5000",
       .kind = Kind::kInt, .min = 50, .max = 120000},
      {.name = "CLIENT_TLS_CA_FILE", .help = "CA bundle for TLS to other services; empty for plaintext."},
      {.name = "CLIENT_TLS_CERT_FILE", .help = "Client certificate for mTLS to other services."},
      {.name = "CLIENT_TLS_KEY_FILE", .help = "Key of CLIENT_TLS_CERT_FILE (mount it from a Secret)."},
      {.name = "INVOICE_TOKEN", .help = "Bearer token for calls to invoice (its CALLER_TOKENS); empty: none.",
       .secret = true},
      {.name = "SERVICE_CALLERS", .help = "With CALLER_TOKENS: who may call PaymentService (the invoice service).",
       .default_value = "invoice"},
      {.name = "ADMIN_CALLERS",
       .help = "With CALLER_TOKENS: who may also look payments up and refund them (support tools).",
       .default_value = "admin"},
      {.name = "PENDING_GRACE_MS", .help = "Age at which the sweeper resolves a payment whose call was lost.",
       .default_value = "60000", .kind = Kind::kInt, .min = 10, .max = 86400000},
      {.name = "ACTION_TIMEOUT_S", .help = "3-D Secure left unfinished this long is abandoned (canceled).",
       .default_value = "3600", .kind = Kind::kInt, .min = 1, .max = 604800},
      {.name = "PROCESSING_CHECK_MS", .help = "How often PROCESSING payments are looked up at Stripe.",
       .default_value = "600000", .kind = Kind::kInt, .min = 10, .max = 86400000},
      {.name = "SWEEP_INTERVAL_MS", .help = "How often the sweeper looks for work when idle.",
       .default_value = "5000", .kind = Kind::kInt, .min = 10, .max = 3600000},
      {.name = "SWEEP_RETRY_MS", .help = "When the sweeper retries a payment or refund Stripe did not answer for.",
       .default_value = "30000", .kind = Kind::kInt, .min = 10, .max = 3600000},
      {.name = "OUTBOX_POLL_INTERVAL_MS", .help = "How often payment outcomes are looked for when idle.",
       .default_value = "500", .kind = Kind::kInt, .min = 10, .max = 600000},
      {.name = "OUTBOX_RETRY_BASE_MS", .help = "First retry delay of an outcome the invoice service did not take.",
       .default_value = "1000", .kind = Kind::kInt, .min = 10, .max = 3600000},
      {.name = "OUTBOX_RETRY_MAX_MS", .help = "Longest delay between retries of one outcome.",
       .default_value = "300000", .kind = Kind::kInt, .min = 10, .max = 86400000},
      {.name = "IDEMPOTENCY_KEY_TTL_H", .help = "Hours an idempotency key is kept after its last use (at least 24).",
       .default_value = "24", .kind = Kind::kInt, .min = 24, .max = 8760},
      {.name = "KEY_REAP_INTERVAL_MS", .help = "How often expired idempotency keys are deleted.",
       .default_value = "600000", .kind = Kind::kInt, .min = 10, .max = 86400000},
      {.name = "STATS_INTERVAL_MS", .help = "How often the payments_unresolved gauges are refreshed.",
       .default_value = "15000", .kind = Kind::kInt, .min = 10, .max = 3600000},
  };
}

std::vector<std::string> SplitSecrets(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    item.erase(0, item.find_first_not_of(" \t\r\n"));
    item.erase(item.find_last_not_of(" \t\r\n") + 1);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

void Validate(const billing::config::Config& cfg) {
  using billing::config::ConfigError;
  // The secret key travels in every request: plain http only to this
  // machine (the emulator).
  const std::string base = cfg.Get("STRIPE_API_BASE");
  if (base.rfind("https://", 0) != 0 && base.rfind("http://127.0.0.1", 0) != 0 &&
      base.rfind("http://localhost", 0) != 0) {
    throw ConfigError("STRIPE_API_BASE (--stripe-api-base) must be an https URL (http only to localhost)");
  }
  if (SplitSecrets(cfg.Get("STRIPE_WEBHOOK_SECRETS")).empty()) {
    throw ConfigError("STRIPE_WEBHOOK_SECRETS (--stripe-webhook-secrets) must list at least one secret");
  }
  const std::string ret = cfg.Get("DEFAULT_RETURN_URL");
  if (ret.rfind("https://", 0) != 0 && ret.rfind("http://localhost", 0) != 0 && ret.rfind("http://127.0.0.1", 0) != 0) {
    throw ConfigError("DEFAULT_RETURN_URL (--default-return-url) must be an https URL");
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace billing;
  // Before any thread starts (libcurl's global init is not thread-safe).
  curl_global_init(CURL_GLOBAL_DEFAULT);

  std::unique_ptr<payments::storage::PgPaymentStore> store;
  std::unique_ptr<ids::RandomIdGenerator> id_generator;
  std::unique_ptr<payments::clients::StripeClient> stripe;
  std::unique_ptr<payments::domain::PaymentService> service;
  std::unique_ptr<payments::clients::GrpcEventSink> sink;
  std::unique_ptr<payments::domain::Sweeper> sweeper;
  std::unique_ptr<payments::domain::EventDispatcher> dispatcher;
  std::unique_ptr<payments::api::WebhookServer> webhooks;

  server::ServiceSpec spec{
      .name = "payments",
      .summary = "Stripe PaymentIntents, idempotency and Stripe webhooks.",
      .default_grpc_port = 50052,
      .default_metrics_port = 9462,
      .migrations = &payments::kMigrations,
      .options = PaymentsOptions(),
      .build = nullptr,
      .access = {{"/billing.payments.v1.PaymentService/GetPayment", {"SERVICE_CALLERS", "ADMIN_CALLERS"}},
                 {"/billing.payments.v1.PaymentService/ListPayments", {"SERVICE_CALLERS", "ADMIN_CALLERS"}},
                 {"/billing.payments.v1.PaymentService/RefundPayment", {"SERVICE_CALLERS", "ADMIN_CALLERS"}},
                 {"/billing.payments.v1.PaymentService/*", {"SERVICE_CALLERS"}}},
      .outgoing_tokens = {"INVOICE_TOKEN"},
      .validate = Validate,
  };
  spec.build = [&](server::ServiceEnv& env, server::ServiceRegistrar& registrar) {
    const auto& cfg = env.config;
    auto& registry = env.metrics.registry();
    auto& stripe_latency = prometheus::BuildHistogram()
                               .Name("stripe_request_duration_seconds")
                               .Help("Stripe API calls (each attempt) by endpoint and outcome")
                               .Register(registry);
    auto& payments_total = prometheus::BuildCounter()
                               .Name("payments_total")
                               .Help("Payments that reached a final status, by status")
                               .Register(registry);
    auto& auto_refunds = prometheus::BuildCounter()
                             .Name("payments_auto_refunds_total")
                             .Help("Abandoned payments that captured money anyway and were refunded automatically")
                             .Register(registry)
                             .Add({});
    auto& webhook_events = prometheus::BuildCounter()
                               .Name("stripe_webhook_events_total")
                               .Help("Webhook requests by result (applied, duplicate, ignored, bad_signature, ...)")
                               .Register(registry);
    // Shared with the worker, which outlives this function.
    auto backlog = std::make_shared<metrics::ThrottledGauge>(
        prometheus::BuildGauge()
            .Name("payment_events_backlog")
            .Help("Payment outcomes waiting for the invoice service")
            .Register(registry)
            .Add({}),
        std::chrono::seconds(1), [&] { return store->EventBacklog(); });

    store = std::make_unique<payments::storage::PgPaymentStore>(env.pool);
    id_generator = std::make_unique<ids::RandomIdGenerator>();
    const payments::clients::StripeClient::Options stripe_options{
        .api_base = cfg.Get("STRIPE_API_BASE"),
        .secret_key = cfg.Get("STRIPE_SECRET_KEY"),
        .api_version = cfg.Get("STRIPE_API_VERSION"),
        .connect_timeout = std::chrono::milliseconds(cfg.GetInt("STRIPE_CONNECT_TIMEOUT_MS")),
        .timeout = std::chrono::milliseconds(cfg.GetInt("STRIPE_TIMEOUT_MS")),
        .max_retries = static_cast<int>(cfg.GetInt("STRIPE_MAX_RETRIES")),
        .retry_base = std::chrono::milliseconds(cfg.GetInt("STRIPE_RETRY_BASE_MS")),
        .retry_max = std::chrono::milliseconds(cfg.GetInt("STRIPE_RETRY_MAX_MS"))};
    stripe = std::make_unique<payments::clients::StripeClient>(
        stripe_options, [&stripe_latency](const std::string& endpoint, const std::string& outcome, double seconds) {
          stripe_latency.Add({{"endpoint", endpoint}, {"outcome", outcome}}, metrics::Metrics::LatencyBuckets())
              .Observe(seconds);
        });
    // One Stripe request's worst case, retries included; a call makes at
    // most two in a row and the sweeper three, and their locks must outlast
    // them.
    const auto budget = stripe_options.timeout * (stripe_options.max_retries + 1) +
                        stripe_options.retry_max * stripe_options.max_retries;
    payments::domain::PaymentObserver observer;
    observer.finished = [&payments_total](const payments::domain::Payment& p) {
      payments_total.Add({{"status", std::string(payments::domain::Name(p.status))}}).Increment();
    };
    auto& auto_refund_failures = prometheus::BuildCounter()
                                     .Name("payments_auto_refund_failures_total")
                                     .Help("Automatic refunds Stripe did not carry out: money we hold by mistake")
                                     .Register(registry)
                                     .Add({});
    observer.auto_refund_failed = [&auto_refund_failures](const payments::domain::Payment& p,
                                                          const payments::domain::Refund& r) {
      auto_refund_failures.Increment();
      logging::Error("an automatic refund did not go through; the customer still pays for an abandoned payment",
                     {{"payment_id", p.payment_id},
                      {"invoice_id", p.invoice_id},
                      {"refund_id", r.refund_id},
                      {"status", std::string(payments::domain::Name(r.status))},
                      {"reason", r.failure_reason}});
    };
    observer.auto_refund = [&auto_refunds](const payments::domain::Payment& p, const payments::domain::Refund& r) {
      auto_refunds.Increment();
      logging::Error("an abandoned payment captured money; refunding it automatically",
                     {{"payment_id", p.payment_id},
                      {"invoice_id", p.invoice_id},
                      {"payment_intent_id", p.payment_intent_id},
                      {"refund_id", r.refund_id},
                      {"amount", money::Format(r.amount)}});
    };
    service = std::make_unique<payments::domain::PaymentService>(
        *store, *stripe, env.clock, *id_generator,
        payments::domain::PaymentService::Options{
            .default_return_url = cfg.Get("DEFAULT_RETURN_URL"),
            .key_lock = 3 * budget,
            .pending_grace = std::chrono::milliseconds(cfg.GetInt("PENDING_GRACE_MS")),
            .action_timeout = std::chrono::seconds(cfg.GetInt("ACTION_TIMEOUT_S")),
            .processing_check = std::chrono::milliseconds(cfg.GetInt("PROCESSING_CHECK_MS")),
            .sweep_retry = std::chrono::milliseconds(cfg.GetInt("SWEEP_RETRY_MS"))},
        observer);
    registrar.AddService<payments::v1::PaymentService>(std::make_unique<payments::api::PaymentApi>(*service));

    const auto on_error = [](const std::string& what, const std::string& id, const std::exception& e) {
      const logging::Fields fields = {{"what", what}, {"id", id}, {"error", db::DescribeError(e)}};
      if (what.find("refused") != std::string::npos) {
        // Not retried: an outcome the invoice will never record.
        logging::Error("the invoice service refused a payment outcome; it is not retried", fields);
      } else {
        logging::Warn("background work failed; it will be retried", fields);
      }
    };
    sweeper = std::make_unique<payments::domain::Sweeper>(
        *service, env.clock,
        payments::domain::Sweeper::Options{.batch_size = 20, .lease = 4 * budget},
        on_error);
    sink = std::make_unique<payments::clients::GrpcEventSink>(
        server::MakeClientChannel(cfg.Get("INVOICE_ADDRESS"),
                                  {cfg.Get("CLIENT_TLS_CA_FILE"), cfg.Get("CLIENT_TLS_CERT_FILE"),
                                   cfg.Get("CLIENT_TLS_KEY_FILE")},
                                  server::WatchedBearerToken(cfg, env.secrets, "INVOICE_TOKEN")),
        std::chrono::milliseconds(cfg.GetInt("INVOICE_TIMEOUT_MS")));
    dispatcher = std::make_unique<payments::domain::EventDispatcher>(
        *store, *sink, env.clock,
        payments::domain::EventDispatcher::Options{
            .batch_size = 20,
            .lease = std::chrono::milliseconds(cfg.GetInt("INVOICE_TIMEOUT_MS")) * 21,
            .first_backoff = std::chrono::milliseconds(cfg.GetInt("OUTBOX_RETRY_BASE_MS")),
            .max_backoff = std::chrono::milliseconds(cfg.GetInt("OUTBOX_RETRY_MAX_MS"))},
        on_error);

    webhooks = std::make_unique<payments::api::WebhookServer>(
        *service, env.clock,
        payments::api::WebhookServer::Options{
            .secrets = SplitSecrets(cfg.Get("STRIPE_WEBHOOK_SECRETS")),
            .tolerance = std::chrono::seconds(cfg.GetInt("WEBHOOK_TOLERANCE_S"))},
        [&webhook_events](const std::string& event_id, const std::string& type, const std::string& result,
                          const std::string& detail) {
          webhook_events.Add({{"result", result}}).Increment();
          logging::Fields fields = {{"result", result}};
          if (!event_id.empty()) fields["event_id"] = event_id;
          if (!type.empty()) fields["type"] = type;
          if (!detail.empty()) fields["detail"] = detail;
          if (result == "error" || result == "bad_signature" || result == "bad_payload") {
            logging::Warn("stripe webhook refused", fields);
          } else {
            logging::Info("stripe webhook", fields);
          }
        });
    // A rotation needs no restart when the secrets come from a file.
    env.secrets.Watch("STRIPE_WEBHOOK_SECRETS",
                      [&](const std::string& list) { webhooks->ReplaceSecrets(SplitSecrets(list)); });
    const std::string address = cfg.Get("WEBHOOK_LISTEN_ADDRESS");
    const auto colon = address.rfind(':');
    const int port = webhooks->Bind(address.substr(0, colon), std::stoi(address.substr(colon + 1)));
    registrar.ReportPort("webhook", port);
    registrar.AddWorker("webhook-server", [&](std::stop_token stop) { webhooks->Run(stop); });

    const auto sweep_interval = std::chrono::milliseconds(cfg.GetInt("SWEEP_INTERVAL_MS"));
    registrar.AddWorker("sweeper", [&, sweep_interval](std::stop_token stop) {
      server::RunPeriodically(stop, sweep_interval, "sweeper", [&, stop] { return sweeper->SweepOnce(stop) > 0; });
    });
    const auto poll = std::chrono::milliseconds(cfg.GetInt("OUTBOX_POLL_INTERVAL_MS"));
    registrar.AddWorker("event-dispatcher", [&, poll, backlog](std::stop_token stop) {
      server::RunPeriodically(stop, poll, "event-dispatcher", [&, stop] {
        const int delivered = dispatcher->DispatchOnce(stop);
        backlog->MaybeRefresh();
        return delivered > 0;
      });
    });
    // Payments not final yet: a PENDING one older than PENDING_GRACE_MS plus a
    // few sweeps means the sweeper cannot resolve it (Stripe unreachable, a
    // bug); the runbook's "stale payments" alert reads these.
    auto& unresolved = prometheus::BuildGauge()
                           .Name("payments_unresolved")
                           .Help("Payments not yet final, by status")
                           .Register(registry);
    auto& unresolved_age = prometheus::BuildGauge()
                               .Name("payments_unresolved_oldest_age_seconds")
                               .Help("Age of the oldest payment not yet final, by status (0: none)")
                               .Register(registry);
    const auto stats_interval = std::chrono::milliseconds(cfg.GetInt("STATS_INTERVAL_MS"));
    registrar.AddWorker("stats", [&, stats_interval](std::stop_token stop) {
      server::RunPeriodically(stop, stats_interval, "stats", [&] {
        std::map<payments::domain::PaymentStatus, payments::domain::PaymentStore::Unresolved> by_status;
        for (const auto& u : store->UnresolvedPayments()) by_status[u.status] = u;
        for (const auto status : {payments::domain::PaymentStatus::kPending,
                                  payments::domain::PaymentStatus::kRequiresAction,
                                  payments::domain::PaymentStatus::kProcessing}) {
          const std::map<std::string, std::string> labels = {{"status", std::string(payments::domain::Name(status))}};
          const auto it = by_status.find(status);
          unresolved.Add(labels).Set(it == by_status.end() ? 0.0 : static_cast<double>(it->second.count));
          unresolved_age.Add(labels).Set(
              it == by_status.end()
                  ? 0.0
                  : std::chrono::duration<double>(env.clock.Now() - it->second.oldest_created).count());
        }
        return false;
      });
    });
    const auto ttl = std::chrono::hours(cfg.GetInt("IDEMPOTENCY_KEY_TTL_H"));
    const auto reap_interval = std::chrono::milliseconds(cfg.GetInt("KEY_REAP_INTERVAL_MS"));
    registrar.AddWorker("key-reaper", [&, ttl, reap_interval](std::stop_token stop) {
      server::RunPeriodically(stop, reap_interval, "key-reaper", [&] {
        const int reaped = store->ReapKeys(env.clock.Now() - ttl, 500);
        if (reaped > 0) logging::Info("reaped idempotency keys", {{"count", reaped}});
        return reaped == 500;
      });
    });
  };
  return server::ServiceMain(spec, argc, argv);
}
