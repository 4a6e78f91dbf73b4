#include <gtest/gtest.h>

#include <soci/postgresql/soci-postgresql.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "clients/phone_normalizer.h"
#include "clients/template_renderer.h"
#include "db/conninfo.h"
#include "db/migrator.h"
#include "db/pool.h"
#include "domain/dispatcher.h"
#include "domain/notification_service.h"
#include "errors/error.h"
#include "notify_migrations/migrations.h"
#include "storage/pg_notification_store.h"
#include "storage/sql.h"
#include "support/postgres.h"

// The notify store on a real PostgreSQL: idempotent acceptance under
// concurrency, exactly-once delivery with several dispatchers sharing the
// queue, and recording a send whose transaction lost its connection.
namespace billing::notify {
namespace {

using billing::testing::ExecSql;
using billing::testing::MostRowsInPlan;
using billing::testing::QueryInt;
using billing::testing::TestDatabase;
using domain::AttemptOutcome;
using domain::Channel;
using domain::Dispatcher;
using domain::NotificationService;
using domain::OutgoingMessage;
using domain::SendCommand;
using domain::SendResult;
using domain::Status;

// Counts sends per notification id; thread-safe. An optional hook runs
// inside Send (while the dispatcher holds the row).
class CountingTransport final : public domain::Transport {
 public:
  SendResult Send(const OutgoingMessage& m) override {
    if (hook) hook(m);
    std::lock_guard lock(mu);
    ++sends[m.notification_id];
    if (!script.empty()) {
      auto r = script.front();
      script.erase(script.begin());
      return r;
    }
    return {AttemptOutcome::kAccepted, "prov-" + m.notification_id, ""};
  }
  std::function<void(const OutgoingMessage&)> hook;
  std::mutex mu;
  std::map<std::string, int> sends;
  std::vector<SendResult> script;
};

SendCommand Sms(const std::string& request_id, const std::string& invoice_id = "inv-1") {
  SendCommand c;
  c.caller = "invoice";
  c.request_id = request_id;
  c.kind = domain::Kind::kInvoiceLink;
  c.channel = Channel::kSms;
  c.phone = "(415) 555-0100";
  c.recipient_name = "Zoë";
  c.invoice_id = invoice_id;
  c.pay_url = "https://pay.example.com/i/" + request_id;
  c.amount = money::Money{4200, "USD"};
  c.business_name = "Sunset Kayaks";
  return c;
}

class NotificationStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    soci::session sql(soci::postgresql, db::ToKeyValueConninfo(db_.url()));
    db::ApplyMigrations(sql, kMigrations, "notify");
  }

  TestDatabase db_{"notifystore"};
  db::Pool pool_{{.url = db_.url(), .size = 8}};
  storage::PgNotificationStore store_{pool_};
  clients::TemplateRenderer renderer_{BILLING_NOTIFY_TEMPLATE_DIR};
  clients::LibPhoneNumberNormalizer phones_{"US"};
  clock::SystemClock clock_;
  ids::RandomIdGenerator ids_;
  NotificationService service_{store_, renderer_, phones_, clock_, ids_};
};

TEST_F(NotificationStoreTest, RoundTripsEverythingItStores) {
  auto cmd = Sms("r1");
  cmd.channel = Channel::kEmail;
  cmd.email = "zoe@Example.com";
  cmd.booking.booking_id = "bk-7";
  const auto sent = service_.Send(cmd);
  std::vector<domain::DeliveryAttempt> attempts;
  const auto got = service_.Get(sent.notification_id, &attempts);
  EXPECT_EQ(got.recipient, "zoe@example.com");
  EXPECT_EQ(got.recipient_name, "Zoë");
  EXPECT_EQ(got.content.subject, sent.content.subject);
  EXPECT_EQ(got.content.html, sent.content.html);
  EXPECT_EQ(got.content.text, sent.content.text);
  EXPECT_EQ(got.booking_id, "bk-7");
  EXPECT_EQ(got.status, Status::kQueued);
  EXPECT_EQ(got.created_at, sent.created_at) << "microsecond times survive the database";
  EXPECT_TRUE(attempts.empty());
}

