// The invoice service: wiring only. The rules are in src/domain, the SQL in
// src/storage, the gRPC mapping in src/api, other services in src/clients.
#include <memory>

#include "api/invoice_api.h"
#include "clients/grpc_notifier.h"
#include "clients/grpc_payments.h"
#include "domain/invoice_manager.h"
#include "domain/outbox_dispatcher.h"
#include "domain/pay_flow.h"
#include "ids/ids.h"
#include "invoice_migrations/migrations.h"
#include "logging/log.h"
#include "server/service_main.h"
#include "server/tls.h"
#include "server/worker.h"
#include "storage/pg_invoice_store.h"

namespace {

using billing::config::Kind;

constexpr int kOutboxBatch = 10;

std::vector<billing::config::Option> InvoiceOptions() {
  return {
      {.name = "PAY_LINK_BASE_URL", .help = "Base of payment links; an invoice's link is <base>/<token>.",
       .required = true},
      {.name = "BUSINESS_NAME", .help = "The business's name, shown as the sender of notifications.",
       .required = true},
      {.name = "NOTIFY_ADDRESS", .help = "host:port of the notify service.", .default_value = "127.0.0.1:50053",
       .kind = Kind::kHostPort},
      {.name = "NOTIFY_TIMEOUT_MS", .help = "Deadline of each call to notify.", .default_value = "5000",
       .kind = Kind::kInt, .min = 50, .max = 120000},
      {.name = "CLIENT_TLS_CA_FILE", .help = "CA bundle for TLS to other services; empty for plaintext."},
      {.name = "CLIENT_TLS_CERT_FILE", .help = "Client certificate for mTLS to other services."},
      {.name = "CLIENT_TLS_KEY_FILE", .help = "Key of CLIENT_TLS_CERT_FILE (mount it from a Secret)."},
      {.name = "NOTIFY_TOKEN", .help = "Bearer token for calls to notify (its CALLER_TOKENS); empty: none.",
       .secret = true},
      {.name = "PAYMENTS_TOKEN", .help = "Bearer token for calls to payments (its CALLER_TOKENS); empty: none.",
       .secret = true},
      {.name = "PUBLIC_CALLERS",
       .help = "With CALLER_TOKENS: who may call the payment page's RPCs (GetInvoice, PayInvoice).",
       .default_value = "payment-page"},
      {.name = "ADMIN_CALLERS",
       .help = "With CALLER_TOKENS: who may call the rest of InvoiceService (bookings, invoices, history).",
       .default_value = "booking"},
      {.name = "EVENT_CALLERS", .help = "With CALLER_TOKENS: who may call PaymentEventService.",
       .default_value = "payments"},
      {.name = "OUTBOX_POLL_INTERVAL_MS", .help = "How often the outbox dispatcher looks for work when idle.",
       .default_value = "500", .kind = Kind::kInt, .min = 10, .max = 600000},
      {.name = "OUTBOX_SYNC_INTERVAL_MS", .help = "How often an accepted notification's delivery state is checked.",
       .default_value = "5000", .kind = Kind::kInt, .min = 10, .max = 3600000},
      {.name = "DUE_SWEEP_INTERVAL_MS", .help = "How often past-due invoices are expired.",
       .default_value = "30000", .kind = Kind::kInt, .min = 10, .max = 86400000},
      {.name = "OUTBOX_RETRY_BASE_MS", .help = "First retry delay of a notification notify did not take; doubles.",
       .default_value = "1000", .kind = Kind::kInt, .min = 10, .max = 3600000},
      {.name = "OUTBOX_RETRY_MAX_MS", .help = "Longest delay between retries of one notification.",
       .default_value = "300000", .kind = Kind::kInt, .min = 10, .max = 86400000},
      {.name = "PAYMENTS_ADDRESS", .help = "host:port of the payments service.", .default_value = "127.0.0.1:50052",
       .kind = Kind::kHostPort},
      {.name = "PAYMENTS_TIMEOUT_MS", .help = "Deadline of each call to payments (a payment's Stripe calls included).",
       .default_value = "60000", .kind = Kind::kInt, .min = 50, .max = 600000},
      {.name = "PAY_STARTED_GRACE_MS",
       .help = "A pay attempt younger than this is a call in flight; older ones are looked up at payments.",
       .default_value = "30000", .kind = Kind::kInt, .min = 10, .max = 3600000},
      {.name = "PAY_CHECK_INTERVAL_MS", .help = "How often pay attempts in progress are looked up at payments.",
       .default_value = "60000", .kind = Kind::kInt, .min = 10, .max = 86400000},
      {.name = "PAY_LOST_AFTER_MS", .help = "A pay attempt payments never heard of, this old, is FAILED.",
       .default_value = "600000", .kind = Kind::kInt, .min = 10, .max = 86400000},
      {.name = "PAY_ABANDON_AFTER_MS",
       .help = "A 3-D Secure prompt open this long is canceled when the customer pays again.",
       .default_value = "900000", .kind = Kind::kInt, .min = 10, .max = 86400000},
      {.name = "PAYMENT_SYNC_INTERVAL_MS", .help = "How often the pay-attempt and payment-action workers look for work.",
       .default_value = "1000", .kind = Kind::kInt, .min = 10, .max = 3600000},
      {.name = "PAYMENT_ACTION_RETRY_BASE_MS", .help = "First retry delay of a cancel/refund call payments did not take.",
       .default_value = "1000", .kind = Kind::kInt, .min = 10, .max = 3600000},
      {.name = "PAYMENT_ACTION_RETRY_MAX_MS", .help = "Longest delay between those retries.",
       .default_value = "300000", .kind = Kind::kInt, .min = 10, .max = 86400000},
  };
}

}  // namespace

