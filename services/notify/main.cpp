// The notify service: wiring only.
#include <memory>

#include "api/notify_api.h"
#include "notify_migrations/migrations.h"
#include "server/service_main.h"

int main(int argc, char** argv) {
  using namespace billing;
  server::ServiceSpec spec{
      .name = "notify",
      .summary = "Invoice links, receipts, confirmations and reminders by email and SMS.",
      .default_grpc_port = 50053,
      .default_metrics_port = 9463,
      .migrations = &notify::kMigrations,
      .options = {},
      .build = [](server::ServiceEnv&, server::ServiceRegistrar& registrar) {
        registrar.AddService<notify::v1::NotifyService>(std::make_unique<notify::api::NotifyApi>());
      },
  };
  return server::ServiceMain(spec, argc, argv);
}
