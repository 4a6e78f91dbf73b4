#include "logging/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>

namespace billing::logging {
namespace {

struct State {
  std::mutex mu;
  std::string service = "billing";
  std::atomic<int> min_level{static_cast<int>(Level::kInfo)};
  std::shared_ptr<spdlog::logger> logger;
};

State& GetState() {
  static State* state = [] {
    auto* s = new State();
    // The message is the whole JSON line, so spdlog adds nothing around it.
    s->logger = spdlog::stdout_logger_mt("billing-json");
    s->logger->set_pattern("%v");
    s->logger->set_level(spdlog::level::trace);
    s->logger->flush_on(spdlog::level::trace);
    return s;
  }();
  return *state;
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

std::string UtcNow() {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

// A field longer than this is cut, with its length noted: a hostile request
// can carry a megabyte in any id it sends, and the rpc line names the ids.
constexpr std::size_t kMaxFieldBytes = 1024;

nlohmann::json Clipped(const nlohmann::json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s.size() <= kMaxFieldBytes) return v;
    // Cut on a character boundary: never inside a UTF-8 sequence.
    std::size_t cut = kMaxFieldBytes;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    return s.substr(0, cut) + "...[" + std::to_string(s.size()) + " bytes]";
  }
  if (v.is_structured()) {
    nlohmann::json out = v;
    for (auto& item : out) item = Clipped(item);
    return out;
  }
  return v;
}

}  // namespace

void Init(const std::string& service, Level min_level) {
  auto& s = GetState();
  std::lock_guard lock(s.mu);
  s.service = service;
  s.min_level = static_cast<int>(min_level);
}

Level ParseLevel(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  return Level::kInfo;
}

bool Enabled(Level level) { return static_cast<int>(level) >= GetState().min_level.load(); }

std::string FormatLine(Level level, std::string_view msg, const Fields& fields) {
  auto& s = GetState();
  nlohmann::json line = nlohmann::json::object();
  line["ts"] = UtcNow();
  line["level"] = LevelName(level);
  {
    std::lock_guard lock(s.mu);
    line["service"] = s.service;
  }
  line["msg"] = std::string(msg);
  if (fields.is_object()) {
    for (const auto& [k, v] : fields.items()) {
      if (k != "ts" && k != "level" && k != "service" && k != "msg") line[k] = Clipped(v);
    }
  }
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Log(Level level, std::string_view msg, const Fields& fields) {
  if (!Enabled(level)) return;
  GetState().logger->info(FormatLine(level, msg, fields));
}

}  // namespace billing::logging
