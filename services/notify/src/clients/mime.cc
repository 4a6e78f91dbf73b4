#include "clients/mime.h"

#include <openssl/evp.h>

#include <cstdio>
#include <ctime>

namespace billing::notify::clients {
namespace {

std::string Base64(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool IsPlainAscii(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7F) return false;
  }
  return true;
}

// CR, LF and other controls never reach a header (no header injection).
std::string Clean(const std::string& s) {
  std::string out;
  for (char c : s) out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  return out;
}

}  // namespace

std::string EncodeHeaderText(const std::string& raw) {
  const std::string text = Clean(raw);
  // ASCII goes as it is, folded at spaces to keep lines near 78 characters,
  // unless it looks like an encoded word itself ("=?"), which a mail client
  // would decode: then it is encoded like non-ASCII text.
  if (IsPlainAscii(text) && text.find("=?") == std::string::npos) {
    std::string out;
    std::size_t line = 0;
    std::size_t i = 0;
    while (i < text.size()) {
      const std::size_t space = text.find(' ', i + 1);
      const std::size_t word_end = space == std::string::npos ? text.size() : space;
      if (line > 0 && line + (word_end - i) > 68 && text[i] == ' ') {
        out += "\r\n";  // the space that follows starts the continuation line
        line = 0;
      }
      out.append(text, i, word_end - i);
      line += word_end - i;
      i = word_end;
    }
    return out;
  }
  // Encoded words of at most 64 characters (39 bytes -> 52 base64 plus the
  // 12 of "=?UTF-8?B??="), so even the first, after "Subject: ", stays under
  // RFC 2047's 76. Never split a UTF-8 sequence.
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = std::min(text.size(), i + 39);
    while (end > i && end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    // 39 continuation bytes in a row is not UTF-8: cut anywhere rather than
    // loop forever (template_fuzz found the hang; the API refuses such text).
    if (end == i) end = std::min(text.size(), i + 39);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64(text.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string FormatAddress(const std::string& name, const std::string& address) {
  if (name.empty()) return "<" + address + ">";
  const std::string clean = Clean(name);
  if (IsPlainAscii(clean) && clean.find("=?") == std::string::npos) {
    std::string quoted = "\"";
    for (char c : clean) {
      if (c == '"' || c == '\\') quoted.push_back('\\');
      quoted.push_back(c);
    }
    return quoted + "\" <" + address + ">";
  }
  return EncodeHeaderText(clean) + " <" + address + ">";
}

std::string Base64Lines(const std::string& data) {
  const std::string b64 = Base64(data);
  std::string out;
  for (std::size_t i = 0; i < b64.size(); i += 76) out += b64.substr(i, 76) + "\r\n";
  return out;
}

std::string RfcDate(clock::Time t) {
  const std::time_t secs = static_cast<std::time_t>(clock::ToUnixMicros(t) / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday], tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string BuildEmail(const domain::OutgoingMessage& m, const std::string& from_address) {
  const auto at = from_address.find('@');
  const std::string domain = at == std::string::npos ? "localhost" : from_address.substr(at + 1);
  const std::string boundary = "=_billing_" + m.notification_id;
  std::string out;
  out += "Date: " + RfcDate(m.created_at) + "\r\n";
  out += "Message-ID: <" + m.notification_id + "@" + domain + ">\r\n";
  out += "From: " + FormatAddress(m.from_name, from_address) + "\r\n";
  out += "To: " + FormatAddress(m.to_name, m.to) + "\r\n";
  out += "Subject: " + EncodeHeaderText(m.content.subject) + "\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n";
  out += "\r\n";
  out += "--" + boundary + "\r\n";
  out += "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  out += Base64Lines(m.content.text);
  out += "--" + boundary + "\r\n";
  out += "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  out += Base64Lines(m.content.html);
  out += "--" + boundary + "--\r\n";
  return out;
}

}  // namespace billing::notify::clients
