#pragma once

#include <httplib.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

// A local Twilio-compatible SMS API for e2e tests:
// POST /2010-04-01/Accounts/{sid}/Messages.json with Basic auth sid:token
// and form fields To, From, Body. Answers 201 {"sid": "SM..."}; 401 for
// wrong credentials; 400 {"code": 21211} for a To in the reject list; 503
// while unavailable.
namespace billing::testing {

struct ReceivedSms {
  std::string to;
  std::string from;
  std::string body;
  std::string sid;
};

class SmsEndpoint {
 public:
  SmsEndpoint(std::string account_sid, std::string auth_token);
  ~SmsEndpoint();

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void RejectNumber(const std::string& e164);
  void SetAvailable(bool available);
  // Answers as a hostile or broken provider might, all valid JSON: a sid
  // with a NUL ("\u0000") in it, and rejections whose message holds a NUL,
  // a CR LF and 300 three-byte characters.
  void SetHostileText(bool hostile);

  // Accepted messages, in arrival order.
  std::vector<ReceivedSms> Messages() const;
  // Every request, accepted or not.
  int requests() const;
  // Requests refused for bad credentials.
  int unauthorized() const;
  bool WaitFor(std::size_t n, std::chrono::milliseconds timeout) const;

 private:
  std::string account_sid_;
  std::string auth_token_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  bool available_ = true;
  bool hostile_ = false;
  std::set<std::string> rejected_;
  std::vector<ReceivedSms> messages_;
  int requests_ = 0;
  int unauthorized_ = 0;
};

}  // namespace billing::testing
