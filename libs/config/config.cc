#include "config/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>

namespace billing::config {
namespace {

std::optional<bool> ParseBool(std::string v) {
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off" || v.empty()) return false;
  return std::nullopt;
}

std::optional<int64_t> ParseInt(const std::string& v) {
  int64_t out = 0;
  const auto* end = v.data() + v.size();
  auto [ptr, ec] = std::from_chars(v.data(), end, out);
  if (ec != std::errc() || ptr != end || v.empty()) return std::nullopt;
  return out;
}

std::string Describe(const Option& o) {
  return o.name + " (" + FlagName(o.name) + ")";
}

void Validate(const Option& o, const std::string& value) {
  if (value.empty()) {
    if (o.required) throw ConfigError(Describe(o) + " is required: " + o.help);
    return;
  }
  switch (o.kind) {
    case Kind::kString:
      return;
    case Kind::kInt: {
      const auto v = ParseInt(value);
      if (!v) throw ConfigError(Describe(o) + " must be an integer, got \"" + value + "\"");
      if (*v < o.min || *v > o.max) {
        throw ConfigError(Describe(o) + " must be between " + std::to_string(o.min) + " and " +
                          std::to_string(o.max) + ", got " + value);
      }
      return;
    }
    case Kind::kBool:
      if (!ParseBool(value)) {
        throw ConfigError(Describe(o) + " must be true or false, got \"" + value + "\"");
      }
      return;
    case Kind::kChoice:
      if (std::find(o.choices.begin(), o.choices.end(), value) == o.choices.end()) {
        std::string all;
        for (const auto& c : o.choices) all += (all.empty() ? "" : ", ") + c;
        throw ConfigError(Describe(o) + " must be one of " + all + ", got \"" + value + "\"");
      }
      return;
    case Kind::kHostPort: {
      const auto colon = value.rfind(':');
      const auto port = colon == std::string::npos ? std::nullopt : ParseInt(value.substr(colon + 1));
      if (!port || *port < 0 || *port > 65535 || colon == 0) {
        throw ConfigError(Describe(o) + " must be host:port, got \"" + value + "\"");
      }
      return;
    }
  }
}

// Secrets are short; a bigger file is the wrong file mounted.
constexpr std::streamsize kMaxSecretFileBytes = 1 << 20;

std::string ReadSecretFile(const Option& o, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(o.name + "_FILE names a file that cannot be read: " + path);
  // Read in small chunks: this runs on every reload poll, and a secret is a
  // few hundred bytes.
  std::string v;
  char chunk[4096];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    v.append(chunk, static_cast<std::size_t>(in.gcount()));
    if (v.size() > static_cast<std::size_t>(kMaxSecretFileBytes)) {
      throw ConfigError(o.name + "_FILE names a file over 1 MiB: " + path);
    }
  }
  if (in.bad()) throw ConfigError(o.name + "_FILE names a file that cannot be read: " + path);
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r' || v.back() == ' ')) v.pop_back();
  // Empty means unset, as for a variable (a dev cluster's SMTP without a
  // password); options for which that would switch a check off refuse it
  // in server::ServiceMain.
  return v;
}

}  // namespace

std::string FlagName(const std::string& option_name) {
  std::string out = "--";
  for (char c : option_name) {
    out.push_back(c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

const std::string& Config::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw std::logic_error("undeclared config option " + name);
  return it->second;
}

std::string Config::SecretFile(const std::string& name) const {
  Get(name);  // throws on an undeclared option
  const auto it = files_.find(name);
  return it == files_.end() ? "" : it->second;
}

std::string Config::RereadSecretFile(const std::string& name) const {
  const std::string path = SecretFile(name);
  if (path.empty()) throw std::logic_error(name + " was not read from a file");
  for (const auto& o : options_) {
    if (o.name == name) return ReadSecretFile(o, path);
  }
  throw std::logic_error("undeclared config option " + name);
}

int64_t Config::GetInt(const std::string& name) const {
  const auto v = ParseInt(Get(name));
  return v.value_or(0);
}

bool Config::GetBool(const std::string& name) const { return ParseBool(Get(name)).value_or(false); }

nlohmann::json Config::Redacted() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& o : options_) {
    const auto& v = Get(o.name);
    if (!o.secret || v.empty()) {
      out[o.name] = v;
    } else if (v.find("://") != std::string::npos || v.find("host=") != std::string::npos) {
      // A connection string: where it points is useful to ops, its password
      // is not shown.
      out[o.name] = RedactUrlPassword(v);
    } else {
      out[o.name] = "<redacted>";
    }
  }
  return out;
}