TEST_F(NotificationStoreTest, ARequestIdFindsOnlyItsOwnCallersNotification) {
  const auto sent = service_.Send(Sms("r1"));
  EXPECT_EQ(service_.GetByRequest("invoice", "r1", nullptr).notification_id, sent.notification_id);
  // Request ids are per caller: another caller's same id names nothing.
  EXPECT_FALSE(store_.FindByRequest("admin", "r1").has_value());
  EXPECT_THROW(service_.GetByRequest("admin", "r1", nullptr), errors::Error);
  EXPECT_FALSE(store_.FindByRequest("invoice", "r2").has_value());
}

TEST_F(NotificationStoreTest, TwentyConcurrentSendsWithOneRequestIdStoreOneNotification) {
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::string> ids;
  std::atomic<int> errors{0};
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&] {
      try {
        const auto n = service_.Send(Sms("same"));
        std::lock_guard lock(mu);
        ids.insert(n.notification_id);
      } catch (...) {
        ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM notifications"), 1);
}

TEST_F(NotificationStoreTest, TwoReplicasDeliverTwoHundredMessagesExactlyOnce) {
  for (int i = 0; i < 200; ++i) service_.Send(Sms("r" + std::to_string(i), "inv-" + std::to_string(i % 7)));
  ASSERT_EQ(store_.QueueDepth(), 200);

  // Two "replicas": their own pools and stores, two dispatch threads each,
  // one shared transport that counts what reached the provider.
  CountingTransport transport;
  transport.hook = [](const OutgoingMessage&) { std::this_thread::sleep_for(std::chrono::milliseconds(1)); };
  db::Pool pool_a{{.url = db_.url(), .size = 3}};
  db::Pool pool_b{{.url = db_.url(), .size = 3}};
  storage::PgNotificationStore store_a{pool_a};
  storage::PgNotificationStore store_b{pool_b};
  Dispatcher a{store_a, transport, transport, clock_, ids_, {}};
  Dispatcher b{store_b, transport, transport, clock_, ids_, {}};
  std::vector<std::thread> threads;
  std::atomic<int> delivered{0};
  for (Dispatcher* d : {&a, &a, &b, &b}) {
    threads.emplace_back([&, d] {
      while (d->DeliverOne()) ++delivered;
    });
  }
  for (auto& t : threads) t.join();

  EXPECT_EQ(delivered.load(), 200);
  EXPECT_EQ(transport.sends.size(), 200u);
  for (const auto& [id, count] : transport.sends) EXPECT_EQ(count, 1) << id;
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM notifications WHERE status = 'SENT'"), 200);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM delivery_attempts"), 200);
  EXPECT_EQ(store_.QueueDepth(), 0);
}

TEST_F(NotificationStoreTest, RetriesAreRecordedAndWaitForTheirTime) {
  const auto n = service_.Send(Sms("r1"));
  CountingTransport transport;
  transport.script = {{AttemptOutcome::kTransientFailure, "", "sms: HTTP 503"}};
  Dispatcher d{store_, transport, transport, clock_, ids_, {.max_attempts = 3, .first_backoff = std::chrono::hours(1)}};
  ASSERT_TRUE(d.DeliverOne());
  EXPECT_FALSE(d.DeliverOne()) << "the retry is an hour away";
  std::vector<domain::DeliveryAttempt> attempts;
  auto got = service_.Get(n.notification_id, &attempts);
  EXPECT_EQ(got.status, Status::kQueued);
  EXPECT_EQ(got.attempts, 1);
  EXPECT_EQ(got.failure_reason, "sms: HTTP 503");
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].outcome, AttemptOutcome::kTransientFailure);

  ExecSql(db_.url(), "UPDATE notifications SET next_attempt_at = now()");
  ASSERT_TRUE(d.DeliverOne());
  got = service_.Get(n.notification_id, &attempts);
  EXPECT_EQ(got.status, Status::kSent);
  EXPECT_EQ(got.provider_message_id, "prov-" + n.notification_id);
  EXPECT_TRUE(got.sent_at.has_value());
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[1].attempt_number, 2);
  EXPECT_EQ(attempts[1].outcome, AttemptOutcome::kAccepted);
}

