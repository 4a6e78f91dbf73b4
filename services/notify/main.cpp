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
#include "validation/validation.h"

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
       .default_value = "billing@example.com"},
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
      {.name = "DISPATCH_CONCURRENCY", .help = "Delivery threads per process.",
       .default_value = "2", .kind = Kind::kInt, .min = 1, .max = 64},
      {.name = "DISPATCH_POLL_INTERVAL_MS", .help = "How often an idle dispatcher looks for work.",
       .default_value = "250", .kind = Kind::kInt, .min = 10, .max = 60000},
      {.name = "SERVICE_CALLERS", .help = "With CALLER_TOKENS: who may send notifications (the invoice service).",
       .default_value = "invoice"},
      {.name = "ADMIN_CALLERS", .help = "With CALLER_TOKENS: who may also look notifications up (support tools).",
       .default_value = "admin"},
  };
}

// True when a URL carries credentials (scheme://user:pass@host): they would
// be logged with the effective configuration. They belong in the _USERNAME /
// _PASSWORD / _TOKEN options, which are redacted.
bool HasUserInfo(const std::string& url) {
  const auto scheme = url.find("://");
  const std::size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const auto end = url.find_first_of("/?#", start);
  const auto at = url.find('@', start);
  return at != std::string::npos && (end == std::string::npos || at < end);
}

