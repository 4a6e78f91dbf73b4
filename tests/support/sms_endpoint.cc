#include "support/sms_endpoint.h"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

namespace billing::testing {
namespace {

std::string Base64(const std::string& raw) {
  std::string out(4 * ((raw.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace

SmsEndpoint::SmsEndpoint(std::string account_sid, std::string auth_token)
    : account_sid_(std::move(account_sid)), auth_token_(std::move(auth_token)) {
  const std::string path = "/2010-04-01/Accounts/" + account_sid_ + "/Messages.json";
  server_.Post(path, [this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    ++requests_;
    const std::string expected = "Basic " + Base64(account_sid_ + ":" + auth_token_);
    if (req.get_header_value("Authorization") != expected) {
      ++unauthorized_;
      res.status = 401;
      res.set_content(R"({"code": 20003, "message": "Authenticate", "status": 401})", "application/json");
      return;
    }
    if (!available_) {
      res.status = 503;
      res.set_content(R"({"code": 20500, "message": "Service unavailable", "status": 503})", "application/json");
      return;
    }
    const std::string nul(1, '\0');
    const ReceivedSms sms{req.get_param_value("To"), req.get_param_value("From"), req.get_param_value("Body"),
                          (hostile_ ? "SM" + nul : "SM") + std::to_string(100000 + messages_.size())};
    if (sms.to.empty() || sms.to[0] != '+' || rejected_.count(sms.to) > 0) {
      res.status = 400;
      std::string message = "The 'To' number is not a valid phone number.";
      if (hostile_) {
        message = "The 'To' number" + nul + " is not valid.\r\n";
        for (int i = 0; i < 300; ++i) message += "東";
      }
      res.set_content(nlohmann::json{{"code", 21211}, {"message", message}, {"status", 400}}.dump(),
                      "application/json");
      return;
    }
    messages_.push_back(sms);
    res.status = 201;
    res.set_content(nlohmann::json{{"sid", sms.sid}, {"status", "queued"}, {"to", sms.to}}.dump(),
                    "application/json");
  });
  port_ = server_.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
}

SmsEndpoint::~SmsEndpoint() {
  server_.stop();
  thread_.join();
}

void SmsEndpoint::RejectNumber(const std::string& e164) {
  std::lock_guard lock(mu_);
  rejected_.insert(e164);
}

void SmsEndpoint::SetHostileText(bool hostile) {
  std::lock_guard lock(mu_);
  hostile_ = hostile;
}

void SmsEndpoint::SetAvailable(bool available) {
  std::lock_guard lock(mu_);
  available_ = available;
}

std::vector<ReceivedSms> SmsEndpoint::Messages() const {
  std::lock_guard lock(mu_);
  return messages_;
}

int SmsEndpoint::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

int SmsEndpoint::unauthorized() const {
  std::lock_guard lock(mu_);
  return unauthorized_;
}

bool SmsEndpoint::WaitFor(std::size_t n, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Messages().size() >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace billing::testing
