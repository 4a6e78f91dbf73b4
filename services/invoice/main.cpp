// The invoice service: wiring only. The rules are in src/domain, the SQL in
// src/storage, the gRPC mapping in src/api.
#include <memory>

#include "api/invoice_api.h"
#include "domain/invoice_manager.h"
#include "ids/ids.h"
#include "invoice_migrations/migrations.h"
#include "server/service_main.h"
#include "storage/pg_invoice_store.h"

int main(int argc, char** argv) {
  using namespace billing;
  server::ServiceSpec spec{
      .name = "invoice",
      .summary = "Bookings' billing mirror and invoices (payment links).",
      .default_grpc_port = 50051,
      .default_metrics_port = 9461,
      .migrations = &invoice::kMigrations,
      .options = {{.name = "PAY_LINK_BASE_URL",
                   .help = "Base of payment links; an invoice's link is <base>/<token>.",
                   .required = true}},
      .build = nullptr,
  };
  // Objects that must outlive the server; built once the pool exists.
  std::unique_ptr<invoice::storage::PgInvoiceStore> store;
  std::unique_ptr<ids::RandomIdGenerator> id_generator;
  std::unique_ptr<invoice::domain::InvoiceManager> manager;
  spec.build = [&](server::ServiceEnv& env, server::ServiceRegistrar& registrar) {
    store = std::make_unique<invoice::storage::PgInvoiceStore>(env.pool);
    id_generator = std::make_unique<ids::RandomIdGenerator>();
    manager = std::make_unique<invoice::domain::InvoiceManager>(
        *store, env.clock, *id_generator,
        invoice::domain::InvoiceManagerOptions{.pay_link_base_url = env.config.Get("PAY_LINK_BASE_URL")});
    registrar.AddService<invoice::v1::InvoiceService>(std::make_unique<invoice::api::InvoiceApi>(*manager));
    registrar.AddService<invoice::v1::PaymentEventService>(std::make_unique<invoice::api::PaymentEventApi>());
  };
  return server::ServiceMain(spec, argc, argv);
}
