#include "clients/transports.h"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

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

SendResult SmtpTransport::Send(const domain::OutgoingMessage& message) {
  const std::string mail = BuildEmail(message, options_.from_address);
  CurlPtr curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return {AttemptOutcome::kTransientFailure, "", "curl init failed"};
  CURL* c = curl.get();
  curl_slist* rcpt = curl_slist_append(nullptr, ("<" + message.to + ">").c_str());
  Upload upload{&mail};
  curl_easy_setopt(c, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(options_.timeout.count(), 10000)));
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, ("<" + options_.from_address + ">").c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
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
  const CURLcode rc = curl_easy_perform(c);
  long reply = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply);
  curl_slist_free_all(rcpt);
  if (rc == CURLE_OK) {
    const auto at = options_.from_address.find('@');
    const std::string domain = at == std::string::npos ? "localhost" : options_.from_address.substr(at + 1);
    return {AttemptOutcome::kAccepted, "<" + message.notification_id + "@" + domain + ">", ""};
  }
  // curl's messages name the step and the server's reply code, never the
  // credentials.
  const std::string error = std::string("smtp: ") + curl_easy_strerror(rc) + (reply ? " (reply " + std::to_string(reply) + ")" : "");
  const bool permanent = reply >= 500 && reply < 600 && reply != 535 && rc != CURLE_LOGIN_DENIED;
  return {permanent ? AttemptOutcome::kPermanentFailure : AttemptOutcome::kTransientFailure, "", error};
}

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
  const std::string url = options_.api_base + "/2010-04-01/Accounts/" + escape(options_.account_sid) + "/Messages.json";
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
    const std::string sid = json.is_object() ? json.value("sid", "") : "";
    if (sid.empty()) return {AttemptOutcome::kTransientFailure, "", "sms: accepted without a sid"};
    return {AttemptOutcome::kAccepted, sid, ""};
  }
  std::string error = "sms: HTTP " + std::to_string(status);
  if (json.is_object()) {
    if (json.contains("code")) error += " code " + json["code"].dump();
    if (json.contains("message") && json["message"].is_string()) error += ": " + json["message"].get<std::string>();
  }
  const bool transient = status == 429 || status >= 500 || status == 401 || status == 403;
  return {transient ? AttemptOutcome::kTransientFailure : AttemptOutcome::kPermanentFailure, "", error};
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
    if (!out) return {AttemptOutcome::kTransientFailure, "", "file: cannot write " + tmp};
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return {AttemptOutcome::kTransientFailure, "", "file: cannot rename into " + path};
  }
  return {AttemptOutcome::kAccepted, "file:" + name, ""};
}

}  // namespace billing::notify::clients
