#include "support/smtp_sink.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace billing::testing {

SmtpSink::SmtpSink(Options options) {
  dir_ = MakeTempDir("billing-smtp");
  port_ = FreePort();
  std::vector<std::string> argv = {"/usr/bin/python3", SourceDir() + "/tests/tools/smtp_sink.py", "--port",
                                   std::to_string(port_), "--outdir", dir_ + "/mail"};
  if (!options.auth.empty()) argv.insert(argv.end(), {"--auth", options.auth});
  if (options.tls) {
    cert_ = dir_ + "/cert.pem";
    const std::string key = dir_ + "/key.pem";
    const auto r = RunCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                               "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out",
                               cert_});
    if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + r.output);
    argv.insert(argv.end(), {"--tls-cert", cert_, "--tls-key", key});
  }
  process_ = std::make_unique<HelperProcess>(argv, "ready");
}

std::vector<ReceivedMail> SmtpSink::Messages() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/mail", ec)) {
    const auto name = entry.path().filename().string();
    if (name.size() > 4 && name.ends_with(".eml")) names.push_back(name.substr(0, name.size() - 4));
  }
  std::sort(names.begin(), names.end());
  std::vector<ReceivedMail> out;
  for (const auto& n : names) {
    std::ifstream in(dir_ + "/mail/" + n + ".json");
    out.push_back({dir_ + "/mail/" + n + ".eml", nlohmann::json::parse(in)});
  }
  return out;
}

bool SmtpSink::WaitFor(std::size_t n, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Messages().size() >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

nlohmann::json ParseMail(const std::string& eml_path) {
  const auto r = RunCommand({"/usr/bin/python3", SourceDir() + "/tests/tools/parse_mail.py", eml_path});
  if (r.exit_code != 0) throw std::runtime_error("parse_mail.py failed: " + r.output);
  return nlohmann::json::parse(r.output);
}

}  // namespace billing::testing
