#include <gtest/gtest.h>

#include <soci/postgresql/soci-postgresql.h>

#include <algorithm>
#include <set>
#include <thread>

#include "db/conninfo.h"
#include "db/migrator.h"
#include "db/pool.h"
#include "domain/invoice_manager.h"
#include "errors/error.h"
#include "invoice_migrations/migrations.h"
#include "storage/pg_invoice_store.h"
#include "storage/sql.h"
#include "support/postgres.h"

namespace billing::invoice {
namespace {

using billing::testing::ExecSql;
using billing::testing::MostRowsInPlan;
using billing::testing::QueryInt;
using billing::testing::TestDatabase;
using domain::Booking;
using domain::BookingStatus;
using domain::Channel;
using domain::CreateInvoiceCommand;
using domain::InvoiceManager;

class InvoiceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    soci::session sql(soci::postgresql, db::ToKeyValueConninfo(db_.url()));
    db::ApplyMigrations(sql, kMigrations, "invoice");
  }

  Booking MakeBooking() {
    Booking b;
    b.booking_id = "bk-1";
    b.status = BookingStatus::kDraft;
    b.customer = {"Zoë Ångström", "zoe@example.com", "+4670123456"};
    b.currency = "SEK";
    b.total_minor = 150000;
    b.activity_name = "Älvkayak — 2h";
    b.start_local = "2026-12-31T22:00:00";
    b.end_local = "2027-01-01T01:00:00";
    b.time_zone = "Europe/Stockholm";
    b.confirmation_code = "ZX-9";
    b.required_agreement_ids = {"waiver-1", "terms-2"};
    b.slot_hold_expires_at = clock::FromUnixMicros(1'800'000'123'456'789);
    b.revision = 3;
    return b;
  }

  CreateInvoiceCommand MakeCreate(const std::string& request_id) {
    CreateInvoiceCommand cmd;
    cmd.request_id = request_id;
    cmd.booking_id = "bk-1";
    cmd.amount = {50000, "SEK"};
    cmd.send_type = Channel::kSms;
    cmd.line_items = {{"Vuxen", 2, 60000}, {"Barn", 1, 30000}};
    cmd.fees = {{"Bokningsavgift", 2500}};
    cmd.custom_fields = {{"PO", "4711"}, {"Ref", "\"quoted\" <b>"}};
    cmd.days_until_due = 3;
    return cmd;
  }

  TestDatabase db_{"invstore"};
  db::Pool pool_{{.url = db_.url(), .size = 8}};
  storage::PgInvoiceStore store_{pool_};
  clock::SystemClock clock_;
  ids::RandomIdGenerator ids_;
  InvoiceManager manager_{store_, clock_, ids_, {.pay_link_base_url = "https://pay.example.com", .business_name = "B"}};
};

TEST_F(InvoiceStoreTest, BookingAndInvoiceRoundTripExactly) {
  const Booking in = MakeBooking();
  manager_.UpsertBooking({.caller = "", .request_id = "u1", .booking = in});
  std::vector<domain::CustomerPayment> payments;
  const Booking out = manager_.GetBooking("bk-1", &payments);
  EXPECT_EQ(out.customer.name, in.customer.name);
  EXPECT_EQ(out.activity_name, in.activity_name);
  EXPECT_EQ(out.required_agreement_ids, in.required_agreement_ids);
  EXPECT_EQ(out.slot_hold_expires_at, in.slot_hold_expires_at);  // microsecond exact
  EXPECT_EQ(out.revision, 3);
  EXPECT_EQ(out.status, BookingStatus::kDraft);
  EXPECT_TRUE(payments.empty());

  const auto created = manager_.CreateInvoice(MakeCreate("c1"));
  const auto view = manager_.GetInvoiceByToken(created.token);
  const auto& inv = view.invoice;
  EXPECT_EQ(inv.invoice_id, created.invoice_id);
  EXPECT_EQ(inv.amount, (money::Money{50000, "SEK"}));
  EXPECT_EQ(inv.send_type, Channel::kSms);
  ASSERT_EQ(inv.line_items.size(), 2u);
  EXPECT_EQ(inv.line_items[0].name, "Vuxen");
  EXPECT_EQ(inv.line_items[0].AmountMinor(), 120000);
  ASSERT_EQ(inv.fees.size(), 1u);
  EXPECT_EQ(inv.fees[0].amount_minor, 2500);
  ASSERT_EQ(inv.custom_fields.size(), 2u);
  EXPECT_EQ(inv.custom_fields[1].value, "\"quoted\" <b>");
  EXPECT_EQ(inv.due_at, created.due_at);
  EXPECT_EQ(inv.created_at, created.created_at);
  EXPECT_EQ(view.due_now_minor, 50000);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoice_events"), 2);  // CREATED, NOTIFICATION_QUEUED
  ASSERT_EQ(view.notifications.size(), 1u);
  EXPECT_EQ(view.notifications[0].recipient, "+4670123456");
  EXPECT_EQ(view.notifications[0].channel, Channel::kSms);
  EXPECT_EQ(view.notifications[0].purpose, domain::NotificationPurpose::kInvoiceLink);
  EXPECT_EQ(view.notifications[0].state, domain::NotificationState::kPending);
  // The outbox keeps the whole request.
  std::vector<domain::NotificationRecord> outbox;
  store_.InTransaction([&](domain::InvoiceTx& tx) { outbox = tx.ListNotifications(inv.invoice_id); });
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].request.phone, "+4670123456");
  EXPECT_EQ(outbox[0].request.booking.activity_name, "Älvkayak — 2h");
  EXPECT_EQ(view.notifications[0].outbox_id, outbox[0].outbox_id);
  EXPECT_EQ(view.notifications[0].created_at, outbox[0].created_at);
}

