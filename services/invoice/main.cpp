// The invoice service: wiring only. The rules are in src/domain, the SQL in
// src/storage, the gRPC mapping in src/api, other services in src/clients.
#include <memory>

#include "api/invoice_api.h"
#include "clients/grpc_notifier.h"
#include "domain/invoice_manager.h"
#include "domain/outbox_dispatcher.h"
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

  server::ServiceSpec spec{
      .name = "invoice",
      .summary = "Bookings' billing mirror and invoices (payment links).",
      .default_grpc_port = 50051,
      .default_metrics_port = 9461,
      .migrations = &invoice::kMigrations,
      .options = InvoiceOptions(),
      .build = nullptr,
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
        server::MakeClientChannel(cfg.Get("NOTIFY_ADDRESS"), {cfg.Get("CLIENT_TLS_CA_FILE"),
                                                              cfg.Get("CLIENT_TLS_CERT_FILE"),
                                                              cfg.Get("CLIENT_TLS_KEY_FILE")}),
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
    registrar.AddService<invoice::v1::InvoiceService>(std::make_unique<invoice::api::InvoiceApi>(*manager));
    registrar.AddService<invoice::v1::PaymentEventService>(std::make_unique<invoice::api::PaymentEventApi>());

    auto& backlog = prometheus::BuildGauge()
                        .Name("invoice_outbox_backlog")
                        .Help("Notifications waiting to be handed to notify")
                        .Register(env.metrics.registry())
                        .Add({});
    auto& expired = prometheus::BuildCounter()
                        .Name("invoices_expired_total")
                        .Help("Open invoices expired by the due-date sweep")
                        .Register(env.metrics.registry())
                        .Add({});
    const auto outbox_interval = std::chrono::milliseconds(cfg.GetInt("OUTBOX_POLL_INTERVAL_MS"));
    registrar.AddWorker("outbox-dispatcher", [&, outbox_interval](std::stop_token stop) {
      server::RunPeriodically(stop, outbox_interval, "outbox-dispatcher", [&, stop] {
        const int sent = dispatcher->DispatchOnce(stop);
        dispatcher->SyncOnce();
        backlog.Set(static_cast<double>(store->Backlog()));
        return sent > 0;
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
