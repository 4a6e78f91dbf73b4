// The payments service's pure parts: webhook signatures, Stripe's JSON and
// form encoding, status rules, retry delays.
#include <gtest/gtest.h>

#include "clients/stripe_client.h"
#include "clients/stripe_json.h"
#include "crypto/crypto.h"
#include "domain/model.h"
#include "domain/webhook_signature.h"

namespace billing::payments {
namespace {

using domain::SignatureCheck;

const clock::Time kNow = clock::FromUnixMicros(1'800'000'000'000'000);
const std::string kPayload = R"({"id":"evt_1","object":"event"})";

std::string Header(const std::string& secret, int64_t t, const std::string& payload = kPayload) {
  return "t=" + std::to_string(t) + ",v1=" + crypto::HmacSha256Hex(secret, std::to_string(t) + "." + payload);
}

SignatureCheck Verify(const std::string& header, std::vector<std::string> secrets = {"whsec_a"}) {
  return domain::VerifyStripeSignature(header, kPayload, secrets, kNow, std::chrono::seconds(300));
}

TEST(WebhookSignatureTest, AcceptsOnlyAFreshSignatureFromAKnownSecret) {
  const int64_t t = 1'800'000'000;
  EXPECT_EQ(Verify(Header("whsec_a", t)), SignatureCheck::kValid);
  EXPECT_EQ(Verify(Header("whsec_a", t - 300)), SignatureCheck::kValid) << "the tolerance is inclusive";
  EXPECT_EQ(Verify(Header("whsec_a", t - 301)), SignatureCheck::kStale);
  EXPECT_EQ(Verify(Header("whsec_a", t + 301)), SignatureCheck::kStale);
  EXPECT_EQ(Verify(Header("whsec_b", t)), SignatureCheck::kNoMatch);
  EXPECT_EQ(Verify(Header("whsec_b", t), {"whsec_a", "whsec_b"}), SignatureCheck::kValid) << "rotation";
  // Any v1 may match; v0 and unknown schemes are ignored.
  EXPECT_EQ(Verify("t=" + std::to_string(t) + ",v1=00,v0=x," + Header("whsec_a", t).substr(std::to_string(t).size() + 3)),
            SignatureCheck::kValid);
  EXPECT_EQ(Verify(""), SignatureCheck::kMissing);
  EXPECT_EQ(Verify("v1=abc"), SignatureCheck::kMalformed);
  EXPECT_EQ(Verify("t=12a,v1=abc"), SignatureCheck::kMalformed);
  EXPECT_EQ(Verify("t=" + std::to_string(t)), SignatureCheck::kMalformed);
  // The signature covers the exact bytes.
  EXPECT_EQ(domain::VerifyStripeSignature(Header("whsec_a", t), kPayload + " ", {"whsec_a"}, kNow,
                                          std::chrono::seconds(300)),
            SignatureCheck::kNoMatch);
}

TEST(StripeJsonTest, FormEncodingKeepsNestedKeysAndEscapesValues) {
  EXPECT_EQ(clients::FormEncode({{"amount", "2000"}, {"metadata[invoice_id]", "inv 1&x=é"}}),
            "amount=2000&metadata[invoice_id]=inv%201%26x%3D%C3%A9");
}

TEST(StripeJsonTest, ErrorsAreClassifiedByStatus) {
  const auto card = clients::FailureFromJson(
      402, nlohmann::json::parse(R"({"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds",
        "message":"Your card has insufficient funds.","payment_intent":{"id":"pi_1","status":"requires_payment_method",
        "last_payment_error":{"code":"card_declined","decline_code":"insufficient_funds","message":"m"}}}})"));
  EXPECT_EQ(card.outcome, domain::StripeOutcome::kCardError);
  EXPECT_EQ(card.decline_code, "insufficient_funds");
  ASSERT_TRUE(card.intent.has_value());
  EXPECT_EQ(domain::StatusOf(*card.intent), domain::PaymentStatus::kFailed);
  EXPECT_EQ(clients::FailureFromJson(400, nlohmann::json::object()).outcome, domain::StripeOutcome::kInvalidRequest);
  EXPECT_EQ(clients::FailureFromJson(404, nlohmann::json::object()).outcome, domain::StripeOutcome::kInvalidRequest);
  EXPECT_EQ(clients::FailureFromJson(401, nlohmann::json::object()).outcome, domain::StripeOutcome::kAuthError);
  EXPECT_EQ(clients::FailureFromJson(409, nlohmann::json::object()).outcome, domain::StripeOutcome::kUnavailable);
  EXPECT_EQ(clients::FailureFromJson(429, nlohmann::json::object()).outcome, domain::StripeOutcome::kUnavailable);
  EXPECT_EQ(clients::FailureFromJson(503, nlohmann::json::object()).outcome, domain::StripeOutcome::kUnavailable);
  EXPECT_EQ(clients::FailureFromJson(500, nlohmann::json("not json")).message, "HTTP 500");
}

TEST(StripeJsonTest, StripesTextIsMadeStorableWhereItEnters) {
  // A "\u0000" decodes to a NUL, which PostgreSQL's text refuses: the
  // payment's record (and its idempotency key's answer) could never be
  // written, and every retry would fail the same way.
  std::string long_message(3000, 'm');
  const auto failure = clients::FailureFromJson(
      402, nlohmann::json::parse(R"({"error":{"type":"card_error","code":"card\u0000declined","message":")" +
                                 long_message + R"(","payment_intent":{"id":"pi_1","status":"requires_payment_method",
        "metadata":{"k\u0000":"v\r\n"},"last_payment_error":{"code":"card_declined","message":"a\u0000b"}}}})"));
  EXPECT_EQ(failure.code, "card declined");
  EXPECT_EQ(failure.message.size(), 2000u) << "cut at the cap";
  ASSERT_TRUE(failure.intent.has_value());
  EXPECT_EQ(failure.intent->last_error.message, "a b");
  EXPECT_EQ(failure.intent->metadata.at("k "), "v  ");
}

