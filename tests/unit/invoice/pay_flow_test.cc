// PayFlow's rules without I/O: the in-memory store, a fake clock and a fake
// payments port that records every call. The e2e suite (pay_flow_test.cc)
// runs the same flow through the real binaries and the Stripe emulator.
#include "domain/pay_flow.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>

#include "errors/error.h"
#include "unit/error_of.h"
#include "unit/invoice/fake_invoice_store.h"
#include "unit/invoice/sequential_ids.h"

namespace billing::invoice::domain {
namespace {

using billing::testing::ErrorOf;
using errors::Reason;
using testing::FakeInvoiceStore;
using testing::SequentialIds;

PaymentView View(AttemptStatus status, const std::string& payment_id, const std::string& intent, int64_t received = 0) {
  PaymentView v;
  v.payment_id = payment_id;
  v.payment_intent_id = intent;
  v.status = status;
  if (received > 0) v.amount_received = {received, "USD"};
  if (status == AttemptStatus::kRequiresAction) v.client_secret = intent + "_secret_x";
  return v;
}

// The payments service as the pay flow sees it. Create answers with
// `on_create` (default: success for the amount); Get answers what the
// payment is now; Cancel cancels it unless it succeeded.
class FakePayments final : public Payments {
 public:
  PaymentView Create(const CreatePaymentRequest& r) override {
    creates.push_back(r);
    if (fail_next) {
      const auto f = *fail_next;
      fail_next.reset();
      throw Error(f, "payments is down");
    }
    PaymentView v = on_create ? on_create(r)
                              : View(AttemptStatus::kSucceeded, "p-" + r.attempt_id, "pi_" + std::to_string(creates.size()),
                                     r.amount.amount_minor);
    v.attempt_id = r.attempt_id;
    if (!v.payment_id.empty()) stored[v.payment_id] = v;
    return v;
  }
  PaymentView Confirm(const std::string& request_id, const std::string&, const std::string& intent) override {
    confirms.push_back(request_id);
    for (auto& [id, p] : stored) {
      if (p.payment_intent_id == intent) return p;
    }
    throw Error(Failure::kRejected, "no such PaymentIntent");
  }
  std::optional<PaymentView> Get(const std::string& payment_id) override {
    ++gets;
    auto it = stored.find(payment_id);
    if (it == stored.end()) return std::nullopt;
    return it->second;
  }
  std::vector<PaymentView> ListForInvoice(const std::string&) override {
    std::vector<PaymentView> out;
    for (const auto& [_, p] : stored) out.push_back(p);
    return out;
  }
  void Cancel(const std::string& request_id, const std::string& payment_id) override {
    cancels.push_back(request_id);
    auto& p = stored.at(payment_id);
    if (p.status == AttemptStatus::kSucceeded) throw Error(Failure::kConflict, "already succeeded");
    p.status = AttemptStatus::kCanceled;
  }
  void Refund(const std::string& request_id, const std::string&) override { refunds.push_back(request_id); }

