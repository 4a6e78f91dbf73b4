#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "logging/log.h"

namespace billing::logging {
namespace {

TEST(LoggingTest, OneJsonObjectPerLineWithEscaping) {
  Init("invoice", Level::kInfo);
  const std::string line =
      FormatLine(Level::kWarn, "rpc", {{"method", "/a.B/C"}, {"error", "quote \" newline \n tab \t"}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["service"], "invoice");
  EXPECT_EQ(j["msg"], "rpc");
  EXPECT_EQ(j["error"], "quote \" newline \n tab \t");
  const std::string ts = j["ts"];
  EXPECT_EQ(ts.size(), 24u);
  EXPECT_EQ(ts.back(), 'Z');
}

TEST(LoggingTest, InvalidUtf8CannotBreakTheLine) {
  const std::string line = FormatLine(Level::kInfo, "m", {{"value", std::string("ok\xff\xfe")}});
  EXPECT_TRUE(nlohmann::json::accept(line)) << line;
}

TEST(LoggingTest, AHugeValueIsCutNotEchoed) {
  const std::string huge(1 << 20, 'x');
  const auto j = nlohmann::json::parse(
      FormatLine(Level::kInfo, "rpc", {{"booking_id", huge}, {"ids", {huge, "short"}}, {"ok", std::string(1024, 'y')}}));
  EXPECT_EQ(j["booking_id"], std::string(1024, 'x') + "...[1048576 bytes]");
  EXPECT_EQ(j["ids"][0], std::string(1024, 'x') + "...[1048576 bytes]");
  EXPECT_EQ(j["ids"][1], "short");
  EXPECT_EQ(j["ok"], std::string(1024, 'y')) << "1 KiB is kept whole";
  // 3-byte characters: 1024 is not a boundary, so the cut steps back to 1023.
  std::string euros;
  for (int i = 0; i < 400; ++i) euros += "\u20ac";
  const auto cut = nlohmann::json::parse(FormatLine(Level::kInfo, "rpc", {{"name", euros}}));
  EXPECT_EQ(cut["name"], euros.substr(0, 1023) + "...[1200 bytes]") << "no character is split";
}

TEST(LoggingTest, FieldsCannotOverrideTheEnvelope) {
  Init("notify", Level::kInfo);
  const auto j = nlohmann::json::parse(FormatLine(Level::kInfo, "m", {{"service", "evil"}, {"level", "x"}}));
  EXPECT_EQ(j["service"], "notify");
  EXPECT_EQ(j["level"], "info");
}

TEST(LoggingTest, LevelsFilter) {
  Init("x", Level::kWarn);
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
  EXPECT_EQ(ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(ParseLevel("nonsense"), Level::kInfo);
  Init("x", Level::kInfo);
}

}  // namespace
}  // namespace billing::logging
