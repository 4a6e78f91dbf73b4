#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

// Structured logging: one JSON object per line on stdout, through spdlog.
//
//   {"ts":"2026-11-21T23:19:00.123Z","level":"info","service":"invoice",
//    "msg":"rpc","method":"/billing.invoice.v1.InvoiceService/GetInvoice",...}
//
// Callers pass facts as fields, never pre-formatted into msg, and never pass
// secrets, link tokens, client secrets or card data. Strings are escaped by
// the JSON encoder; invalid UTF-8 is replaced, so hostile input cannot break
// a line or the logger. A string value over 1 KiB is cut to 1 KiB and its
// length noted, so a huge input is never echoed whole.
namespace billing::logging {

enum class Level { kDebug, kInfo, kWarn, kError };

using Fields = nlohmann::json;

// Sets the service name stamped on every line and the minimum level. Safe to
// call again (tests); the default before Init is service "billing", info.
void Init(const std::string& service, Level min_level);

// Parses "debug", "info", "warn", "error"; anything else is info.
Level ParseLevel(std::string_view name);

void Log(Level level, std::string_view msg, const Fields& fields = Fields::object());
inline void Debug(std::string_view msg, const Fields& f = Fields::object()) { Log(Level::kDebug, msg, f); }
inline void Info(std::string_view msg, const Fields& f = Fields::object()) { Log(Level::kInfo, msg, f); }
inline void Warn(std::string_view msg, const Fields& f = Fields::object()) { Log(Level::kWarn, msg, f); }
inline void Error(std::string_view msg, const Fields& f = Fields::object()) { Log(Level::kError, msg, f); }

bool Enabled(Level level);

// Formats one line without writing it; exposed for tests.
std::string FormatLine(Level level, std::string_view msg, const Fields& fields);

}  // namespace billing::logging
