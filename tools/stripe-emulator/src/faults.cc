#include "faults.h"

#include <chrono>
#include <stdexcept>

namespace billing::stripe_emulator {
namespace {

const char* Name(FaultAction a) {
  switch (a) {
    case FaultAction::kLatency: return "latency";
    case FaultAction::kError: return "error";
    case FaultAction::kExecuteThenError: return "execute_then_error";
    case FaultAction::kExecuteThenDrop: return "execute_then_drop";
    case FaultAction::kHang: return "hang";
  }
  return "";
}

const char* Name(WebhookFaultAction a) {
  switch (a) {
    case WebhookFaultAction::kDuplicate: return "duplicate";
    case WebhookFaultAction::kTwin: return "twin";
    case WebhookFaultAction::kReorder: return "reorder";
    case WebhookFaultAction::kDelay: return "delay";
    case WebhookFaultAction::kDrop: return "drop";
    case WebhookFaultAction::kBadSignature: return "bad_signature";
    case WebhookFaultAction::kStaleTimestamp: return "stale_timestamp";
  }
  return "";
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto slash = s.find('/', start);
    out.push_back(s.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

int Remaining(const nlohmann::json& spec) {
  if (spec.value("sticky", false)) return 0;
  const int times = spec.value("times", 1);
  if (times < 1) throw std::invalid_argument("times must be at least 1 (or use \"sticky\": true)");
  return times;
}

}  // namespace

bool PathMatches(const std::string& pattern, const std::string& path) {
  if (pattern == "*") return true;
  const auto a = Split(pattern);
  const auto b = Split(path);
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != "*" && a[i] != b[i]) return false;
  }
  return true;
}

nlohmann::json FaultRule::ToJson() const {
  nlohmann::json j = {{"id", id}, {"method", method}, {"path", path}, {"action", Name(action)},
                      {"remaining", remaining == 0 ? nlohmann::json("sticky") : nlohmann::json(remaining)}};
  if (action == FaultAction::kError || action == FaultAction::kExecuteThenError) j["status"] = status;
  if (action == FaultAction::kLatency) j["latency_ms"] = latency_ms;
  if (action == FaultAction::kHang) j["hang_ms"] = hang_ms;
  if (!code.empty()) j["code"] = code;
  return j;
}

nlohmann::json WebhookFaultRule::ToJson() const {
  nlohmann::json j = {{"id", id}, {"event_type", event_type}, {"action", Name(action)},
                      {"remaining", remaining == 0 ? nlohmann::json("sticky") : nlohmann::json(remaining)}};
  if (action == WebhookFaultAction::kDelay || action == WebhookFaultAction::kReorder) j["delay_ms"] = delay_ms;
  return j;
}

FaultRule Faults::AddHttp(const nlohmann::json& spec) {
  FaultRule r;
  r.method = spec.value("method", "*");
  r.path = spec.value("path", "*");
  const std::string action = spec.value("action", "");
  if (action == "latency") {
    r.action = FaultAction::kLatency;
    r.latency_ms = spec.value("latency_ms", int64_t{1000});
  } else if (action == "error") {
    r.action = FaultAction::kError;
    r.status = spec.value("status", 500);
    if (r.status != 500 && r.status != 503 && r.status != 429 && r.status != 409) {
      throw std::invalid_argument("error status must be 500, 503, 429 or 409");
    }
    r.code = spec.value("code", r.status == 429 ? "lock_timeout" : "");
    if (r.status == 429 && r.code != "lock_timeout" && r.code != "rate_limit") {
      throw std::invalid_argument("429 code must be lock_timeout or rate_limit");
    }
  } else if (action == "execute_then_error") {
    r.action = FaultAction::kExecuteThenError;
    r.status = 500;
  } else if (action == "execute_then_drop") {
    r.action = FaultAction::kExecuteThenDrop;
  } else if (action == "hang") {
    r.action = FaultAction::kHang;
    r.hang_ms = spec.value("hang_ms", int64_t{120000});
  } else {
    throw std::invalid_argument("action must be latency, error, execute_then_error, execute_then_drop or hang");
  }
  r.remaining = Remaining(spec);
  std::lock_guard lock(mu_);
  r.id = next_id_++;
  http_.push_back(r);
  return r;
}

WebhookFaultRule Faults::AddWebhook(const nlohmann::json& spec) {
  WebhookFaultRule r;
  r.event_type = spec.value("event_type", "*");
  const std::string action = spec.value("action", "");
  if (action == "duplicate") r.action = WebhookFaultAction::kDuplicate;
  else if (action == "twin") r.action = WebhookFaultAction::kTwin;
  else if (action == "reorder") r.action = WebhookFaultAction::kReorder;
  else if (action == "delay") r.action = WebhookFaultAction::kDelay;
  else if (action == "drop") r.action = WebhookFaultAction::kDrop;
  else if (action == "bad_signature") r.action = WebhookFaultAction::kBadSignature;
  else if (action == "stale_timestamp") r.action = WebhookFaultAction::kStaleTimestamp;
  else throw std::invalid_argument("action must be duplicate, twin, reorder, delay, drop, bad_signature or stale_timestamp");
  r.delay_ms = spec.value("delay_ms", r.action == WebhookFaultAction::kReorder ? int64_t{2000} : int64_t{1000});
  r.remaining = Remaining(spec);
  std::lock_guard lock(mu_);
  r.id = next_id_++;
  webhook_.push_back(r);
  return r;
}

std::optional<FaultRule> Faults::TakeHttp(const std::string& method, const std::string& path) {
  std::lock_guard lock(mu_);
  for (auto it = http_.begin(); it != http_.end(); ++it) {
    if ((it->method == "*" || it->method == method) && PathMatches(it->path, path)) {
      FaultRule r = *it;
      if (it->remaining > 0 && --it->remaining == 0) http_.erase(it);
      return r;
    }
  }
  return std::nullopt;
}

std::vector<WebhookFaultRule> Faults::TakeWebhook(const std::string& event_type) {
  std::lock_guard lock(mu_);
  std::vector<WebhookFaultRule> out;
  for (auto it = webhook_.begin(); it != webhook_.end();) {
    if (it->event_type == "*" || it->event_type == event_type) {
      out.push_back(*it);
      if (it->remaining > 0 && --it->remaining == 0) {
        it = webhook_.erase(it);
        continue;
      }
    }
    ++it;
  }
  return out;
}

nlohmann::json Faults::List() const {
  std::lock_guard lock(mu_);
  nlohmann::json http = nlohmann::json::array();
  for (const auto& r : http_) http.push_back(r.ToJson());
  nlohmann::json webhook = nlohmann::json::array();
  for (const auto& r : webhook_) webhook.push_back(r.ToJson());
  return {{"http", http}, {"webhook", webhook}};
}

void Faults::Clear() {
  {
    std::lock_guard lock(mu_);
    http_.clear();
    webhook_.clear();
    ++generation_;
  }
  cleared_.notify_all();
}

bool Faults::Sleep(int64_t ms) {
  std::unique_lock lock(mu_);
  const uint64_t gen = generation_;
  return !cleared_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return generation_ != gen; });
}

}  // namespace billing::stripe_emulator
