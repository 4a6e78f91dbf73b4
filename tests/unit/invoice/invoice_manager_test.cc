#include <gtest/gtest.h>

#include <chrono>

#include "domain/invoice_manager.h"
#include "errors/error.h"
#include "unit/error_of.h"
#include "unit/invoice/fake_invoice_store.h"
#include "unit/invoice/sequential_ids.h"

namespace billing::invoice::domain {
namespace {

using errors::Reason;
using billing::testing::ErrorOf;

using testing::SequentialIds;

class InvoiceManagerTest : public ::testing::Test {
 protected:
  InvoiceManagerTest()
      : clock_(clock::FromUnixMicros(1'800'000'000'000'000)),
        manager_(store_, clock_, ids_, {.pay_link_base_url = "https://pay.example.com/i", .business_name = "Kayak Co"}) {}

  Booking MakeBooking(const std::string& id = "bk-1") {
    Booking b;
    b.booking_id = id;
    b.status = BookingStatus::kPending;
    b.customer = {"Ann Lee", "ann@example.com", "+14155550123"};
    b.currency = "USD";
    b.total_minor = 25000;
    b.activity_name = "Sunset kayak tour";
    b.start_local = "2026-12-01T09:00:00";
    b.end_local = "2026-12-01T11:30:00";
    b.confirmation_code = "K7Q2";
    return b;
  }

  void Upsert(const Booking& b, const std::string& request_id) {
    manager_.UpsertBooking({.caller = "", .request_id = request_id, .booking = b});
  }

  CreateInvoiceCommand MakeCreate(const std::string& request_id = "req-1", int64_t amount = 10000) {
    CreateInvoiceCommand cmd;
    cmd.request_id = request_id;
    cmd.booking_id = "bk-1";
    cmd.amount = {amount, "USD"};
    cmd.send_type = Channel::kEmail;
    return cmd;
  }

  testing::FakeInvoiceStore store_;
  clock::FakeClock clock_;
  SequentialIds ids_;
  InvoiceManager manager_;
};

TEST_F(InvoiceManagerTest, CreatesOpenInvoiceWithLinkAndEvent) {
  Upsert(MakeBooking(), "u1");
  auto cmd = MakeCreate();
  cmd.confirm_on_pay = true;
  cmd.line_items = {{"Adult", 2, 12500}};
  cmd.days_until_due = 7;
  const Invoice inv = manager_.CreateInvoice(cmd);
  EXPECT_EQ(inv.status, InvoiceStatus::kOpen);
  EXPECT_EQ(inv.amount, (Money{10000, "USD"}));
  EXPECT_TRUE(inv.confirm_on_pay);
  EXPECT_EQ(manager_.PayUrl(inv), "https://pay.example.com/i/" + inv.token);
  EXPECT_EQ(inv.due_at, clock_.Now() + std::chrono::hours(24 * 7));
  const auto data = store_.Snapshot();
  ASSERT_EQ(data.events.size(), 2u);
  EXPECT_EQ(data.events[0].type, "CREATED");
  EXPECT_EQ(data.events[0].sequence, 1);
  EXPECT_EQ(data.events[0].to_status, InvoiceStatus::kOpen);
  EXPECT_EQ(data.events[0].actor, "api");
  EXPECT_EQ(data.events[1].type, "NOTIFICATION_QUEUED");
  EXPECT_EQ(data.events[1].sequence, 2);
  // The link notification is in the outbox, in the same transaction.
  ASSERT_EQ(data.notifications.size(), 1u);
  const auto& n = data.notifications[0].record;
  EXPECT_EQ(n.state, NotificationState::kPending);
  EXPECT_EQ(n.request.email, "ann@example.com");
  EXPECT_EQ(n.request.pay_url, manager_.PayUrl(inv));
  EXPECT_EQ(n.request.amount, (Money{10000, "USD"}));
  EXPECT_EQ(n.request.business_name, "Kayak Co");
  EXPECT_EQ(n.request.booking.date, "2026-12-01");
  EXPECT_EQ(n.request.booking.start, "09:00");
}

TEST_F(InvoiceManagerTest, SameRequestIdReplaysWithoutCreatingAgain) {
  Upsert(MakeBooking(), "u1");
  const Invoice first = manager_.CreateInvoice(MakeCreate("same"));
  const Invoice again = manager_.CreateInvoice(MakeCreate("same"));
  EXPECT_EQ(first.invoice_id, again.invoice_id);
  EXPECT_EQ(first.token, again.token);
  EXPECT_EQ(store_.Snapshot().invoices.size(), 1u);
  EXPECT_EQ(store_.Snapshot().events.size(), 2u);
  EXPECT_EQ(store_.Snapshot().notifications.size(), 1u);
}

TEST_F(InvoiceManagerTest, SameRequestIdWithDifferentRequestIsRejected) {
  Upsert(MakeBooking(), "u1");
  manager_.CreateInvoice(MakeCreate("same", 10000));
  auto [reason, field] = ErrorOf([&] { manager_.CreateInvoice(MakeCreate("same", 9000)); });
  EXPECT_EQ(reason, Reason::kIdempotencyKeyReused);
  EXPECT_EQ(field, "request_id");
  // A request_id used for another method is also a different request.
  auto [reason2, field2] = ErrorOf([&] { Upsert(MakeBooking(), "same"); });
  EXPECT_EQ(reason2, Reason::kIdempotencyKeyReused);
  EXPECT_EQ(store_.Snapshot().invoices.size(), 1u);
}

TEST_F(InvoiceManagerTest, Seed000Prerequisites) {
  // Unknown booking.
  EXPECT_EQ(ErrorOf([&] { manager_.CreateInvoice(MakeCreate()); }).first, Reason::kBookingNotFound);

  // Canceled, voided and postponed bookings cannot be invoiced.
  for (auto status : {BookingStatus::kCanceled, BookingStatus::kVoided, BookingStatus::kPostponed}) {
    Booking b = MakeBooking();
    b.status = status;
    Upsert(b, "u-" + std::string(Name(status)));
    EXPECT_EQ(ErrorOf([&] { manager_.CreateInvoice(MakeCreate("c-" + std::string(Name(status)))); }).first,
              Reason::kBookingCanceled);
  }

  Booking b = MakeBooking();
  Upsert(b, "u-ok");
  // More than the balance.
  auto [r1, f1] = ErrorOf([&] { manager_.CreateInvoice(MakeCreate("c1", 25001)); });
  EXPECT_EQ(r1, Reason::kAmountExceedsBalance);
  EXPECT_EQ(f1, "amount.amount_minor");
  // Exactly the balance, and a deposit, are fine.
  EXPECT_NO_THROW(manager_.CreateInvoice(MakeCreate("c2", 25000)));
  EXPECT_NO_THROW(manager_.CreateInvoice(MakeCreate("c3", 500)));
  // Another currency.
  auto cmd = MakeCreate("c4");
  cmd.amount.currency = "EUR";
  EXPECT_EQ(ErrorOf([&] { manager_.CreateInvoice(cmd); }).first, Reason::kCurrencyMismatch);

  // Nothing owed.
  b.total_minor = 0;
  Upsert(b, "u-free");
  EXPECT_EQ(ErrorOf([&] { manager_.CreateInvoice(MakeCreate("c5", 1)); }).first, Reason::kNoBalance);
}

TEST_F(InvoiceManagerTest, RecipientRules) {
  Booking b = MakeBooking();
  b.customer.email = "not-an-email";
  b.customer.phone = "";
  Upsert(b, "u1");
  // EMAIL without a usable address and no override.
  auto [reason, field] = ErrorOf([&] { manager_.CreateInvoice(MakeCreate("c1")); });
  EXPECT_EQ(reason, Reason::kRecipientInvalid);
  EXPECT_EQ(field, "send_to_email_override");
  // The override wins.
  auto cmd = MakeCreate("c2");
  cmd.send_to_email_override = "billing@corp.example.com";
  EXPECT_NO_THROW(manager_.CreateInvoice(cmd));
  // SMS needs an E.164 phone.
  cmd = MakeCreate("c3");
  cmd.send_type = Channel::kSms;
  EXPECT_EQ(ErrorOf([&] { manager_.CreateInvoice(cmd); }).first, Reason::kRecipientInvalid);
  b.customer.phone = "+14155550123";
  Upsert(b, "u2");
  EXPECT_NO_THROW(manager_.CreateInvoice(cmd));
}

TEST_F(InvoiceManagerTest, DueTimeMustBeInTheFuture) {
  Upsert(MakeBooking(), "u1");
  auto cmd = MakeCreate();
  cmd.due_at = clock_.Now();
  auto [reason, field] = ErrorOf([&] { manager_.CreateInvoice(cmd); });
  EXPECT_EQ(reason, Reason::kInvalidField);
  EXPECT_EQ(field, "due_time");
}

TEST_F(InvoiceManagerTest, FailedCreateLeavesNothingBehind) {
  Upsert(MakeBooking(), "u1");
  const auto before = store_.Snapshot();
  ErrorOf([&] { manager_.CreateInvoice(MakeCreate("c1", 99999)); });
  const auto after = store_.Snapshot();
  EXPECT_EQ(after.invoices.size(), before.invoices.size());
  EXPECT_EQ(after.keys.size(), before.keys.size());  // the key is free for a corrected retry
  EXPECT_NO_THROW(manager_.CreateInvoice(MakeCreate("c1", 100)));
}

TEST_F(InvoiceManagerTest, StaleRevisionsAreIgnored) {
  Booking b = MakeBooking();
  b.revision = 5;
  Upsert(b, "u1");
  b.revision = 4;
  b.total_minor = 1;
  const auto result = manager_.UpsertBooking({.caller = "", .request_id = "u2", .booking = b});
  EXPECT_TRUE(result.ignored_as_stale);
  EXPECT_EQ(result.booking.total_minor, 25000);
  b.revision = 6;
  EXPECT_FALSE(manager_.UpsertBooking({.caller = "", .request_id = "u3", .booking = b}).ignored_as_stale);
  EXPECT_EQ(store_.Snapshot().bookings.at("bk-1").total_minor, 1);
}

TEST_F(InvoiceManagerTest, AnUpsertWithoutRevisionKeepsTheStoredOne) {
  Booking b = MakeBooking();
  b.revision = 7;
  Upsert(b, "u1");
  b.revision = 0;  // a caller that does not track revisions
  b.total_minor = 30000;
  Upsert(b, "u2");
  EXPECT_EQ(store_.Snapshot().bookings.at("bk-1").revision, 7);
  b.revision = 5;  // a delayed, older update arrives afterwards
  b.total_minor = 1;
  EXPECT_TRUE(manager_.UpsertBooking({.caller = "", .request_id = "u3", .booking = b}).ignored_as_stale);
  EXPECT_EQ(store_.Snapshot().bookings.at("bk-1").total_minor, 30000);
}

TEST_F(InvoiceManagerTest, CurrencyLocksOnceInvoiced) {
  Booking b = MakeBooking();
  Upsert(b, "u1");
  b.currency = "EUR";
  EXPECT_NO_THROW(Upsert(b, "u2"));  // nothing billed yet
  b.currency = "USD";
  Upsert(b, "u3");
  manager_.CreateInvoice(MakeCreate());
  b.currency = "EUR";
  auto [reason, field] = ErrorOf([&] { Upsert(b, "u4"); });
  EXPECT_EQ(reason, Reason::kBookingCurrencyLocked);
  EXPECT_EQ(field, "booking.total.currency_code");
}

TEST_F(InvoiceManagerTest, DueNowIsCappedByBalanceAndZeroUnlessOpen) {
  Booking b = MakeBooking();
  Invoice inv;
  inv.amount = {10000, "USD"};
  b.total_minor = 25000;
  b.paid_minor = 20000;
  EXPECT_EQ(InvoiceManager::DueNow(inv, b), 5000);
  b.paid_minor = 0;
  EXPECT_EQ(InvoiceManager::DueNow(inv, b), 10000);
  b.paid_minor = 30000;  // overpaid
  EXPECT_EQ(InvoiceManager::DueNow(inv, b), 0);
  inv.status = InvoiceStatus::kPaid;
  b.paid_minor = 0;
  EXPECT_EQ(InvoiceManager::DueNow(inv, b), 0);
}

TEST_F(InvoiceManagerTest, GetByIdAndTokenShowTheSameView) {
  Upsert(MakeBooking(), "u1");
  const Invoice inv = manager_.CreateInvoice(MakeCreate());
  const auto by_id = manager_.GetInvoiceById(inv.invoice_id);
  const auto by_token = manager_.GetInvoiceByToken(inv.token);
  EXPECT_EQ(by_id.invoice.invoice_id, by_token.invoice.invoice_id);
  EXPECT_EQ(by_id.due_now_minor, 10000);
  EXPECT_EQ(by_id.booking.activity_name, "Sunset kayak tour");
  EXPECT_EQ(ErrorOf([&] { manager_.GetInvoiceByToken("nope"); }).first, Reason::kInvoiceNotFound);
  EXPECT_EQ(ErrorOf([&] { manager_.GetInvoiceById("00000000-0000-4000-8000-999999999999"); }).first,
            Reason::kInvoiceNotFound);
}

// --- seed 002: booking changes ------------------------------------------------

TEST_F(InvoiceManagerTest, CanceledVoidedOrPostponedBookingsCancelUnpaidInvoices) {
  for (auto status : {BookingStatus::kCanceled, BookingStatus::kVoided, BookingStatus::kPostponed}) {
    const std::string id = "bk-" + std::string(Name(status));
    Booking b = MakeBooking(id);
    Upsert(b, "u1-" + id);
    auto cmd = MakeCreate("c1-" + id, 1000);
    cmd.booking_id = id;
    const Invoice open = manager_.CreateInvoice(cmd);
    b.status = status;
    const auto result = manager_.UpsertBooking({.caller = "booking-system", .request_id = "u2-" + id, .booking = b});
    ASSERT_EQ(result.changed_invoices.size(), 1u);
    const auto after = store_.Snapshot().invoices.at(open.invoice_id);
    EXPECT_EQ(after.status, InvoiceStatus::kCanceled);
    EXPECT_NE(after.status_reason.find(std::string(Name(status))), std::string::npos);
    const auto events = store_.Snapshot().events;
    EXPECT_EQ(events.back().type, "CANCELED");
    EXPECT_EQ(events.back().actor, "booking-system");
  }
}

TEST_F(InvoiceManagerTest, PaidInvoicesNeverChange) {
  Booking b = MakeBooking();
  Upsert(b, "u1");
  const Invoice inv = manager_.CreateInvoice(MakeCreate("c1", 25000));
  manager_.RecordExternalPayment({.caller = "", .request_id = "p1", .booking_id = "bk-1",
                                  .amount = {25000, "USD"}, .source = PaymentSource::kDashboard});
  ASSERT_EQ(store_.Snapshot().invoices.at(inv.invoice_id).status, InvoiceStatus::kPaid);
  b.status = BookingStatus::kCanceled;
  b.total_minor = 99999;
  const auto result = manager_.UpsertBooking({.caller = "", .request_id = "u2", .booking = b});
  EXPECT_TRUE(result.changed_invoices.empty());
  EXPECT_EQ(store_.Snapshot().invoices.at(inv.invoice_id).status, InvoiceStatus::kPaid);
}

TEST_F(InvoiceManagerTest, TotalChangesMoveTheBalanceAndSettleWhenCovered) {
  Booking b = MakeBooking();
  Upsert(b, "u1");
  const Invoice inv = manager_.CreateInvoice(MakeCreate("c1", 10000));
  manager_.RecordExternalPayment({.caller = "", .request_id = "p1", .booking_id = "bk-1",
                                  .amount = {20000, "USD"}, .source = PaymentSource::kAutoCharge});
  // Balance 5000: due_now follows it, below the invoice amount.
  EXPECT_EQ(manager_.GetInvoiceById(inv.invoice_id).due_now_minor, 5000);
  b.total_minor = 30000;  // rescheduled for more
  Upsert(b, "u2");
  EXPECT_EQ(manager_.GetInvoiceById(inv.invoice_id).due_now_minor, 10000);
  b.total_minor = 20000;  // now fully covered by the payment
  const auto result = manager_.UpsertBooking({.caller = "", .request_id = "u3", .booking = b});
  ASSERT_EQ(result.changed_invoices.size(), 1u);
  const auto view = manager_.GetInvoiceById(inv.invoice_id);
  EXPECT_EQ(view.invoice.status, InvoiceStatus::kPaid);
  EXPECT_EQ(view.due_now_minor, 0);
  EXPECT_NE(view.invoice.status_reason.find("settled"), std::string::npos);
}

TEST_F(InvoiceManagerTest, ChargesTakenElsewhereSettleOpenInvoices) {
  Upsert(MakeBooking(), "u1");
  const Invoice deposit = manager_.CreateInvoice(MakeCreate("c1", 5000));
  const Invoice rest = manager_.CreateInvoice(MakeCreate("c2", 20000));
  auto r = manager_.RecordExternalPayment({.caller = "", .request_id = "p1", .booking_id = "bk-1",
                                           .amount = {10000, "USD"}, .source = PaymentSource::kDashboard,
                                           .external_reference = "ch_dash_1"});
  EXPECT_TRUE(r.settled_invoices.empty()) << "15000 still owed";
  EXPECT_EQ(r.booking.BalanceMinor(), 15000);
  r = manager_.RecordExternalPayment({.caller = "", .request_id = "p2", .booking_id = "bk-1",
                                      .amount = {15000, "USD"}, .source = PaymentSource::kAutoCharge,
                                      .payment_intent_id = "pi_auto_1"});
  EXPECT_EQ(r.settled_invoices.size(), 2u);
  for (const auto& id : {deposit.invoice_id, rest.invoice_id}) {
    const auto inv = store_.Snapshot().invoices.at(id);
    EXPECT_EQ(inv.status, InvoiceStatus::kPaid);
    EXPECT_NE(inv.status_reason.find("paid elsewhere"), std::string::npos);
    EXPECT_EQ(inv.customer_payment_id, r.payment.customer_payment_id);
  }
  // Replays apply nothing twice.
  const auto again = manager_.RecordExternalPayment({.caller = "", .request_id = "p2", .booking_id = "bk-1",
                                                     .amount = {15000, "USD"}, .source = PaymentSource::kAutoCharge,
                                                     .payment_intent_id = "pi_auto_1"});
  EXPECT_EQ(again.payment.customer_payment_id, r.payment.customer_payment_id);
  EXPECT_EQ(store_.Snapshot().bookings.at("bk-1").paid_minor, 25000);
  // The same PaymentIntent under another request_id is refused.
  EXPECT_EQ(ErrorOf([&] {
              manager_.RecordExternalPayment({.caller = "", .request_id = "p3", .booking_id = "bk-1",
                                              .amount = {100, "USD"}, .source = PaymentSource::kAutoCharge,
                                              .payment_intent_id = "pi_auto_1"});
            }).first,
            Reason::kPaymentAlreadyRecorded);
  EXPECT_EQ(ErrorOf([&] {
              manager_.RecordExternalPayment({.caller = "", .request_id = "p4", .booking_id = "bk-1",
                                              .amount = {100, "EUR"}, .source = PaymentSource::kOther});
            }).first,
            Reason::kCurrencyMismatch);
}

TEST_F(InvoiceManagerTest, RenumberedBookingsKeepTheirInvoices) {
  Upsert(MakeBooking("bk-old"), "u1");
  auto cmd = MakeCreate("c1", 1000);
  cmd.booking_id = "bk-old";
  const Invoice inv = manager_.CreateInvoice(cmd);
  Booking renamed = MakeBooking("bk-new");
  manager_.UpsertBooking({.caller = "", .request_id = "u2", .booking = renamed, .previous_booking_id = "bk-old"});
  const auto data = store_.Snapshot();
  EXPECT_EQ(data.bookings.count("bk-old"), 0u);
  EXPECT_EQ(data.invoices.at(inv.invoice_id).booking_id, "bk-new");
  EXPECT_EQ(manager_.GetInvoiceById(inv.invoice_id).booking.booking_id, "bk-new");
  // Renumbering onto an id that is taken is refused.
  Upsert(MakeBooking("bk-other"), "u3");
  auto [reason, field] = ErrorOf([&] {
    manager_.UpsertBooking({.caller = "", .request_id = "u4", .booking = MakeBooking("bk-other"),
                            .previous_booking_id = "bk-new"});
  });
  EXPECT_EQ(reason, Reason::kBookingIdTaken);
  EXPECT_EQ(field, "booking.booking_id");
}

// --- resend, close, list, events, due dates ------------------------------------

TEST_F(InvoiceManagerTest, ResendQueuesTheSameLinkAgainOptionallyByAnotherChannel) {
  Upsert(MakeBooking(), "u1");
  const Invoice inv = manager_.CreateInvoice(MakeCreate("c1", 1000));
  auto r = manager_.ResendInvoice({.caller = "", .request_id = "r1", .invoice_id = inv.invoice_id});
  EXPECT_EQ(r.notification.request.channel, Channel::kEmail);
  EXPECT_EQ(r.notification.request.pay_url, manager_.PayUrl(inv));
  r = manager_.ResendInvoice({.caller = "", .request_id = "r2", .invoice_id = inv.invoice_id,
                              .channel = Channel::kSms});
  EXPECT_EQ(r.notification.request.phone, "+14155550123");
  EXPECT_EQ(r.notification.request.pay_url, manager_.PayUrl(inv));
  // A repeated resend does not queue a third message.
  const auto again = manager_.ResendInvoice({.caller = "", .request_id = "r2", .invoice_id = inv.invoice_id,
                                             .channel = Channel::kSms});
  EXPECT_EQ(again.notification.outbox_id, r.notification.outbox_id);
  EXPECT_EQ(store_.Snapshot().notifications.size(), 3u);
  EXPECT_EQ(store_.Snapshot().events.back().type, "RESENT");
  manager_.CloseInvoice({.caller = "", .request_id = "x", .invoice_id = inv.invoice_id});
  EXPECT_EQ(ErrorOf([&] { manager_.ResendInvoice({.caller = "", .request_id = "r3", .invoice_id = inv.invoice_id}); })
                .first,
            Reason::kInvoiceNotOpen);
}

TEST_F(InvoiceManagerTest, CloseRules) {
  Upsert(MakeBooking(), "u1");
  const Invoice a = manager_.CreateInvoice(MakeCreate("c1", 1000));
  const Invoice closed = manager_.CloseInvoice({.caller = "dash", .request_id = "k1", .invoice_id = a.invoice_id,
                                                .reason = "customer paid cash"});
  EXPECT_EQ(closed.status, InvoiceStatus::kClosed);
  EXPECT_EQ(closed.status_reason, "customer paid cash");
  EXPECT_EQ(manager_.CloseInvoice({.caller = "dash", .request_id = "k1", .invoice_id = a.invoice_id,
                                   .reason = "customer paid cash"})
                .status,
            InvoiceStatus::kClosed);  // replay
  EXPECT_EQ(ErrorOf([&] { manager_.CloseInvoice({.caller = "", .request_id = "k2", .invoice_id = a.invoice_id}); })
                .first,
            Reason::kInvoiceNotOpen);

  const Invoice b = manager_.CreateInvoice(MakeCreate("c2", 1000));
  store_.InTransaction([&](InvoiceTx& tx) {
    auto inv = *tx.FindInvoice(b.invoice_id);
    inv.payment_pending = true;
    tx.UpdateInvoice(inv);
  });
  EXPECT_EQ(ErrorOf([&] { manager_.CloseInvoice({.caller = "", .request_id = "k3", .invoice_id = b.invoice_id}); })
                .first,
            Reason::kPaymentPending);

  const Invoice c = manager_.CreateInvoice(MakeCreate("c3", 1000));
  manager_.RecordExternalPayment({.caller = "", .request_id = "p", .booking_id = "bk-1", .amount = {25000, "USD"},
                                  .source = PaymentSource::kOther});
  EXPECT_EQ(ErrorOf([&] { manager_.CloseInvoice({.caller = "", .request_id = "k4", .invoice_id = c.invoice_id}); })
                .first,
            Reason::kInvoiceAlreadyPaid);
  EXPECT_EQ(ErrorOf([&] {
              manager_.CloseInvoice({.caller = "", .request_id = "k5",
                                     .invoice_id = "00000000-0000-4000-8000-999999999999"});
            }).first,
            Reason::kInvoiceNotFound);
}

TEST_F(InvoiceManagerTest, ListingPagesNewestFirstWithStableTokens) {
  Upsert(MakeBooking(), "u1");
  std::vector<std::string> created;
  for (int i = 0; i < 5; ++i) {
    created.push_back(manager_.CreateInvoice(MakeCreate("c" + std::to_string(i), 100)).invoice_id);
    clock_.Advance(std::chrono::seconds(1));
  }
  auto page = manager_.ListInvoices({.booking_id = "bk-1", .status = std::nullopt}, 2, "");
  ASSERT_EQ(page.invoices.size(), 2u);
  EXPECT_EQ(page.invoices[0].invoice_id, created[4]);
  // An insert between pages does not shift the next page.
  manager_.CreateInvoice(MakeCreate("late", 100));
  page = manager_.ListInvoices({.booking_id = "bk-1", .status = std::nullopt}, 2, page.next_page_token);
  EXPECT_EQ(page.invoices[0].invoice_id, created[2]);
  EXPECT_EQ(page.invoices[1].invoice_id, created[1]);
  page = manager_.ListInvoices({.booking_id = "bk-1", .status = std::nullopt}, 2, page.next_page_token);
  ASSERT_EQ(page.invoices.size(), 1u);
  EXPECT_EQ(page.invoices[0].invoice_id, created[0]);
  EXPECT_TRUE(page.next_page_token.empty());
  // Tokens are bound to their filter and cannot be forged.
  const auto first = manager_.ListInvoices({.booking_id = "bk-1", .status = std::nullopt}, 1, "");
  EXPECT_EQ(ErrorOf([&] {
              manager_.ListInvoices({.booking_id = "bk-1", .status = InvoiceStatus::kPaid}, 1, first.next_page_token);
            }).second,
            "page_token");
  EXPECT_EQ(ErrorOf([&] { manager_.ListInvoices({}, 1, "i1.garbage"); }).second, "page_token");
  EXPECT_EQ(manager_.ListInvoices({.booking_id = "", .status = InvoiceStatus::kClosed}, 10, "").invoices.size(), 0u);
}

TEST_F(InvoiceManagerTest, EventLogPages) {
  Upsert(MakeBooking(), "u1");
  const Invoice inv = manager_.CreateInvoice(MakeCreate("c1", 100));
  manager_.ResendInvoice({.caller = "", .request_id = "r1", .invoice_id = inv.invoice_id});
  manager_.CloseInvoice({.caller = "", .request_id = "k1", .invoice_id = inv.invoice_id});
  auto page = manager_.ListEvents(inv.invoice_id, 2, "");
  ASSERT_EQ(page.events.size(), 2u);
  EXPECT_EQ(page.events[0].type, "CREATED");
  page = manager_.ListEvents(inv.invoice_id, 2, page.next_page_token);
  ASSERT_EQ(page.events.size(), 2u);
  EXPECT_EQ(page.events[0].type, "RESENT");
  EXPECT_EQ(page.events[1].type, "CLOSED");
  EXPECT_EQ(page.events[1].from_status, InvoiceStatus::kOpen);
  EXPECT_EQ(page.events[1].to_status, InvoiceStatus::kClosed);
  EXPECT_TRUE(page.next_page_token.empty());
}

TEST_F(InvoiceManagerTest, PastDueInvoicesExpireButPendingPaymentsWait) {
  Upsert(MakeBooking(), "u1");
  auto due = MakeCreate("c1", 100);
  due.days_until_due = 1;
  const Invoice a = manager_.CreateInvoice(due);
  due = MakeCreate("c2", 100);
  due.days_until_due = 1;
  const Invoice pending = manager_.CreateInvoice(due);
  store_.InTransaction([&](InvoiceTx& tx) {
    auto inv = *tx.FindInvoice(pending.invoice_id);
    inv.payment_pending = true;
    tx.UpdateInvoice(inv);
  });
  const Invoice no_due = manager_.CreateInvoice(MakeCreate("c3", 100));
  EXPECT_TRUE(manager_.ExpireDueInvoices(10).empty());
  clock_.Advance(std::chrono::hours(25));
  const auto expired = manager_.ExpireDueInvoices(10);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].invoice_id, a.invoice_id);
  const auto data = store_.Snapshot();
  EXPECT_EQ(data.invoices.at(a.invoice_id).status, InvoiceStatus::kExpired);
  EXPECT_EQ(data.invoices.at(pending.invoice_id).status, InvoiceStatus::kOpen);
  EXPECT_EQ(data.invoices.at(no_due.invoice_id).status, InvoiceStatus::kOpen);
  EXPECT_EQ(data.events.back().actor, "system:due-date-sweeper");
}

TEST(LocalDateTimeTest, NormalizesAndRejects) {
  EXPECT_EQ(*NormalizeLocalDateTime("2026-12-01T09:00"), "2026-12-01T09:00:00");
  EXPECT_EQ(*NormalizeLocalDateTime("2028-02-29T23:59:59"), "2028-02-29T23:59:59");
  for (const char* bad : {"2026-02-29T10:00", "2026-13-01T10:00", "2026-12-01 09:00", "2026-12-01T24:00",
                          "2026-12-01T09:60", "2026-12-01", "", "2026-12-01T09:00Z"}) {
    EXPECT_FALSE(NormalizeLocalDateTime(bad)) << bad;
  }
  const auto parts = SplitLocal("2026-12-01T09:30:00");
  EXPECT_EQ(parts.date, "2026-12-01");
  EXPECT_EQ(parts.time, "09:30");
}

}  // namespace
}  // namespace billing::invoice::domain