int main(int argc, char** argv) {
  using namespace billing;
  // Objects that must outlive the server; built once the pool exists.
  std::unique_ptr<invoice::storage::PgInvoiceStore> store;
  std::unique_ptr<ids::RandomIdGenerator> id_generator;
  std::unique_ptr<invoice::domain::InvoiceManager> manager;
  std::unique_ptr<invoice::clients::GrpcNotifier> notifier;
  std::unique_ptr<invoice::domain::OutboxDispatcher> dispatcher;
  std::unique_ptr<invoice::clients::GrpcPayments> payments;
  std::unique_ptr<invoice::domain::PayFlow> pay;

  server::ServiceSpec spec{
      .name = "invoice",
      .summary = "Bookings' billing mirror and invoices (payment links).",
      .default_grpc_port = 50051,
      .default_metrics_port = 9461,
      .migrations = &invoice::kMigrations,
      .options = InvoiceOptions(),
      .extra_listeners = {{.name = "payment_events",
                           .option = "PAYMENT_EVENTS_LISTEN_ADDRESS",
                           .help = "host:port serving only PaymentEventService (payments' outcome calls), so "
                                   "the network can admit payments alone; empty serves it on the main port."}},
      .build = nullptr,
      .access = {{"/billing.invoice.v1.InvoiceService/PayInvoice", {"PUBLIC_CALLERS"}},
                 // By token from the payment page; by id from the booking side.
                 {"/billing.invoice.v1.InvoiceService/GetInvoice", {"PUBLIC_CALLERS", "ADMIN_CALLERS"}},
                 {"/billing.invoice.v1.InvoiceService/*", {"ADMIN_CALLERS"}},
                 {"/billing.invoice.v1.PaymentEventService/*", {"EVENT_CALLERS"}}},
      .outgoing_tokens = {"NOTIFY_TOKEN", "PAYMENTS_TOKEN"},
  };
  spec.build = [&](server::ServiceEnv& env, server::ServiceRegistrar& registrar) {
    const auto& cfg = env.config;
    store = std::make_unique<invoice::storage::PgInvoiceStore>(env.pool);
    id_generator = std::make_unique<ids::RandomIdGenerator>();
    manager = std::make_unique<invoice::domain::InvoiceManager>(
        *store, env.clock, *id_generator,
        invoice::domain::InvoiceManagerOptions{.pay_link_base_url = cfg.Get("PAY_LINK_BASE_URL"),
                                               .business_name = cfg.Get("BUSINESS_NAME")});
    notifier = std::make_unique<invoice::clients::GrpcNotifier>(
        server::MakeClientChannel(cfg.Get("NOTIFY_ADDRESS"),
                                  {cfg.Get("CLIENT_TLS_CA_FILE"), cfg.Get("CLIENT_TLS_CERT_FILE"),
                                   cfg.Get("CLIENT_TLS_KEY_FILE")},
                                  server::WatchedBearerToken(cfg, env.secrets, "NOTIFY_TOKEN")),
        std::chrono::milliseconds(cfg.GetInt("NOTIFY_TIMEOUT_MS")));
    dispatcher = std::make_unique<invoice::domain::OutboxDispatcher>(
        *store, *notifier, env.clock,
        invoice::domain::OutboxDispatcher::Options{
            .batch_size = kOutboxBatch,
            // The sends of a batch run one after another: the lease covers
            // all of them timing out, plus one.
            .lease = std::chrono::milliseconds((kOutboxBatch + 1) * cfg.GetInt("NOTIFY_TIMEOUT_MS")),
            .first_backoff = std::chrono::milliseconds(cfg.GetInt("OUTBOX_RETRY_BASE_MS")),
            .max_backoff = std::chrono::milliseconds(cfg.GetInt("OUTBOX_RETRY_MAX_MS")),
            .sync_interval = std::chrono::milliseconds(cfg.GetInt("OUTBOX_SYNC_INTERVAL_MS"))});
    payments = std::make_unique<invoice::clients::GrpcPayments>(
        server::MakeClientChannel(cfg.Get("PAYMENTS_ADDRESS"),
                                  {cfg.Get("CLIENT_TLS_CA_FILE"), cfg.Get("CLIENT_TLS_CERT_FILE"),
                                   cfg.Get("CLIENT_TLS_KEY_FILE")},
                                  server::WatchedBearerToken(cfg, env.secrets, "PAYMENTS_TOKEN")),
        std::chrono::milliseconds(cfg.GetInt("PAYMENTS_TIMEOUT_MS")));
    auto& refunded = prometheus::BuildCounter()
                         .Name("invoice_unwanted_payments_total")
                         .Help("Payments that succeeded for an invoice that no longer took them (refunded)")
                         .Register(env.metrics.registry())
                         .Add({});
    invoice::domain::PayFlowObserver pay_observer;
    pay_observer.refunding = [&refunded](const invoice::domain::Invoice& inv, const invoice::domain::PayAttempt& a) {
      refunded.Increment();
      logging::Error("a payment succeeded for an invoice that no longer takes payments; refunding it",
                     {{"invoice_id", inv.invoice_id},
                      {"invoice_status", std::string(invoice::domain::Name(inv.status))},
                      {"attempt_id", a.attempt_id},
                      {"payment_id", a.payment_id},
                      {"payment_intent_id", a.payment_intent_id},
                      {"amount", money::Format(a.amount)}});
    };
    pay_observer.check_failed = [](const invoice::domain::PayAttempt& a, const std::string& error) {
      logging::Warn("a pay attempt could not be looked up at payments; retrying later",
                    {{"attempt_id", a.attempt_id}, {"invoice_id", a.invoice_id}, {"error", error}});
    };
    pay_observer.action_failed = [](const invoice::domain::PaymentAction& action, const std::string& error) {
      logging::Error("the payments service refused a cancel/refund the invoice service owed it",
                     {{"action_id", action.action_id},
                      {"kind", std::string(invoice::domain::Name(action.kind))},
                      {"payment_id", action.payment_id},
                      {"invoice_id", action.invoice_id},
                      {"error", error}});
    };
    pay = std::make_unique<invoice::domain::PayFlow>(
        *store, *manager, *payments, env.clock, *id_generator,
        invoice::domain::PayFlow::Options{
            .started_grace = std::chrono::milliseconds(cfg.GetInt("PAY_STARTED_GRACE_MS")),
            .check_interval = std::chrono::milliseconds(cfg.GetInt("PAY_CHECK_INTERVAL_MS")),
            .lost_after = std::chrono::milliseconds(cfg.GetInt("PAY_LOST_AFTER_MS")),
            .abandon_after = std::chrono::milliseconds(cfg.GetInt("PAY_ABANDON_AFTER_MS")),
            // Twice the longest call to payments, so a live call is never re-run elsewhere.
            .action_lease = 2 * std::chrono::milliseconds(cfg.GetInt("PAYMENTS_TIMEOUT_MS")),
            .action_retry_base = std::chrono::milliseconds(cfg.GetInt("PAYMENT_ACTION_RETRY_BASE_MS")),
            .action_retry_max = std::chrono::milliseconds(cfg.GetInt("PAYMENT_ACTION_RETRY_MAX_MS"))},
        pay_observer);
    registrar.AddService<invoice::v1::InvoiceService>(std::make_unique<invoice::api::InvoiceApi>(*manager, *pay));
    registrar.AddService<invoice::v1::PaymentEventService>(
        std::make_unique<invoice::api::PaymentEventApi>(*pay), "payment_events");
    const auto sync_interval = std::chrono::milliseconds(cfg.GetInt("PAYMENT_SYNC_INTERVAL_MS"));
    registrar.AddWorker("payment-sync", [&, sync_interval](std::stop_token stop) {
      server::RunPeriodically(stop, sync_interval, "payment-sync", [&, stop] {
        const int checked = pay->SyncAttempts(*store, 20, stop);
        const int done = pay->RunPaymentActions(*store, 20, stop);
        return checked + done > 0;
      });
    });

    // Shared with the worker, which outlives this function.
    auto backlog = std::make_shared<metrics::ThrottledGauge>(
        prometheus::BuildGauge()
            .Name("invoice_outbox_backlog")
            .Help("Notifications waiting to be handed to notify")
            .Register(env.metrics.registry())
            .Add({}),
        std::chrono::seconds(1), [&] { return store->Backlog(); });
    auto& expired = prometheus::BuildCounter()
                        .Name("invoices_expired_total")
                        .Help("Open invoices expired by the due-date sweep")
                        .Register(env.metrics.registry())
                        .Add({});
    const auto outbox_interval = std::chrono::milliseconds(cfg.GetInt("OUTBOX_POLL_INTERVAL_MS"));
    registrar.AddWorker("outbox-dispatcher", [&, outbox_interval, backlog](std::stop_token stop) {
      server::RunPeriodically(stop, outbox_interval, "outbox-dispatcher", [&, stop] {
        const int sent = dispatcher->DispatchOnce(stop);
        const int synced = dispatcher->SyncOnce();
        backlog->MaybeRefresh();
        // Straight on while either found work: a burst of deliveries to
        // record must not drain at one batch per poll interval.
        return sent > 0 || synced > 0;
      });
    });
    const auto sweep_interval = std::chrono::milliseconds(cfg.GetInt("DUE_SWEEP_INTERVAL_MS"));
    registrar.AddWorker("due-date-sweeper", [&, sweep_interval](std::stop_token stop) {
      server::RunPeriodically(stop, sweep_interval, "due-date-sweeper", [&] {
        constexpr int kBatch = 100;
        const auto done = manager->ExpireDueInvoices(kBatch);
        for (const auto& inv : done) {
          logging::Info("invoice expired", {{"invoice_id", inv.invoice_id}, {"booking_id", inv.booking_id}});
        }
        expired.Increment(static_cast<double>(done.size()));
        return done.size() == kBatch;
      });
    });
  };
  return server::ServiceMain(spec, argc, argv);
}
