#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <vector>

#include "clients/mime.h"
#include "clients/sms_text.h"
#include "ids/ids.h"
#include "validation/validation.h"

namespace billing::notify::clients {
namespace {

domain::OutgoingMessage Message() {
  domain::OutgoingMessage m;
  m.notification_id = "6b1d1f4e-2f55-4d2c-9d6e-1a2b3c4d5e6f";
  m.channel = domain::Channel::kEmail;
  m.to = "zoe@example.com";
  m.to_name = "Zoë Ångström";
  m.from_name = "Sunset \"Kayaks\"";
  m.content = {"Ihr Rechnung über € 100,00", "text part https://pay.example.com/i/T0K", "<p>html</p>", 0};
  m.created_at = clock::FromUnixMicros(1'795'307'800'000'000);
  return m;
}

// Splits a folded header value into its lines.
std::vector<std::string> Lines(const std::string& folded) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto end = folded.find("\r\n", start);
    out.push_back(folded.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 2;
  }
}

// Decodes "=?UTF-8?B?...?=" words back to bytes.
std::string DecodeWords(const std::string& folded) {
  std::string out;
  for (std::string line : Lines(folded)) {
    if (!line.empty() && line[0] == ' ') line.erase(0, 1);
    EXPECT_EQ(line.rfind("=?UTF-8?B?", 0), 0u) << line;
    const std::string b64 = line.substr(10, line.size() - 12);
    std::string raw(b64.size(), '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                                  reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
    // EVP_DecodeBlock counts the padding's zero bytes; drop them.
    const std::size_t pad = b64.size() >= 2 && b64[b64.size() - 2] == '=' ? 2 : (!b64.empty() && b64.back() == '=');
    raw.resize(static_cast<std::size_t>(n) - pad);
    // Every word on its own must be valid UTF-8: a split sequence would be
    // shown as garbage by mail clients.
    EXPECT_TRUE(validation::IsValidUtf8(raw)) << line;
    out += raw;
  }
  return out;
}

TEST(MimeTest, EncodedWordsNeverSplitACharacterAndStayShort) {
  // The multibyte character at every offset around the chunk boundary.
  for (std::size_t prefix = 30; prefix < 90; ++prefix) {
    for (const std::string ch : {"é", "€", "🚣"}) {
      const std::string text = std::string(prefix, 'x') + ch + "yz";
      const std::string encoded = EncodeHeaderText(text);
      for (const auto& line : Lines(encoded)) EXPECT_LE(line.size(), 76u - 9u) << "room for \"Subject: \"";
      EXPECT_EQ(DecodeWords(encoded), text) << prefix;
    }
  }
}

// template_fuzz found this hang: a run of UTF-8 continuation bytes longer
// than one encoded word made the splitter stand still.
TEST(MimeTest, InvalidUtf8NeverHangsTheHeaderEncoder) {
  const std::string junk(100, static_cast<char>(0x80));
  const std::string encoded = EncodeHeaderText("Name " + junk);
  EXPECT_EQ(encoded.rfind("=?UTF-8?B?", 0), 0u);
  int words = 0;
  for (std::size_t p = 0; (p = encoded.find("=?UTF-8?B?", p)) != std::string::npos; ++p) ++words;
  EXPECT_EQ(words, 4);  // "Name " (cut before the junk), then 100 bytes in words of at most 39
}

TEST(MimeTest, HeadersAreEncodedFoldedAndNeverInjectable) {
  EXPECT_EQ(EncodeHeaderText("Plain subject"), "Plain subject");
  EXPECT_EQ(EncodeHeaderText("a\r\nBcc: evil@example.com"), "a  Bcc: evil@example.com");
  EXPECT_EQ(FormatAddress("Ann \"the\" Lee", "ann@example.com"), "\"Ann \\\"the\\\" Lee\" <ann@example.com>");
  EXPECT_EQ(FormatAddress("", "ann@example.com"), "<ann@example.com>");
  // ASCII that a client would decode as an encoded word is encoded itself.
  EXPECT_EQ(EncodeHeaderText("=?UTF-8?B?SGk=?=").rfind("=?UTF-8?B?", 0), 0u);
  EXPECT_EQ(DecodeWords(EncodeHeaderText("=?UTF-8?B?SGk=?=")), "=?UTF-8?B?SGk=?=");
  EXPECT_NE(FormatAddress("=?UTF-8?B?SGk=?=", "a@example.com").find("=?UTF-8?B?PT9"), std::string::npos);
  // Long ASCII is folded at spaces; unfolding gives the text back.
  std::string long_subject;
  for (int i = 0; i < 30; ++i) long_subject += "word" + std::to_string(i) + " ";
  long_subject += "end";
  const std::string folded = EncodeHeaderText(long_subject);
  const auto lines = Lines(folded);
  EXPECT_GT(lines.size(), 2u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_LE(lines[i].size(), 70u) << lines[i];
    if (i > 0) {
      EXPECT_EQ(lines[i][0], ' ') << "a continuation line starts with white space";
    }
  }
  std::string unfolded;
  for (const auto& line : lines) unfolded += line;
  EXPECT_EQ(unfolded, long_subject);
}

TEST(MimeTest, BuildsAMultipartAlternativeMessage) {
  const std::string mail = BuildEmail(Message(), "billing@sunset.example");
  EXPECT_NE(mail.find("Date: Sun, 22 Nov 2026"), std::string::npos) << mail;
  EXPECT_NE(mail.find("Message-ID: <6b1d1f4e-2f55-4d2c-9d6e-1a2b3c4d5e6f@sunset.example>\r\n"), std::string::npos);
  EXPECT_NE(mail.find("From: \"Sunset \\\"Kayaks\\\"\" <billing@sunset.example>\r\n"), std::string::npos);
  EXPECT_NE(mail.find("To: =?UTF-8?B?"), std::string::npos);
  EXPECT_NE(mail.find("Subject: =?UTF-8?B?"), std::string::npos);
  EXPECT_NE(mail.find("Content-Type: multipart/alternative; boundary="), std::string::npos);
  EXPECT_NE(mail.find("Content-Type: text/plain; charset=UTF-8"), std::string::npos);
  EXPECT_NE(mail.find("Content-Type: text/html; charset=UTF-8"), std::string::npos);
  EXPECT_EQ(mail.find("\n\n"), std::string::npos) << "CRLF line endings only";
  for (std::size_t pos = 0; (pos = mail.find('\n', pos)) != std::string::npos; ++pos) {
    ASSERT_EQ(mail[pos - 1], '\r');
  }
}

TEST(SmsTest, CountsSegmentsByEncoding) {
  EXPECT_EQ(MeasureSms(std::string(160, 'a')).segments, 1);
  EXPECT_EQ(MeasureSms(std::string(161, 'a')).segments, 2);
  EXPECT_EQ(MeasureSms(std::string(306, 'a')).segments, 2);
  EXPECT_EQ(MeasureSms(std::string(307, 'a')).segments, 3);
  // Extension characters take two septets.
  EXPECT_EQ(MeasureSms(std::string(80, '{')).units, 160);
  EXPECT_EQ(MeasureSms(std::string(81, '{')).segments, 2);
  // Any character outside GSM-7 makes the whole message UCS-2.
  const auto emoji = MeasureSms("Paid 🚣");
  EXPECT_FALSE(emoji.gsm7);
  EXPECT_EQ(emoji.units, 7);
  std::string seventy;
  for (int i = 0; i < 70; ++i) seventy += "ş";
  EXPECT_EQ(MeasureSms(seventy).segments, 1);
  EXPECT_EQ(MeasureSms(seventy + "ş").segments, 2);
  // é, £ and € are GSM-7 (€ from the extension table, two units); ë is not.
  const auto euro = MeasureSms("Zoé: £5 €");
  EXPECT_TRUE(euro.gsm7);
  EXPECT_EQ(euro.units, 10);
  EXPECT_FALSE(MeasureSms("Zoë").gsm7);
  // Characters never straddle segments: 152 'a' then '€' (two septets)
  // does not fit the first 153-septet segment, so it opens the second.
  const auto edge = MeasureSms(std::string(152, 'a') + "€" + std::string(10, 'a'));
  EXPECT_EQ(edge.units, 164);
  EXPECT_EQ(edge.segments, 2);
  EXPECT_EQ(MeasureSms(std::string(152, 'a') + "€" + std::string(152, 'a')).segments, 3)
      << "153 + 154 septets would fit two segments if the euro could be split";
  std::string ucs;
  for (int i = 0; i < 66; ++i) ucs += "ş";
  EXPECT_EQ(MeasureSms(ucs + "🚣" + ucs).segments, 3) << "the surrogate pair does not fit unit 67";
}

}  // namespace
}  // namespace billing::notify::clients
