// Payments against the Stripe emulator: success, every decline family, 3-D
// Secure both ways, cancel, partial and full refunds, and idempotency
// (replay, mismatch, in flight, 20 concurrent identical calls across two
// replicas), with the emulator's ledger as the referee.
#include <mutex>
#include <set>
#include <thread>

#include "e2e/payments_env.h"

namespace billing::testing {
namespace {

using Code = grpc::StatusCode;

TEST_F(PaymentsE2eTest, ASuccessfulPaymentIsChargedRecordedAndForwardedOnce) {
  StartPayments();
  const auto p = Create("pay-1", "pm_card_visa", 2550);
  EXPECT_EQ(p.status(), pv1::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_EQ(p.amount_received().amount_minor(), 2550);
  EXPECT_EQ(p.amount_received().currency_code(), "USD");
  EXPECT_EQ(p.payment_intent_id().rfind("pi_", 0), 0u);
  EXPECT_TRUE(p.client_secret().empty()) << "only REQUIRES_ACTION hands out the client secret";
  EXPECT_EQ(p.metadata().at("booking_id"), "bk-1");

  const auto pi = LedgerIntent(p.payment_intent_id());
  ASSERT_FALSE(pi.is_null());
  EXPECT_EQ(pi["status"], "succeeded");
  EXPECT_EQ(pi["metadata"]["invoice_id"], "inv-1");
  EXPECT_EQ(pi["metadata"]["payment_id"], p.payment_id());
  EXPECT_EQ(pi["metadata"]["booking_id"], "bk-1");
  EXPECT_EQ(Ledger()["summary"]["captured"]["usd"], 2550);

  ASSERT_TRUE(Eventually([&] { return events_.EventsOf(p.payment_id()).size() == 1; }, std::chrono::seconds(10)));
  const auto e = events_.EventsOf(p.payment_id())[0];
  EXPECT_EQ(e.status(), billing::invoice::v1::PAYMENT_EVENT_STATUS_SUCCEEDED);
  EXPECT_EQ(e.invoice_id(), "inv-1");
  EXPECT_EQ(e.payment_intent_id(), p.payment_intent_id());
  EXPECT_EQ(e.amount_received().amount_minor(), 2550);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(events_.events().size(), 1u) << "forwarded exactly once";

  // Reads: by id, by PaymentIntent, refreshed, listed.
  EXPECT_EQ(Get(p.payment_id(), true).status(), pv1::PAYMENT_STATUS_SUCCEEDED);
  pv1::GetPaymentRequest by_pi;
  by_pi.set_payment_intent_id(p.payment_intent_id());
  pv1::GetPaymentResponse got;
  ASSERT_TRUE(Call(&pv1::PaymentService::Stub::GetPayment, by_pi, &got).ok());
  EXPECT_EQ(got.payment().payment_id(), p.payment_id());
  Create("pay-2", "pm_card_visa_chargeDeclined");
  pv1::ListPaymentsRequest list;
  list.set_invoice_id("inv-1");
  list.set_page_size(1);
  pv1::ListPaymentsResponse page;
  ASSERT_TRUE(Call(&pv1::PaymentService::Stub::ListPayments, list, &page).ok());
  ASSERT_EQ(page.payments_size(), 1);
  EXPECT_EQ(page.payments(0).status(), pv1::PAYMENT_STATUS_FAILED) << "newest first";
  list.set_page_token(page.next_page_token());
  ASSERT_TRUE(Call(&pv1::PaymentService::Stub::ListPayments, list, &page).ok());
  ASSERT_EQ(page.payments_size(), 1);
  EXPECT_EQ(page.payments(0).payment_id(), p.payment_id());
  EXPECT_TRUE(page.next_page_token().empty());
}

TEST_F(PaymentsE2eTest, EveryDeclineFamilyFailsWithItsCodes) {
  StartPayments();
  struct Case {
    std::string pm, code, decline_code;
  };
  const std::vector<Case> cases = {
      {"pm_card_visa_chargeDeclined", "card_declined", "generic_decline"},
      {"pm_card_visa_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"},
      {"pm_card_visa_chargeDeclinedLostCard", "card_declined", "lost_card"},
      {"pm_card_visa_chargeDeclinedStolenCard", "card_declined", "stolen_card"},
      {"pm_card_chargeDeclinedFraudulent", "card_declined", "fraudulent"},
      {"pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"},
      {"pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc"},
      {"pm_card_chargeDeclinedProcessingError", "processing_error", "processing_error"},
  };
  int n = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.pm);
    const auto p = Create("decline-" + std::to_string(++n), c.pm);
    EXPECT_EQ(p.status(), pv1::PAYMENT_STATUS_FAILED);
    EXPECT_EQ(p.failure().code(), c.code);
    EXPECT_EQ(p.failure().decline_code(), c.decline_code);
    EXPECT_FALSE(p.failure().message().empty());
    EXPECT_EQ(p.amount_received().amount_minor(), 0);
  }
  EXPECT_FALSE(Ledger()["summary"]["captured"].contains("usd")) << "nothing captured";
  ASSERT_TRUE(Eventually([&] { return events_.events().size() == cases.size(); }, std::chrono::seconds(10)));
  for (const auto& e : events_.events()) {
    EXPECT_EQ(e.status(), billing::invoice::v1::PAYMENT_EVENT_STATUS_FAILED);
    EXPECT_FALSE(e.failure_code().empty());
  }
}

TEST_F(PaymentsE2eTest, ThreeDSecureSucceedsOrFailsAsStripeSays) {
  StartPayments();
  const auto p = Create("3ds-ok", "pm_card_threeDSecure2Required");
  ASSERT_EQ(p.status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);
  EXPECT_EQ(p.client_secret().rfind(p.payment_intent_id() + "_secret_", 0), 0u);
  EXPECT_EQ(LedgerIntent(p.payment_intent_id())["next_action"]["redirect_to_url"]["return_url"],
            "https://pay.example.com/return")
      << "the default return_url";
  // Before the customer authenticates, confirming changes nothing.
  EXPECT_EQ(Confirm("confirm-early", p.payment_intent_id()).status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);
  Authenticate(p.payment_intent_id(), "succeed");
  const auto done = Confirm("confirm-1", p.payment_intent_id());
  EXPECT_EQ(done.status(), pv1::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_EQ(done.amount_received().amount_minor(), 2000);
  EXPECT_TRUE(done.client_secret().empty());

  const auto q = Create("3ds-fail", "pm_card_threeDSecure2Required");
  ASSERT_EQ(q.status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);
  Authenticate(q.payment_intent_id(), "fail");
  const auto failed = Confirm("confirm-2", q.payment_intent_id());
  EXPECT_EQ(failed.status(), pv1::PAYMENT_STATUS_FAILED);
  EXPECT_EQ(failed.failure().code(), "payment_intent_authentication_failure");

  // Authenticated, then declined.
  const auto r = Create("3ds-decline", "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds");
  ASSERT_EQ(r.status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);
  Authenticate(r.payment_intent_id(), "succeed");
  const auto declined = Confirm("confirm-3", r.payment_intent_id());
  EXPECT_EQ(declined.status(), pv1::PAYMENT_STATUS_FAILED);
  EXPECT_EQ(declined.failure().decline_code(), "insufficient_funds");

  // Someone else's invoice cannot confirm this PaymentIntent.
  pv1::ConfirmPaymentRequest other;
  other.set_request_id("confirm-other");
  other.set_invoice_id("inv-2");
  other.set_payment_intent_id(p.payment_intent_id());
  pv1::ConfirmPaymentResponse resp;
  const auto status = Call(&pv1::PaymentService::Stub::ConfirmPayment, other, &resp);
  EXPECT_EQ(status.error_code(), Code::NOT_FOUND);
  EXPECT_EQ(ErrorInfoOf(status).reason(), "PAYMENT_NOT_FOUND");
  EXPECT_EQ(Ledger()["summary"]["captured"]["usd"], 2000);

  ASSERT_TRUE(Eventually([&] { return events_.EventsOf(p.payment_id()).size() == 2; }, std::chrono::seconds(10)));
  EXPECT_EQ(events_.EventsOf(p.payment_id())[0].status(), billing::invoice::v1::PAYMENT_EVENT_STATUS_REQUIRES_ACTION);
  EXPECT_EQ(events_.EventsOf(p.payment_id())[1].status(), billing::invoice::v1::PAYMENT_EVENT_STATUS_SUCCEEDED);
}

TEST_F(PaymentsE2eTest, CancelStopsAPaymentButNotOneThatSucceeded) {
  StartPayments();
  const auto p = Create("cancel-me", "pm_card_threeDSecure2Required");
  ASSERT_EQ(p.status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);
  pv1::CancelPaymentRequest cancel;
  cancel.set_request_id("cancel-1");
  cancel.set_payment_id(p.payment_id());
  cancel.set_reason(pv1::CANCELLATION_REASON_REQUESTED_BY_CUSTOMER);
  pv1::CancelPaymentResponse canceled;
  ASSERT_TRUE(Call(&pv1::PaymentService::Stub::CancelPayment, cancel, &canceled).ok());
  EXPECT_EQ(canceled.payment().status(), pv1::PAYMENT_STATUS_CANCELED);
  EXPECT_EQ(LedgerIntent(p.payment_intent_id())["status"], "canceled");
  EXPECT_EQ(LedgerIntent(p.payment_intent_id())["cancellation_reason"], "requested_by_customer");
  // The customer cannot finish it any more.
  EXPECT_EQ(Control("POST", "/_emulator/payment_intents/" + p.payment_intent_id() + "/authenticate",
                    {{"outcome", "succeed"}})
                .status,
            400);

  const auto paid = Create("paid", "pm_card_visa");
  cancel.set_request_id("cancel-2");
  cancel.set_payment_id(paid.payment_id());
  const auto refused = Call(&pv1::PaymentService::Stub::CancelPayment, cancel, &canceled);
  EXPECT_EQ(refused.error_code(), Code::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorInfoOf(refused).reason(), "PAYMENT_STATE_CONFLICT");
  EXPECT_EQ(LedgerIntent(paid.payment_intent_id())["status"], "succeeded");
  ASSERT_TRUE(Eventually(
      [&] {
        const auto ev = events_.EventsOf(p.payment_id());
        return !ev.empty() && ev.back().status() == billing::invoice::v1::PAYMENT_EVENT_STATUS_CANCELED;
      },
      std::chrono::seconds(10)))
      << [&] {
           std::string out;
           for (const auto& e : events_.EventsOf(p.payment_id())) out += e.request_id() + " ";
           return out;
         }()
      << QueryInt(db_->url(), "SELECT count(*) FROM payment_events_outbox WHERE state = 'PENDING'") << " pending";
}

TEST_F(PaymentsE2eTest, RefundsArePartialOrFullAndNeverMoreThanCaptured) {
  StartPayments();
  const auto p = Create("refund-me", "pm_card_visa", 5000);
  pv1::RefundPaymentRequest req;
  req.set_request_id("refund-1");
  req.set_payment_id(p.payment_id());
  req.mutable_amount()->set_amount_minor(1200);
  req.mutable_amount()->set_currency_code("USD");
  req.set_reason(pv1::REFUND_REASON_REQUESTED_BY_CUSTOMER);
  pv1::RefundPaymentResponse resp;
  ASSERT_TRUE(Call(&pv1::PaymentService::Stub::RefundPayment, req, &resp).ok());
  EXPECT_EQ(resp.refund().status(), pv1::REFUND_STATUS_SUCCEEDED);
  EXPECT_EQ(resp.refund().provider_refund_id().rfind("re_", 0), 0u);
  EXPECT_EQ(resp.payment().amount_refunded().amount_minor(), 1200);

  // A retry of the same refund replays it; nothing more is refunded.
  pv1::RefundPaymentResponse again;
  ASSERT_TRUE(Call(&pv1::PaymentService::Stub::RefundPayment, req, &again).ok());
  EXPECT_EQ(again.refund().refund_id(), resp.refund().refund_id());

  // More than what is left is refused, naming the amount.
  req.set_request_id("refund-2");
  req.mutable_amount()->set_amount_minor(3801);
  const auto too_much = Call(&pv1::PaymentService::Stub::RefundPayment, req, &resp);
  EXPECT_EQ(too_much.error_code(), Code::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorInfoOf(too_much).reason(), "REFUND_EXCEEDS_CAPTURED");
  EXPECT_EQ(ErrorInfoOf(too_much).metadata().at("field"), "amount.amount_minor");

  // Unset amount: everything left.
  req.set_request_id("refund-3");
  req.clear_amount();
  ASSERT_TRUE(Call(&pv1::PaymentService::Stub::RefundPayment, req, &resp).ok());
  EXPECT_EQ(resp.refund().amount().amount_minor(), 3800);
  EXPECT_EQ(resp.payment().amount_refunded().amount_minor(), 5000);
  ASSERT_EQ(resp.payment().refunds_size(), 2);

  req.set_request_id("refund-4");
  const auto nothing_left = Call(&pv1::PaymentService::Stub::RefundPayment, req, &resp);
  EXPECT_EQ(ErrorInfoOf(nothing_left).reason(), "REFUND_EXCEEDS_CAPTURED");
  EXPECT_EQ(Ledger()["summary"]["refunded"]["usd"], 5000);
  EXPECT_EQ(Ledger()["refunds"].size(), 2u);

  // A failed payment cannot be refunded.
  const auto failed = Create("declined", "pm_card_visa_chargeDeclined");
  req.set_request_id("refund-5");
  req.set_payment_id(failed.payment_id());
  const auto refused = Call(&pv1::PaymentService::Stub::RefundPayment, req, &resp);
  EXPECT_EQ(ErrorInfoOf(refused).reason(), "PAYMENT_STATE_CONFLICT");
}

TEST_F(PaymentsE2eTest, ConcurrentRefundsNeverAddUpToMoreThanCaptured) {
  StartPayments();
  const auto p = Create("refund-race", "pm_card_visa", 1000);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto stub = pv1::PaymentService::NewStub(svc_->Channel());
      pv1::RefundPaymentRequest req;
      req.set_request_id("race-" + std::to_string(i));
      req.set_payment_id(p.payment_id());
      req.mutable_amount()->set_amount_minor(300);
      req.mutable_amount()->set_currency_code("USD");
      grpc::ClientContext ctx;
      pv1::RefundPaymentResponse resp;
      if (stub->RefundPayment(&ctx, req, &resp).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 3) << "3 x 300 fit in 1000, a fourth does not";
  EXPECT_EQ(Ledger()["summary"]["refunded"]["usd"], 900);
}

TEST_F(PaymentsE2eTest, ARetriedCallReplaysItsAnswerDeclinesIncluded) {
  StartPayments();
  const auto first = Create("same-key", "pm_card_visa_chargeDeclinedInsufficientFunds");
  ASSERT_EQ(first.status(), pv1::PAYMENT_STATUS_FAILED);
  const auto again = Create("same-key", "pm_card_visa_chargeDeclinedInsufficientFunds");
  EXPECT_EQ(again.payment_id(), first.payment_id());
  EXPECT_EQ(again.status(), pv1::PAYMENT_STATUS_FAILED);
  EXPECT_EQ(again.failure().decline_code(), "insufficient_funds");
  EXPECT_EQ(Ledger()["payment_intents"].size(), 1u) << "the retry never reached Stripe";

  // The same key for another request is refused, naming request_id.
  pv1::CreatePaymentResponse resp;
  const auto mismatch =
      Call(&pv1::PaymentService::Stub::CreatePayment, CreateRequest("same-key", "pm_card_visa", 2001), &resp);
  EXPECT_EQ(mismatch.error_code(), Code::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorInfoOf(mismatch).reason(), "IDEMPOTENCY_KEY_REUSED");
  EXPECT_EQ(ErrorInfoOf(mismatch).metadata().at("field"), "request_id");
  EXPECT_EQ(Ledger()["payment_intents"].size(), 1u);
}

TEST_F(PaymentsE2eTest, ASecondCallWithAKeyInFlightIsAborted) {
  StartPayments();
  AddFault({{"method", "POST"}, {"path", "/v1/payment_intents/*/confirm"}, {"action", "latency"},
            {"latency_ms", 1000}, {"times", 1}});
  pv1::Payment first;
  std::thread slow([&] { first = Create("slow", "pm_card_visa"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  pv1::CreatePaymentResponse resp;
  const auto busy = Call(&pv1::PaymentService::Stub::CreatePayment, CreateRequest("slow", "pm_card_visa"), &resp);
  slow.join();
  EXPECT_EQ(busy.error_code(), Code::ABORTED);
  EXPECT_EQ(ErrorInfoOf(busy).reason(), "IDEMPOTENCY_KEY_IN_USE");
  EXPECT_EQ(first.status(), pv1::PAYMENT_STATUS_SUCCEEDED);
  // Once it is done, the retry replays it.
  EXPECT_EQ(Create("slow", "pm_card_visa").payment_id(), first.payment_id());
  EXPECT_EQ(Ledger()["payment_intents"].size(), 1u);
}

TEST_F(PaymentsE2eTest, TwentyConcurrentIdenticalCallsOnTwoReplicasMakeOnePaymentIntent) {
  StartPayments();
  ServiceProcess second({.binary = PaymentsBinary(), .env = Env()});
  AddFault({{"method", "POST"}, {"path", "/v1/payment_intents"}, {"action", "latency"}, {"latency_ms", 300},
            {"times", 1}});
  std::mutex mu;
  std::set<std::string> payment_ids;
  std::atomic<int> ok{0};
  std::atomic<int> aborted{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      auto stub = pv1::PaymentService::NewStub(i % 2 == 0 ? svc_->Channel() : second.Channel());
      // Each caller retries ABORTED, as a client should, until it gets the
      // answer.
      for (int attempt = 0; attempt < 50; ++attempt) {
        grpc::ClientContext ctx;
        pv1::CreatePaymentResponse resp;
        const auto status = stub->CreatePayment(&ctx, CreateRequest("twenty", "pm_card_visa"), &resp);
        if (status.ok()) {
          ++ok;
          std::lock_guard lock(mu);
          payment_ids.insert(resp.payment().payment_id());
          return;
        }
        if (status.error_code() != Code::ABORTED) {
          ++other;
          return;
        }
        ++aborted;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(aborted.load(), 0) << "the others saw the key in flight";
  EXPECT_EQ(payment_ids.size(), 1u);
  EXPECT_EQ(Ledger()["payment_intents"].size(), 1u);
  EXPECT_EQ(Ledger()["summary"]["captured"]["usd"], 2000);
  EXPECT_EQ(QueryInt(db_->url(), "SELECT count(*) FROM payments"), 1);
}

// The runbook's stale-payments alert reads these gauges: a payment that is
// not final shows up by status with its age, and leaves when it is final.
TEST_F(PaymentsE2eTest, UnresolvedGaugesCountPaymentsNotYetFinal) {
  StartPayments({{"STATS_INTERVAL_MS", "100"}});
  auto metrics = [&] {
    return HttpRequest("GET", "http://127.0.0.1:" + std::to_string(svc_->metrics_port()) + "/metrics").body;
  };
  auto gauge = [&](const std::string& name, const std::string& status) {
    const std::string body = metrics();
    const std::string key = name + "{status=\"" + status + "\"} ";
    const auto at = body.find(key);
    return at == std::string::npos ? -1.0 : std::stod(body.substr(at + key.size()));
  };
  ASSERT_TRUE(Eventually([&] { return gauge("payments_unresolved", "REQUIRES_ACTION") == 0; }, std::chrono::seconds(10)))
      << metrics();
  const auto p = Create("stale-3ds", "pm_card_threeDSecure2Required");
  ASSERT_EQ(p.status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);
  ASSERT_TRUE(Eventually([&] { return gauge("payments_unresolved", "REQUIRES_ACTION") == 1; }, std::chrono::seconds(10)))
      << metrics();
  EXPECT_TRUE(Eventually([&] { return gauge("payments_unresolved_oldest_age_seconds", "REQUIRES_ACTION") > 0.1; },
                         std::chrono::seconds(10)));
  EXPECT_EQ(gauge("payments_unresolved", "PENDING"), 0);

  Authenticate(p.payment_intent_id(), "succeed");
  ASSERT_EQ(Confirm("stale-confirm", p.payment_intent_id()).status(), pv1::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_TRUE(Eventually([&] { return gauge("payments_unresolved", "REQUIRES_ACTION") == 0; }, std::chrono::seconds(10)));
  EXPECT_EQ(gauge("payments_unresolved_oldest_age_seconds", "REQUIRES_ACTION"), 0);
}

}  // namespace
}  // namespace billing::testing
