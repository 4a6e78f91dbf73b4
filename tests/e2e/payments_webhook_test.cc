// Stripe webhooks into the payments binary: signatures checked as Stripe's
// libraries do (rotation, tolerance, unknown secrets), events stored once
// and applied forward-only, whether they come from the emulator (with its
// duplicate, twin, reorder and bad-signature faults) or are posted by hand.
#include <cstdio>
#include <fstream>
#include <thread>

#include "crypto/crypto.h"
#include "e2e/payments_env.h"

namespace billing::testing {
namespace {

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Sign(const std::string& secret, int64_t t, const std::string& body) {
  return crypto::HmacSha256Hex(secret, std::to_string(t) + "." + body);
}

nlohmann::json IntentEvent(const std::string& event_id, const std::string& type, const pv1::Payment& p,
                           const std::string& status, int64_t created) {
  nlohmann::json pi = {{"id", p.payment_intent_id()},
                       {"object", "payment_intent"},
                       {"status", status},
                       {"amount", p.amount().amount_minor()},
                       {"amount_received", status == "succeeded" ? p.amount().amount_minor() : 0},
                       {"currency", "usd"},
                       {"metadata", {{"invoice_id", p.invoice_id()}, {"payment_id", p.payment_id()}}}};
  return {{"id", event_id}, {"object", "event"}, {"type", type}, {"created", created}, {"data", {{"object", pi}}}};
}

class PaymentsWebhookTest : public PaymentsE2eTest {
 protected:
  HttpResponse Post(const std::string& body, const std::string& signature_header) {
    std::vector<std::string> headers = {"Content-Type: application/json"};
    if (!signature_header.empty()) headers.push_back("Stripe-Signature: " + signature_header);
    return HttpRequest("POST", WebhookUrl(*svc_), body, headers);
  }
  HttpResponse PostSigned(const nlohmann::json& event, const std::string& secret = kWebhookSecret,
                          int64_t t = NowSeconds()) {
    const std::string body = event.dump();
    return Post(body, "t=" + std::to_string(t) + ",v1=" + Sign(secret, t, body));
  }
  long long StoredEvents() { return QueryInt(db_->url(), "SELECT count(*) FROM stripe_events"); }
};

TEST_F(PaymentsWebhookTest, EmulatorEventsSettleAPaymentNobodyConfirmed) {
  StartPayments();
  RegisterWebhooks();
  const auto p = Create("wh-1", "pm_card_threeDSecure2Required");
  ASSERT_EQ(p.status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);
  // The customer authenticates; the payment page's ConfirmPayment call is
  // lost. Stripe's webhook still tells us.
  Authenticate(p.payment_intent_id(), "succeed");
  ASSERT_TRUE(WaitStatus(p.payment_id(), pv1::PAYMENT_STATUS_SUCCEEDED)) << svc_->Logs();
  EXPECT_EQ(Get(p.payment_id()).amount_received().amount_minor(), 2000);
  ASSERT_TRUE(Eventually([&] { return events_.EventsOf(p.payment_id()).size() == 2; }, std::chrono::seconds(10)));
  EXPECT_EQ(events_.EventsOf(p.payment_id())[1].status(), billing::invoice::v1::PAYMENT_EVENT_STATUS_SUCCEEDED);

  // A refund made through us is confirmed by refund and charge events too.
  pv1::RefundPaymentRequest refund;
  refund.set_request_id("wh-refund");
  refund.set_payment_id(p.payment_id());
  pv1::RefundPaymentResponse resp;
  ASSERT_TRUE(Call(&pv1::PaymentService::Stub::RefundPayment, refund, &resp).ok());
  ASSERT_TRUE(Eventually(
      [&] { return QueryInt(db_->url(), "SELECT count(*) FROM stripe_events WHERE type = 'charge.refunded'") == 1; },
      std::chrono::seconds(10)));
  EXPECT_EQ(Get(p.payment_id()).amount_refunded().amount_minor(), 2000);
  // A late "pending" about the finished refund changes nothing.
  const auto refunded = Get(p.payment_id());
  ASSERT_EQ(refunded.refunds_size(), 1);
  const nlohmann::json late = {{"id", "evt_late_refund"}, {"object", "event"}, {"type", "refund.updated"},
                               {"created", NowSeconds()},
                               {"data", {{"object", {{"id", refunded.refunds(0).provider_refund_id()},
                                                     {"object", "refund"}, {"status", "pending"}, {"amount", 2000},
                                                     {"currency", "usd"}}}}}};
  const std::string body = late.dump();
  const int64_t t = NowSeconds();
  ASSERT_EQ(Post(body, "t=" + std::to_string(t) + ",v1=" + Sign(kWebhookSecret, t, body)).status, 200);
  EXPECT_EQ(Get(p.payment_id()).refunds(0).status(), pv1::REFUND_STATUS_SUCCEEDED);
  // Every delivery the emulator made was accepted.
  const auto deliveries = Control("GET", "/_emulator/webhook_deliveries").Json();
  ASSERT_FALSE(deliveries.empty());
  for (const auto& d : deliveries) EXPECT_EQ(d.value("status", 0), 200) << d.dump();
}

// The runbook's rotation with the secrets in a mounted file: Stripe's
// dashboard rolls the secret, the Secret lists both, then the new one only;
// the running process follows each step, and a broken update changes nothing.
TEST_F(PaymentsWebhookTest, TheSigningSecretRotatesWithoutARestart) {
  const std::string dir = MakeTempDir("billing-whsec");
  const std::string file = dir + "/stripe-webhook-secrets";
  const auto swap = [&](const std::string& content) {
    std::ofstream(file + ".next") << content;
    ASSERT_EQ(std::rename((file + ".next").c_str(), file.c_str()), 0);
  };
  swap("whsec_rot_old\n");
  StartPayments({{"STRIPE_WEBHOOK_SECRETS", ""}, {"STRIPE_WEBHOOK_SECRETS_FILE", file},
                 {"SECRET_RELOAD_INTERVAL_MS", "100"}});
  const auto p = Create("rot-1", "pm_card_threeDSecure2Required");
  ASSERT_EQ(p.status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);
  // Each probe is a new event about the payment, still requires_action.
  int n = 0;
  const auto status_with = [&](const std::string& secret) {
    return PostSigned(IntentEvent("evt_rot_" + std::to_string(++n), "payment_intent.requires_action", p,
                                  "requires_action", NowSeconds()),
                      secret)
        .status;
  };
  EXPECT_EQ(status_with("whsec_rot_old"), 200);
  EXPECT_EQ(status_with("whsec_rot_new"), 400);

  swap("whsec_rot_new,whsec_rot_old\n");
  ASSERT_TRUE(Eventually([&] { return status_with("whsec_rot_new") == 200; }, std::chrono::seconds(10)))
      << svc_->Logs();
  EXPECT_EQ(status_with("whsec_rot_old"), 200);
  swap("whsec_rot_new\n");
  ASSERT_TRUE(Eventually([&] { return status_with("whsec_rot_old") == 400; }, std::chrono::seconds(10)))
      << svc_->Logs();
  EXPECT_EQ(status_with("whsec_rot_new"), 200);

  // Emptied, then a list of nothing: both refused, the new secret stays.
  swap("");
  ASSERT_TRUE(Eventually(
      [&] { return svc_->Logs().find("STRIPE_WEBHOOK_SECRETS_FILE is empty") != std::string::npos; },
      std::chrono::seconds(10)))
      << svc_->Logs();
  EXPECT_EQ(status_with("whsec_rot_new"), 200);
  swap(" , \n");
  std::string metrics;
  ASSERT_TRUE(Eventually(
      [&] {
        metrics = HttpRequest("GET", "http://127.0.0.1:" + std::to_string(svc_->metrics_port()) + "/metrics").body;
        return metrics.find(R"(secret_reloads_total{option="STRIPE_WEBHOOK_SECRETS",outcome="refused"} 2)") !=
               std::string::npos;
      },
      std::chrono::seconds(10)))
      << metrics << svc_->Logs();
  EXPECT_NE(svc_->Logs().find("must list at least one secret"), std::string::npos);
  EXPECT_EQ(status_with("whsec_rot_new"), 200);
  EXPECT_NE(metrics.find(R"(secret_reloads_total{option="STRIPE_WEBHOOK_SECRETS",outcome="applied"} 2)"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(svc_->Logs().find("whsec_rot"), std::string::npos) << "secrets stay out of the log";
  EXPECT_EQ(Get(p.payment_id()).status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);
}

TEST_F(PaymentsWebhookTest, SignaturesAreCheckedAsStripesLibrariesDo) {
  StartPayments({{"STRIPE_WEBHOOK_SECRETS", "whsec_old_one, whsec_new_one"}});
  const auto p = Create("sig-1", "pm_card_threeDSecure2Required");
  ASSERT_EQ(p.status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);
  const auto succeeded = IntentEvent("evt_sig_1", "payment_intent.succeeded", p, "succeeded", NowSeconds());
  const std::string body = succeeded.dump();
  const int64_t t = NowSeconds();

  // Refused, and nothing touched: no header, garbage, an unknown secret, a
  // stale or future timestamp, a signature over another body.
  EXPECT_EQ(Post(body, "").status, 400);
  EXPECT_EQ(Post(body, "garbage").status, 400);
  EXPECT_EQ(Post(body, "t=" + std::to_string(t)).status, 400) << "no v1";
  EXPECT_EQ(PostSigned(succeeded, "whsec_someone_else").status, 400);
  EXPECT_EQ(PostSigned(succeeded, "whsec_new_one", t - 301).status, 400) << "older than the 300 s tolerance";
  // Well past the tolerance: the service's clock may already be a second
  // or two ahead of `t` (CI's ASan pass saw t + 301 land at exactly 300).
  EXPECT_EQ(PostSigned(succeeded, "whsec_new_one", t + 360).status, 400) << "from the future";
  EXPECT_EQ(Post(body + " ", "t=" + std::to_string(t) + ",v1=" + Sign("whsec_new_one", t, body)).status, 400);
  EXPECT_EQ(StoredEvents(), 0);
  EXPECT_EQ(Get(p.payment_id()).status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);

  // Accepted: either secret of a rotation, also next to a v1 we cannot
  // check, and within the tolerance.
  const auto ok = Post(body, "t=" + std::to_string(t) + ",v1=" + std::string(64, 'a') +
                                 ",v1=" + Sign("whsec_old_one", t, body) + ",v0=ignored");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.Json()["result"], "applied");
  EXPECT_EQ(Get(p.payment_id()).status(), pv1::PAYMENT_STATUS_SUCCEEDED);
  const auto again = PostSigned(succeeded, "whsec_new_one", t - 250);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.Json()["result"], "duplicate");
  EXPECT_EQ(StoredEvents(), 1);

  // An event about someone else's PaymentIntent is acknowledged and left.
  auto foreign = IntentEvent("evt_foreign", "payment_intent.succeeded", p, "succeeded", NowSeconds());
  foreign["data"]["object"]["id"] = "pi_not_ours";
  foreign["data"]["object"]["metadata"] = nlohmann::json::object();
  const auto ignored = PostSigned(foreign, "whsec_new_one");
  EXPECT_EQ(ignored.status, 200);
  EXPECT_EQ(ignored.Json()["result"], "ignored");
  // Not an event at all, but signed.
  EXPECT_EQ(PostSigned(nlohmann::json{{"hello", "world"}}, "whsec_new_one").status, 400);

  const auto metrics =
      HttpRequest("GET", "http://127.0.0.1:" + std::to_string(svc_->metrics_port()) + "/metrics").body;
  EXPECT_NE(metrics.find("stripe_webhook_events_total{result=\"bad_signature\"} 7"), std::string::npos) << metrics;
  EXPECT_EQ(svc_->Logs().find("whsec_"), std::string::npos) << "secrets stay out of the log";
}

// Issue 10's hostile input at the webhook: whatever arrives, signed or not,
// gets a precise 4xx, nothing is stored and the payment does not move.
TEST_F(PaymentsWebhookTest, HostileBodiesAreRefusedPreciselyAndChangeNothing) {
  StartPayments();
  const auto p = Create("hostile-1", "pm_card_threeDSecure2Required");
  ASSERT_EQ(p.status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);
  const std::string event = IntentEvent("evt_hostile", "payment_intent.succeeded", p, "succeeded", NowSeconds()).dump();
  // Every body is signed with the right secret: the refusals below are about
  // the body itself, not the signature.
  const auto post = [&](const std::string& body, const std::string& content_type) {
    const int64_t t = NowSeconds();
    return HttpRequest("POST", WebhookUrl(*svc_), body,
                       {"Content-Type:" + content_type,
                        "Stripe-Signature: t=" + std::to_string(t) + ",v1=" + Sign(kWebhookSecret, t, body)});
  };
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string body = event;
    body.replace(body.find(from), from.size(), to);
    return body;
  };
  std::string padded = event;
  padded.resize((1 << 20) + 1, ' ');  // WEBHOOK_MAX_BODY_BYTES' default + 1
  std::string huge = event;
  huge.resize(16 << 20, ' ');
  struct Case {
    std::string name;
    std::string body;
    std::string content_type;
    int status;
  };
  const std::vector<Case> cases = {
      {"text/plain", event, " text/plain", 415},
      {"a form", event, " application/x-www-form-urlencoded", 415},
      {"no Content-Type", event, "", 415},
      {"JSON look-alike", event, " application/jsonp", 415},
      {"invalid UTF-8", with("evt_hostile", "evt_\xff\xfe"), " application/json", 400},
      {"100,000 nested arrays", std::string(100000, '['), " application/json", 400},
      {"null", "null", " application/json", 400},
      {"empty", "", " application/json", 400},
      {"amount past 2^63", with("\"amount_received\":" + std::to_string(p.amount().amount_minor()),
                                "\"amount_received\":9223372036854775808"),
       " application/json", 400},
      {"negative amount", with("\"amount_received\":" + std::to_string(p.amount().amount_minor()),
                               "\"amount_received\":-1"),
       " application/json", 400},
      {"fractional amount", with("\"amount_received\":" + std::to_string(p.amount().amount_minor()),
                                 "\"amount_received\":10.5"),
       " application/json", 400},
      {"1 MB + 1 byte", padded, " application/json", 413},
      {"16 MB", huge, " application/json", 413},
  };
  for (const auto& c : cases) {
    const auto r = post(c.body, c.content_type);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    if (r.status != 413) {
      EXPECT_LT(r.body.size(), 200u) << c.name << ": the answer echoes the body";
    }
  }
  EXPECT_EQ(StoredEvents(), 0);
  EXPECT_EQ(Get(p.payment_id()).status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);
  EXPECT_EQ(svc_->Health(), "SERVING");

