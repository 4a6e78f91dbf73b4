#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

// 12-factor configuration: every option is an environment variable with a
// matching --flag override (DATABASE_URL <-> --database-url). Secret options
// may also come from a file named by <NAME>_FILE (how Kubernetes Secrets are
// usually mounted; an unreadable file is an error, an empty one "unset").
// Parsing fails fast with one line naming the option.
namespace billing::config {

enum class Kind {
  kString,
  kInt,       // a decimal integer within [min, max]
  kBool,      // true/false/1/0/yes/no; a bare --flag means true
  kChoice,    // one of `choices`
  kHostPort,  // host:port, port 0..65535 (0 = any free port)
};

struct Option {
  std::string name{};  // environment variable, e.g. "DATABASE_URL"
  std::string help{};  // one line for --help and the README's config table
  std::string default_value{};
  bool required = false;  // must be set and non-empty
  bool secret = false;    // redacted in logs and --help; may come from <NAME>_FILE
  Kind kind = Kind::kString;
  int64_t min = 0;
  int64_t max = INT64_MAX;
  std::vector<std::string> choices{};
};

// A configuration error: the message is the one line printed before exit.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Config {
 public:
  Config() = default;
  Config(std::vector<Option> options, std::map<std::string, std::string> values,
         std::map<std::string, std::string> files = {})
      : options_(std::move(options)), values_(std::move(values)), files_(std::move(files)) {}

  // Values by option name; asking for an option that was never declared is a
  // programming error and throws std::logic_error.
  const std::string& Get(const std::string& name) const;
  int64_t GetInt(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  bool IsSet(const std::string& name) const { return !Get(name).empty(); }

  // The file a secret option was read from (<NAME>_FILE), or "" when its
  // value came from the environment, a flag or the default.
  std::string SecretFile(const std::string& name) const;
  // Reads that file again, trimmed as at start-up (a Kubernetes Secret
  // updated in place: see server::SecretReloader); empty if it was emptied,
  // which the caller must refuse. Throws ConfigError naming the file when it
  // cannot be read or is over 1 MiB, or std::logic_error when the option did
  // not come from a file.
  std::string RereadSecretFile(const std::string& name) const;

  // The effective configuration with secrets redacted, for the start-up log.
  nlohmann::json Redacted() const;

  const std::vector<Option>& options() const { return options_; }

 private:
  std::vector<Option> options_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> files_;  // option -> <NAME>_FILE path
};

// "DATABASE_URL" -> "--database-url".
std::string FlagName(const std::string& option_name);

// Parses argv (flags) over the environment (getenv) over defaults. Throws
// ConfigError on an unknown flag, a missing required value or an invalid one.
Config Parse(const std::vector<Option>& options, const std::vector<std::string>& args,
             const std::function<const char*(const char*)>& getenv);

// The --help text: one block per option with its env var, flag, default and
// whether it is required or secret.
std::string Usage(const std::string& program, const std::string& summary,
                  const std::vector<Option>& options);

// Replaces the password in a URL ("postgresql://u:pw@h/db") or libpq
// key=value string ("password=pw") with "***". Other values come back
// unchanged.
std::string RedactUrlPassword(const std::string& value);

}  // namespace billing::config
