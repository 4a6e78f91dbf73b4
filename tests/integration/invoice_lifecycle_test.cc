// The invoice lifecycle on real PostgreSQL: seed 002's booking changes one by
// one, resend/close/list/events, due-date expiry, and the concurrency
// guarantees (booking changes racing creations, replicated sweepers and
// outbox dispatchers).
#include <gtest/gtest.h>

#include <soci/postgresql/soci-postgresql.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "db/conninfo.h"
#include "db/migrator.h"
#include "db/pool.h"
#include "domain/invoice_manager.h"
#include "domain/outbox_dispatcher.h"
#include "errors/error.h"
#include "invoice_migrations/migrations.h"
#include "storage/pg_invoice_store.h"
#include "support/postgres.h"

namespace billing::invoice {
namespace {

using billing::testing::QueryInt;
using billing::testing::TestDatabase;
using namespace domain;

// One replica's worth of objects over a shared database.
struct Replica {
  explicit Replica(const std::string& url, const clock::Clock& clock)
      : pool({.url = url, .size = 6}),
        store(pool),
        manager(store, clock, ids, {.pay_link_base_url = "https://pay.example.com", .business_name = "Kayak Co"}) {}
  db::Pool pool;
  storage::PgInvoiceStore store;
  ids::RandomIdGenerator ids;
  InvoiceManager manager;
};

class CountingNotifier final : public Notifier {
 public:
  Accepted Send(const std::string& request_id, const NotificationRequest&) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // widen the race window
    std::lock_guard lock(mu);
    ++calls[request_id];
    return {"ntf-" + request_id, NotificationState::kQueued, "", std::nullopt};
  }
  std::optional<Accepted> Status(const std::string&) override { return std::nullopt; }
  std::optional<Accepted> StatusByRequest(const std::string&) override { return std::nullopt; }
  std::mutex mu;
  std::map<std::string, int> calls;
};

class InvoiceLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    soci::session sql(soci::postgresql, db::ToKeyValueConninfo(db_.url()));
    db::ApplyMigrations(sql, kMigrations, "invoice");
  }

  Booking MakeBooking(const std::string& id, int64_t total = 25000) {
    Booking b;
    b.booking_id = id;
    b.status = BookingStatus::kPending;
    b.customer = {"Ann Lee", "ann@example.com", "+14155550123"};
    b.currency = "USD";
    b.total_minor = total;
    b.activity_name = "Kayak";
    b.start_local = "2026-12-01T09:00:00";
    b.end_local = "2026-12-01T11:00:00";
    return b;
  }

  void Upsert(const Booking& b) {
    r_.manager.UpsertBooking({.caller = "booking-system", .request_id = "u-" + std::to_string(++n_), .booking = b});
  }

  Invoice Create(const std::string& booking_id, int64_t amount, std::optional<int> days = std::nullopt) {
    CreateInvoiceCommand cmd;
    cmd.request_id = "c-" + std::to_string(++n_);
    cmd.booking_id = booking_id;
    cmd.amount = {amount, "USD"};
    cmd.days_until_due = days;
    return r_.manager.CreateInvoice(cmd);
  }

  InvoiceStatus StatusOf(const std::string& invoice_id) { return r_.manager.GetInvoiceById(invoice_id).invoice.status; }

  TestDatabase db_{"lifecycle"};
  clock::FakeClock clock_{clock::FromUnixMicros(1'800'000'000'000'000)};
  Replica r_{db_.url(), clock_};
  int n_ = 0;
};

// --- seed 002, one case at a time ------------------------------------------------

TEST_F(InvoiceLifecycleTest, Seed002CanceledVoidedPostponed) {
  for (auto status : {BookingStatus::kCanceled, BookingStatus::kVoided, BookingStatus::kPostponed}) {
    const std::string id = "bk-" + std::string(Name(status));
    Booking b = MakeBooking(id);
    Upsert(b);
    const Invoice inv = Create(id, 5000);
    b.status = status;
    Upsert(b);
    const auto view = r_.manager.GetInvoiceById(inv.invoice_id);
    EXPECT_EQ(view.invoice.status, InvoiceStatus::kCanceled) << Name(status);
    EXPECT_EQ(view.invoice.status_reason, "booking " + id + " was " + std::string(Name(status)));
    EXPECT_EQ(view.due_now_minor, 0);
    const auto events = r_.manager.ListEvents(inv.invoice_id, 10, "").events;
    EXPECT_EQ(events.back().type, "CANCELED");
    EXPECT_EQ(events.back().actor, "booking-system");
  }
}

TEST_F(InvoiceLifecycleTest, Seed002IdChangeKeepsInvoicesAndPayments) {
  Upsert(MakeBooking("B1"));
  const Invoice inv = Create("B1", 5000);
  r_.manager.RecordExternalPayment({.caller = "", .request_id = "p1", .booking_id = "B1", .amount = {1000, "USD"},
                                    .source = PaymentSource::kDashboard});
  r_.manager.UpsertBooking({.caller = "", .request_id = "rename", .booking = MakeBooking("B1-2027"),
                            .previous_booking_id = "B1"});
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM bookings WHERE booking_id = 'B1'"), 0);
  const auto view = r_.manager.GetInvoiceById(inv.invoice_id);
  EXPECT_EQ(view.invoice.booking_id, "B1-2027");
  EXPECT_EQ(view.invoice.status, InvoiceStatus::kOpen);
  ASSERT_EQ(view.payments.size(), 1u);
  EXPECT_EQ(view.booking.paid_minor, 1000) << "the money stays with the renumbered booking";
  // The renumbering delivered again (a new key): the old id is gone, so it is
  // a plain upsert and nothing moves.
  EXPECT_NO_THROW(r_.manager.UpsertBooking({.caller = "", .request_id = "rename-2", .booking = MakeBooking("B1-2027"),
                                            .previous_booking_id = "B1"}));
  EXPECT_EQ(r_.manager.GetInvoiceById(inv.invoice_id).invoice.booking_id, "B1-2027");
  EXPECT_EQ(r_.manager.GetInvoiceById(inv.invoice_id).booking.paid_minor, 1000);
}

TEST_F(InvoiceLifecycleTest, Seed002AmountChangesMoveTheInvoice) {
  Booking b = MakeBooking("B1", 10000);  // $100 booking in invoice #101
  Upsert(b);
  const Invoice inv = Create("B1", 10000);
  b.total_minor = 14000;  // rescheduled to $140: the invoice asks for its amount, the booking owes more
  Upsert(b);
  EXPECT_EQ(r_.manager.GetInvoiceById(inv.invoice_id).due_now_minor, 10000);
  EXPECT_EQ(r_.manager.GetInvoiceById(inv.invoice_id).booking.BalanceMinor(), 14000);
  b.total_minor = 6000;  // decreased: due now follows the balance down
  Upsert(b);
  EXPECT_EQ(r_.manager.GetInvoiceById(inv.invoice_id).due_now_minor, 6000);
  EXPECT_EQ(StatusOf(inv.invoice_id), InvoiceStatus::kOpen);
}

TEST_F(InvoiceLifecycleTest, Seed002ChargedElsewhereMarksThePaidInvoice) {
  Upsert(MakeBooking("B1", 23000));  // B1 is $230, invoice #101 unpaid
  const Invoice inv = Create("B1", 23000);
  const auto result = r_.manager.RecordExternalPayment(
      {.caller = "dashboard", .request_id = "charge-1", .booking_id = "B1", .amount = {23000, "USD"},
       .source = PaymentSource::kAutoCharge, .external_reference = "auto-charge-77"});
  ASSERT_EQ(result.settled_invoices.size(), 1u);
  const auto view = r_.manager.GetInvoiceById(inv.invoice_id);
  EXPECT_EQ(view.invoice.status, InvoiceStatus::kPaid);
  EXPECT_EQ(view.invoice.status_reason, "paid elsewhere (AUTO_CHARGE, USD 230.00)");
  EXPECT_EQ(view.invoice.customer_payment_id, result.payment.customer_payment_id);
  EXPECT_TRUE(view.invoice.paid_at.has_value());
  EXPECT_EQ(view.booking.BalanceMinor(), 0);
  EXPECT_EQ(r_.manager.ListEvents(inv.invoice_id, 10, "").events.back().type, "PAID_ELSEWHERE");
}

TEST_F(InvoiceLifecycleTest, Seed002AmountDecreaseBelowPaymentsSettles) {
  Booking b = MakeBooking("B1", 20000);
  Upsert(b);
  r_.manager.RecordExternalPayment({.caller = "", .request_id = "dep", .booking_id = "B1", .amount = {15000, "USD"},
                                    .source = PaymentSource::kDashboard});
  const Invoice rest = Create("B1", 5000);
  b.total_minor = 15000;  // "leave as is" with a decreased amount: nothing left to pay
  Upsert(b);
  EXPECT_EQ(StatusOf(rest.invoice_id), InvoiceStatus::kPaid);
  EXPECT_EQ(r_.manager.ListEvents(rest.invoice_id, 10, "").events.back().type, "SETTLED");
}

TEST_F(InvoiceLifecycleTest, Seed002PaidInvoicesAreNeverChanged) {
  Booking b = MakeBooking("B1", 5000);
  Upsert(b);
  const Invoice inv = Create("B1", 5000);
  r_.manager.RecordExternalPayment({.caller = "", .request_id = "p", .booking_id = "B1", .amount = {5000, "USD"},
                                    .source = PaymentSource::kOther});
  const auto before = r_.manager.GetInvoiceById(inv.invoice_id).invoice;
  for (auto status : {BookingStatus::kCanceled, BookingStatus::kVoided, BookingStatus::kPostponed}) {
    b.status = status;
    b.total_minor += 1000;
    Upsert(b);
  }
  const auto after = r_.manager.GetInvoiceById(inv.invoice_id).invoice;
  EXPECT_EQ(after.status, InvoiceStatus::kPaid);
  EXPECT_EQ(after.status_reason, before.status_reason);
  EXPECT_EQ(after.updated_at, before.updated_at);
}

// --- resend, close, list, events ---------------------------------------------------

TEST_F(InvoiceLifecycleTest, ResendCloseListAndEventsOnPostgres) {
  Upsert(MakeBooking("B1"));
  const Invoice a = Create("B1", 1000);
  clock_.Advance(std::chrono::seconds(1));
  const Invoice b = Create("B1", 1000);
  clock_.Advance(std::chrono::seconds(1));
  const Invoice c = Create("B1", 1000);
  const auto resent = r_.manager.ResendInvoice({.caller = "", .request_id = "r", .invoice_id = a.invoice_id,
                                                .channel = Channel::kSms});
  EXPECT_EQ(resent.notification.request.phone, "+14155550123");
  EXPECT_EQ(r_.manager.GetInvoiceById(a.invoice_id).notifications.size(), 2u);
  r_.manager.CloseInvoice({.caller = "dash", .request_id = "k", .invoice_id = b.invoice_id, .reason = "duplicate"});

  auto page = r_.manager.ListInvoices({.booking_id = "B1", .status = std::nullopt}, 2, "");
  ASSERT_EQ(page.invoices.size(), 2u);
  EXPECT_EQ(page.invoices[0].invoice_id, c.invoice_id);
  EXPECT_EQ(page.invoices[1].invoice_id, b.invoice_id);
  page = r_.manager.ListInvoices({.booking_id = "B1", .status = std::nullopt}, 2, page.next_page_token);
  ASSERT_EQ(page.invoices.size(), 1u);
  EXPECT_EQ(page.invoices[0].invoice_id, a.invoice_id);
  EXPECT_TRUE(page.next_page_token.empty());
  const auto closed = r_.manager.ListInvoices({.booking_id = "", .status = InvoiceStatus::kClosed}, 10, "");
  ASSERT_EQ(closed.invoices.size(), 1u);
  EXPECT_EQ(closed.invoices[0].status_reason, "duplicate");

  const auto events = r_.manager.ListEvents(a.invoice_id, 100, "").events;
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].sequence, 1);
  EXPECT_EQ(events[2].type, "RESENT");
  EXPECT_NE(events[2].reason.find("+1******0123"), std::string::npos) << events[2].reason;
}