TEST_F(InvoiceStoreTest, ConcurrentRetriesOfOneRequestCreateOneInvoice) {
  manager_.UpsertBooking({.caller = "", .request_id = "u1", .booking = MakeBooking()});
  constexpr int kThreads = 20;
  std::vector<std::string> ids(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { ids[i] = manager_.CreateInvoice(MakeCreate("same-key")).invoice_id; });
  }
  for (auto& t : threads) t.join();
  for (const auto& id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoices"), 1);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoice_events"), 2);  // CREATED, NOTIFICATION_QUEUED
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoice_notifications"), 1);
}

TEST_F(InvoiceStoreTest, ConcurrentDistinctRequestsAllLand) {
  manager_.UpsertBooking({.caller = "", .request_id = "u1", .booking = MakeBooking()});
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<std::string> tokens(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { tokens[i] = manager_.CreateInvoice(MakeCreate("k" + std::to_string(i))).token; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<std::string>(tokens.begin(), tokens.end()).size(), static_cast<std::size_t>(kThreads));
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoices"), kThreads);
}

TEST_F(InvoiceStoreTest, ARejectedCreateLeavesNoRows) {
  manager_.UpsertBooking({.caller = "", .request_id = "u1", .booking = MakeBooking()});
  auto cmd = MakeCreate("too-much");
  cmd.amount.amount_minor = 150001;
  EXPECT_THROW(manager_.CreateInvoice(cmd), errors::Error);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoices"), 0);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM idempotency_keys WHERE request_id = 'too-much'"), 0);
}

TEST_F(InvoiceStoreTest, EventLogIsAppendOnly) {
  manager_.UpsertBooking({.caller = "", .request_id = "u1", .booking = MakeBooking()});
  manager_.CreateInvoice(MakeCreate("c1"));
  EXPECT_ANY_THROW(ExecSql(db_.url(), "UPDATE invoice_events SET reason = 'rewritten'"));
  EXPECT_ANY_THROW(ExecSql(db_.url(), "DELETE FROM invoice_events"));
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoice_events"), 2);  // CREATED, NOTIFICATION_QUEUED
}