TEST_F(NotificationStoreTest, NoConnectionIsHeldWhileAProviderIsSlow) {
  service_.Send(Sms("r1"));
  CountingTransport transport;
  long long in_transaction = -1;
  transport.hook = [&](const OutgoingMessage&) {
    in_transaction = QueryInt(db_.url(),
                              "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                              "AND state LIKE 'idle in transaction%'");
  };
  Dispatcher d{store_, transport, transport, clock_, ids_, {}};
  ASSERT_TRUE(d.DeliverOne());
  EXPECT_EQ(in_transaction, 0) << "the claim committed before the send";
}

TEST_F(NotificationStoreTest, TheDatabaseDroppingEveryConnectionDuringASendDoesNotResendIt) {
  const auto n = service_.Send(Sms("r1"));
  CountingTransport transport;
  long long killed = 0;
  transport.hook = [&](const OutgoingMessage&) {
    // Every connection the pool holds, as a failover would.
    killed = QueryInt(db_.url(),
                      "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()) AS k");
  };
  Dispatcher d{store_, transport, transport, clock_, ids_, {}};
  ASSERT_TRUE(d.DeliverOne());
  ASSERT_GT(killed, 0) << "the test must actually cut connections";
  transport.hook = nullptr;
  EXPECT_FALSE(d.DeliverOne());
  EXPECT_EQ(transport.sends[n.notification_id], 1);
  std::vector<domain::DeliveryAttempt> attempts;
  EXPECT_EQ(service_.Get(n.notification_id, &attempts).status, Status::kSent);
  EXPECT_EQ(attempts.size(), 1u);
}

TEST_F(NotificationStoreTest, AClaimOutlivedByItsSendIsTakenOverAndBothAttemptsAreKept) {
  const auto n = service_.Send(Sms("r1"));
  // Dispatcher A claims with a lease shorter than its send.
  const std::string token_a = ids_.NewId();
  const auto claimed = store_.Claim(clock_.Now(), clock_.Now() + std::chrono::milliseconds(1), token_a);
  ASSERT_TRUE(claimed);
  EXPECT_EQ(claimed->attempts, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // Dispatcher B sees the lease run out, takes over and delivers.
  CountingTransport transport;
  Dispatcher b{store_, transport, transport, clock_, ids_, {}};
  const auto report = b.DeliverOne();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->attempt_number, 2);
  EXPECT_EQ(report->status, Status::kSent);
  // A finally records its own send: kept in the log, no longer the state.
  domain::DeliveryOutcome late;
  late.attempt = {1, AttemptOutcome::kAccepted, "", "prov-late", clock_.Now(), 900};
  late.status = Status::kSent;
  late.provider_message_id = "prov-late";
  late.sent_at = clock_.Now();
  EXPECT_FALSE(store_.Record(n.notification_id, token_a, late));
  std::vector<domain::DeliveryAttempt> attempts;
  const auto got = service_.Get(n.notification_id, &attempts);
  EXPECT_EQ(got.provider_message_id, "prov-" + n.notification_id);
  ASSERT_EQ(attempts.size(), 2u) << "the double send is visible";
  EXPECT_EQ(attempts[0].provider_message_id, "prov-late");
}

TEST_F(NotificationStoreTest, TwoReplicasWithAFlakyProviderStillSendEachMessageOnce) {
  for (int i = 0; i < 60; ++i) service_.Send(Sms("r" + std::to_string(i)));
  // Every third call fails transiently (and is retried); none is lost or doubled.
  class Flaky final : public domain::Transport {
   public:
    SendResult Send(const OutgoingMessage& m) override {
      std::lock_guard lock(mu);
      if (++calls % 3 == 0) return {AttemptOutcome::kTransientFailure, "", "sms: HTTP 503"};
      ++accepted[m.notification_id];
      return {AttemptOutcome::kAccepted, "prov", ""};
    }
    std::mutex mu;
    int calls = 0;
    std::map<std::string, int> accepted;
  } transport;
  db::Pool pool_b{{.url = db_.url(), .size = 3}};
  storage::PgNotificationStore store_b{pool_b};
  const Dispatcher::Options fast{.max_attempts = 8, .first_backoff = std::chrono::milliseconds(1),
                                 .max_backoff = std::chrono::milliseconds(2)};
  Dispatcher a{store_, transport, transport, clock_, ids_, fast};
  Dispatcher b{store_b, transport, transport, clock_, ids_, fast};
  std::vector<std::thread> threads;
  for (Dispatcher* d : {&a, &b, &a, &b}) {
    threads.emplace_back([d] {
      for (int idle = 0; idle < 50;) {
        if (d->DeliverOne()) {
          idle = 0;
        } else {
          ++idle;
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(transport.accepted.size(), 60u);
  for (const auto& [id, count] : transport.accepted) EXPECT_EQ(count, 1) << id;
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM notifications WHERE status = 'SENT'"), 60);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM delivery_attempts"), transport.calls);
}

TEST_F(NotificationStoreTest, ListsNewestFirstAcrossPages) {
  for (int i = 0; i < 5; ++i) service_.Send(Sms("r" + std::to_string(i), i < 3 ? "inv-a" : "inv-b"));
  auto page = service_.List({.invoice_id = "inv-a"}, 2, "");
  ASSERT_EQ(page.notifications.size(), 2u);
  EXPECT_EQ(page.notifications[0].request_id, "r2");
  EXPECT_EQ(page.notifications[1].request_id, "r1");
  page = service_.List({.invoice_id = "inv-a"}, 2, page.next_page_token);
  ASSERT_EQ(page.notifications.size(), 1u);
  EXPECT_EQ(page.notifications[0].request_id, "r0");
  EXPECT_TRUE(page.next_page_token.empty());
  EXPECT_EQ(service_.List({.recipient = "+14155550100"}, 10, "").notifications.size(), 5u);
  EXPECT_EQ(service_.List({.status = Status::kSent}, 10, "").notifications.size(), 0u);
}

// The claim reads about one row however long the queue: the old index held
// only next_attempt_at, so every claim read and sorted all due rows (4.3 ms
// a claim with a few thousand queued in the SendInvoiceLink benchmark).
TEST_F(NotificationStoreTest, AClaimReadsAboutOneRowHoweverLongTheQueue) {
  service_.Send(Sms("r0"));
  // 3,000 more, all due at one instant (one burst).
  ExecSql(db_.url(),
          "INSERT INTO notifications (notification_id, caller, request_id, fingerprint, kind, channel, recipient, "
          "body_text, next_attempt_at, created_at, updated_at) "
          "SELECT gen_random_uuid(), caller, request_id || '-' || g, fingerprint, kind, channel, recipient, body_text, "
          "TIMESTAMPTZ '2026-01-01', created_at, updated_at FROM notifications, generate_series(1, 3000) g");
  const std::string now = std::to_string(clock::ToUnixMicros(clock_.Now()));
  const std::string later = std::to_string(clock::ToUnixMicros(clock_.Now()) + 60'000'000);
  // Parameters in the order of their first use: token, lease_until, now.
  // The store keeps one plan for every value (Planning::kReuse).
  EXPECT_LE(MostRowsInPlan(db_.url(), storage::sql::kClaimDue, {"00000000-0000-0000-0000-000000000001", later, now},
                           billing::testing::PlanFor::kGeneric),
            4);

  // And it still takes the oldest due row, the lowest id among equals.
  const auto claimed =
      store_.Claim(clock_.Now(), clock_.Now() + std::chrono::seconds(60), "00000000-0000-0000-0000-000000000002");
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM notifications WHERE next_attempt_at = TIMESTAMPTZ '2026-01-01'"),
            2999);
  EXPECT_EQ(QueryInt(db_.url(), "SELECT count(*) FROM notifications WHERE next_attempt_at = TIMESTAMPTZ '2026-01-01' "
                                "AND notification_id < '" + claimed->notification_id + "'"),
            0);
}

}  // namespace
}  // namespace billing::notify
