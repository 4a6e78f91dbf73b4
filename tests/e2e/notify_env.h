#pragma once

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include <grpcpp/client_context.h>

#include "billing/notify/v1/notify_service.grpc.pb.h"
#include "support/process.h"

namespace billing::testing {

// The environment a notify binary needs in e2e tests: fast polling and
// short retries, SMTP to `smtp_url` (file transport when empty) and SMS to a
// Twilio-compatible `sms_base` (file transport when empty).
inline std::map<std::string, std::string> NotifyEnv(const std::string& database_url, const std::string& smtp_url,
                                                    const std::string& sms_base,
                                                    std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> env = {
      {"DATABASE_URL", database_url},
      {"EMAIL_FROM_ADDRESS", "billing@sunsetkayaks.example"},
      {"DEFAULT_REGION", "US"},
      {"DISPATCH_POLL_INTERVAL_MS", "20"},
      {"DELIVERY_RETRY_BASE_MS", "100"},
      {"DELIVERY_RETRY_MAX_MS", "300"},
      {"DELIVERY_MAX_ATTEMPTS", "3"},
      {"SMTP_TIMEOUT_MS", "5000"},
      {"SMS_TIMEOUT_MS", "5000"},
      {"FILE_OUTBOX_DIR", MakeTempDir("notify-outbox")},
  };
  if (!smtp_url.empty()) {
    env["EMAIL_TRANSPORT"] = "smtp";
    env["SMTP_URL"] = smtp_url;
    env["SMTP_STARTTLS"] = "none";
  }
  if (!sms_base.empty()) {
    env["SMS_TRANSPORT"] = "twilio";
    env["SMS_API_BASE"] = sms_base;
    env["SMS_ACCOUNT_SID"] = "AC0123456789";
    env["SMS_AUTH_TOKEN"] = "sms-token-Secret-7c1f";
    env["SMS_FROM_NUMBER"] = "+15005550006";
  }
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

// Polls GetNotification until its status is `want` (or terminal when want
// is UNSPECIFIED); returns the last one seen.
inline billing::notify::v1::Notification WaitForNotification(
    billing::notify::v1::NotifyService::Stub& stub, const std::string& id,
    billing::notify::v1::NotificationStatus want, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  namespace v1 = billing::notify::v1;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  v1::Notification last;
  while (std::chrono::steady_clock::now() < deadline) {
    grpc::ClientContext ctx;
    v1::GetNotificationRequest req;
    req.set_notification_id(id);
    v1::GetNotificationResponse resp;
    if (stub.GetNotification(&ctx, req, &resp).ok()) {
      last = resp.notification();
      const bool terminal =
          last.status() == v1::NOTIFICATION_STATUS_SENT || last.status() == v1::NOTIFICATION_STATUS_FAILED;
      if (last.status() == want || (want == v1::NOTIFICATION_STATUS_UNSPECIFIED && terminal)) return last;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return last;
}

}  // namespace billing::testing
