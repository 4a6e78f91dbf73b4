// SecretReloader (server/secret_reloader.h): a secret read from a file is
// installed again when the file changes; values that do not validate, an
// emptied file and an unreadable one leave the value in force. The e2e
// security suite rotates tokens this way in the real binaries.
#include "server/secret_reloader.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.h"
#include "metrics/metrics.h"

namespace billing::server {
namespace {

std::vector<config::Option> Options() {
  return {{.name = "CALLER_TOKENS", .help = "t", .secret = true}, {.name = "OTHER_TOKEN", .help = "o", .secret = true}};
}

// Writes the file the way the kubelet updates a mounted Secret: a new file
// swapped in by rename, never one rewritten in place.
void Swap(const std::string& path, const std::string& content) {
  const std::string next = path + ".next";
  std::ofstream(next) << content;
  ASSERT_EQ(std::rename(next.c_str(), path.c_str()), 0);
}

// The options parsed with `option` read from <option>_FILE = `path`.
config::Config FromFile(const std::string& option, const std::string& path) {
  const std::string variable = option + "_FILE";
  return config::Parse(Options(), {}, [&](const char* name) -> const char* {
    return variable == name ? path.c_str() : nullptr;
  });
}

double Reloads(metrics::Metrics& m, const std::string& outcome) {
  double total = 0;
  for (const auto& family : m.registry().Collect()) {
    if (family.name != "secret_reloads_total") continue;
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.name == "outcome" && label.value == outcome) total += metric.counter.value;
      }
    }
  }
  return total;
}

TEST(SecretReloaderTest, AChangedFileIsAppliedOnceAndABadOneChangesNothing) {
  const std::string path = ::testing::TempDir() + "/caller_tokens";
  Swap(path, "booking=first-token-0123456789\n");
  const auto cfg = FromFile("CALLER_TOKENS", path);
  metrics::Metrics m("");
  SecretReloader reloader(cfg, m);
  std::vector<std::string> applied;
  std::string in_force = cfg.Get("CALLER_TOKENS");
  reloader.Watch("CALLER_TOKENS", [&](const std::string& v) {
    if (v.find('=') == std::string::npos) throw std::invalid_argument("CALLER_TOKENS entry 1 is not caller=token");
    applied.push_back(v);
    in_force = v;
  });
  reloader.Watch("OTHER_TOKEN", [&](const std::string&) { ADD_FAILURE() << "not from a file: never watched"; });

  reloader.PollOnce();
  EXPECT_TRUE(applied.empty()) << "an unchanged file is not applied again";

  Swap(path, "booking=second-token-0123456789\n");
  reloader.PollOnce();
  reloader.PollOnce();
  EXPECT_EQ(applied, std::vector<std::string>{"booking=second-token-0123456789"});
  EXPECT_EQ(Reloads(m, "applied"), 1);

  Swap(path, "garbage\n");
  reloader.PollOnce();
  reloader.PollOnce();  // reported once, not every poll
  EXPECT_EQ(in_force, "booking=second-token-0123456789");
  EXPECT_EQ(Reloads(m, "refused"), 1);

  Swap(path, "\n");  // emptied: turning tokens off takes a restart
  reloader.PollOnce();
  EXPECT_EQ(in_force, "booking=second-token-0123456789");
  EXPECT_EQ(Reloads(m, "refused"), 2);

  std::remove(path.c_str());
  reloader.PollOnce();
  reloader.PollOnce();
  EXPECT_EQ(in_force, "booking=second-token-0123456789");
  EXPECT_EQ(Reloads(m, "unreadable"), 1);

  Swap(path, "booking=third-token-0123456789\n");
  reloader.PollOnce();
  EXPECT_EQ(in_force, "booking=third-token-0123456789");
  EXPECT_EQ(Reloads(m, "applied"), 2);
}

TEST(SecretReloaderTest, AnApplyThatFailsUnexpectedlyIsRefusedAndTheLoopGoesOn) {
  const std::string path = ::testing::TempDir() + "/caller_tokens_throwing";
  Swap(path, "a=first-token-0123456789\n");
  const auto cfg = FromFile("CALLER_TOKENS", path);
  metrics::Metrics m("");
  SecretReloader reloader(cfg, m);
  int calls = 0;
  reloader.Watch("CALLER_TOKENS", [&](const std::string&) {
    if (++calls == 1) throw std::runtime_error("a bug, not a refusal");
  });
  Swap(path, "a=second-token-0123456789\n");
  EXPECT_NO_THROW(reloader.PollOnce());
  EXPECT_EQ(Reloads(m, "refused"), 1);
  Swap(path, "a=third-token-0123456789\n");
  reloader.PollOnce();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(Reloads(m, "applied"), 1);
}

TEST(SecretReloaderTest, AWatchedBearerTokenFollowsItsFile) {
  const std::string path = ::testing::TempDir() + "/other_token";
  Swap(path, "tok-first-0123456789\n");
  const auto cfg = FromFile("OTHER_TOKEN", path);
  metrics::Metrics m("");
  SecretReloader reloader(cfg, m);
  const auto token = WatchedBearerToken(cfg, reloader, "OTHER_TOKEN");
  ASSERT_NE(token, nullptr);
  EXPECT_EQ(WatchedBearerToken(cfg, reloader, "CALLER_TOKENS"), nullptr);  // empty: no token sent
  Swap(path, "tok-second-0123456789\n");
  reloader.PollOnce();
  EXPECT_EQ(token->Header(), "Bearer tok-second-0123456789");
  Swap(path, "tok with spaces 0123456789\n");
  reloader.PollOnce();
  EXPECT_EQ(token->Header(), "Bearer tok-second-0123456789");
  EXPECT_EQ(Reloads(m, "refused"), 1);
}

}  // namespace
}  // namespace billing::server