void Validate(const billing::config::Config& cfg) {
  using billing::config::ConfigError;
  const std::string smtp_url = cfg.Get("SMTP_URL");
  if (cfg.Get("EMAIL_TRANSPORT") == "smtp" && smtp_url.empty()) {
    throw ConfigError("SMTP_URL (--smtp-url) is required with EMAIL_TRANSPORT=smtp");
  }
  if (!smtp_url.empty() && smtp_url.rfind("smtp://", 0) != 0 && smtp_url.rfind("smtps://", 0) != 0) {
    throw ConfigError("SMTP_URL (--smtp-url) must start with smtp:// or smtps://");
  }
  if (HasUserInfo(smtp_url)) {
    throw ConfigError("SMTP_URL (--smtp-url) must not carry credentials; use SMTP_USERNAME and SMTP_PASSWORD");
  }
  // AUTH PLAIN/LOGIN over a connection that may not be encrypted would give
  // the password to anyone on the path (or to a STARTTLS-stripping proxy).
  if (!cfg.Get("SMTP_USERNAME").empty() && cfg.Get("SMTP_STARTTLS") != "required" &&
      smtp_url.rfind("smtps://", 0) != 0) {
    throw ConfigError("SMTP_USERNAME needs SMTP_STARTTLS=required or an smtps:// SMTP_URL (no AUTH in cleartext)");
  }
  if (!billing::validation::IsValidEmail(cfg.Get("EMAIL_FROM_ADDRESS"))) {
    throw ConfigError("EMAIL_FROM_ADDRESS (--email-from-address) must be a plain address such as billing@example.com");
  }
  if (cfg.Get("SMS_TRANSPORT") == "twilio" && (!cfg.IsSet("SMS_ACCOUNT_SID") || !cfg.IsSet("SMS_AUTH_TOKEN"))) {
    throw ConfigError("SMS_ACCOUNT_SID and SMS_AUTH_TOKEN are required with SMS_TRANSPORT=twilio");
  }
  const std::string sms_base = cfg.Get("SMS_API_BASE");
  if (sms_base.rfind("https://", 0) != 0 && sms_base.rfind("http://", 0) != 0) {
    throw ConfigError("SMS_API_BASE (--sms-api-base) must be an http(s) URL");
  }
  if (HasUserInfo(sms_base)) {
    throw ConfigError("SMS_API_BASE (--sms-api-base) must not carry credentials; use SMS_ACCOUNT_SID and SMS_AUTH_TOKEN");
  }
  if (!billing::validation::IsE164(cfg.Get("SMS_FROM_NUMBER"))) {
    throw ConfigError("SMS_FROM_NUMBER (--sms-from-number) must be an E.164 number such as +15005550006");
  }
  if (!billing::notify::clients::LibPhoneNumberNormalizer::IsKnownRegion(cfg.Get("DEFAULT_REGION"))) {
    throw ConfigError("DEFAULT_REGION (--default-region) must be a region code such as US or GB");
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
      .access = {{"/billing.notify.v1.NotifyService/GetNotification", {"SERVICE_CALLERS", "ADMIN_CALLERS"}},
                 {"/billing.notify.v1.NotifyService/ListNotifications", {"SERVICE_CALLERS", "ADMIN_CALLERS"}},
                 {"/billing.notify.v1.NotifyService/*", {"SERVICE_CALLERS"}}},
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
    // A claim must outlive the slowest send (curl enforces the timeouts), or
    // a second dispatcher could take a message that is still going out.
    const auto lease = std::chrono::milliseconds(std::max(cfg.GetInt("SMTP_TIMEOUT_MS"), cfg.GetInt("SMS_TIMEOUT_MS"))) +
                       std::chrono::seconds(30);
    dispatcher = std::make_unique<notify::domain::Dispatcher>(
        *store, *email, *sms, env.clock, *id_generator,
        notify::domain::Dispatcher::Options{
            .max_attempts = static_cast<int>(cfg.GetInt("DELIVERY_MAX_ATTEMPTS")),
            .first_backoff = std::chrono::milliseconds(cfg.GetInt("DELIVERY_RETRY_BASE_MS")),
            .max_backoff = std::chrono::milliseconds(cfg.GetInt("DELIVERY_RETRY_MAX_MS")),
            .lease = lease});
    registrar.AddService<notify::v1::NotifyService>(std::make_unique<notify::api::NotifyApi>(*service));

    auto& registry = env.metrics.registry();
    auto& outcomes = prometheus::BuildCounter()
                         .Name("notifications_total")
                         .Help("Delivery attempts by channel and outcome (sent, failed, retry)")
                         .Register(registry);
    // Shared with the worker, which outlives this function.
    auto depth = std::make_shared<metrics::ThrottledGauge>(
        prometheus::BuildGauge()
            .Name("notify_queue_depth")
            .Help("Notifications waiting for delivery")
            .Register(registry)
            .Add({}),
        std::chrono::seconds(1), [&] { return store->QueueDepth(); });
    auto& latency = prometheus::BuildHistogram()
                        .Name("notify_delivery_seconds")
                        .Help("From acceptance to delivery, for sent notifications")
                        .Register(registry);
    const auto interval = std::chrono::milliseconds(cfg.GetInt("DISPATCH_POLL_INTERVAL_MS"));
    for (int i = 0; i < cfg.GetInt("DISPATCH_CONCURRENCY"); ++i) {
      const std::string name = "dispatcher-" + std::to_string(i);
      registrar.AddWorker(name, [&, interval, name, i, depth](std::stop_token stop) {
        server::RunPeriodically(stop, interval, name, [&, i] {
          if (i == 0) depth->MaybeRefresh();
          const auto report = dispatcher->DeliverOne();
          if (!report) return false;
          const std::string channel(notify::domain::Name(report->channel));
          const char* outcome = report->status == notify::domain::Status::kSent     ? "sent"
                                : report->status == notify::domain::Status::kFailed ? "failed"
                                                                                    : "retry";
          outcomes.Add({{"channel", channel}, {"outcome", outcome}}).Increment();
          if (report->status == notify::domain::Status::kSent) {
            latency.Add({{"channel", channel}}, metrics::Metrics::LatencyBuckets())
                .Observe(static_cast<double>(report->since_created.count()) / 1e6);
          }
          // We leave the recipient out (the id finds it); a provider's error
          // text may still quote the number it refused.
          const logging::Fields fields = {{"notification_id", report->notification_id},
                                          {"channel", channel},
                                          {"attempt", report->attempt_number},
                                          {"outcome", std::string(notify::domain::Name(report->outcome))},
                                          {"error", report->error}};
          if (report->claim_lost) {
            logging::Error("delivery outlived its claim; another dispatcher took the message over and it may "
                           "have gone out twice (raise the lease: the transports' timeouts)",
                           fields);
          } else if (report->gave_up_unsent) {
            logging::Error("notification failed: earlier claims ended without an outcome (dispatchers died "
                           "mid-send), the last may have been delivered",
                           fields);
          } else if (report->status == notify::domain::Status::kFailed) {
            logging::Warn("notification failed", fields);
          } else if (report->status == notify::domain::Status::kQueued) {
            logging::Warn("delivery attempt failed; will retry", fields);
          }
          return true;
        });
      });
    }
  };
  return server::ServiceMain(spec, argc, argv);
}
