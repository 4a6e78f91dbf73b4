// The Stripe emulator over real HTTP (libcurl): wire format, PaymentIntents,
// test cards, 3-D Secure, refunds, idempotency, webhooks and every fault
// knob. What it checks is Stripe's documented or observed behaviour (see
// tools/stripe-emulator/STRIPE-DIFFS.md for the sources and the gaps).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include <signal.h>

#include "crypto/crypto.h"
#include "support/eventually.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/webhook_receiver.h"

namespace billing::testing {
namespace {

using Json = nlohmann::json;
using Fields = std::vector<std::pair<std::string, std::string>>;

const std::string kKey = "sk_test_emulator_key_1234";

// Verifies a Stripe-Signature header against one secret: any v1 may match.
bool SignatureValid(const std::string& header, const std::string& body, const std::string& secret,
                    int64_t* timestamp = nullptr) {
  int64_t t = -1;
  std::vector<std::string> v1;
  std::size_t start = 0;
  while (start < header.size()) {
    auto comma = header.find(',', start);
    if (comma == std::string::npos) comma = header.size();
    const std::string part = header.substr(start, comma - start);
    const auto eq = part.find('=');
    if (eq != std::string::npos) {
      if (part.substr(0, eq) == "t") t = std::stoll(part.substr(eq + 1));
      if (part.substr(0, eq) == "v1") v1.push_back(part.substr(eq + 1));
    }
    start = comma + 1;
  }
  if (timestamp != nullptr) *timestamp = t;
  const std::string expected = crypto::HmacSha256Hex(secret, std::to_string(t) + "." + body);
  for (const auto& sig : v1) {
    if (crypto::ConstantTimeEquals(sig, expected)) return true;
  }
  return false;
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class EmulatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    proc_ = new ServiceProcess({.binary = EmulatorBinary(),
                                .env = {{"LISTEN_ADDRESS", "127.0.0.1:0"},
                                        {"IDEMPOTENCY_TTL_S", "60"},
                                        {"WEBHOOK_RETRY_BASE_MS", "50"},
                                        {"WEBHOOK_MAX_ATTEMPTS", "5"},
                                        {"WEBHOOK_TIMEOUT_MS", "2000"}},
                                .wait_serving = false});
  }
  static void TearDownTestSuite() { delete proc_; }

  void SetUp() override { ASSERT_EQ(Control("POST", "/_emulator/reset").status, 200); }

  static std::string Base() { return "http://127.0.0.1:" + std::to_string(proc_->Port("http")); }

  HttpResponse Api(const std::string& method, const std::string& path, const Fields& fields = {},
                   std::vector<std::string> headers = {}, long timeout_ms = 15000) {
    headers.push_back("Authorization: Bearer " + kKey);
    const std::string form = FormEncode(fields);
    if (method == "GET") {
      return HttpRequest(method, Base() + path + (form.empty() ? "" : "?" + form), "", headers, timeout_ms);
    }
    headers.push_back("Content-Type: application/x-www-form-urlencoded");
    return HttpRequest(method, Base() + path, form, headers, timeout_ms);
  }

  HttpResponse Control(const std::string& method, const std::string& path, const Json& body = Json::object()) {
    return HttpRequest(method, Base() + path, body.dump(), {"Content-Type: application/json"});
  }

  // POST /v1/payment_intents with sensible defaults.
  HttpResponse CreatePi(const std::string& pm, Fields extra = {}, std::vector<std::string> headers = {}) {
    Fields f = {{"amount", "2000"}, {"currency", "usd"}, {"confirm", "true"}, {"payment_method", pm},
                {"return_url", "https://shop.example.com/return"}};
    for (auto& e : extra) f.push_back(e);
    return Api("POST", "/v1/payment_intents", f, headers);
  }

  Json Ledger() { return Control("GET", "/_emulator/ledger").Json(); }

  static ServiceProcess* proc_;
};

ServiceProcess* EmulatorTest::proc_ = nullptr;

// --- wire format -------------------------------------------------------------

TEST_F(EmulatorTest, AuthenticationBearerBasicAndFailures) {
  const auto none = HttpRequest("GET", Base() + "/v1/payment_intents/pi_x");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.Json()["error"]["type"], "invalid_request_error");
  EXPECT_NE(none.Json()["error"]["message"].get<std::string>().find("You did not provide an API key"), std::string::npos);
  EXPECT_EQ(none.Header("www-authenticate"), "Basic realm=\"Stripe\"");
  EXPECT_EQ(none.Header("request-id").rfind("req_", 0), 0u);

  const auto bad = HttpRequest("GET", Base() + "/v1/payment_intents/pi_x", "", {"Authorization: Bearer sk_live_abcdefgh5678"});
  EXPECT_EQ(bad.status, 401);
  const std::string msg = bad.Json()["error"]["message"];
  EXPECT_EQ(msg.find("abcdefgh"), std::string::npos) << "the key must be masked";
  EXPECT_NE(msg.find("5678"), std::string::npos);

  // Basic auth with the key as user name (curl -u sk_test_...:).
  const std::string basic = "Authorization: Basic c2tfdGVzdF9lbXVsYXRvcl9rZXlfMTIzNDo=";  // sk_test_emulator_key_1234:
  const auto ok = HttpRequest("GET", Base() + "/v1/payment_intents/pi_missing", "", {basic});
  EXPECT_EQ(ok.status, 404);
  EXPECT_EQ(ok.Json()["error"]["code"], "resource_missing");
  EXPECT_EQ(ok.Json()["error"]["message"], "No such payment_intent: 'pi_missing'");
  EXPECT_EQ(ok.Json()["error"]["param"], "intent");
}

TEST_F(EmulatorTest, FormEncodingNestedKeysAndArrays) {
  // Percent-encoded and literal brackets, objects and both array styles.
  const std::string body =
      "amount=1500&currency=eur&metadata%5Border_id%5D=42&metadata[note]=hello+world&"
      "payment_method_types[]=card";
  const auto r = HttpRequest("POST", Base() + "/v1/payment_intents", body,
                             {"Authorization: Bearer " + kKey, "Content-Type: application/x-www-form-urlencoded"});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto pi = r.Json();
  EXPECT_EQ(pi["metadata"]["order_id"], "42");
  EXPECT_EQ(pi["metadata"]["note"], "hello world");
  EXPECT_EQ(pi["payment_method_types"], Json::array({"card"}));
  EXPECT_EQ(pi["status"], "requires_payment_method");
  const auto indexed = Api("POST", "/v1/payment_intents",
                           {{"amount", "1500"}, {"currency", "eur"}, {"payment_method_types[0]", "card"}});
  EXPECT_EQ(indexed.status, 200) << indexed.body;
  EXPECT_EQ(r.Header("content-type"), "application/json");
}