Config Parse(const std::vector<Option>& options, const std::vector<std::string>& args,
             const std::function<const char*(const char*)>& getenv) {
  std::map<std::string, std::string> values;
  std::map<std::string, std::string> files;
  for (const auto& o : options) {
    values[o.name] = o.default_value;
    // An empty variable is "not set" (as below), so <NAME>_FILE still counts.
    if (const char* env = getenv(o.name.c_str()); env != nullptr && *env != '\0') {
      values[o.name] = env;
    } else if (o.secret) {
      const std::string file_var = o.name + "_FILE";
      if (const char* path = getenv(file_var.c_str()); path != nullptr && *path != '\0') {
        values[o.name] = ReadSecretFile(o, path);
        files[o.name] = path;
      }
    }
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0) throw ConfigError("unexpected argument \"" + arg + "\"; see --help");
    const auto eq = arg.find('=');
    const std::string flag = arg.substr(0, eq);
    const Option* match = nullptr;
    for (const auto& o : options) {
      if (FlagName(o.name) == flag) match = &o;
    }
    if (match == nullptr) throw ConfigError("unknown flag " + flag + "; see --help");
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (match->kind == Kind::kBool &&
               (i + 1 >= args.size() || !ParseBool(args[i + 1]).has_value() || args[i + 1].empty())) {
      value = "true";
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      throw ConfigError("flag " + flag + " needs a value");
    }
    // An empty flag is "not set" (as below): it does not hide <NAME>_FILE.
    if (value.empty() && files.contains(match->name)) continue;
    files.erase(match->name);
    values[match->name] = std::move(value);
  }
  for (const auto& o : options) {
    // An empty value (an unset Helm/kustomize variable renders as "") means
    // "not set": fall back to the default rather than to 0 or false.
    if (values[o.name].empty()) values[o.name] = o.default_value;
    Validate(o, values[o.name]);
  }
  return Config(options, std::move(values), std::move(files));
}

std::string Usage(const std::string& program, const std::string& summary,
                  const std::vector<Option>& options) {
  std::ostringstream out;
  out << "Usage: " << program << " [--flag=value ...]\n\n" << summary << "\n\n"
      << "Every option is an environment variable with a matching flag; flags win.\n"
      << "Secret options may also be read from a file named by <NAME>_FILE.\n\n";
  for (const auto& o : options) {
    out << "  " << FlagName(o.name) << "  (env " << o.name << ")";
    if (o.required) out << "  [required]";
    if (o.secret) out << "  [secret]";
    out << "\n      " << o.help;
    if (!o.default_value.empty()) out << " Default: " << o.default_value << ".";
    if (o.kind == Kind::kChoice) {
      out << " One of:";
      for (const auto& c : o.choices) out << " " << c;
      out << ".";
    }
    out << "\n";
  }
  out << "  --help\n      Print this help and exit.\n";
  return out.str();
}

std::string RedactUrlPassword(const std::string& value) {
  std::string out = value;
  // URI form: scheme://user:password@host...
  static const std::regex kUri(R"(^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@]*:)([^@]*)(@.*)$)");
  std::smatch m;
  if (std::regex_match(out, m, kUri)) out = m[1].str() + "***" + m[3].str();
  // libpq key=value form (password=pw, password='p w') and URI query
  // parameters (?password=pw&...).
  static const std::regex kParam(R"((^|[\s?&])password\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]+))");
  return std::regex_replace(out, kParam, "$1password=***");
}

}  // namespace billing::config
