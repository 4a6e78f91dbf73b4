#include "clients/transports.h"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "clients/mime.h"

namespace billing::notify::clients {
namespace {

using domain::AttemptOutcome;
using domain::SendResult;

struct Upload {
  const std::string* data;
  std::size_t offset = 0;
};

std::size_t ReadUpload(char* buffer, std::size_t size, std::size_t n, void* userp) {
  auto* up = static_cast<Upload*>(userp);
  const std::size_t left = up->data->size() - up->offset;
  const std::size_t chunk = std::min(left, size * n);
  std::memcpy(buffer, up->data->data() + up->offset, chunk);
  up->offset += chunk;
  return chunk;
}

std::size_t CollectBody(char* data, std::size_t size, std::size_t n, void* out) {
  auto* body = static_cast<std::string*>(out);
  if (body->size() < 64 * 1024) body->append(data, size * n);
  return size * n;
}

using CurlPtr = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;

}  // namespace

namespace {

// What the SMTP conversation looked like from libcurl's debug stream: the
// verb of the last command we sent and the server's reply to it. Only verbs
// are kept, never the arguments (the AUTH line carries the credentials).
struct SmtpTrace {
  std::string last_verb;     // "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "BODY" (after the data)
  std::string reply_verb;    // the verb the last reply answered
  std::string reply;         // that reply's first line
  int reply_code = 0;
};

int TraceSmtp(CURL*, curl_infotype type, char* data, std::size_t size, void* userp) {
  auto* trace = static_cast<SmtpTrace*>(userp);
  if (type == CURLINFO_HEADER_OUT) {
    std::string verb(data, std::min<std::size_t>(size, 8));
    const auto end = verb.find_first_of(" \r\n:");
    if (end != std::string::npos) verb.resize(end);
    for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    // Continuation lines of AUTH (base64) are not verbs; keep "AUTH".
    if (trace->last_verb == "AUTH" && verb != "MAIL" && verb != "QUIT" && verb != "EHLO" && verb != "HELO") return 0;
    trace->last_verb = verb;
  } else if (type == CURLINFO_DATA_OUT) {
    trace->last_verb = "BODY";
  } else if (type == CURLINFO_HEADER_IN && size >= 3) {
    std::string line(data, std::min<std::size_t>(size, 200));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    int code = 0;
    for (int k = 0; k < 3 && std::isdigit(static_cast<unsigned char>(line[k])); ++k) code = code * 10 + (line[k] - '0');
    // The last line of a reply; the QUIT curl sends after a failure would
    // otherwise hide the reply that mattered.
    if (code >= 200 && (line.size() == 3 || line[3] == ' ') && trace->last_verb != "QUIT") {
      trace->reply_code = code;
      trace->reply = line;
      trace->reply_verb = trace->last_verb.empty() ? "GREETING" : trace->last_verb;
    }
  }
  return 0;
}

}  // namespace

SendResult SmtpTransport::Send(const domain::OutgoingMessage& message) {
  const std::string mail = BuildEmail(message, options_.from_address);
  CurlPtr curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return {AttemptOutcome::kTransientFailure, "", "curl init failed"};
  CURL* c = curl.get();
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt(
      curl_slist_append(nullptr, ("<" + message.to + ">").c_str()), &curl_slist_free_all);
  Upload upload{&mail};
  SmtpTrace trace;
  const std::string from = "<" + options_.from_address + ">";
  curl_easy_setopt(c, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(options_.timeout.count(), 10000)));
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadUpload);
  curl_easy_setopt(c, CURLOPT_READDATA, &upload);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_USE_SSL, options_.starttls == "required" ? static_cast<long>(CURLUSESSL_ALL)
                                       : options_.starttls == "try"    ? static_cast<long>(CURLUSESSL_TRY)
                                                                       : static_cast<long>(CURLUSESSL_NONE));
  if (!options_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, options_.password.c_str());
  }
  curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, TraceSmtp);
  curl_easy_setopt(c, CURLOPT_DEBUGDATA, &trace);
  curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);  // feeds TraceSmtp; nothing is printed
  const CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    const auto at = options_.from_address.find('@');
    const std::string domain = at == std::string::npos ? "localhost" : options_.from_address.substr(at + 1);
    return {AttemptOutcome::kAccepted, "<" + message.notification_id + "@" + domain + ">", ""};
  }
  // Only a refusal of this recipient (at RCPT) or of this message (the reply
  // to its data) is final. A 5xx anywhere else (greeting, EHLO, STARTTLS,
  // AUTH, MAIL FROM) is about our configuration or the relay: every message
  // would fail the same way, and they should all go out once it is fixed.
  const bool about_message = trace.reply_verb == "RCPT" || trace.reply_verb == "BODY";
  const bool permanent = trace.reply_code >= 500 && trace.reply_code < 600 && about_message;
  // curl's message names the step; the reply is the server's text. Neither
  // carries the credentials.
  std::string error = std::string("smtp: ") + curl_easy_strerror(rc);
  if (trace.reply_code >= 400) error += " (" + trace.reply_verb + " -> " + trace.reply + ")";
  return {permanent ? AttemptOutcome::kPermanentFailure : AttemptOutcome::kTransientFailure, "", error};
}

