#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/process.h"

// A real SMTP server for e2e tests: tests/tools/smtp_sink.py (Debian's
// python3-aiosmtpd) on a free port, writing each accepted message to a
// folder. Recipients starting with "reject" get 550, "tempfail" 451.
namespace billing::testing {

struct ReceivedMail {
  std::string eml_path;      // the message, byte for byte
  nlohmann::json envelope;   // mail_from, rcpt_tos, authenticated, tls
};

class SmtpSink {
 public:
  struct Options {
    std::string auth{};  // "user:password" to require SMTP AUTH
    bool tls = false;    // offer (and require) STARTTLS with a fresh self-signed certificate
  };
  SmtpSink() : SmtpSink(Options{}) {}
  explicit SmtpSink(Options options);

  int port() const { return port_; }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
  // The CA file that verifies the sink's certificate (tls only).
  const std::string& ca_file() const { return cert_; }

  std::vector<ReceivedMail> Messages() const;
  bool WaitFor(std::size_t n, std::chrono::milliseconds timeout) const;
  // Outage: stop accepting connections, then come back on the same port.
  void Stop() { process_->Stop(); }
  void Start() { process_->Start(); }
  std::string Logs() const { return process_->Logs(); }

 private:
  int port_ = 0;
  std::string dir_;
  std::string cert_;
  std::unique_ptr<HelperProcess> process_;
};

// What a mail client shows for an .eml file, parsed by Python's email
// package (tests/tools/parse_mail.py): headers (decoded and raw), parts by
// content type (charset, transfer_encoding, decoded content), to_name,
// to_address, from_name.
nlohmann::json ParseMail(const std::string& eml_path);

}  // namespace billing::testing
