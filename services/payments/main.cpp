// The payments service: wiring only.
#include <memory>

#include "api/payment_api.h"
#include "payments_migrations/migrations.h"
#include "server/service_main.h"

int main(int argc, char** argv) {
  using namespace billing;
  server::ServiceSpec spec{
      .name = "payments",
      .summary = "Stripe PaymentIntents, idempotency and Stripe webhooks.",
      .default_grpc_port = 50052,
      .default_metrics_port = 9462,
      .migrations = &payments::kMigrations,
      .options = {},
      .build = [](server::ServiceEnv&, server::ServiceRegistrar& registrar) {
        registrar.AddService<payments::v1::PaymentService>(std::make_unique<payments::api::PaymentApi>());
      },
  };
  return server::ServiceMain(spec, argc, argv);
}