namespace {

// Twilio error codes that are about the recipient (or this message's body):
// no retry will change them. Everything else in 4xx (bad From number,
// account, URL) is configuration, retried until it is fixed or the limit.
bool IsRecipientError(long code) {
  switch (code) {
    case 21211:  // invalid 'To' number
    case 21214:  // 'To' cannot be reached
    case 21217:  // not a valid phone number
    case 21407:  // not supported for this number
    case 21408:  // region not enabled
    case 21610:  // recipient unsubscribed (STOP)
    case 21612:  // cannot route to this number
    case 21614:  // not a mobile number
    case 21617:  // body too long
      return true;
    default:
      return false;
  }
}

}  // namespace

SendResult TwilioSmsTransport::Send(const domain::OutgoingMessage& message) {
  CurlPtr curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return {AttemptOutcome::kTransientFailure, "", "curl init failed"};
  CURL* c = curl.get();
  auto escape = [c](const std::string& s) {
    char* e = curl_easy_escape(c, s.c_str(), static_cast<int>(s.size()));
    std::string out = e != nullptr ? e : "";
    curl_free(e);
    return out;
  };
  std::string base = options_.api_base;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string url = base + "/2010-04-01/Accounts/" + escape(options_.account_sid) + "/Messages.json";
  const std::string form = "To=" + escape(message.to) + "&From=" + escape(options_.from_number) +
                           "&Body=" + escape(message.content.text);
  std::string body;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
  curl_easy_setopt(c, CURLOPT_USERNAME, options_.account_sid.c_str());
  curl_easy_setopt(c, CURLOPT_PASSWORD, options_.auth_token.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, form.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(form.size()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  const CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK) return {AttemptOutcome::kTransientFailure, "", std::string("sms: ") + curl_easy_strerror(rc)};
  const auto json = nlohmann::json::parse(body, nullptr, false);
  if (status >= 200 && status < 300) {
    // The provider took it. Without a readable sid (a proxy's page, a cut
    // body) it is still sent: retrying would text the customer twice.
    if (json.is_object() && json.contains("sid") && json["sid"].is_string()) {
      return {AttemptOutcome::kAccepted, json["sid"].get<std::string>(), ""};
    }
    return {AttemptOutcome::kAccepted, "", "sms: HTTP " + std::to_string(status) + " without a message sid"};
  }
  std::string error = "sms: HTTP " + std::to_string(status);
  long code = 0;
  if (json.is_object()) {
    if (json.contains("code") && json["code"].is_number_integer()) {
      code = json["code"].get<long>();
      error += " code " + std::to_string(code);
    }
    if (json.contains("message") && json["message"].is_string()) error += ": " + json["message"].get<std::string>();
  }
  const bool permanent = status >= 400 && status < 500 && IsRecipientError(code);
  return {permanent ? AttemptOutcome::kPermanentFailure : AttemptOutcome::kTransientFailure, "", error};
}

FileTransport::FileTransport(std::string dir, std::string from_address, std::string sms_from)
    : dir_(std::move(dir)), from_address_(std::move(from_address)), sms_from_(std::move(sms_from)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (!std::filesystem::is_directory(dir_)) throw std::runtime_error("cannot create the outbox folder " + dir_);
}

SendResult FileTransport::Send(const domain::OutgoingMessage& m) {
  const bool email = m.channel == domain::Channel::kEmail;
  const std::string name = m.notification_id + (email ? ".eml" : ".sms.txt");
  const std::string content = email ? BuildEmail(m, from_address_)
                                    : "To: " + m.to + "\nFrom: " + sms_from_ + "\nDate: " + RfcDate(m.created_at) +
                                          "\n\n" + m.content.text + "\n";
  const std::string path = dir_ + "/" + name;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();  // flushes: a full disk shows here, before the rename
    if (out.fail()) return {AttemptOutcome::kTransientFailure, "", "file: cannot write " + tmp};
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return {AttemptOutcome::kTransientFailure, "", "file: cannot rename into " + path};
  }
  return {AttemptOutcome::kAccepted, "file:" + name, ""};
}

}  // namespace billing::notify::clients
