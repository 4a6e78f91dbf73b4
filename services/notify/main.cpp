// The notify service: wiring only. Rules in src/domain, SQL in src/storage,
// gRPC mapping in src/api, templates and transports in src/clients.
#include <curl/curl.h>

#include <memory>

#include "api/notify_api.h"
#include "clients/phone_normalizer.h"
#include "clients/template_renderer.h"
#include "clients/transports.h"
#include "domain/dispatcher.h"
#include "domain/notification_service.h"
#include "ids/ids.h"
#include "logging/log.h"
#include "notify_migrations/migrations.h"
#include "server/service_main.h"
#include "server/worker.h"
#include "storage/pg_notification_store.h"

namespace {

using billing::config::Kind;
using billing::config::Option;

std::vector<Option> NotifyOptions() {
  return {
      {.name = "TEMPLATE_DIR", .help = "Folder of the Mustache templates (services/notify/templates).",
       .default_value = BILLING_NOTIFY_TEMPLATE_DIR},
      {.name = "DEFAULT_REGION", .help = "Region (ISO 3166 alpha-2) for phone numbers given without +country.",
       .default_value = "US"},
      {.name = "EMAIL_TRANSPORT", .help = "How email leaves: smtp, or file (one .eml per message in FILE_OUTBOX_DIR).",
       .default_value = "file", .kind = Kind::kChoice, .choices = {"file", "smtp"}},
      {.name = "SMS_TRANSPORT", .help = "How SMS leaves: twilio (a Twilio-compatible API), or file.",
       .default_value = "file", .kind = Kind::kChoice, .choices = {"file", "twilio"}},
      {.name = "FILE_OUTBOX_DIR", .help = "Folder the file transport writes into.", .default_value = "notify-outbox"},
      {.name = "EMAIL_FROM_ADDRESS", .help = "Envelope and From address of every email.",
       .default_value = "billing@localhost"},
      {.name = "SMTP_URL", .help = "smtp://host:port (or smtps://) of the mail relay; required with EMAIL_TRANSPORT=smtp."},
      {.name = "SMTP_STARTTLS", .help = "STARTTLS: none, try (if offered) or required.", .default_value = "try",
       .kind = Kind::kChoice, .choices = {"none", "try", "required"}},
      {.name = "SMTP_CA_FILE", .help = "PEM file of the CA that signs the relay's certificate; empty = the system's."},
      {.name = "SMTP_USERNAME", .help = "SMTP AUTH user; empty for no AUTH."},
      {.name = "SMTP_PASSWORD", .help = "SMTP AUTH password.", .secret = true},
      {.name = "SMTP_TIMEOUT_MS", .help = "Limit per SMTP delivery.", .default_value = "30000", .kind = Kind::kInt,
       .min = 100, .max = 600000},
      {.name = "SMS_API_BASE", .help = "Base URL of the Twilio-compatible API.", .default_value = "https://api.twilio.com"},
      {.name = "SMS_ACCOUNT_SID", .help = "Account SID (the Basic auth user)."},
      {.name = "SMS_AUTH_TOKEN", .help = "Auth token (the Basic auth password).", .secret = true},
      {.name = "SMS_FROM_NUMBER", .help = "The sending number, E.164.", .default_value = "+15005550006"},
      {.name = "SMS_TIMEOUT_MS", .help = "Limit per SMS API call.", .default_value = "15000", .kind = Kind::kInt,
       .min = 100, .max = 600000},
      {.name = "DELIVERY_MAX_ATTEMPTS", .help = "Attempts before a message that keeps failing transiently is FAILED.",
       .default_value = "8", .kind = Kind::kInt, .min = 1, .max = 100},
      {.name = "DELIVERY_RETRY_BASE_MS", .help = "First retry delay; doubles per attempt.", .default_value = "1000",
       .kind = Kind::kInt, .min = 10, .max = 3600000},
      {.name = "DELIVERY_RETRY_MAX_MS", .help = "Longest delay between attempts.", .default_value = "600000",
       .kind = Kind::kInt, .min = 10, .max = 86400000},
      {.name = "DISPATCH_CONCURRENCY", .help = "Delivery threads per process (each holds a database connection).",
       .default_value = "2", .kind = Kind::kInt, .min = 1, .max = 64},
      {.name = "DISPATCH_POLL_INTERVAL_MS", .help = "How often an idle dispatcher looks for work.",
       .default_value = "250", .kind = Kind::kInt, .min = 10, .max = 60000},
  };
}

void Validate(const billing::config::Config& cfg) {
  using billing::config::ConfigError;
  if (cfg.Get("EMAIL_TRANSPORT") == "smtp" && !cfg.IsSet("SMTP_URL")) {
    throw ConfigError("SMTP_URL (--smtp-url) is required with EMAIL_TRANSPORT=smtp");
  }
  if (cfg.Get("SMS_TRANSPORT") == "twilio" && (!cfg.IsSet("SMS_ACCOUNT_SID") || !cfg.IsSet("SMS_AUTH_TOKEN"))) {
    throw ConfigError("SMS_ACCOUNT_SID and SMS_AUTH_TOKEN are required with SMS_TRANSPORT=twilio");
  }
  if (!billing::notify::clients::LibPhoneNumberNormalizer::IsKnownRegion(cfg.Get("DEFAULT_REGION"))) {
    throw ConfigError("DEFAULT_REGION (--default-region) must be a region code such as US or GB");
  }
  if (cfg.GetInt("DISPATCH_CONCURRENCY") >= cfg.GetInt("DB_POOL_SIZE")) {
    throw ConfigError("DISPATCH_CONCURRENCY must be below DB_POOL_SIZE (each dispatcher holds a connection)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace billing;
  // Before any thread starts (TOOLCHAIN: libcurl's global init is not
  // thread-safe).
  curl_global_init(CURL_GLOBAL_DEFAULT);

  std::unique_ptr<notify::storage::PgNotificationStore> store;
  std::unique_ptr<notify::clients::TemplateRenderer> renderer;
  std::unique_ptr<notify::clients::LibPhoneNumberNormalizer> phones;
  std::unique_ptr<ids::RandomIdGenerator> id_generator;
  std::unique_ptr<notify::domain::NotificationService> service;
  std::unique_ptr<notify::domain::Transport> email;
  std::unique_ptr<notify::domain::Transport> sms;
  std::unique_ptr<notify::domain::Dispatcher> dispatcher;

  server::ServiceSpec spec{
      .name = "notify",
      .summary = "Invoice links, receipts, confirmations and reminders by email and SMS.",
      .default_grpc_port = 50053,
      .default_metrics_port = 9463,
      .migrations = &notify::kMigrations,
      .options = NotifyOptions(),
      .build = nullptr,
      .validate = Validate,
  };
  spec.build = [&](server::ServiceEnv& env, server::ServiceRegistrar& registrar) {
    const auto& cfg = env.config;
    store = std::make_unique<notify::storage::PgNotificationStore>(env.pool);
    renderer = std::make_unique<notify::clients::TemplateRenderer>(cfg.Get("TEMPLATE_DIR"));
    phones = std::make_unique<notify::clients::LibPhoneNumberNormalizer>(cfg.Get("DEFAULT_REGION"));
    id_generator = std::make_unique<ids::RandomIdGenerator>();
    service = std::make_unique<notify::domain::NotificationService>(*store, *renderer, *phones, env.clock,
                                                                     *id_generator);
    const std::string from = cfg.Get("EMAIL_FROM_ADDRESS");
    if (cfg.Get("EMAIL_TRANSPORT") == "smtp") {
      email = std::make_unique<notify::clients::SmtpTransport>(notify::clients::SmtpTransport::Options{
          .url = cfg.Get("SMTP_URL"),
          .starttls = cfg.Get("SMTP_STARTTLS"),
          .username = cfg.Get("SMTP_USERNAME"),
          .password = cfg.Get("SMTP_PASSWORD"),
          .from_address = from,
          .timeout = std::chrono::milliseconds(cfg.GetInt("SMTP_TIMEOUT_MS")),
          .ca_file = cfg.Get("SMTP_CA_FILE")});
    } else {
      email = std::make_unique<notify::clients::FileTransport>(cfg.Get("FILE_OUTBOX_DIR"), from,
                                                               cfg.Get("SMS_FROM_NUMBER"));
    }
    if (cfg.Get("SMS_TRANSPORT") == "twilio") {
      sms = std::make_unique<notify::clients::TwilioSmsTransport>(notify::clients::TwilioSmsTransport::Options{
          .api_base = cfg.Get("SMS_API_BASE"),
          .account_sid = cfg.Get("SMS_ACCOUNT_SID"),
          .auth_token = cfg.Get("SMS_AUTH_TOKEN"),
          .from_number = cfg.Get("SMS_FROM_NUMBER"),
          .timeout = std::chrono::milliseconds(cfg.GetInt("SMS_TIMEOUT_MS"))});
    } else {
      sms = std::make_unique<notify::clients::FileTransport>(cfg.Get("FILE_OUTBOX_DIR"), from,
                                                             cfg.Get("SMS_FROM_NUMBER"));
    }
    dispatcher = std::make_unique<notify::domain::Dispatcher>(
        *store, *email, *sms, env.clock,
        notify::domain::Dispatcher::Options{
            .max_attempts = static_cast<int>(cfg.GetInt("DELIVERY_MAX_ATTEMPTS")),
            .first_backoff = std::chrono::milliseconds(cfg.GetInt("DELIVERY_RETRY_BASE_MS")),
            .max_backoff = std::chrono::milliseconds(cfg.GetInt("DELIVERY_RETRY_MAX_MS"))});
    registrar.AddService<notify::v1::NotifyService>(std::make_unique<notify::api::NotifyApi>(*service));

    auto& registry = env.metrics.registry();
    auto& outcomes = prometheus::BuildCounter()
                         .Name("notifications_total")
                         .Help("Delivery attempts by channel and outcome (sent, failed, retry)")
                         .Register(registry);
    auto& depth = prometheus::BuildGauge()
                      .Name("notify_queue_depth")
                      .Help("Notifications waiting for delivery")
                      .Register(registry)
                      .Add({});
    auto& latency = prometheus::BuildHistogram()
                        .Name("notify_delivery_seconds")
                        .Help("From acceptance to delivery, for sent notifications")
                        .Register(registry);
    const auto interval = std::chrono::milliseconds(cfg.GetInt("DISPATCH_POLL_INTERVAL_MS"));
    for (int i = 0; i < cfg.GetInt("DISPATCH_CONCURRENCY"); ++i) {
      const std::string name = "dispatcher-" + std::to_string(i);
      registrar.AddWorker(name, [&, interval, name, i](std::stop_token stop) {
        server::RunPeriodically(stop, interval, name, [&, i] {
          const auto report = dispatcher->DeliverOne();
          if (i == 0) depth.Set(static_cast<double>(store->QueueDepth()));
          if (!report) return false;
          const std::string channel(notify::domain::Name(report->channel));
          const char* outcome = report->status == notify::domain::Status::kSent     ? "sent"
                                : report->status == notify::domain::Status::kFailed ? "failed"
                                                                                    : "retry";
          outcomes.Add({{"channel", channel}, {"outcome", outcome}}).Increment();
          if (report->status != notify::domain::Status::kSent) {
            // We leave the recipient out (the id finds it); a provider's error
            // text may still quote the number it refused.
            logging::Warn(report->status == notify::domain::Status::kFailed ? "notification failed"
                                                                            : "delivery attempt failed; will retry",
                          {{"notification_id", report->notification_id},
                           {"channel", channel},
                           {"attempt", report->attempt_number},
                           {"outcome", std::string(notify::domain::Name(report->outcome))},
                           {"error", report->error}});
          }
          if (report->status == notify::domain::Status::kSent) {
            latency.Add({{"channel", channel}}, metrics::Metrics::LatencyBuckets())
                .Observe(static_cast<double>(report->since_created.count()) / 1e6);
          }
          return true;
        });
      });
    }
  };
  return server::ServiceMain(spec, argc, argv);
}
