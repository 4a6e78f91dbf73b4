#pragma once

#include <chrono>
#include <string>

#include "domain/ports.h"

namespace billing::notify::clients {

// Email over SMTP with libcurl: STARTTLS (none / try / required) and AUTH
// when a user is set. Permanent: a 5xx reply to RCPT (the recipient) or to
// the message data (the content). Everything else is transient: 4xx, the
// network, and 5xx at the greeting, EHLO, STARTTLS, AUTH or MAIL FROM, which
// are configuration problems that would fail every message until fixed.
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
// form fields To, From, Body; the answer's "sid" is the provider id.
// Permanent: a 4xx whose Twilio error code is about the recipient or the
// body (21211 invalid number, 21614 not mobile, 21610 unsubscribed, ...).
// Other 4xx (credentials, a bad From, a wrong URL), 429, 5xx and network
// failures are transient. A 2xx is accepted even without a readable sid.
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
