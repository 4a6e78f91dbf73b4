#include <gtest/gtest.h>

#include "clients/mime.h"
#include "clients/sms_text.h"
#include "ids/ids.h"

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

TEST(MimeTest, HeadersAreEncodedAndNeverInjectable) {
  EXPECT_EQ(EncodeHeaderText("Plain subject"), "Plain subject");
  const std::string encoded = EncodeHeaderText(std::string(100, 'x') + "é");
  EXPECT_EQ(encoded.rfind("=?UTF-8?B?", 0), 0u);
  for (std::size_t start = 0; start < encoded.size();) {
    auto end = encoded.find("\r\n ", start);
    const std::string word = encoded.substr(start, end == std::string::npos ? std::string::npos : end - start);
    EXPECT_LE(word.size(), 75u) << word;
    if (end == std::string::npos) break;
    start = end + 3;
  }
  EXPECT_EQ(EncodeHeaderText("a\r\nBcc: evil@example.com"), "a  Bcc: evil@example.com");
  EXPECT_EQ(FormatAddress("Ann \"the\" Lee", "ann@example.com"), "\"Ann \\\"the\\\" Lee\" <ann@example.com>");
  EXPECT_EQ(FormatAddress("", "ann@example.com"), "<ann@example.com>");
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
}

}  // namespace
}  // namespace billing::notify::clients
