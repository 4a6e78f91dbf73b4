#pragma once

#include <chrono>
#include <string>

#include "domain/ports.h"

namespace billing::notify::clients {

// Email over SMTP with libcurl: STARTTLS (none / try / required) and AUTH
// when a user is set. A 4xx reply or a network failure is transient; a 5xx
// reply is permanent, except an authentication failure (535), which is a
// configuration problem worth retrying once fixed.
class SmtpTransport final : public domain::Transport {
 public:
  struct Options {
    std::string url;  // smtp://host:port or smtps://host:port
    std::string starttls = "try";  // "none", "try" or "required"
    std::string username;
    std::string password;
    std::string from_address;
    std::chrono::milliseconds timeout{30000};
    // PEM bundle to verify the relay's certificate with; empty = the system's.
    std::string ca_file;
  };
  explicit SmtpTransport(Options options) : options_(std::move(options)) {}
  domain::SendResult Send(const domain::OutgoingMessage& message) override;

 private:
  Options options_;
};

// SMS through a Twilio-compatible Messages API:
// POST {base}/2010-04-01/Accounts/{sid}/Messages.json, Basic auth sid:token,
// form fields To, From, Body; the answer's "sid" is the provider id. 429, 5xx
// and network failures are transient; 401/403 (credentials) too; other 4xx
// are permanent.
class TwilioSmsTransport final : public domain::Transport {
 public:
  struct Options {
    std::string api_base;  // https://api.twilio.com
    std::string account_sid;
    std::string auth_token;
    std::string from_number;
    std::chrono::milliseconds timeout{15000};
  };
  explicit TwilioSmsTransport(Options options) : options_(std::move(options)) {}
  domain::SendResult Send(const domain::OutgoingMessage& message) override;

 private:
  Options options_;
};

// Writes each message into a folder: <notification id>.eml (the complete
// email) or <notification id>.sms.txt. The name comes only from the
// notification id, so no input can steer the path, and a retry rewrites the
// same file instead of making a second one.
class FileTransport final : public domain::Transport {
 public:
  // Creates the folder; throws std::runtime_error if it cannot.
  FileTransport(std::string dir, std::string from_address, std::string sms_from);
  domain::SendResult Send(const domain::OutgoingMessage& message) override;

 private:
  std::string dir_;
  std::string from_address_;
  std::string sms_from_;
};

}  // namespace billing::notify::clients