TEST_F(InvoiceStoreTest, IdempotencyKeysAreScopedPerCaller) {
  manager_.UpsertBooking({.caller = "", .request_id = "u1", .booking = MakeBooking()});
  auto a = MakeCreate("shared");
  a.caller = "dashboard";
  auto b = MakeCreate("shared");
  b.caller = "booking-system";
  EXPECT_NE(manager_.CreateInvoice(a).invoice_id, manager_.CreateInvoice(b).invoice_id);
}

// A claim must read about :limit rows however long the backlog: the old
// indexes held only the first sort key, so every claim read and sorted the
// whole backlog (4 ms a claim at a few thousand rows in the CreateInvoice
// benchmark), and the hand-off slowed the further it fell behind.
TEST_F(InvoiceStoreTest, OutboxClaimsReadAboutTheirLimitHoweverLongTheBacklog) {
  manager_.UpsertBooking({.caller = "", .request_id = "u1", .booking = MakeBooking()});
  manager_.CreateInvoice(MakeCreate("c1"));
  // 3,000 rows due at one instant (one burst); 2,000 delivery states never
  // checked (due at once), 990 checked and not due again until tomorrow,
  // and 10 checked and due.
  ExecSql(db_.url(),
          "INSERT INTO invoice_notifications (invoice_id, purpose, channel, recipient, request, state, "
          "next_attempt_at, next_sync_at, notification_id, created_at) "
          "SELECT invoice_id, purpose, channel, recipient, request, CASE WHEN g <= 3000 THEN 'PENDING' ELSE 'QUEUED' END, "
          "TIMESTAMPTZ '2026-01-01', CASE WHEN g <= 5000 THEN NULL WHEN g <= 5990 THEN now() + INTERVAL '1 day' "
          "ELSE TIMESTAMPTZ '2026-01-02' END, 'n' || g, TIMESTAMPTZ '2026-01-01' "
          "FROM invoice_notifications, generate_series(1, 6000) g");
  const std::string now = std::to_string(clock::ToUnixMicros(clock_.Now()));
  const std::string later = std::to_string(clock::ToUnixMicros(clock_.Now()) + 60'000'000);
  constexpr int kLimit = 20;
  // Parameters in the order of their first use in each statement.
  EXPECT_LE(MostRowsInPlan(db_.url(), storage::sql::kClaimNotifications, {later, now, std::to_string(kLimit)}),
            4 * kLimit);
  EXPECT_LE(MostRowsInPlan(db_.url(), storage::sql::kClaimForSync, {later, now, std::to_string(kLimit)}), 4 * kLimit);

  // And the claims still take the oldest due rows first, by id among
  // equals, and never-checked delivery states before the rest.
  const auto claimed = store_.Claim(clock_.Now(), clock_.Now() + std::chrono::seconds(60), kLimit);
  ASSERT_EQ(claimed.size(), static_cast<std::size_t>(kLimit));
  int64_t newest = 0;
  for (const auto& n : claimed) newest = std::max(newest, n.outbox_id);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoice_notifications WHERE lease_until IS NOT NULL "
                                "AND next_attempt_at = TIMESTAMPTZ '2026-01-01'"),
            kLimit);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoice_notifications WHERE state = 'PENDING' AND lease_until IS NULL "
                                "AND next_attempt_at = TIMESTAMPTZ '2026-01-01' AND outbox_id < " +
                                    std::to_string(newest)),
            0);
  const auto checks = store_.ClaimForSync(clock_.Now(), clock_.Now() + std::chrono::seconds(60), kLimit);
  ASSERT_EQ(checks.size(), static_cast<std::size_t>(kLimit));
  newest = 0;
  for (const auto& n : checks) newest = std::max(newest, n.outbox_id);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM invoice_notifications WHERE state = 'QUEUED' "
                                "AND next_sync_at IS NULL AND outbox_id < " + std::to_string(newest)),
            0);
}

}  // namespace
}  // namespace billing::invoice