TEST(StripeJsonTest, EventsCarryTheirObject) {
  const auto e = clients::EventFromJson(R"({"id":"evt_1","object":"event","type":"payment_intent.succeeded",
      "created":1800000000,"data":{"object":{"id":"pi_1","object":"payment_intent","status":"succeeded",
      "amount":2000,"amount_received":2000,"currency":"usd","metadata":{"payment_id":"p"}}}})");
  ASSERT_TRUE(e.has_value());
  ASSERT_TRUE(e->intent.has_value());
  EXPECT_EQ(e->intent->currency, "USD");
  EXPECT_EQ(e->intent->metadata.at("payment_id"), "p");
  EXPECT_EQ(e->created, kNow);
  const auto charge = clients::EventFromJson(R"({"id":"evt_2","object":"event","type":"charge.refunded","created":1,
      "data":{"object":{"id":"ch_1","object":"charge","payment_intent":"pi_1","amount_refunded":500}}})");
  ASSERT_TRUE(charge.has_value());
  EXPECT_EQ(charge->charge_payment_intent, "pi_1");
  EXPECT_EQ(charge->charge_amount_refunded, 500);
  EXPECT_FALSE(clients::EventFromJson("{}").has_value());
  // A "created" that would overflow microseconds is not an event (fuzz find).
  EXPECT_FALSE(clients::EventFromJson(R"({"id":"evt_9","object":"event","type":"x","created":1700008888880000,
                                          "data":{"object":{"object":"charge"}}})").has_value());
  EXPECT_FALSE(clients::EventFromJson(R"({"id":"evt_9","object":"event","type":"x","created":-1,
                                          "data":{"object":{"object":"charge"}}})").has_value());
  // Money that no Stripe object holds: negative, fractional, past 2^63 (it
  // would wrap to a negative int64) or past the API's cap.
  for (const char* amount : {"-5", "10.5", "9223372036854775808", "1e400", "1000000000001", "\"100\""}) {
    EXPECT_FALSE(clients::EventFromJson(std::string(R"({"id":"evt_4","object":"event","type":"payment_intent.succeeded",
        "created":1,"data":{"object":{"id":"pi_1","object":"payment_intent","status":"succeeded","amount":2000,
        "amount_received":)") + amount + "}}}").has_value())
        << amount;
  }
  EXPECT_TRUE(clients::EventFromJson(R"({"id":"evt_5","object":"event","type":"payment_intent.canceled","created":1,
      "data":{"object":{"id":"pi_1","object":"payment_intent","status":"canceled","amount":2000,
      "amount_received":0,"amount_refunded":null}}})").has_value()) << "zero and null are Stripe's own";
  EXPECT_TRUE(clients::EventFromJson(R"({"id":"evt_6","object":"event","type":"invoiceitem.created","created":1,
      "data":{"object":{"id":"ii_1","object":"invoiceitem","amount":-500}}})").has_value())
      << "a credit line of an object we do not read is no reason to refuse the event";
  EXPECT_FALSE(clients::EventFromJson("not json").has_value());
  EXPECT_FALSE(clients::EventFromJson(R"({"id":"evt_3","object":"event","type":"x"})").has_value()) << "no data";
}

TEST(PaymentRulesTest, StatusesOnlyMoveForwardAndCapturedMoneyWins) {
  using S = domain::PaymentStatus;
  EXPECT_LT(domain::Rank(S::kPending), domain::Rank(S::kRequiresAction));
  EXPECT_LT(domain::Rank(S::kRequiresAction), domain::Rank(S::kProcessing));
  EXPECT_LT(domain::Rank(S::kProcessing), domain::Rank(S::kFailed));
  EXPECT_LT(domain::Rank(S::kFailed), domain::Rank(S::kSucceeded));
  EXPECT_LT(domain::Rank(S::kCanceled), domain::Rank(S::kSucceeded));
  EXPECT_EQ(domain::Rank(S::kFailed), domain::Rank(S::kCanceled)) << "neither replaces the other";
  domain::Intent i;
  i.status = "requires_payment_method";
  EXPECT_EQ(domain::StatusOf(i), S::kPending) << "never confirmed";
  i.last_error.code = "card_declined";
  EXPECT_EQ(domain::StatusOf(i), S::kFailed);
  i.status = "requires_confirmation";
  EXPECT_EQ(domain::StatusOf(i), S::kPending);
  i.status = "requires_capture";
  EXPECT_EQ(domain::StatusOf(i), S::kProcessing);
}

TEST(StripeClientTest, RetryDelaysDoubleWithJitterUpToTheCap) {
  clients::StripeClient client({.api_base = "http://127.0.0.1:1", .secret_key = "sk_test_x",
                                .retry_base = std::chrono::milliseconds(100),
                                .retry_max = std::chrono::milliseconds(1000)});
  for (int i = 0; i < 50; ++i) {
    EXPECT_GE(client.RetryDelay(1).count(), 50);
    EXPECT_LE(client.RetryDelay(1).count(), 100);
    EXPECT_GE(client.RetryDelay(3).count(), 200);
    EXPECT_LE(client.RetryDelay(3).count(), 400);
    EXPECT_LE(client.RetryDelay(20).count(), 1000);
  }
}

}  // namespace
}  // namespace billing::payments