// --- due dates ----------------------------------------------------------------------

TEST_F(InvoiceLifecycleTest, ReplicatedSweepersExpireEachInvoiceOnce) {
  Upsert(MakeBooking("B1", 10'000'000));
  constexpr int kInvoices = 60;
  for (int i = 0; i < kInvoices; ++i) Create("B1", 100, 1);
  Create("B1", 100);  // no due date: never expires
  clock_.Advance(std::chrono::hours(25));
  Replica other(db_.url(), clock_);
  std::atomic<int> expired{0};
  auto sweep = [&](Replica& r) {
    while (true) {
      const auto batch = r.manager.ExpireDueInvoices(7);
      if (batch.empty()) break;
      expired += static_cast<int>(batch.size());
    }
  };
  std::thread t1([&] { sweep(r_); });
  std::thread t2([&] { sweep(other); });
  t1.join();
  t2.join();
  EXPECT_EQ(expired.load(), kInvoices);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoices WHERE status = 'EXPIRED'"), kInvoices);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoice_events WHERE type = 'EXPIRED'"), kInvoices);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoices WHERE status = 'OPEN'"), 1);
}

// --- concurrency ----------------------------------------------------------------------

TEST_F(InvoiceLifecycleTest, ConcurrentFirstUpsertsOfOneBookingBothSucceed) {
  Replica other(db_.url(), clock_);
  for (int round = 0; round < 10; ++round) {
    const std::string id = "new-" + std::to_string(round);
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        Booking b = MakeBooking(id, 1000 + t);
        (t % 2 ? other : r_).manager.UpsertBooking(
            {.caller = "", .request_id = id + "-" + std::to_string(t), .booking = b});
        ++ok;
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(ok.load(), 4) << "a lost race on the first insert is retried, not an INTERNAL error";
  }
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM bookings WHERE booking_id LIKE 'new-%'"), 10);
}

