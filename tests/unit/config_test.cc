#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "config/config.h"

namespace billing::config {
namespace {

std::vector<Option> Options() {
  return {
      {.name = "DATABASE_URL", .help = "db", .required = true, .secret = true},
      {.name = "POOL_SIZE", .help = "n", .default_value = "8", .kind = Kind::kInt, .min = 1, .max = 64},
      {.name = "VERBOSE", .help = "b", .default_value = "false", .kind = Kind::kBool},
      {.name = "LEVEL", .help = "l", .default_value = "info", .kind = Kind::kChoice,
       .choices = {"info", "debug"}},
      {.name = "LISTEN", .help = "a", .default_value = "0.0.0.0:1", .kind = Kind::kHostPort},
      {.name = "API_KEY", .help = "k", .secret = true},
  };
}

struct Env {
  std::map<std::string, std::string> vars;
  const char* operator()(const char* name) const {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  }
};

std::string ErrorOf(const std::vector<std::string>& args, const Env& env) {
  try {
    Parse(Options(), args, env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigTest, EnvOverDefaultsAndFlagsOverEnv) {
  Env env{{{"DATABASE_URL", "postgresql://a@h/db"}, {"POOL_SIZE", "4"}}};
  auto cfg = Parse(Options(), {}, env);
  EXPECT_EQ(cfg.GetInt("POOL_SIZE"), 4);
  EXPECT_EQ(cfg.Get("LEVEL"), "info");
  cfg = Parse(Options(), {"--pool-size=16", "--level", "debug", "--verbose"}, env);
  EXPECT_EQ(cfg.GetInt("POOL_SIZE"), 16);
  EXPECT_EQ(cfg.Get("LEVEL"), "debug");
  EXPECT_TRUE(cfg.GetBool("VERBOSE"));
  EXPECT_FALSE(Parse(Options(), {"--verbose", "false"}, env).GetBool("VERBOSE"));
}

TEST(ConfigTest, EmptyValuesFallBackToDefaults) {
  // An unset Helm value renders as "": it must not become 0 or false.
  Env env{{{"DATABASE_URL", "x"}, {"POOL_SIZE", ""}, {"VERBOSE", ""}, {"LEVEL", ""}}};
  const auto cfg = Parse(Options(), {"--listen="}, env);
  EXPECT_EQ(cfg.GetInt("POOL_SIZE"), 8);
  EXPECT_EQ(cfg.Get("LEVEL"), "info");
  EXPECT_EQ(cfg.Get("LISTEN"), "0.0.0.0:1");
  EXPECT_NE(ErrorOf({"--database-url="}, Env{}).find("DATABASE_URL"), std::string::npos) << "required stays required";
}

TEST(ConfigTest, MissingRequiredValueIsOneLineNamingIt) {
  const std::string err = ErrorOf({}, Env{});
  EXPECT_NE(err.find("DATABASE_URL (--database-url) is required"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos);
}

TEST(ConfigTest, InvalidValuesAreRejected) {
  Env env{{{"DATABASE_URL", "x"}}};
  EXPECT_NE(ErrorOf({"--pool-size=0"}, env).find("between 1 and 64"), std::string::npos);
  EXPECT_NE(ErrorOf({"--pool-size=abc"}, env).find("must be an integer"), std::string::npos);
  EXPECT_NE(ErrorOf({"--level=loud"}, env).find("one of info, debug"), std::string::npos);
  EXPECT_NE(ErrorOf({"--verbose=maybe"}, env).find("true or false"), std::string::npos);
  EXPECT_NE(ErrorOf({"--listen=nowhere"}, env).find("host:port"), std::string::npos);
  EXPECT_NE(ErrorOf({"--listen=h:70000"}, env).find("host:port"), std::string::npos);
  EXPECT_NE(ErrorOf({"--no-such-flag"}, env).find("unknown flag --no-such-flag"), std::string::npos);
  EXPECT_NE(ErrorOf({"stray"}, env).find("unexpected argument"), std::string::npos);
  EXPECT_NE(ErrorOf({"--level"}, env).find("needs a value"), std::string::npos);
}

TEST(ConfigTest, SecretsComeFromFilesAndAreRedacted) {
  const std::string path = ::testing::TempDir() + "/api_key";
  std::ofstream(path) << "sk_test_secret\n";
  Env env{{{"DATABASE_URL", "postgresql://billing:hunter2@db:5432/invoice"}, {"API_KEY_FILE", path}}};
  auto cfg = Parse(Options(), {}, env);
  EXPECT_EQ(cfg.Get("API_KEY"), "sk_test_secret");
  const std::string redacted = cfg.Redacted().dump();
  EXPECT_EQ(redacted.find("hunter2"), std::string::npos);
  EXPECT_EQ(redacted.find("sk_test_secret"), std::string::npos);
  EXPECT_NE(redacted.find("postgresql://billing:***@db:5432/invoice"), std::string::npos);
  EXPECT_NE(redacted.find("<redacted>"), std::string::npos);
  EXPECT_NE(ErrorOf({}, Env{{{"API_KEY_FILE", "/no/such/file"}}}).find("API_KEY_FILE"),
            std::string::npos);
}

TEST(ConfigTest, ASecretFromAFileCanBeReadAgain) {
  const std::string path = ::testing::TempDir() + "/api_key_reread";
  std::ofstream(path) << "sk_test_first\n";
  Env env{{{"DATABASE_URL", "postgresql://db/x"}, {"API_KEY_FILE", path}}};
  const auto cfg = Parse(Options(), {}, env);
  EXPECT_EQ(cfg.SecretFile("API_KEY"), path);
  EXPECT_EQ(cfg.SecretFile("DATABASE_URL"), "");  // from the environment
  std::ofstream(path) << "sk_test_second\r\n";
  EXPECT_EQ(cfg.RereadSecretFile("API_KEY"), "sk_test_second");
  EXPECT_EQ(cfg.Get("API_KEY"), "sk_test_first");  // the parsed value does not change
  std::remove(path.c_str());
  EXPECT_THROW(cfg.RereadSecretFile("API_KEY"), ConfigError);
  EXPECT_THROW(cfg.RereadSecretFile("DATABASE_URL"), std::logic_error);
  // A flag wins over the file, which is then not the value's source.
  std::ofstream(path) << "sk_test_file\n";
  const auto flagged = Parse(Options(), {"--api-key=sk_test_flag"}, env);
  EXPECT_EQ(flagged.Get("API_KEY"), "sk_test_flag");
  EXPECT_EQ(flagged.SecretFile("API_KEY"), "");
  // An empty variable or flag is "not set": the file still counts.
  Env empty_var{{{"DATABASE_URL", "postgresql://db/x"}, {"API_KEY", ""}, {"API_KEY_FILE", path}}};
  for (const auto& args : {std::vector<std::string>{}, std::vector<std::string>{"--api-key="}}) {
    const auto c = Parse(Options(), args, empty_var);
    EXPECT_EQ(c.Get("API_KEY"), "sk_test_file");
    EXPECT_EQ(c.SecretFile("API_KEY"), path);
  }
}

TEST(ConfigTest, AnEmptySecretFileIsUnsetButKnownAndAHugeOneIsRefused) {
  const std::string path = ::testing::TempDir() + "/api_key_empty";
  std::ofstream(path) << "\n";
  Env env{{{"DATABASE_URL", "postgresql://db/x"}, {"API_KEY_FILE", path}}};
  const auto cfg = Parse(Options(), {}, env);
  EXPECT_FALSE(cfg.IsSet("API_KEY"));
  EXPECT_EQ(cfg.SecretFile("API_KEY"), path);  // so ServiceMain can refuse an empty CALLER_TOKENS_FILE
  std::ofstream(path) << std::string((1 << 20) + 1, 'k');
  EXPECT_NE(ErrorOf({}, env).find("API_KEY_FILE names a file over 1 MiB"), std::string::npos);
}

TEST(ConfigTest, RedactsEveryPasswordForm) {
  EXPECT_EQ(RedactUrlPassword("postgresql://u:p%40ss@h/db"), "postgresql://u:***@h/db");
  EXPECT_EQ(RedactUrlPassword("host=h user=u password=s3cret dbname=d"),
            "host=h user=u password=*** dbname=d");
  EXPECT_EQ(RedactUrlPassword("host=h password='a b' dbname=d"), "host=h password=*** dbname=d");
  EXPECT_EQ(RedactUrlPassword("postgresql://u@h/db?password=x&sslmode=require"),
            "postgresql://u@h/db?password=***&sslmode=require");
  EXPECT_EQ(RedactUrlPassword("postgresql://h:5432/db"), "postgresql://h:5432/db");
}

TEST(ConfigTest, UsageListsEveryOption) {
  const std::string usage = Usage("svc", "Does things.", Options());
  for (const auto& o : Options()) {
    EXPECT_NE(usage.find(FlagName(o.name)), std::string::npos) << o.name;
  }
  EXPECT_NE(usage.find("[required]"), std::string::npos);
  EXPECT_NE(usage.find("[secret]"), std::string::npos);
  EXPECT_EQ(FlagName("DATABASE_URL"), "--database-url");
}

}  // namespace
}  // namespace billing::config
