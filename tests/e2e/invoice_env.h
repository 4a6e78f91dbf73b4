#pragma once

#include <map>
#include <string>

namespace billing::testing {

// The environment an invoice binary needs in e2e tests.
inline std::map<std::string, std::string> InvoiceEnv(const std::string& database_url, const std::string& notify_address,
                                                     std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> env = {
      {"DATABASE_URL", database_url},
      {"PAY_LINK_BASE_URL", "https://pay.example.com/i"},
      {"BUSINESS_NAME", "Sunset Kayaks"},
      {"NOTIFY_ADDRESS", notify_address},
      {"NOTIFY_TIMEOUT_MS", "1000"},
      {"OUTBOX_POLL_INTERVAL_MS", "50"},
      {"OUTBOX_RETRY_BASE_MS", "100"},
      {"OUTBOX_RETRY_MAX_MS", "400"},
  };
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

}  // namespace billing::testing