TEST_F(EmulatorTest, ValidationErrorsUseStripesEnvelope) {
  auto r = Api("POST", "/v1/payment_intents", {{"currency", "usd"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["code"], "parameter_missing");
  EXPECT_EQ(r.Json()["error"]["param"], "amount");
  EXPECT_EQ(r.Json()["error"]["message"], "Missing required param: amount.");
  EXPECT_EQ(r.Json()["error"]["doc_url"], "https://stripe.com/docs/error-codes/parameter-missing");

  r = Api("POST", "/v1/payment_intents", {{"amount", "12.5"}, {"currency", "usd"}});
  EXPECT_EQ(r.Json()["error"]["code"], "parameter_invalid_integer");
  r = Api("POST", "/v1/payment_intents", {{"amount", "2000"}, {"currency", "usd"}, {"amout", "1"}});
  EXPECT_EQ(r.Json()["error"]["code"], "parameter_unknown");
  EXPECT_EQ(r.Json()["error"]["param"], "amout");
  r = Api("POST", "/v1/payment_intents", {{"amount", "49"}, {"currency", "usd"}});
  EXPECT_EQ(r.Json()["error"]["code"], "amount_too_small");
  r = Api("POST", "/v1/payment_intents", {{"amount", "100000000"}, {"currency", "usd"}});
  EXPECT_EQ(r.Json()["error"]["code"], "amount_too_large");
  r = Api("POST", "/v1/payment_intents", {{"amount", "2000"}, {"currency", "USD"}});
  EXPECT_EQ(r.Json()["error"]["param"], "currency");
  r = Api("POST", "/v1/payment_intents", {{"amount", "1005"}, {"currency", "kwd"}});
  EXPECT_EQ(r.status, 400) << "three-decimal currencies need a trailing 0";
  EXPECT_EQ(Api("POST", "/v1/payment_intents", {{"amount", "1000"}, {"currency", "kwd"}}).status, 200);
  EXPECT_EQ(Api("POST", "/v1/payment_intents", {{"amount", "50"}, {"currency", "jpy"}}).status, 200);

  r = Api("GET", "/v1/nothing_here");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.Json()["error"]["message"].get<std::string>().find("Unrecognized request URL (GET: /v1/nothing_here)"),
            std::string::npos);
  r = HttpRequest("POST", Base() + "/v1/payment_intents", "{\"amount\":1}",
                  {"Authorization: Bearer " + kKey, "Content-Type: application/json"});
  EXPECT_EQ(r.status, 400);
  r = Api("GET", "/v1/payment_intents/pi_x", {}, {"Stripe-Version: yesterday"});
  EXPECT_EQ(r.status, 400);
  r = Api("GET", "/v1/payment_intents/pi_x", {}, {"Stripe-Version: 2023-10-16"});
  EXPECT_EQ(r.Header("stripe-version"), "2023-10-16");
}

// --- PaymentIntents ------------------------------------------------------------

TEST_F(EmulatorTest, VisaSucceedsWithChargeAndSecret) {
  const auto r = CreatePi("pm_card_visa", {{"metadata[invoice_id]", "inv-1"}, {"description", "Kayak tour"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto pi = r.Json();
  const std::string id = pi["id"];
  EXPECT_EQ(id.rfind("pi_", 0), 0u);
  EXPECT_EQ(pi["object"], "payment_intent");
  EXPECT_EQ(pi["status"], "succeeded");
  EXPECT_EQ(pi["amount_received"], 2000);
  EXPECT_EQ(pi["capture_method"], "automatic_async");
  EXPECT_EQ(pi["client_secret"].get<std::string>().rfind(id + "_secret_", 0), 0u);
  EXPECT_NE(pi["payment_method"], "pm_card_visa") << "aliases make a PaymentMethod of their own";
  EXPECT_EQ(pi["latest_charge"].get<std::string>().rfind("ch_", 0), 0u);
  EXPECT_EQ(pi["metadata"]["invoice_id"], "inv-1");
  const auto got = Api("GET", "/v1/payment_intents/" + id);
  EXPECT_EQ(got.Json(), pi);
  const auto charge = Api("GET", "/v1/charges/" + pi["latest_charge"].get<std::string>()).Json();
  EXPECT_EQ(charge["status"], "succeeded");
  EXPECT_EQ(charge["amount_captured"], 2000);
  const auto pm = Api("GET", "/v1/payment_methods/" + pi["payment_method"].get<std::string>()).Json();
  EXPECT_EQ(pm["card"]["last4"], "4242");
  EXPECT_EQ(Api("GET", "/v1/payment_intents/" + id, {{"client_secret", "wrong"}}).status, 400);
}

TEST_F(EmulatorTest, LifecycleAndRefusedTransitions) {
  auto r = Api("POST", "/v1/payment_intents", {{"amount", "2000"}, {"currency", "usd"}});
  EXPECT_EQ(r.Json()["status"], "requires_payment_method");
  r = Api("POST", "/v1/payment_intents",
          {{"amount", "2000"}, {"currency", "usd"}, {"payment_method", "pm_card_visa"}});
  const std::string id = r.Json()["id"];
  EXPECT_EQ(r.Json()["status"], "requires_confirmation");
  r = Api("POST", "/v1/payment_intents/" + id + "/confirm", {{"return_url", "https://x.example.com"}});
  EXPECT_EQ(r.Json()["status"], "succeeded");
  r = Api("POST", "/v1/payment_intents/" + id + "/confirm", {{"return_url", "https://x.example.com"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["code"], "payment_intent_unexpected_state");
  EXPECT_EQ(r.Json()["error"]["message"],
            "You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.");
  r = Api("POST", "/v1/payment_intents/" + id + "/cancel");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["code"], "payment_intent_unexpected_state");
  EXPECT_NE(r.Json()["error"]["message"].get<std::string>().find("because it has a status of succeeded"),
            std::string::npos);
  // Confirming without a payment method.
  const std::string bare = Api("POST", "/v1/payment_intents", {{"amount", "2000"}, {"currency", "usd"}}).Json()["id"];
  r = Api("POST", "/v1/payment_intents/" + bare + "/confirm", {{"return_url", "https://x.example.com"}});
  EXPECT_EQ(r.Json()["error"]["code"], "payment_intent_unexpected_state");
  // Cancel with a reason, then nothing more.
  r = Api("POST", "/v1/payment_intents/" + bare + "/cancel", {{"cancellation_reason", "abandoned"}});
  EXPECT_EQ(r.Json()["status"], "canceled");
  EXPECT_EQ(r.Json()["cancellation_reason"], "abandoned");
  EXPECT_TRUE(r.Json()["canceled_at"].is_number());
  r = Api("POST", "/v1/payment_intents/" + bare + "/confirm", {{"payment_method", "pm_card_visa"},
                                                                  {"return_url", "https://x.example.com"}});
  EXPECT_EQ(r.Json()["error"]["code"], "payment_intent_unexpected_state");
  EXPECT_EQ(Api("POST", "/v1/payment_intents/" + bare + "/cancel", {{"cancellation_reason", "bored"}}).status, 400);
}

TEST_F(EmulatorTest, ReturnUrlIsRequiredWhenRedirectsAreAllowed) {
  auto r = Api("POST", "/v1/payment_intents",
               {{"amount", "2000"}, {"currency", "usd"}, {"confirm", "true"}, {"payment_method", "pm_card_visa"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.Json()["error"]["message"].get<std::string>().find("you must provide a `return_url`"), std::string::npos);
  EXPECT_EQ(Ledger()["payment_intents"].size(), 0u) << "a validation failure creates nothing";
  r = Api("POST", "/v1/payment_intents",
          {{"amount", "2000"}, {"currency", "usd"}, {"confirm", "true"}, {"payment_method", "pm_card_visa"},
           {"automatic_payment_methods[enabled]", "true"}, {"automatic_payment_methods[allow_redirects]", "never"}});
  EXPECT_EQ(r.Json()["status"], "succeeded") << r.body;
  r = Api("POST", "/v1/payment_intents",
          {{"amount", "2000"}, {"currency", "usd"}, {"confirm", "true"}, {"payment_method", "pm_card_visa"},
           {"payment_method_types[]", "card"}});
  EXPECT_EQ(r.Json()["status"], "succeeded") << r.body;
}

TEST_F(EmulatorTest, DeclineCardsAnswer402WithTheirCodes) {
  struct Expect {
    std::string pm, code, decline_code, param;
  };
  const std::vector<Expect> cards = {
      {"pm_card_visa_chargeDeclined", "card_declined", "generic_decline", ""},
      {"pm_card_visa_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds", ""},
      {"pm_card_visa_chargeDeclinedLostCard", "card_declined", "lost_card", ""},
      {"pm_card_visa_chargeDeclinedStolenCard", "card_declined", "stolen_card", ""},
      {"pm_card_visa_chargeDeclinedVelocityLimitExceeded", "card_declined", "card_velocity_exceeded", ""},
      {"pm_card_chargeDeclinedFraudulent", "card_declined", "fraudulent", ""},
      {"pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card", "exp_month"},
      {"pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc", "cvc"},
      {"pm_card_chargeDeclinedProcessingError", "processing_error", "processing_error", ""},
  };
  for (const auto& c : cards) {
    SCOPED_TRACE(c.pm);
    const auto r = CreatePi(c.pm);
    ASSERT_EQ(r.status, 402) << r.body;
    const auto err = r.Json()["error"];
    EXPECT_EQ(err["type"], "card_error");
    EXPECT_EQ(err["code"], c.code);
    EXPECT_EQ(err["decline_code"], c.decline_code);
    if (!c.param.empty()) {
      EXPECT_EQ(err["param"], c.param);
    }
    EXPECT_EQ(err["charge"].get<std::string>().rfind("ch_", 0), 0u);
    const auto pi = err["payment_intent"];
    EXPECT_EQ(pi["status"], "requires_payment_method");
    EXPECT_TRUE(pi["payment_method"].is_null());
    EXPECT_EQ(pi["last_payment_error"]["decline_code"], c.decline_code);
    // The customer can try again on the same PaymentIntent with another card.
    const auto retry = Api("POST", "/v1/payment_intents/" + pi["id"].get<std::string>() + "/confirm",
                           {{"payment_method", "pm_card_visa"}});
    EXPECT_EQ(retry.Json()["status"], "succeeded") << retry.body;
  }
  EXPECT_EQ(Ledger()["summary"]["captured"]["usd"], 2000 * static_cast<int>(cards.size()));
}

TEST_F(EmulatorTest, ThreeDSecureSuccessAndFailure) {
  // With a return_url: redirect_to_url.
  auto r = CreatePi("pm_card_threeDSecure2Required");
  ASSERT_EQ(r.status, 200);
  auto pi = r.Json();
  EXPECT_EQ(pi["status"], "requires_action");
  EXPECT_EQ(pi["next_action"]["type"], "redirect_to_url");
  EXPECT_EQ(pi["next_action"]["redirect_to_url"]["return_url"], "https://shop.example.com/return");
  const std::string id = pi["id"];
  // The action URL serves a page.
  const auto page = HttpRequest("GET", pi["next_action"]["redirect_to_url"]["url"].get<std::string>());
  EXPECT_EQ(page.status, 200);
  r = Control("POST", "/_emulator/payment_intents/" + id + "/authenticate", {{"outcome", "succeed"}});
  EXPECT_EQ(r.Json()["status"], "succeeded") << r.body;
  EXPECT_EQ(Api("GET", "/v1/payment_intents/" + id).Json()["amount_received"], 2000);

  // Without redirects: use_stripe_sdk; authentication fails.
  r = Api("POST", "/v1/payment_intents",
          {{"amount", "2000"}, {"currency", "usd"}, {"confirm", "true"}, {"payment_method", "pm_card_authenticationRequired"},
           {"payment_method_types[]", "card"}});
  pi = r.Json();
  EXPECT_EQ(pi["next_action"]["type"], "use_stripe_sdk");
  r = Control("POST", "/_emulator/payment_intents/" + pi["id"].get<std::string>() + "/authenticate",
              {{"outcome", "fail"}});
  pi = r.Json();
  EXPECT_EQ(pi["status"], "requires_payment_method");
  EXPECT_EQ(pi["last_payment_error"]["code"], "payment_intent_authentication_failure");
  EXPECT_TRUE(pi["payment_method"].is_null());
  // Authenticating again is refused: nothing is pending.
  EXPECT_EQ(Control("POST", "/_emulator/payment_intents/" + pi["id"].get<std::string>() + "/authenticate").status, 400);

  // Cards that authenticate and then decline.
  for (const std::string card : {"pm_card_authenticationRequiredChargeDeclinedInsufficientFunds",
                                 "pm_card_threeDSecureRequiredChargeDeclined"}) {
    pi = CreatePi(card).Json();
    ASSERT_EQ(pi["status"], "requires_action") << card;
    pi = Control("POST", "/_emulator/payment_intents/" + pi["id"].get<std::string>() + "/authenticate").Json();
    EXPECT_EQ(pi["status"], "requires_payment_method") << card;
    EXPECT_EQ(pi["last_payment_error"]["type"], "card_error");
  }
  const auto ledger = Ledger();
  EXPECT_EQ(ledger["summary"]["captured"]["usd"], 2000);
}

TEST_F(EmulatorTest, OffSessionAndErrorOnRequiresAction) {
  auto r = CreatePi("pm_card_authenticationRequired", {{"off_session", "true"}});
  ASSERT_EQ(r.status, 402) << r.body;
  EXPECT_EQ(r.Json()["error"]["code"], "authentication_required");
  EXPECT_EQ(r.Json()["error"]["decline_code"], "authentication_required");
  EXPECT_EQ(r.Json()["error"]["message"], "Your card was declined. This transaction requires authentication.");
  EXPECT_EQ(r.Json()["error"]["payment_intent"]["status"], "requires_payment_method");
  r = CreatePi("pm_card_threeDSecure2Required", {{"error_on_requires_action", "true"}});
  EXPECT_EQ(r.status, 402);
  EXPECT_EQ(r.Json()["error"]["decline_code"], "authentication_not_handled");
  r = CreatePi("pm_card_authenticationRequiredSetupForOffSession", {{"off_session", "true"}});
  EXPECT_EQ(r.Json()["status"], "succeeded");
  EXPECT_EQ(Api("POST", "/v1/payment_intents", {{"amount", "2000"}, {"currency", "usd"}, {"off_session", "true"}}).status,
            400);
}

TEST_F(EmulatorTest, ManualCaptureAndCancelRelease) {
  auto pi = CreatePi("pm_card_visa", {{"capture_method", "manual"}}).Json();
  EXPECT_EQ(pi["status"], "requires_capture");
  EXPECT_EQ(pi["amount_capturable"], 2000);
  const std::string id = pi["id"];
  auto r = Api("POST", "/v1/payment_intents/" + id + "/capture", {{"amount_to_capture", "2500"}});
  EXPECT_EQ(r.status, 400);
  pi = Api("POST", "/v1/payment_intents/" + id + "/capture", {{"amount_to_capture", "1500"}}).Json();
  EXPECT_EQ(pi["status"], "succeeded");
  EXPECT_EQ(pi["amount_received"], 1500);
  EXPECT_EQ(pi["amount_capturable"], 0);
  r = Api("POST", "/v1/payment_intents/" + id + "/capture");
  EXPECT_EQ(r.Json()["error"]["code"], "payment_intent_unexpected_state");

  pi = CreatePi("pm_card_visa", {{"capture_method", "manual"}}).Json();
  r = Api("POST", "/v1/refunds", {{"payment_intent", pi["id"].get<std::string>()}});
  EXPECT_EQ(r.status, 400) << "an uncaptured PaymentIntent is canceled, not refunded";
  pi = Api("POST", "/v1/payment_intents/" + pi["id"].get<std::string>() + "/cancel").Json();
  EXPECT_EQ(pi["status"], "canceled");
  EXPECT_EQ(pi["amount_capturable"], 0);
  EXPECT_EQ(Ledger()["summary"]["captured"]["usd"], 1500);
}

TEST_F(EmulatorTest, ConfirmationTokensConfirmOnce) {
  auto ct = Api("POST", "/v1/test_helpers/confirmation_tokens", {{"payment_method", "pm_card_mastercard"}}).Json();
  const std::string token = ct["id"];
  EXPECT_EQ(token.rfind("ctoken_", 0), 0u);
  EXPECT_EQ(ct["payment_method_preview"]["card"]["brand"], "mastercard");
  EXPECT_EQ(ct["expires_at"].get<int64_t>() - ct["created"].get<int64_t>(), 12 * 3600);
  auto r = Api("POST", "/v1/payment_intents",
               {{"amount", "2000"}, {"currency", "usd"}, {"confirm", "true"}, {"confirmation_token", token},
                {"return_url", "https://x.example.com"}});
  EXPECT_EQ(r.Json()["status"], "succeeded") << r.body;
  EXPECT_EQ(Api("GET", "/v1/confirmation_tokens/" + token).Json()["payment_intent"], r.Json()["id"]);
  r = Api("POST", "/v1/payment_intents",
          {{"amount", "2000"}, {"currency", "usd"}, {"confirm", "true"}, {"confirmation_token", token},
           {"return_url", "https://x.example.com"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["code"], "payment_intent_confirmation_token_invalid");
  r = Api("POST", "/v1/payment_intents",
          {{"amount", "2000"}, {"currency", "usd"}, {"confirm", "true"}, {"confirmation_token", "ctoken_nope"},
           {"return_url", "https://x.example.com"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Json()["error"]["param"], "confirmation_token");
}

// --- refunds -------------------------------------------------------------------

TEST_F(EmulatorTest, PartialFullAndOverRefunds) {
  const auto pi = CreatePi("pm_card_visa").Json();
  const std::string id = pi["id"];
  auto r = Api("POST", "/v1/refunds", {{"payment_intent", id}, {"amount", "500"}, {"reason", "requested_by_customer"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["status"], "succeeded");
  EXPECT_EQ(r.Json()["amount"], 500);
  EXPECT_EQ(r.Json()["id"].get<std::string>().rfind("re_", 0), 0u);
  r = Api("POST", "/v1/refunds", {{"payment_intent", id}, {"amount", "2000"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["param"], "amount");
  EXPECT_FALSE(r.Json()["error"].contains("code"));
  EXPECT_EQ(r.Json()["error"]["message"], "Refund amount ($20.00) is greater than unrefunded amount on charge ($15.00)");
  r = Api("POST", "/v1/refunds", {{"payment_intent", id}});  // the rest
  EXPECT_EQ(r.Json()["amount"], 1500);
  r = Api("POST", "/v1/refunds", {{"payment_intent", id}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["code"], "charge_already_refunded");
  const auto charge = Api("GET", "/v1/charges/" + pi["latest_charge"].get<std::string>()).Json();
  EXPECT_EQ(charge["amount_refunded"], 2000);
  EXPECT_TRUE(charge["refunded"].get<bool>());
  EXPECT_EQ(Ledger()["summary"]["refunded"]["usd"], 2000);
  EXPECT_EQ(Api("POST", "/v1/refunds", {{"payment_intent", "pi_nope"}}).status, 404);
}

// --- idempotency -----------------------------------------------------------------

TEST_F(EmulatorTest, SameKeySameRequestReplaysIncludingDeclines) {
  const auto first = CreatePi("pm_card_visa", {}, {"Idempotency-Key: order-1"});
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.Header("idempotent-replayed"), "false");
  const auto again = CreatePi("pm_card_visa", {}, {"Idempotency-Key: order-1"});
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.Header("idempotent-replayed"), "true");
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.Header("original-request"), first.Header("request-id"));
  EXPECT_NE(again.Header("request-id"), first.Header("request-id"));
  EXPECT_EQ(Ledger()["payment_intents"].size(), 1u);

  const auto declined = CreatePi("pm_card_visa_chargeDeclined", {}, {"Idempotency-Key: order-2"});
  const auto declined_again = CreatePi("pm_card_visa_chargeDeclined", {}, {"Idempotency-Key: order-2"});
  EXPECT_EQ(declined.status, 402);
  EXPECT_EQ(declined_again.status, 402);
  EXPECT_EQ(declined_again.body, declined.body);
  EXPECT_EQ(Ledger()["charges"].size(), 2u);  // one success, one failure: no second attempt
}

TEST_F(EmulatorTest, SameKeyDifferentRequestIsAnIdempotencyError) {
  ASSERT_EQ(CreatePi("pm_card_visa", {}, {"Idempotency-Key: k"}).status, 200);
  auto r = CreatePi("pm_card_visa", {{"description", "different"}}, {"Idempotency-Key: k"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["type"], "idempotency_error");
  EXPECT_EQ(r.Json()["error"]["message"],
            "Keys for idempotent requests can only be used with the same parameters they were first used with. Try "
            "using a key other than 'k' if you meant to execute a different request.");
  r = Api("POST", "/v1/refunds", {{"payment_intent", "pi_x"}}, {"Idempotency-Key: k"});
  EXPECT_EQ(r.Json()["error"]["type"], "idempotency_error");
  // Another API key is another account: the key is free there.
  const auto other = HttpRequest("POST", Base() + "/v1/payment_intents",
                                 FormEncode({{"amount", "2000"}, {"currency", "usd"}}),
                                 {"Authorization: Bearer sk_test_other_account_99", "Idempotency-Key: k",
                                  "Content-Type: application/x-www-form-urlencoded"});
  EXPECT_EQ(other.status, 200);
}

TEST_F(EmulatorTest, KeyStillRunningAnswers409) {
  Control("POST", "/_emulator/faults",
          {{"method", "POST"}, {"path", "/v1/payment_intents"}, {"action", "latency"}, {"latency_ms", 1500}});
  HttpResponse first;
  std::thread t([&] { first = CreatePi("pm_card_visa", {}, {"Idempotency-Key: slow"}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  const auto second = CreatePi("pm_card_visa", {}, {"Idempotency-Key: slow"});
  t.join();
  EXPECT_EQ(second.status, 409);
  EXPECT_EQ(second.Json()["error"]["code"], "idempotency_key_in_use");
  EXPECT_EQ(first.status, 200);
  const auto third = CreatePi("pm_card_visa", {}, {"Idempotency-Key: slow"});
  EXPECT_EQ(third.Header("idempotent-replayed"), "true");
  EXPECT_EQ(Ledger()["payment_intents"].size(), 1u);
}

TEST_F(EmulatorTest, ValidationFailuresAreNotStored) {
  const Fields bad = {{"currency", "usd"}};
  auto r = Api("POST", "/v1/payment_intents", bad, {"Idempotency-Key: v"});
  EXPECT_EQ(r.status, 400);
  r = Api("POST", "/v1/payment_intents", bad, {"Idempotency-Key: v"});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.Header("idempotent-replayed"), "true");
  // The key is still free for a corrected request.
  r = Api("POST", "/v1/payment_intents", {{"amount", "2000"}, {"currency", "usd"}}, {"Idempotency-Key: v"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("idempotent-replayed"), "false");
}

TEST_F(EmulatorTest, KeysExpireAfterTheirTtl) {
  ASSERT_EQ(CreatePi("pm_card_visa", {}, {"Idempotency-Key: ttl"}).status, 200);
  Control("POST", "/_emulator/clock", {{"advance_seconds", 61}});  // the suite runs with a 60 s TTL
  const auto r = CreatePi("pm_card_visa", {}, {"Idempotency-Key: ttl"});
  EXPECT_EQ(r.Header("idempotent-replayed"), "false");
  EXPECT_EQ(Ledger()["payment_intents"].size(), 2u);
  EXPECT_GE(r.Json()["created"].get<int64_t>(), Now() + 60);  // the emulator clock moved
}

TEST_F(EmulatorTest, EveryStateChangeEmitsItsEvent) {
  auto types = [&] {
    std::vector<std::string> out;
    const auto list = Api("GET", "/v1/events", {{"limit", "100"}}).Json();
    for (const auto& e : list["data"]) out.insert(out.begin(), e["type"].get<std::string>());  // oldest first
    return out;
  };
  CreatePi("pm_card_visa_chargeDeclined");
  EXPECT_EQ(types(), (std::vector<std::string>{"payment_intent.created", "charge.failed",
                                               "payment_intent.payment_failed"}));
  Control("POST", "/_emulator/reset");
  const std::string pending = CreatePi("pm_card_threeDSecure2Required").Json()["id"];
  Api("POST", "/v1/payment_intents/" + pending + "/cancel");
  EXPECT_EQ(types(), (std::vector<std::string>{"payment_intent.created", "payment_intent.requires_action",
                                               "payment_intent.canceled"}));
  Control("POST", "/_emulator/reset");
  const std::string paid = CreatePi("pm_card_visa").Json()["id"];
  Api("POST", "/v1/refunds", {{"payment_intent", paid}, {"amount", "100"}});
  EXPECT_EQ(types(), (std::vector<std::string>{"payment_intent.created", "charge.succeeded",
                                               "payment_intent.succeeded", "refund.created", "charge.refunded"}));
  const auto refunded = Api("GET", "/v1/events", {{"type", "charge.refunded"}}).Json()["data"][0];
  EXPECT_EQ(refunded["data"]["object"]["amount_refunded"], 100);
  EXPECT_EQ(Api("GET", "/v1/events/" + refunded["id"].get<std::string>()).Json()["id"], refunded["id"]);
}

// --- webhooks ------------------------------------------------------------------

class WebhookTest : public EmulatorTest {
 protected:
  std::string Register(const WebhookReceiver& receiver, std::vector<std::string> events = {"*"}) {
    const auto r = Control("POST", "/_emulator/webhook_endpoints",
                           {{"url", receiver.url()}, {"secrets", {secret1_, secret2_}}, {"enabled_events", events}});
    return r.Json()["id"];
  }
  // A receiver that, like a real endpoint, refuses bad or stale signatures.
  static int Verify(const ReceivedRequest& r, const std::string& secret) {
    int64_t t = 0;
    const auto it = r.headers.find("Stripe-Signature");
    if (it == r.headers.end() || !SignatureValid(it->second, r.body, secret, &t)) return 400;
    return t < Now() - 300 ? 400 : 200;
  }
  std::vector<Json> Events(const WebhookReceiver& receiver, int status_filter = 0) const {
    std::vector<Json> out;
    for (const auto& r : receiver.Received()) {
      if (status_filter == 200 && Verify(r, secret1_) != 200) continue;
      out.push_back(Json::parse(r.body));
    }
    return out;
  }

  const std::string secret1_ = "whsec_test_first_secret_0001";
  const std::string secret2_ = "whsec_test_second_secret_0002";
};

TEST_F(WebhookTest, EventsAreSignedWithEverySecret) {
  WebhookReceiver receiver;
  Register(receiver);
  CreatePi("pm_card_visa", {}, {"Idempotency-Key: webhook-1"});
  ASSERT_TRUE(receiver.WaitFor(3, std::chrono::seconds(5)));
  std::set<std::string> types;
  for (const auto& r : receiver.Received()) {
    const std::string header = r.headers.at("Stripe-Signature");
    int64_t t = 0;
    EXPECT_TRUE(SignatureValid(header, r.body, secret1_, &t)) << header;
    EXPECT_TRUE(SignatureValid(header, r.body, secret2_)) << "the second secret signs too";
    EXPECT_FALSE(SignatureValid(header, r.body, "whsec_someone_else"));
    EXPECT_NEAR(static_cast<double>(t), static_cast<double>(Now()), 5);
    EXPECT_EQ(r.headers.at("Content-Type"), "application/json; charset=utf-8");
    const auto event = Json::parse(r.body);
    EXPECT_EQ(event["object"], "event");
    EXPECT_EQ(event["id"].get<std::string>().rfind("evt_", 0), 0u);
    EXPECT_EQ(event["request"]["idempotency_key"], "webhook-1");
    types.insert(event["type"]);
  }
  EXPECT_EQ(types, (std::set<std::string>{"payment_intent.created", "charge.succeeded", "payment_intent.succeeded"}));
  // The events are also in the API.
  const auto list = Api("GET", "/v1/events", {{"type", "payment_intent.succeeded"}}).Json();
  EXPECT_EQ(list["data"].size(), 1u);
}

TEST_F(WebhookTest, FailedDeliveriesAreRetriedWithAFreshSignature) {
  WebhookReceiver receiver([](const ReceivedRequest&, int index) { return index < 2 ? 500 : 200; });
  Register(receiver, {"payment_intent.canceled"});
  const std::string id = Api("POST", "/v1/payment_intents", {{"amount", "2000"}, {"currency", "usd"}}).Json()["id"];
  Api("POST", "/v1/payment_intents/" + id + "/cancel");
  ASSERT_TRUE(receiver.WaitFor(3, std::chrono::seconds(5)));
  const auto got = receiver.Received();
  for (const auto& r : got) EXPECT_TRUE(SignatureValid(r.headers.at("Stripe-Signature"), r.body, secret1_));
  EXPECT_EQ(Json::parse(got[0].body)["id"], Json::parse(got[2].body)["id"]);
  EXPECT_GE(got[1].at - got[0].at, std::chrono::milliseconds(40));  // backoff
  // The emulator records a delivery after it has read the answer, so the
  // third record can trail the receiver's third request by a moment.
  Json log;
  ASSERT_TRUE(Eventually(
      [&] {
        log = Control("GET", "/_emulator/webhook_deliveries").Json();
        return log.size() >= 3u;
      },
      std::chrono::seconds(5)))
      << log.dump();
  EXPECT_EQ(log[0]["status"], 500);
  EXPECT_EQ(log[2]["attempt"], 3);
  EXPECT_EQ(log[2]["status"], 200);
}

TEST_F(WebhookTest, DuplicateTwinDelayAndDrop) {
  WebhookReceiver receiver;
  Register(receiver, {"payment_intent.created"});
  auto create = [&] { return Api("POST", "/v1/payment_intents", {{"amount", "2000"}, {"currency", "usd"}}).Json(); };

  Control("POST", "/_emulator/webhook_faults", {{"event_type", "payment_intent.created"}, {"action", "duplicate"}});
  create();
  ASSERT_TRUE(receiver.WaitFor(2, std::chrono::seconds(5)));
  auto events = Events(receiver);
  EXPECT_EQ(events[0]["id"], events[1]["id"]);

  Control("POST", "/_emulator/webhook_faults", {{"action", "twin"}});
  const auto pi = create();
  ASSERT_TRUE(receiver.WaitFor(4, std::chrono::seconds(5)));
  events = Events(receiver);
  EXPECT_NE(events[2]["id"], events[3]["id"]);
  EXPECT_EQ(events[2]["data"]["object"]["id"], pi["id"]);
  EXPECT_EQ(events[3]["data"]["object"]["id"], pi["id"]);

  Control("POST", "/_emulator/webhook_faults", {{"action", "delay"}, {"delay_ms", 600}});
  const auto before = std::chrono::steady_clock::now();
  create();
  ASSERT_TRUE(receiver.WaitFor(5, std::chrono::seconds(5)));
  EXPECT_GE(receiver.Received()[4].at - before, std::chrono::milliseconds(550));

  Control("POST", "/_emulator/webhook_faults", {{"action", "drop"}});
  create();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(receiver.Received().size(), 5u);
  bool dropped = false;
  for (const auto& d : Control("GET", "/_emulator/webhook_deliveries").Json()) dropped |= d.value("dropped", false);
  EXPECT_TRUE(dropped);
}

TEST_F(WebhookTest, ReorderHoldsAnEventUntilTheNextOneIsDelivered) {
  WebhookReceiver receiver;
  Register(receiver, {"payment_intent.created"});
  Control("POST", "/_emulator/webhook_faults", {{"action", "reorder"}, {"delay_ms", 3000}});
  const auto a = Api("POST", "/v1/payment_intents", {{"amount", "2000"}, {"currency", "usd"}}).Json();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto b = Api("POST", "/v1/payment_intents", {{"amount", "3000"}, {"currency", "usd"}}).Json();
  ASSERT_TRUE(receiver.WaitFor(2, std::chrono::seconds(5)));
  const auto events = Events(receiver);
  EXPECT_EQ(events[0]["data"]["object"]["id"], b["id"]);
  EXPECT_EQ(events[1]["data"]["object"]["id"], a["id"]);
}

TEST_F(WebhookTest, BadSignatureAndStaleTimestampAreRejectedThenRetriedCorrectly) {
  WebhookReceiver receiver([this](const ReceivedRequest& r, int) { return Verify(r, secret1_); });
  Register(receiver, {"payment_intent.created"});
  Control("POST", "/_emulator/webhook_faults", {{"action", "bad_signature"}});
  Api("POST", "/v1/payment_intents", {{"amount", "2000"}, {"currency", "usd"}});
  ASSERT_TRUE(receiver.WaitFor(2, std::chrono::seconds(5)));
  auto got = receiver.Received();
  EXPECT_EQ(Verify(got[0], secret1_), 400);
  EXPECT_EQ(Verify(got[0], secret2_), 400);
  EXPECT_EQ(Verify(got[1], secret1_), 200);
  EXPECT_EQ(got[0].body, got[1].body);

  Control("POST", "/_emulator/webhook_faults", {{"action", "stale_timestamp"}});
  Api("POST", "/v1/payment_intents", {{"amount", "2000"}, {"currency", "usd"}});
  ASSERT_TRUE(receiver.WaitFor(4, std::chrono::seconds(5)));
  got = receiver.Received();
  int64_t stale = 0, fresh = 0;
  EXPECT_TRUE(SignatureValid(got[2].headers.at("Stripe-Signature"), got[2].body, secret1_, &stale));
  EXPECT_LT(stale, Now() - 300) << "signed correctly, but outside the tolerance";
  EXPECT_TRUE(SignatureValid(got[3].headers.at("Stripe-Signature"), got[3].body, secret1_, &fresh));
  EXPECT_GE(fresh, Now() - 5) << "every attempt gets a fresh timestamp";
}

TEST_F(WebhookTest, ASecondSecretCanBeAddedToAnEndpoint) {
  WebhookReceiver receiver;
  const auto r = Control("POST", "/_emulator/webhook_endpoints", {{"url", receiver.url()}});
  const std::string id = r.Json()["id"];
  const std::string generated = r.Json()["secret"];
  EXPECT_EQ(generated.rfind("whsec_", 0), 0u);
  Control("POST", "/_emulator/webhook_endpoints/" + id + "/secrets", {{"secret", "whsec_rolled"}});
  Api("POST", "/v1/payment_intents", {{"amount", "2000"}, {"currency", "usd"}});
  ASSERT_TRUE(receiver.WaitFor(1, std::chrono::seconds(5)));
  const auto got = receiver.Received()[0];
  EXPECT_TRUE(SignatureValid(got.headers.at("Stripe-Signature"), got.body, generated));
  EXPECT_TRUE(SignatureValid(got.headers.at("Stripe-Signature"), got.body, "whsec_rolled"));
  // The /v1 API registers endpoints too, and shows the secret only on create.
  const auto created = Api("POST", "/v1/webhook_endpoints", {{"url", receiver.url()}, {"enabled_events[]", "*"}});
  EXPECT_EQ(created.Json()["secret"].get<std::string>().rfind("whsec_", 0), 0u);
  EXPECT_FALSE(Api("GET", "/v1/webhook_endpoints/" + created.Json()["id"].get<std::string>()).Json().contains("secret"));
}

// --- faults ----------------------------------------------------------------------

TEST_F(EmulatorTest, ErrorsWithoutExecuting) {
  for (int status : {500, 503, 429, 409}) {
    SCOPED_TRACE(status);
    Control("POST", "/_emulator/faults",
            {{"method", "POST"}, {"path", "/v1/payment_intents"}, {"action", "error"}, {"status", status}});
    const auto r = CreatePi("pm_card_visa", {}, {"Idempotency-Key: fault-" + std::to_string(status)});
    EXPECT_EQ(r.status, status);
    EXPECT_TRUE(r.Json().contains("error"));
    EXPECT_EQ(Ledger()["payment_intents"].size(), 0u) << "nothing executed";
    if (status == 429) {
      EXPECT_EQ(r.Json()["error"]["code"], "lock_timeout");
      EXPECT_EQ(r.Header("stripe-should-retry"), "true");
    }
    // The retry with the same key runs for real (nothing was stored).
    const auto retry = CreatePi("pm_card_visa", {}, {"Idempotency-Key: fault-" + std::to_string(status)});
    EXPECT_EQ(retry.status, 200);
    EXPECT_EQ(retry.Header("idempotent-replayed"), "false");
    Control("POST", "/_emulator/reset");
  }
  Control("POST", "/_emulator/faults", {{"action", "error"}, {"status", 429}, {"code", "rate_limit"}});
  EXPECT_EQ(Api("GET", "/v1/events").Json()["error"]["code"], "rate_limit");
  EXPECT_EQ(Control("POST", "/_emulator/faults", {{"action", "error"}, {"status", 418}}).status, 400);
}

TEST_F(EmulatorTest, ExecuteThenErrorChargesOnceAndTheRetryReplays) {
  Control("POST", "/_emulator/faults", {{"path", "/v1/payment_intents"}, {"action", "execute_then_error"}});
  const auto r = CreatePi("pm_card_visa", {}, {"Idempotency-Key: lost-response"});
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(Ledger()["payment_intents"].size(), 1u) << "it executed";
  const auto retry = CreatePi("pm_card_visa", {}, {"Idempotency-Key: lost-response"});
  EXPECT_EQ(retry.status, 200);
  EXPECT_EQ(retry.Header("idempotent-replayed"), "true");
  EXPECT_EQ(retry.Json()["status"], "succeeded");
  EXPECT_EQ(Ledger()["summary"]["captured"]["usd"], 2000);
}

TEST_F(EmulatorTest, ExecuteThenDropLeavesTheClientWithNoAnswer) {
  Control("POST", "/_emulator/faults", {{"path", "/v1/payment_intents"}, {"action", "execute_then_drop"}});
  const auto r = CreatePi("pm_card_visa", {}, {"Idempotency-Key: dropped"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.curl_code, 52) << "empty reply from server";
  EXPECT_EQ(Ledger()["payment_intents"].size(), 1u);
  const auto retry = CreatePi("pm_card_visa", {}, {"Idempotency-Key: dropped"});
  EXPECT_EQ(retry.Header("idempotent-replayed"), "true");
  EXPECT_EQ(Ledger()["charges"].size(), 1u);
}

TEST_F(EmulatorTest, LatencyHangStickyAndWildcards) {
  Control("POST", "/_emulator/faults", {{"path", "/v1/payment_intents/*"}, {"action", "latency"}, {"latency_ms", 300}});
  auto r = Api("GET", "/v1/payment_intents/pi_x");
  EXPECT_GE(r.seconds, 0.29);
  EXPECT_EQ(r.status, 404);
  r = Api("GET", "/v1/payment_intents/pi_x");
  EXPECT_LT(r.seconds, 0.29) << "one-shot by default";

  // A hang never executes; the client gives up; clearing the faults frees the
  // server thread.
  Control("POST", "/_emulator/faults", {{"path", "/v1/payment_intents"}, {"action", "hang"}, {"hang_ms", 10000}});
  r = Api("POST", "/v1/payment_intents", {{"amount", "2000"}, {"currency", "usd"}}, {}, /*timeout_ms=*/500);
  EXPECT_EQ(r.curl_code, 28) << "timed out";
  EXPECT_EQ(Control("DELETE", "/_emulator/faults").status, 200);
  EXPECT_EQ(Ledger()["payment_intents"].size(), 0u);

  // Sticky rules keep firing; wildcards match one path segment.
  Control("POST", "/_emulator/faults",
          {{"method", "POST"}, {"path", "/v1/payment_intents/*/confirm"}, {"action", "error"}, {"status", 503},
           {"sticky", true}});
  const std::string id = Api("POST", "/v1/payment_intents", {{"amount", "2000"}, {"currency", "usd"}}).Json()["id"];
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Api("POST", "/v1/payment_intents/" + id + "/confirm", {{"payment_method", "pm_card_visa"}}).status, 503);
  }
  EXPECT_EQ(Api("POST", "/v1/payment_intents/" + id + "/cancel").status, 200) << "other paths are untouched";
  EXPECT_EQ(Control("GET", "/_emulator/faults").Json()["http"].size(), 1u);
}

TEST_F(EmulatorTest, LedgerResetAndClock) {
  CreatePi("pm_card_visa");
  CreatePi("pm_card_visa_chargeDeclined");
  auto ledger = Ledger();
  EXPECT_EQ(ledger["payment_intents"].size(), 2u);
  EXPECT_EQ(ledger["charges"].size(), 2u);
  EXPECT_EQ(ledger["summary"]["payment_intents_by_status"]["succeeded"], 1);
  EXPECT_EQ(ledger["summary"]["payment_intents_by_status"]["requires_payment_method"], 1);
  Control("POST", "/_emulator/clock", {{"set", 1900000000}});
  EXPECT_EQ(CreatePi("pm_card_visa").Json()["created"], 1900000000);
  Control("POST", "/_emulator/reset");
  ledger = Ledger();
  EXPECT_EQ(ledger["payment_intents"].size(), 0u);
  EXPECT_NEAR(Control("GET", "/_emulator/clock").Json()["now"].get<double>(), static_cast<double>(Now()), 5);
}

TEST(EmulatorProcessTest, HelpAndFastStartOnAFreePort) {
  const auto help = RunCommand({EmulatorBinary(), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("--listen-address"), std::string::npos);
  const auto start = std::chrono::steady_clock::now();
  ServiceProcess proc({.binary = EmulatorBinary(), .env = {{"LISTEN_ADDRESS", "127.0.0.1:0"}}, .wait_serving = false});
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(1));
  EXPECT_GT(proc.Port("http"), 0);
  EXPECT_NE(proc.Logs().find("\"port\":" + std::to_string(proc.Port("http"))), std::string::npos) << proc.Logs();
  EXPECT_EQ(proc.Stop(SIGTERM, std::chrono::seconds(5)), 0);
}

// A dev cluster has no one to call /_emulator: the endpoint is configured at
// start, and half a configuration is refused.
TEST(EmulatorStartupTest, WebhookEndpointFromConfiguration) {
  const auto half = RunCommand({EmulatorBinary()}, {{"WEBHOOK_URL", "http://127.0.0.1:1/x"}});
  EXPECT_EQ(half.exit_code, 2);
  EXPECT_NE(half.output.find("WEBHOOK_SECRETS"), std::string::npos) << half.output;

  WebhookReceiver receiver;
  ServiceProcess proc({.binary = EmulatorBinary(),
                       .env = {{"LISTEN_ADDRESS", "127.0.0.1:0"},
                               {"WEBHOOK_URL", receiver.url("/stripe/webhook")},
                               {"WEBHOOK_SECRETS", "whsec_startup_one,whsec_startup_two"}},
                       .wait_serving = false});
  const std::string base = "http://127.0.0.1:" + std::to_string(proc.Port("http"));
  const auto created = HttpRequest("POST", base + "/v1/payment_intents",
                                   FormEncode({{"amount", "500"}, {"currency", "usd"}, {"confirm", "true"},
                                               {"payment_method", "pm_card_visa"}, {"return_url", "https://shop.example.com/return"}}),
                                   {"Authorization: Bearer " + kKey, "Content-Type: application/x-www-form-urlencoded"});
  ASSERT_EQ(created.status, 200) << created.body;
  ASSERT_TRUE(receiver.WaitFor(3, std::chrono::seconds(5)));
  for (const auto& r : receiver.Received()) {
    EXPECT_EQ(r.path, "/stripe/webhook");
    EXPECT_TRUE(SignatureValid(r.headers.at("Stripe-Signature"), r.body, "whsec_startup_one"));
    EXPECT_TRUE(SignatureValid(r.headers.at("Stripe-Signature"), r.body, "whsec_startup_two"));
  }
  // The secrets never reach the log.
  EXPECT_EQ(proc.Logs().find("whsec_startup"), std::string::npos) << proc.Logs();
}

}  // namespace
}  // namespace billing::testing