TEST_F(InvoiceLifecycleTest, APaymentIntentIsRecordedOnceAcrossBookings) {
  Upsert(MakeBooking("B1"));
  Upsert(MakeBooking("B2"));
  r_.manager.RecordExternalPayment({.caller = "", .request_id = "p1", .booking_id = "B1", .amount = {100, "USD"},
                                    .source = PaymentSource::kAutoCharge, .payment_intent_id = "pi_shared"});
  try {
    r_.manager.RecordExternalPayment({.caller = "", .request_id = "p2", .booking_id = "B2", .amount = {100, "USD"},
                                      .source = PaymentSource::kAutoCharge, .payment_intent_id = "pi_shared"});
    FAIL() << "recorded twice";
  } catch (const errors::Error& e) {
    EXPECT_EQ(e.reason(), errors::Reason::kPaymentAlreadyRecorded);
  }
}

TEST_F(InvoiceLifecycleTest, BookingCancellationRacingCreationsLeavesNoOpenInvoice) {
  Booking b = MakeBooking("B1", 10'000'000);
  Upsert(b);
  Replica other(db_.url(), clock_);
  std::atomic<int> created{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        CreateInvoiceCommand cmd;
        cmd.request_id = "race-" + std::to_string(t) + "-" + std::to_string(i);
        cmd.booking_id = "B1";
        cmd.amount = {100, "USD"};
        try {
          (t % 2 ? other : r_).manager.CreateInvoice(cmd);
          ++created;
        } catch (const errors::Error& e) {
          EXPECT_EQ(e.reason(), errors::Reason::kBookingCanceled);
          ++refused;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  b.status = BookingStatus::kCanceled;
  other.manager.UpsertBooking({.caller = "", .request_id = "cancel", .booking = b});
  for (auto& t : threads) t.join();
  EXPECT_EQ(created + refused, 60);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoices WHERE status = 'OPEN'"), 0);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoices WHERE status = 'CANCELED'"), created.load());
}