  std::function<PaymentView(const CreatePaymentRequest&)> on_create;
  std::optional<Failure> fail_next;
  std::map<std::string, PaymentView> stored;
  std::vector<CreatePaymentRequest> creates;
  std::vector<std::string> confirms, cancels, refunds;
  int gets = 0;
};

class PayFlowTest : public ::testing::Test {
 protected:
  PayFlowTest()
      : clock_(clock::FromUnixMicros(1'800'000'000'000'000)),
        manager_(store_, clock_, ids_, {.pay_link_base_url = "https://pay.example.com/i", .business_name = "Kayak Co"}),
        flow_(store_, manager_, payments_, clock_, ids_,
              {.started_grace = std::chrono::seconds(30),
               .check_interval = std::chrono::seconds(60),
               .lost_after = std::chrono::minutes(10),
               .abandon_after = std::chrono::minutes(15)},
              {.refunding = [this](const Invoice&, const PayAttempt&) { ++refunding_reports_; }}) {}

  // A pending booking of 250.00 and an OPEN invoice for `amount` of it.
  Invoice Open(int64_t amount = 25000, std::function<void(Booking&)> tweak = nullptr) {
    Booking b;
    b.booking_id = "bk-1";
    b.status = BookingStatus::kPending;
    b.customer = {"Ann Lee", "ann@example.com", "+14155550123"};
    b.currency = "USD";
    b.total_minor = 25000;
    b.activity_name = "Sunset kayak tour";
    b.confirmation_code = "K7Q2";
    if (tweak) tweak(b);
    booking_ = b;
    manager_.UpsertBooking({.caller = "", .request_id = "u-1", .booking = b});
    CreateInvoiceCommand cmd;
    cmd.request_id = "c-1";
    cmd.booking_id = "bk-1";
    cmd.amount = {amount, "USD"};
    cmd.send_type = Channel::kEmail;
    cmd.confirm_on_pay = true;
    return manager_.CreateInvoice(cmd);
  }

  PayInvoiceCommand PayCmd(const Invoice& inv, const std::string& request_id, const std::string& pm = "pm_card_visa") {
    PayInvoiceCommand cmd;
    cmd.request_id = request_id;
    cmd.token = inv.token;
    cmd.method = PayMethod::kPaymentMethod;
    cmd.method_id = pm;
    return cmd;
  }
  PayInvoiceCommand Handled(const Invoice& inv, const std::string& request_id, const std::string& intent) {
    PayInvoiceCommand cmd = PayCmd(inv, request_id, intent);
    cmd.method = PayMethod::kHandledNextAction;
    return cmd;
  }
  PaymentEventCommand Event(const Invoice& inv, const std::string& key, AttemptStatus status,
                            const std::string& payment_id, const std::string& intent, int64_t received = 0) {
    PaymentEventCommand e;
    e.request_id = key;
    e.invoice_id = inv.invoice_id;
    e.payment_id = payment_id;
    e.payment_intent_id = intent;
    e.status = status;
    if (received > 0) e.amount_received = {received, "USD"};
    return e;
  }
  void RequireActionOnCreate() {
    payments_.on_create = [](const CreatePaymentRequest& r) {
      return View(AttemptStatus::kRequiresAction, "p-" + r.attempt_id, "pi_3ds");
    };
  }

  FakeInvoiceStore::Data Data() { return store_.Snapshot(); }
  const Invoice& InvoiceNow(const Invoice& inv) {
    data_ = Data();
    return data_.invoices.at(inv.invoice_id);
  }
  int Count(const std::string& event_type) {
    int n = 0;
    for (const auto& e : Data().events) n += e.type == event_type ? 1 : 0;
    return n;
  }

  FakeInvoiceStore store_;
  clock::FakeClock clock_;
  SequentialIds ids_;
  InvoiceManager manager_;
  FakePayments payments_;
  PayFlow flow_;
  Booking booking_;
  FakeInvoiceStore::Data data_;
  int refunding_reports_ = 0;
};

TEST_F(PayFlowTest, ASuccessPaysTheInvoiceOnceAndARetryReplaysWithoutCallingPaymentsAgain) {
  const Invoice inv = Open(10000);
  const auto r = flow_.Pay(PayCmd(inv, "pay-1"));
  EXPECT_EQ(r.outcome, AttemptStatus::kSucceeded);
  EXPECT_EQ(r.confirmation_code, "K7Q2");
  ASSERT_EQ(payments_.creates.size(), 1u);
  const auto& req = payments_.creates[0];
  EXPECT_EQ(req.request_id, "invoice-attempt-" + req.attempt_id);  // Stripe's idempotency follows the attempt
  EXPECT_EQ(req.amount, (Money{10000, "USD"}));

  auto d = Data();
  EXPECT_EQ(d.invoices.at(inv.invoice_id).status, InvoiceStatus::kPaid);
  EXPECT_FALSE(d.invoices.at(inv.invoice_id).payment_pending);
  ASSERT_EQ(d.payments.size(), 1u);
  EXPECT_EQ(d.payments[0].source, PaymentSource::kInvoice);
  EXPECT_EQ(d.payments[0].payment_intent_id, r.payment_intent_id);
  EXPECT_EQ(d.invoices.at(inv.invoice_id).customer_payment_id, d.payments[0].customer_payment_id);
  EXPECT_EQ(d.bookings.at("bk-1").paid_minor, 10000);
  EXPECT_EQ(d.bookings.at("bk-1").status, BookingStatus::kConfirmed);
  // Receipt (with what is still owed) and confirmation, once each.
  int receipts = 0, confirmations = 0;
  for (const auto& n : d.notifications) {
    if (n.record.request.purpose == NotificationPurpose::kReceipt) {
      ++receipts;
      ASSERT_TRUE(n.record.request.balance_remaining.has_value());
      EXPECT_EQ(*n.record.request.balance_remaining, (Money{15000, "USD"}));
      EXPECT_EQ(n.record.request.amount, (Money{10000, "USD"}));
    }
    confirmations += n.record.request.purpose == NotificationPurpose::kBookingConfirmation ? 1 : 0;
  }
  EXPECT_EQ(receipts, 1);
  EXPECT_EQ(confirmations, 1);

  const auto again = flow_.Pay(PayCmd(inv, "pay-1"));
  EXPECT_EQ(again.outcome, AttemptStatus::kSucceeded);
  EXPECT_EQ(again.payment_intent_id, r.payment_intent_id);
  EXPECT_EQ(payments_.creates.size(), 1u);
  EXPECT_EQ(Data().payments.size(), 1u);
  // The same success told again by payments' webhook changes nothing.
  const auto attempt = Data().attempts.begin()->second;  // a copy: Data() is a temporary
  const auto told = flow_.ApplyPaymentEvent(
      Event(inv, "evt-1", AttemptStatus::kSucceeded, attempt.payment_id, attempt.payment_intent_id, 10000));
  EXPECT_FALSE(told.applied);
  EXPECT_EQ(Data().payments.size(), 1u);
  EXPECT_EQ(Data().bookings.at("bk-1").paid_minor, 10000);
}

TEST_F(PayFlowTest, AnUnknownOutcomeKeepsTheAttemptAndTheRetryUsesTheSameRequestAtPayments) {
  const Invoice inv = Open();
  payments_.fail_next = Payments::Failure::kUnavailable;
  EXPECT_EQ(ErrorOf([&] { flow_.Pay(PayCmd(inv, "pay-1")); }).first, Reason::kUpstreamUnavailable);
  EXPECT_TRUE(InvoiceNow(inv).payment_pending);
  ASSERT_EQ(Data().attempts.size(), 1u);
  EXPECT_EQ(Data().attempts.begin()->second.status, AttemptStatus::kStarted);

  // Another click meanwhile is refused (the first call may still be charging).
  EXPECT_EQ(ErrorOf([&] { flow_.Pay(PayCmd(inv, "pay-2")); }).first, Reason::kPaymentInProgress);
  EXPECT_EQ(payments_.creates.size(), 1u);

  const auto r = flow_.Pay(PayCmd(inv, "pay-1"));
  EXPECT_EQ(r.outcome, AttemptStatus::kSucceeded);
  ASSERT_EQ(payments_.creates.size(), 2u);
  EXPECT_EQ(payments_.creates[1].request_id, payments_.creates[0].request_id);
  EXPECT_EQ(Data().attempts.size(), 1u);
  EXPECT_EQ(Data().payments.size(), 1u);
}

TEST_F(PayFlowTest, ADeclineReleasesTheInvoiceForANewAttempt) {
  const Invoice inv = Open();
  payments_.on_create = [](const CreatePaymentRequest& r) {
    PaymentView v = View(AttemptStatus::kFailed, "p-" + r.attempt_id, "pi_declined");
    v.failure_code = "insufficient_funds";
    v.failure_message = "Your card has insufficient funds.";
    return v;
  };
  const auto r = flow_.Pay(PayCmd(inv, "pay-1"));
  EXPECT_EQ(r.outcome, AttemptStatus::kFailed);
  EXPECT_EQ(r.failure_code, "insufficient_funds");
  EXPECT_FALSE(InvoiceNow(inv).payment_pending);
  EXPECT_EQ(InvoiceNow(inv).status, InvoiceStatus::kOpen);
  payments_.on_create = nullptr;
  EXPECT_EQ(flow_.Pay(PayCmd(inv, "pay-2")).outcome, AttemptStatus::kSucceeded);
}

TEST_F(PayFlowTest, ThreeDSecureIsRefusedForOthersThenCompletedByTheHandledCall) {
  const Invoice inv = Open();
  RequireActionOnCreate();
  const auto first = flow_.Pay(PayCmd(inv, "pay-1"));
  EXPECT_EQ(first.outcome, AttemptStatus::kRequiresAction);
  EXPECT_EQ(first.client_secret, "pi_3ds_secret_x");
  // The prompt is open: payments still says requires_action.
  const auto refused = ErrorOf([&] { flow_.Pay(PayCmd(inv, "pay-2")); });
  EXPECT_EQ(refused.first, Reason::kPaymentInProgress);
  EXPECT_EQ(payments_.creates.size(), 1u);

  payments_.stored.begin()->second.status = AttemptStatus::kSucceeded;
  payments_.stored.begin()->second.amount_received = {25000, "USD"};
  const auto done = flow_.Pay(Handled(inv, "pay-3", "pi_3ds"));
  EXPECT_EQ(done.outcome, AttemptStatus::kSucceeded);
  ASSERT_EQ(payments_.confirms.size(), 1u);
  EXPECT_TRUE(payments_.confirms[0].starts_with("invoice-confirm-"));
  EXPECT_EQ(InvoiceNow(inv).status, InvoiceStatus::kPaid);
  EXPECT_EQ(Data().payments.size(), 1u);
}

TEST_F(PayFlowTest, AHandledIntentOfAnotherInvoiceIsNotFound) {
  const Invoice inv = Open();
  EXPECT_EQ(ErrorOf([&] { flow_.Pay(Handled(inv, "pay-1", "pi_elsewhere")); }).first, Reason::kPaymentNotFound);
  EXPECT_TRUE(payments_.confirms.empty());
}

TEST_F(PayFlowTest, AFailedThreeDSecureIsClearedOnTheNextClick) {
  const Invoice inv = Open();
  RequireActionOnCreate();
  flow_.Pay(PayCmd(inv, "pay-1"));
  // Authentication failed; nobody told the invoice service yet.
  payments_.stored.begin()->second.status = AttemptStatus::kFailed;
  payments_.on_create = nullptr;
  const auto r = flow_.Pay(PayCmd(inv, "pay-2"));
  EXPECT_EQ(r.outcome, AttemptStatus::kSucceeded);
  EXPECT_EQ(payments_.gets, 1);
  EXPECT_EQ(Count("PAYMENT_FAILED"), 1);
  EXPECT_EQ(Data().payments.size(), 1u);
}

TEST_F(PayFlowTest, AnAbandonedPromptIsCanceledOnlyAfterAbandonAfter) {
  const Invoice inv = Open();
  RequireActionOnCreate();
  flow_.Pay(PayCmd(inv, "pay-1"));
  clock_.Advance(std::chrono::minutes(14));
  EXPECT_EQ(ErrorOf([&] { flow_.Pay(PayCmd(inv, "pay-2")); }).first, Reason::kPaymentInProgress);
  EXPECT_TRUE(payments_.cancels.empty());

  clock_.Advance(std::chrono::minutes(2));
  payments_.on_create = nullptr;
  const auto r = flow_.Pay(PayCmd(inv, "pay-3"));
  EXPECT_EQ(r.outcome, AttemptStatus::kSucceeded);
  ASSERT_EQ(payments_.cancels.size(), 1u);
  EXPECT_EQ(payments_.cancels[0], PayFlow::CancelRequestId("p-" + payments_.creates[0].attempt_id));
  EXPECT_EQ(Count("PAYMENT_CANCELED"), 1);
}

TEST_F(PayFlowTest, AnAbandonedPromptThatSucceededMeanwhilePaysInsteadOfBeingCanceled) {
  const Invoice inv = Open();
  RequireActionOnCreate();
  flow_.Pay(PayCmd(inv, "pay-1"));
  clock_.Advance(std::chrono::minutes(16));
  // The customer authenticated after all, just before coming back.
  auto& p = payments_.stored.begin()->second;
  p.status = AttemptStatus::kSucceeded;
  p.amount_received = {25000, "USD"};
  const auto refused = ErrorOf([&] { flow_.Pay(PayCmd(inv, "pay-2")); });
  EXPECT_EQ(refused.first, Reason::kInvoiceAlreadyPaid);
  EXPECT_EQ(InvoiceNow(inv).status, InvoiceStatus::kPaid);
  EXPECT_TRUE(payments_.cancels.empty());
  EXPECT_EQ(payments_.creates.size(), 1u);
}

TEST_F(PayFlowTest, ABookingCanceledWhilePendingQueuesACancelAndALateSuccessIsRefunded) {
  const Invoice inv = Open();
  RequireActionOnCreate();
  flow_.Pay(PayCmd(inv, "pay-1"));
  const std::string payment_id = payments_.stored.begin()->first;

  Booking canceled = booking_;
  canceled.status = BookingStatus::kCanceled;
  manager_.UpsertBooking({.caller = "", .request_id = "u-2", .booking = canceled});
  auto d = Data();
  EXPECT_EQ(d.invoices.at(inv.invoice_id).status, InvoiceStatus::kCanceled);
  EXPECT_FALSE(d.invoices.at(inv.invoice_id).payment_pending);
  ASSERT_EQ(d.actions.size(), 1u);
  EXPECT_EQ(d.actions[0].kind, PaymentActionKind::kCancel);
  EXPECT_EQ(d.actions[0].payment_id, payment_id);

  // The PaymentIntent succeeded before the cancel reached Stripe.
  const auto told = flow_.ApplyPaymentEvent(Event(inv, "evt-ok", AttemptStatus::kSucceeded, payment_id, "pi_3ds", 25000));
  EXPECT_TRUE(told.applied);
  d = Data();
  EXPECT_TRUE(d.payments.empty());
  EXPECT_EQ(d.bookings.at("bk-1").paid_minor, 0);
  ASSERT_EQ(d.actions.size(), 2u);
  EXPECT_EQ(d.actions[1].kind, PaymentActionKind::kRefund);
  EXPECT_EQ(refunding_reports_, 1);
  EXPECT_EQ(Count("PAYMENT_REFUNDED"), 1);
  // Redelivered: nothing more.
  EXPECT_FALSE(flow_.ApplyPaymentEvent(Event(inv, "evt-ok", AttemptStatus::kSucceeded, payment_id, "pi_3ds", 25000))
                   .applied);
  EXPECT_EQ(Data().actions.size(), 2u);
}

TEST_F(PayFlowTest, AGivenUpPaymentThatCapturedAnywayIsRecordedAsRefundedOnce) {
  const Invoice inv = Open();
  RequireActionOnCreate();
  flow_.Pay(PayCmd(inv, "pay-1"));
  const std::string payment_id = payments_.stored.begin()->first;
  Booking canceled = booking_;
  canceled.status = BookingStatus::kCanceled;
  manager_.UpsertBooking({.caller = "", .request_id = "u-2", .booking = canceled});

  // Payments gave it up (our cancel) before Stripe's success arrived: it
  // refunds the money itself and reports CANCELED with what was captured.
  EXPECT_TRUE(flow_.ApplyPaymentEvent(Event(inv, "evt-cxl", AttemptStatus::kCanceled, payment_id, "pi_3ds", 25000))
                  .applied);
  auto d = Data();
  EXPECT_TRUE(d.payments.empty());
  EXPECT_EQ(d.bookings.at("bk-1").paid_minor, 0);
  EXPECT_EQ(d.actions.size(), 1u);  // only the cancel: payments refunds on its own
  EXPECT_EQ(Count("PAYMENT_REFUNDED"), 1);
  // Redelivered, or our own look at the payment (also CANCELED): once.
  EXPECT_FALSE(flow_.ApplyPaymentEvent(Event(inv, "evt-cxl", AttemptStatus::kCanceled, payment_id, "pi_3ds", 25000))
                   .applied);
  EXPECT_FALSE(flow_.ApplyPaymentEvent(Event(inv, "evt-cxl-2", AttemptStatus::kCanceled, payment_id, "pi_3ds", 25000))
                   .applied);
  EXPECT_EQ(Count("PAYMENT_REFUNDED"), 1);
  // The attempt's end is recorded as for any cancel.
  EXPECT_EQ(Count("PAYMENT_CANCELED"), 1);
}

TEST_F(PayFlowTest, ASuccessLargerThanWhatTheBookingStillOwesIsRefundedNotKept) {
  const Invoice inv = Open(25000);
  RequireActionOnCreate();
  flow_.Pay(PayCmd(inv, "pay-1"));
  const std::string payment_id = payments_.stored.begin()->first;
  // 50.00 paid at the desk meanwhile: the booking owes 200.00 now.
  manager_.RecordExternalPayment({.caller = "",
                                  .request_id = "desk-1",
                                  .booking_id = "bk-1",
                                  .amount = {5000, "USD"},
                                  .source = PaymentSource::kDashboard,
                                  .external_reference = "till"});
  flow_.ApplyPaymentEvent(Event(inv, "evt-ok", AttemptStatus::kSucceeded, payment_id, "pi_3ds", 25000));
  auto d = Data();
  EXPECT_EQ(d.bookings.at("bk-1").paid_minor, 5000);  // never more than the total
  EXPECT_EQ(d.invoices.at(inv.invoice_id).status, InvoiceStatus::kOpen);
  EXPECT_FALSE(d.invoices.at(inv.invoice_id).payment_pending);
  ASSERT_EQ(d.actions.size(), 1u);
  EXPECT_EQ(d.actions[0].kind, PaymentActionKind::kRefund);
}

TEST_F(PayFlowTest, EventsOlderThanTheAttemptOrAboutUnknownPaymentsChangeNothing) {
  const Invoice inv = Open();
  const auto r = flow_.Pay(PayCmd(inv, "pay-1"));
  const auto attempt = Data().attempts.begin()->second;
  EXPECT_FALSE(flow_.ApplyPaymentEvent(
                        Event(inv, "evt-old", AttemptStatus::kRequiresAction, attempt.payment_id, r.payment_intent_id))
                   .applied);
  EXPECT_FALSE(flow_.ApplyPaymentEvent(
                        Event(inv, "evt-failed", AttemptStatus::kFailed, "00000000-0000-4000-8000-999999999999", "pi_x"))
                   .applied);
  EXPECT_EQ(InvoiceNow(inv).status, InvoiceStatus::kPaid);
  EXPECT_EQ(Data().payments.size(), 1u);
}

TEST_F(PayFlowTest, AnEventFindsTheAttemptByItsMetadataWhenTheCreateAnswerWasLost) {
  const Invoice inv = Open();
  payments_.fail_next = Payments::Failure::kUnavailable;
  EXPECT_EQ(ErrorOf([&] { flow_.Pay(PayCmd(inv, "pay-1")); }).first, Reason::kUpstreamUnavailable);
  const auto attempt = Data().attempts.begin()->second;
  ASSERT_TRUE(attempt.payment_id.empty());
  auto e = Event(inv, "evt-ok", AttemptStatus::kSucceeded, "00000000-0000-4000-8000-777777777777", "pi_lost", 25000);
  e.attempt_id = attempt.attempt_id;
  EXPECT_TRUE(flow_.ApplyPaymentEvent(e).applied);
  auto d = Data();
  EXPECT_EQ(d.attempts.size(), 1u);
  EXPECT_EQ(d.attempts.begin()->second.status, AttemptStatus::kSucceeded);
  EXPECT_EQ(d.attempts.begin()->second.payment_intent_id, "pi_lost");
  EXPECT_EQ(d.invoices.at(inv.invoice_id).status, InvoiceStatus::kPaid);
  ASSERT_EQ(d.payments.size(), 1u);
  EXPECT_EQ(d.payments[0].payment_intent_id, "pi_lost");
}

TEST_F(PayFlowTest, ARetryAfterTheBookingChangedSendsTheSameRequestToPayments) {
  const Invoice inv = Open();
  payments_.fail_next = Payments::Failure::kUnavailable;
  EXPECT_EQ(ErrorOf([&] { flow_.Pay(PayCmd(inv, "pay-1")); }).first, Reason::kUpstreamUnavailable);
  Booking renamed = booking_;
  renamed.activity_name = "Moonlight kayak tour";
  manager_.UpsertBooking({.caller = "", .request_id = "u-2", .booking = renamed});
  EXPECT_EQ(flow_.Pay(PayCmd(inv, "pay-1")).outcome, AttemptStatus::kSucceeded);
  ASSERT_EQ(payments_.creates.size(), 2u);
  // payments fingerprints the request: every field must be the same.
  EXPECT_EQ(payments_.creates[1].description, payments_.creates[0].description);
  EXPECT_EQ(payments_.creates[1].booking_id, payments_.creates[0].booking_id);
  EXPECT_EQ(payments_.creates[1].amount, payments_.creates[0].amount);
}

TEST_F(PayFlowTest, ARetriedRequestWhoseAttemptWasDroppedIsNeverChargedAgain) {
  const Invoice inv = Open();
  RequireActionOnCreate();
  flow_.Pay(PayCmd(inv, "pay-1"));
  Booking canceled = booking_;
  canceled.status = BookingStatus::kCanceled;
  manager_.UpsertBooking({.caller = "", .request_id = "u-2", .booking = canceled});
  // The client retries its call: no second Create, and no client_secret to
  // finish 3-D Secure on a canceled invoice.
  const auto again = flow_.Pay(PayCmd(inv, "pay-1"));
  EXPECT_EQ(again.outcome, AttemptStatus::kFailed);
  EXPECT_EQ(again.client_secret, "");
  EXPECT_EQ(payments_.creates.size(), 1u);
}

TEST_F(PayFlowTest, TheInvoicesOwnPaymentIntentCannotBeRecordedAsAnExternalPayment) {
  const Invoice inv = Open();
  RequireActionOnCreate();
  flow_.Pay(PayCmd(inv, "pay-1"));
  const auto refused = ErrorOf([&] {
    manager_.RecordExternalPayment({.caller = "",
                                    .request_id = "desk-1",
                                    .booking_id = "bk-1",
                                    .amount = {25000, "USD"},
                                    .source = PaymentSource::kOther,
                                    .external_reference = "",
                                    .payment_intent_id = "pi_3ds"});
  });
  EXPECT_EQ(refused.first, Reason::kPaymentAlreadyRecorded);
  EXPECT_TRUE(Data().payments.empty());
}

TEST_F(PayFlowTest, ChecksBeforeAnyChargeCallNothing) {
  const Invoice inv = Open(25000, [](Booking& b) { b.required_agreement_ids = {"waiver", "policy"}; });
  auto cmd = PayCmd(inv, "pay-1");
  cmd.accepted_agreement_ids = {"waiver"};
  EXPECT_EQ(ErrorOf([&] { flow_.Pay(cmd); }).first, Reason::kAgreementsNotAccepted);
  cmd.accepted_agreement_ids = {"policy", "waiver"};
  EXPECT_EQ(flow_.Pay(cmd).outcome, AttemptStatus::kSucceeded);
  EXPECT_EQ(payments_.creates.size(), 1u);
}

TEST_F(PayFlowTest, ADraftWhoseSlotHoldExpiredCannotBePaid) {
  const Time now = clock_.Now();
  const Invoice inv = Open(25000, [&](Booking& b) {
    b.status = BookingStatus::kDraft;
    b.slot_hold_expires_at = now + std::chrono::minutes(10);
  });
  clock_.Advance(std::chrono::minutes(11));
  EXPECT_EQ(ErrorOf([&] { flow_.Pay(PayCmd(inv, "pay-1")); }).first, Reason::kSlotNotHeld);
  EXPECT_TRUE(payments_.creates.empty());
  EXPECT_TRUE(Data().attempts.empty());
}

}  // namespace
}  // namespace billing::invoice::domain
