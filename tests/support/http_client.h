#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

// A small libcurl client for tests that talk HTTP to real servers (the
// Stripe emulator, /metrics, webhook endpoints).
namespace billing::testing {

struct HttpResponse {
  long status = 0;     // 0 when no response arrived
  int curl_code = 0;   // CURLE_OK, or e.g. 52 (empty reply), 28 (timeout)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  double seconds = 0;  // total time

  nlohmann::json Json() const { return nlohmann::json::parse(body); }
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

HttpResponse HttpRequest(const std::string& method, const std::string& url, const std::string& body = "",
                         const std::vector<std::string>& headers = {}, long timeout_ms = 15000);

// application/x-www-form-urlencoded from (key, value) pairs; keys keep
// literal brackets ("metadata[order]").
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace billing::testing