TEST_F(InvoiceLifecycleTest, TwoDispatchersSendEachOutboxRowOnce) {
  Upsert(MakeBooking("B1", 10'000'000));
  constexpr int kInvoices = 40;
  for (int i = 0; i < kInvoices; ++i) Create("B1", 100);
  Replica other(db_.url(), clock_);
  CountingNotifier notifier;
  OutboxDispatcher::Options options{.batch_size = 5};
  OutboxDispatcher d1(r_.store, notifier, clock_, options);
  OutboxDispatcher d2(other.store, notifier, clock_, options);
  auto drain = [](OutboxDispatcher& d) {
    while (d.DispatchOnce() > 0) {
    }
  };
  std::thread t1([&] { drain(d1); });
  std::thread t2([&] { drain(d2); });
  t1.join();
  t2.join();
  EXPECT_EQ(notifier.calls.size(), static_cast<std::size_t>(kInvoices));
  for (const auto& [request_id, count] : notifier.calls) EXPECT_EQ(count, 1) << request_id;
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoice_notifications WHERE state = 'QUEUED'"), kInvoices);
  EXPECT_EQ(r_.store.Backlog(), 0);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoice_events WHERE type = 'NOTIFICATION_ACCEPTED'"), kInvoices);
}

}  // namespace
}  // namespace billing::invoice
