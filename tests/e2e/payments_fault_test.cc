// Payments when things go wrong: every emulator fault on the create and the
// confirm call, Stripe down, the process killed between Stripe's answer and
// our commit, an abandoned payment that captures money anyway, 3-D Secure
// left unfinished, and the invoice service down. After each, the emulator's
// ledger and our records must agree: no double charge, no lost payment.
#include <signal.h>

#include <thread>

#include "e2e/payments_env.h"

namespace billing::testing {
namespace {

using Code = grpc::StatusCode;

// Calls CreatePayment until it answers something other than UNAVAILABLE or
// ABORTED (what a client retrying with the same request_id would see).
pv1::Payment CreateUntilAnswered(pv1::PaymentService::Stub& stub, const pv1::CreatePaymentRequest& req,
                                 int* unavailable = nullptr) {
  for (int attempt = 0; attempt < 60; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    pv1::CreatePaymentResponse resp;
    const auto status = stub.CreatePayment(&ctx, req, &resp);
    if (status.ok()) return resp.payment();
    EXPECT_TRUE(status.error_code() == Code::UNAVAILABLE || status.error_code() == Code::ABORTED)
        << status.error_message();
    if (status.error_code() == Code::UNAVAILABLE && unavailable != nullptr) ++*unavailable;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ADD_FAILURE() << "no answer after 60 tries";
  return {};
}

TEST_F(PaymentsE2eTest, EveryFaultOnCreateAndConfirmIsSurvivedWithoutADoubleCharge) {
  // The client below keeps retrying, so the sweeper must not give its
  // payments up meanwhile (a grace shorter than the client's patience would).
  StartPayments({{"PENDING_GRACE_MS", "30000"}});
  const std::vector<std::pair<std::string, nlohmann::json>> faults = {
      {"execute_then_drop", {{"action", "execute_then_drop"}}},
      {"execute_then_500", {{"action", "execute_then_error"}}},
      {"503", {{"action", "error"}, {"status", 503}}},
      {"429 lock_timeout", {{"action", "error"}, {"status", 429}, {"code", "lock_timeout"}}},
      {"409", {{"action", "error"}, {"status", 409}}},
      {"latency past the timeout", {{"action", "latency"}, {"latency_ms", 2500}}},
      {"hang past the timeout", {{"action", "hang"}, {"hang_ms", 2500}}},
  };
  const std::vector<std::string> paths = {"/v1/payment_intents", "/v1/payment_intents/*/confirm"};
  int n = 0;
  int64_t expected_captured = 0;
  for (const auto& path : paths) {
    for (const auto& [name, fault] : faults) {
      SCOPED_TRACE(name + " on " + path);
      nlohmann::json rule = fault;
      rule["method"] = "POST";
      rule["path"] = path;
      rule["times"] = 1;
      AddFault(rule);
      const int64_t amount = 1000 + (++n);
      const auto p = CreateUntilAnswered(*stub_, CreateRequest("fault-" + std::to_string(n), "pm_card_visa", amount));
      EXPECT_EQ(p.status(), pv1::PAYMENT_STATUS_SUCCEEDED);
      EXPECT_EQ(p.amount_received().amount_minor(), amount);
      expected_captured += amount;
      const auto pi = LedgerIntent(p.payment_intent_id());
      EXPECT_EQ(pi["status"], "succeeded");
      EXPECT_EQ(pi["amount_received"], amount);
      ClearFaults();
    }
  }
  // The referee: one PaymentIntent and one captured charge per payment.
  const auto ledger = Ledger();
  EXPECT_EQ(ledger["payment_intents"].size(), static_cast<std::size_t>(n));
  int succeeded_charges = 0;
  for (const auto& ch : ledger["charges"]) succeeded_charges += ch["status"] == "succeeded" ? 1 : 0;
  EXPECT_EQ(succeeded_charges, n);
  EXPECT_EQ(ledger["summary"]["captured"]["usd"], expected_captured);
  EXPECT_EQ(QueryInt(db_->url(), "SELECT count(*) FROM payments WHERE status = 'SUCCEEDED'"), n);
  EXPECT_EQ(QueryInt(db_->url(), "SELECT COALESCE(sum(amount_received_minor), 0) FROM payments"), expected_captured);
}

TEST_F(PaymentsE2eTest, StripeDownLeavesThePaymentPendingAndARetryFinishesIt) {
  StartPayments({{"PENDING_GRACE_MS", "30000"}});
  AddFault({{"method", "POST"}, {"path", "/v1/payment_intents/*/confirm"}, {"action", "error"}, {"status", 503},
            {"sticky", true}});
  pv1::CreatePaymentResponse resp;
  const auto down = Call(&pv1::PaymentService::Stub::CreatePayment, CreateRequest("down-1", "pm_card_visa"), &resp);
  EXPECT_EQ(down.error_code(), Code::UNAVAILABLE);
  EXPECT_EQ(ErrorInfoOf(down).reason(), "UPSTREAM_UNAVAILABLE");
  EXPECT_EQ(down.error_message().find(kStripeKey), std::string::npos);
  EXPECT_EQ(QueryInt(db_->url(), "SELECT count(*) FROM payments WHERE status = 'PENDING'"), 1);
  ClearFaults();
  const auto p = Create("down-1", "pm_card_visa");
  EXPECT_EQ(p.status(), pv1::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_EQ(Ledger()["payment_intents"].size(), 1u) << Ledger().dump(1) << svc_->Logs();
  EXPECT_EQ(Ledger()["summary"]["captured"]["usd"], 2000);
}

// Short Stripe budgets, so a dead call's key lock runs out within the test.
std::map<std::string, std::string> FastRecovery() {
  return {{"STRIPE_TIMEOUT_MS", "600"},
          {"STRIPE_MAX_RETRIES", "1"},
          {"STRIPE_RETRY_MAX_MS", "50"},
          {"PENDING_GRACE_MS", "500"}};
}

TEST_F(PaymentsE2eTest, KilledAfterStripeChargedConvergesThroughTheSweeper) {
  StartPayments(FastRecovery());
  // The confirm reaches Stripe and executes 1 s later; the process dies
  // before it hears the answer.
  AddFault({{"method", "POST"}, {"path", "/v1/payment_intents/*/confirm"}, {"action", "latency"},
            {"latency_ms", 1000}, {"times", 1}});
  std::thread call([&] {
    pv1::CreatePaymentResponse resp;
    Call(&pv1::PaymentService::Stub::CreatePayment, CreateRequest("killed-1", "pm_card_visa"), &resp);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  svc_->Stop(SIGKILL, std::chrono::seconds(5));
  call.join();
  ASSERT_TRUE(Eventually([&] { return Ledger()["summary"]["captured"].value("usd", 0) == 2000; },
                         std::chrono::seconds(5)))
      << "Stripe charged the card";
  EXPECT_EQ(QueryInt(db_->url(), "SELECT count(*) FROM payments WHERE status = 'PENDING'"), 1) << "we did not record it";

  StartPayments(FastRecovery());
  ASSERT_TRUE(Eventually(
      [&] { return QueryInt(db_->url(), "SELECT count(*) FROM payments WHERE status = 'SUCCEEDED'") == 1; },
      std::chrono::seconds(20)))
      << svc_->Logs();
  // The client's retry now gets the truth, and nothing is charged twice.
  const auto p = Create("killed-1", "pm_card_visa");
  EXPECT_EQ(p.status(), pv1::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_EQ(Ledger()["payment_intents"].size(), 1u);
  EXPECT_EQ(Ledger()["summary"]["captured"]["usd"], 2000);
  ASSERT_TRUE(Eventually([&] { return events_.EventsOf(p.payment_id()).size() == 1; }, std::chrono::seconds(10)));
  EXPECT_EQ(events_.EventsOf(p.payment_id())[0].status(), billing::invoice::v1::PAYMENT_EVENT_STATUS_SUCCEEDED);
}

TEST_F(PaymentsE2eTest, KilledDuringTheCreateCallNeverCharges) {
  StartPayments(FastRecovery());
  AddFault({{"method", "POST"}, {"path", "/v1/payment_intents"}, {"action", "latency"}, {"latency_ms", 1000},
            {"times", 1}});
  std::thread call([&] {
    pv1::CreatePaymentResponse resp;
    Call(&pv1::PaymentService::Stub::CreatePayment, CreateRequest("killed-2", "pm_card_visa"), &resp);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  svc_->Stop(SIGKILL, std::chrono::seconds(5));
  call.join();
  ASSERT_TRUE(Eventually([&] { return Ledger()["payment_intents"].size() == 1; }, std::chrono::seconds(5)))
      << "Stripe made the PaymentIntent";

  StartPayments(FastRecovery());
  ASSERT_TRUE(Eventually(
      [&] { return QueryInt(db_->url(), "SELECT count(*) FROM payments WHERE status = 'CANCELED'") == 1; },
      std::chrono::seconds(20)))
      << svc_->Logs();
  const auto ledger = Ledger();
  ASSERT_EQ(ledger["payment_intents"].size(), 1u) << "the replayed create found the same PaymentIntent";
  EXPECT_EQ(ledger["payment_intents"][0]["status"], "canceled");
  EXPECT_FALSE(ledger["summary"]["captured"].contains("usd"));
  // The retried call learns it is over; a new attempt needs a new request_id.
  EXPECT_EQ(Create("killed-2", "pm_card_visa").status(), pv1::PAYMENT_STATUS_CANCELED);
}

TEST_F(PaymentsE2eTest, AnAbandonedPaymentThatCapturesMoneyIsRefundedAutomatically) {
  StartPayments();
  const auto p = Create("abandon-1", "pm_card_threeDSecure2Required");
  EXPECT_FALSE(p.has_abandon_time());
  ASSERT_EQ(p.status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);
  // The invoice gives up on the payment while Stripe cannot be reached...
  AddFault({{"method", "POST"}, {"path", "/v1/payment_intents/*/cancel"}, {"action", "error"}, {"status", 503},
            {"sticky", true}});
  pv1::CancelPaymentRequest cancel;
  cancel.set_request_id("abandon-cancel");
  cancel.set_payment_id(p.payment_id());
  cancel.set_reason(pv1::CANCELLATION_REASON_ABANDONED);
  pv1::CancelPaymentResponse resp;
  const auto down = Call(&pv1::PaymentService::Stub::CancelPayment, cancel, &resp);
  EXPECT_EQ(down.error_code(), Code::UNAVAILABLE);
  // ...and the customer finishes 3-D Secure in the meantime.
  Authenticate(p.payment_intent_id(), "succeed");
  ASSERT_EQ(Ledger()["summary"]["captured"]["usd"], 2000);
  ClearFaults();

  ASSERT_TRUE(Eventually([&] { return Get(p.payment_id()).amount_refunded().amount_minor() == 2000; },
                         std::chrono::seconds(20)))
      << svc_->Logs();
  const auto done = Get(p.payment_id());
  EXPECT_EQ(done.status(), pv1::PAYMENT_STATUS_SUCCEEDED) << "Stripe's truth";
  // ...with the mark that tells a caller the money is not theirs to keep
  // (invoice reads a payment with abandon_time as CANCELED).
  EXPECT_TRUE(done.has_abandon_time());
  ASSERT_EQ(done.refunds_size(), 1);
  EXPECT_EQ(done.refunds(0).status(), pv1::REFUND_STATUS_SUCCEEDED);
  EXPECT_EQ(Ledger()["summary"]["refunded"]["usd"], 2000);
  // Reported: logged and counted. The invoice hears that the attempt is
  // over (CANCELED), never that it succeeded.
  EXPECT_NE(svc_->Logs().find("an abandoned payment captured money"), std::string::npos);
  const auto metrics =
      HttpRequest("GET", "http://127.0.0.1:" + std::to_string(svc_->metrics_port()) + "/metrics").body;
  EXPECT_NE(metrics.find("payments_auto_refunds_total 1"), std::string::npos);
  EXPECT_EQ(QueryInt(db_->url(), "SELECT count(*) FROM payment_events_outbox WHERE payment_id = '" + p.payment_id() +
                                     "' AND status = 'SUCCEEDED'"),
            0);
  ASSERT_TRUE(Eventually(
      [&] {
        const auto ev = events_.EventsOf(p.payment_id());
        return !ev.empty() && ev.back().status() == billing::invoice::v1::PAYMENT_EVENT_STATUS_CANCELED;
      },
      std::chrono::seconds(10)));
  // The payer's page is not told "paid".
  pv1::ConfirmPaymentRequest confirm;
  confirm.set_request_id("abandon-confirm");
  confirm.set_invoice_id("inv-1");
  confirm.set_payment_intent_id(p.payment_intent_id());
  pv1::ConfirmPaymentResponse confirmed;
  const auto conflict = Call(&pv1::PaymentService::Stub::ConfirmPayment, confirm, &confirmed);
  EXPECT_EQ(conflict.error_code(), Code::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorInfoOf(conflict).reason(), "PAYMENT_STATE_CONFLICT");
  // The retried cancel says what happened.
  const auto again = Call(&pv1::PaymentService::Stub::CancelPayment, cancel, &resp);
  EXPECT_EQ(again.error_code(), Code::FAILED_PRECONDITION) << again.error_message();
  EXPECT_EQ(ErrorInfoOf(again).reason(), "PAYMENT_STATE_CONFLICT");
}

TEST_F(PaymentsE2eTest, AFailedAttemptsPaymentIntentIsCanceledSoNobodyPaysOnItLater) {
  StartPayments();
  const auto p = Create("failed-3ds", "pm_card_threeDSecure2Required");
  ASSERT_EQ(p.status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);
  Authenticate(p.payment_intent_id(), "fail");
  EXPECT_EQ(Confirm("failed-confirm", p.payment_intent_id()).status(), pv1::PAYMENT_STATUS_FAILED);
  // Stripe.js could confirm this PaymentIntent again with another card; the
  // invoice has moved on to a new attempt, so the sweeper cancels it.
  ASSERT_TRUE(Eventually([&] { return LedgerIntent(p.payment_intent_id())["status"] == "canceled"; },
                         std::chrono::seconds(10)))
      << svc_->Logs();
  const auto got = Get(p.payment_id());
  EXPECT_EQ(got.status(), pv1::PAYMENT_STATUS_FAILED) << "the attempt's truth stays FAILED";
  EXPECT_EQ(got.failure().code(), "payment_intent_authentication_failure");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto events = events_.EventsOf(p.payment_id());
  ASSERT_EQ(events.size(), 2u) << "REQUIRES_ACTION, FAILED; no CANCELED after the final FAILED";
  EXPECT_EQ(events[1].status(), billing::invoice::v1::PAYMENT_EVENT_STATUS_FAILED);
}

TEST_F(PaymentsE2eTest, ThreeDSecureLeftUnfinishedIsCanceledAfterTheTimeout) {
  StartPayments({{"ACTION_TIMEOUT_S", "1"}});
  const auto p = Create("unfinished", "pm_card_threeDSecure2Required");
  ASSERT_EQ(p.status(), pv1::PAYMENT_STATUS_REQUIRES_ACTION);
  ASSERT_TRUE(WaitStatus(p.payment_id(), pv1::PAYMENT_STATUS_CANCELED, std::chrono::seconds(10))) << svc_->Logs();
  const auto pi = LedgerIntent(p.payment_intent_id());
  EXPECT_EQ(pi["status"], "canceled");
  EXPECT_EQ(pi["cancellation_reason"], "abandoned");
  ASSERT_TRUE(Eventually(
      [&] {
        const auto ev = events_.EventsOf(p.payment_id());
        return !ev.empty() && ev.back().status() == billing::invoice::v1::PAYMENT_EVENT_STATUS_CANCELED;
      },
      std::chrono::seconds(10)));
}

TEST_F(PaymentsE2eTest, OutcomesWaitForTheInvoiceServiceAndArriveOnce) {
  events_.SetAvailable(false);
  StartPayments();
  const auto p = Create("invoice-down", "pm_card_visa");
  ASSERT_TRUE(Eventually([&] { return events_.calls() >= 3; }, std::chrono::seconds(10))) << "retrying";
  EXPECT_TRUE(events_.events().empty());
  events_.SetAvailable(true);
  ASSERT_TRUE(Eventually([&] { return events_.EventsOf(p.payment_id()).size() == 1; }, std::chrono::seconds(10)));
  const int calls = events_.calls();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(events_.calls(), calls) << "delivered once, then left alone";
}

}  // namespace
}  // namespace billing::testing