  // The real thing still goes through, whatever the case of its media type.
  const auto ok = post(event, " Application/JSON; charset=UTF-8");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Get(p.payment_id()).status(), pv1::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_EQ(StoredEvents(), 1);
}

TEST_F(PaymentsWebhookTest, LateAndRepeatedEventsNeverMoveAPaymentBackwards) {
  StartPayments();
  const auto p = Create("order-1", "pm_card_threeDSecure2Required");
  ASSERT_EQ(p.status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);
  const int64_t t = NowSeconds();
  // succeeded arrives before processing and requires_action (Stripe does not
  // promise order), and the same event twice.
  EXPECT_EQ(PostSigned(IntentEvent("evt_3", "payment_intent.succeeded", p, "succeeded", t)).status, 200);
  EXPECT_EQ(PostSigned(IntentEvent("evt_2", "payment_intent.processing", p, "processing", t - 1)).status, 200);
  EXPECT_EQ(PostSigned(IntentEvent("evt_1", "payment_intent.requires_action", p, "requires_action", t - 2)).status,
            200);
  EXPECT_EQ(PostSigned(IntentEvent("evt_3", "payment_intent.succeeded", p, "succeeded", t)).Json()["result"],
            "duplicate");
  // A failure event after success (another confirmation attempt on the same
  // PaymentIntent) cannot undo captured money either.
  auto failed = IntentEvent("evt_4", "payment_intent.payment_failed", p, "requires_payment_method", t + 1);
  failed["data"]["object"]["last_payment_error"] = {{"code", "card_declined"}, {"message", "declined"}};
  EXPECT_EQ(PostSigned(failed).status, 200);
  const auto got = Get(p.payment_id());
  EXPECT_EQ(got.status(), pv1::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_EQ(StoredEvents(), 4);
  ASSERT_TRUE(Eventually([&] { return events_.EventsOf(p.payment_id()).size() == 2; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto forwarded = events_.EventsOf(p.payment_id());
  ASSERT_EQ(forwarded.size(), 2u) << "REQUIRES_ACTION (from the call) and SUCCEEDED, once each";
  EXPECT_EQ(forwarded[1].status(), billing::invoice::v1::PAYMENT_EVENT_STATUS_SUCCEEDED);
}

TEST_F(PaymentsWebhookTest, EmulatorDuplicatesTwinsReordersAndBadSignaturesEndInTheRightState) {
  StartPayments();
  RegisterWebhooks();
  for (const auto& fault : std::vector<nlohmann::json>{
           {{"event_type", "payment_intent.succeeded"}, {"action", "duplicate"}, {"times", 1}},
           {{"event_type", "payment_intent.succeeded"}, {"action", "twin"}, {"times", 1}},
           {{"event_type", "payment_intent.requires_action"}, {"action", "reorder"}, {"times", 1}},
           {{"event_type", "charge.succeeded"}, {"action", "bad_signature"}, {"times", 1}},
           {{"event_type", "payment_intent.created"}, {"action", "stale_timestamp"}, {"times", 1}}}) {
    ASSERT_EQ(Control("POST", "/_emulator/webhook_faults", fault).status, 200);
  }
  const auto p = Create("faulty-hooks", "pm_card_threeDSecure2Required");
  Authenticate(p.payment_intent_id(), "succeed");
  ASSERT_TRUE(WaitStatus(p.payment_id(), pv1::PAYMENT_STATUS_SUCCEEDED));
  // Every delivery eventually got a 2xx (the bad signatures a 400 first,
  // then their valid retry).
  ASSERT_TRUE(Eventually(
      [&] {
        const auto deliveries = Control("GET", "/_emulator/webhook_deliveries").Json();
        std::map<std::string, bool> delivered;
        for (const auto& d : deliveries) {
          const std::string id = d.value("event_id", "");
          delivered[id] = delivered[id] || d.value("status", 0) == 200;
        }
        for (const auto& [id, ok] : delivered) {
          if (!ok) return false;
        }
        return !delivered.empty();
      },
      std::chrono::seconds(15)));
  int refused = 0;
  const auto deliveries = Control("GET", "/_emulator/webhook_deliveries").Json();
  for (const auto& d : deliveries) refused += d.value("status", 0) == 400 ? 1 : 0;
  EXPECT_EQ(refused, 2) << "the bad signature and the stale timestamp";
  EXPECT_EQ(Get(p.payment_id()).status(), pv1::PAYMENT_STATUS_SUCCEEDED);
  ASSERT_TRUE(Eventually([&] { return events_.EventsOf(p.payment_id()).size() == 2; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(events_.EventsOf(p.payment_id()).size(), 2u) << "duplicates and twins forwarded nothing twice";
  EXPECT_EQ(Ledger()["summary"]["captured"]["usd"], 2000);
}

}  // namespace
}  // namespace billing::testing
