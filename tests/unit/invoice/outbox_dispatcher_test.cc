#include <gtest/gtest.h>

#include <map>

#include "domain/invoice_manager.h"
#include "domain/outbox_dispatcher.h"
#include "unit/invoice/fake_invoice_store.h"

namespace billing::invoice::domain {
namespace {

// A scriptable notify: fails transiently `outage` times, or refuses.
class FakeNotifier final : public Notifier {
 public:
  Accepted Send(const std::string& request_id, const NotificationRequest& request) override {
    calls.push_back(request_id);
    if (refuse) throw Error(true, "recipient refused");
    if (outage > 0) {
      --outage;
      throw Error(false, "notify unavailable");
    }
    sent.emplace(request_id, request);
    if (lost_answers > 0) {
      --lost_answers;
      throw Error(false, "deadline exceeded");  // taken, but the answer never came back
    }
    return {"ntf-" + request_id, NotificationState::kQueued, "", std::nullopt};
  }
  std::optional<Accepted> Status(const std::string& notification_id) override {
    if (forgotten) return std::nullopt;
    if (delivered) return Accepted{notification_id, NotificationState::kSent, "", clock::FromUnixMicros(5)};
    return Accepted{notification_id, NotificationState::kQueued, "", std::nullopt};
  }
  std::optional<Accepted> StatusByRequest(const std::string& request_id) override {
    lookups.push_back(request_id);
    if (lookup_outage) throw Error(false, "notify unavailable");
    if (!sent.contains(request_id)) return std::nullopt;
    return Status("ntf-" + request_id);
  }

  std::vector<std::string> calls;
  std::vector<std::string> lookups;
  std::map<std::string, NotificationRequest> sent;
  int outage = 0;
  int lost_answers = 0;
  bool lookup_outage = false;
  bool refuse = false;
  bool delivered = false;
  bool forgotten = false;
};

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest()
      : clock_(clock::FromUnixMicros(1'800'000'000'000'000)),
        manager_(store_, clock_, ids_, {.pay_link_base_url = "https://p", .business_name = "B"}),
        dispatcher_(store_, notifier_, clock_, {.batch_size = 10, .lease = std::chrono::seconds(30),
                                                .first_backoff = std::chrono::seconds(1),
                                                .max_backoff = std::chrono::seconds(8)}) {
    Booking b;
    b.booking_id = "bk";
    b.customer = {"Ann", "ann@example.com", "+14155550123"};
    b.currency = "USD";
    b.total_minor = 5000;
    manager_.UpsertBooking({.caller = "", .request_id = "u", .booking = b});
  }

  std::string Create(const std::string& key) {
    CreateInvoiceCommand cmd;
    cmd.request_id = key;
    cmd.booking_id = "bk";
    cmd.amount = {1000, "USD"};
    return manager_.CreateInvoice(cmd).invoice_id;
  }

  testing::FakeInvoiceStore store_;
  clock::FakeClock clock_;
  ids::RandomIdGenerator ids_;
  InvoiceManager manager_;
  FakeNotifier notifier_;
  OutboxDispatcher dispatcher_;
};

TEST_F(DispatcherTest, HandsEachRowToNotifyOnceWithAStableRequestId) {
  const std::string id = Create("c1");
  EXPECT_EQ(dispatcher_.DispatchOnce(), 1);
  EXPECT_EQ(dispatcher_.DispatchOnce(), 0) << "accepted rows are not sent again";
  ASSERT_EQ(notifier_.calls.size(), 1u);
  EXPECT_EQ(notifier_.calls[0], "invoice-notification-key-1");
  const auto n = manager_.GetInvoiceById(id).notifications.at(0);
  EXPECT_EQ(n.state, NotificationState::kQueued);
  EXPECT_EQ(n.notification_id, "ntf-invoice-notification-key-1");
  EXPECT_EQ(store_.Snapshot().events.back().type, "NOTIFICATION_ACCEPTED");
  // Delivery state follows notify.
  notifier_.delivered = true;
  EXPECT_EQ(dispatcher_.SyncOnce(), 1);
  EXPECT_EQ(manager_.GetInvoiceById(id).notifications.at(0).state, NotificationState::kSent);
  EXPECT_EQ(store_.Backlog(), 0);
}

TEST_F(DispatcherTest, OutagesAreRetriedWithBackoffUntilNotifyIsBack) {
  Create("c1");
  notifier_.outage = 3;
  EXPECT_EQ(dispatcher_.DispatchOnce(), 0);
  EXPECT_EQ(dispatcher_.DispatchOnce(), 0) << "not due again yet";
  EXPECT_EQ(notifier_.calls.size(), 1u);
  clock_.Advance(std::chrono::seconds(1));
  dispatcher_.DispatchOnce();  // attempt 2 fails; next in 2 s
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(dispatcher_.DispatchOnce(), 0);
  EXPECT_EQ(notifier_.calls.size(), 2u);
  clock_.Advance(std::chrono::seconds(1));
  dispatcher_.DispatchOnce();  // attempt 3 fails; next in 4 s
  clock_.Advance(std::chrono::seconds(4));
  EXPECT_EQ(dispatcher_.DispatchOnce(), 1);
  EXPECT_EQ(notifier_.calls.size(), 4u);
  for (const auto& c : notifier_.calls) EXPECT_EQ(c, "invoice-notification-key-1") << "every retry reuses the key";
  EXPECT_EQ(notifier_.sent.size(), 1u);
  EXPECT_EQ(dispatcher_.Backoff(1), std::chrono::seconds(1));
  EXPECT_EQ(dispatcher_.Backoff(3), std::chrono::seconds(4));
  EXPECT_EQ(dispatcher_.Backoff(30), std::chrono::seconds(8));
}

TEST_F(DispatcherTest, RefusedNotificationsFailForGood) {
  const std::string id = Create("c1");
  notifier_.refuse = true;
  EXPECT_EQ(dispatcher_.DispatchOnce(), 0);
  clock_.Advance(std::chrono::hours(1));
  dispatcher_.DispatchOnce();
  EXPECT_EQ(notifier_.calls.size(), 1u);
  const auto n = manager_.GetInvoiceById(id).notifications.at(0);
  EXPECT_EQ(n.state, NotificationState::kFailed);
  EXPECT_EQ(n.failure_reason, "recipient refused");
  EXPECT_EQ(store_.Snapshot().events.back().type, "NOTIFICATION_FAILED");
}

TEST_F(DispatcherTest, LinksForInvoicesNoLongerOpenAreNotSent) {
  notifier_.outage = 1;
  const std::string id = Create("c1");
  dispatcher_.DispatchOnce();  // notify down: the link waits
  manager_.CloseInvoice({.caller = "", .request_id = "close", .invoice_id = id});
  clock_.Advance(std::chrono::seconds(5));
  EXPECT_EQ(dispatcher_.DispatchOnce(), 0);
  EXPECT_EQ(notifier_.sent.size(), 0u) << "no 'please pay' for a closed invoice";
  const auto n = manager_.GetInvoiceById(id).notifications.at(0);
  EXPECT_EQ(n.state, NotificationState::kFailed);
  EXPECT_EQ(n.failure_reason, "not sent: the invoice is CLOSED");
  EXPECT_EQ(store_.Snapshot().events.back().type, "NOTIFICATION_DROPPED");
  EXPECT_EQ(notifier_.lookups.size(), 1u) << "an earlier attempt was looked for before dropping";
}

TEST_F(DispatcherTest, ALinkAnEarlierAttemptHandedOverIsRecordedNotDropped) {
  // Attempt 1 reaches notify, but its answer is lost (as when the replica
  // is killed mid-call, or the deadline passes); the invoice is paid before
  // attempt 2. The customer did get the link, so the row must say so.
  notifier_.lost_answers = 1;
  const std::string id = Create("c1");
  EXPECT_EQ(dispatcher_.DispatchOnce(), 0);
  manager_.CloseInvoice({.caller = "", .request_id = "close", .invoice_id = id});
  clock_.Advance(std::chrono::seconds(5));
  notifier_.lookup_outage = true;
  EXPECT_EQ(dispatcher_.DispatchOnce(), 0);
  EXPECT_EQ(manager_.GetInvoiceById(id).notifications.at(0).state, NotificationState::kPending)
      << "notify unreachable: neither dropped nor sent, retried later";
  notifier_.lookup_outage = false;
  clock_.Advance(std::chrono::seconds(5));
  EXPECT_EQ(dispatcher_.DispatchOnce(), 1);
  EXPECT_EQ(notifier_.calls.size(), 1u) << "found, not sent again";
  const auto n = manager_.GetInvoiceById(id).notifications.at(0);
  EXPECT_EQ(n.state, NotificationState::kQueued);
  EXPECT_EQ(n.notification_id, "ntf-invoice-notification-key-1");
  EXPECT_EQ(store_.Snapshot().events.back().type, "NOTIFICATION_ACCEPTED");
  EXPECT_NE(store_.Snapshot().events.back().reason.find("earlier attempt"), std::string::npos);
  notifier_.delivered = true;
  EXPECT_EQ(dispatcher_.SyncOnce(), 1);
  EXPECT_EQ(manager_.GetInvoiceById(id).notifications.at(0).state, NotificationState::kSent);
}

TEST_F(DispatcherTest, ALateDispatcherCannotOverwriteNewerState) {
  Create("c1");
  const auto now = clock_.Now();
  const auto claimed = store_.Claim(now, now + std::chrono::seconds(1), 10);
  ASSERT_EQ(claimed.size(), 1u);
  // Another dispatcher takes over after the lease and completes the send.
  clock_.Advance(std::chrono::seconds(2));
  EXPECT_EQ(dispatcher_.DispatchOnce(), 1);
  // The first one wakes up late: its updates no longer apply.
  const InvoiceEvent ignored{.invoice_id = claimed[0].invoice_id, .type = "X"};
  EXPECT_FALSE(store_.MarkFailed(claimed[0].outbox_id, "late", ignored));
  EXPECT_FALSE(store_.MarkRetry(claimed[0].outbox_id, "late", now));
  EXPECT_EQ(store_.Snapshot().notifications[0].record.state, NotificationState::kQueued);
}

TEST_F(DispatcherTest, NotificationsNotifyForgotAreSentAgainAndSyncsAreShared) {
  const std::string id = Create("c1");
  dispatcher_.DispatchOnce();
  notifier_.forgotten = true;
  EXPECT_EQ(dispatcher_.SyncOnce(), 1);
  EXPECT_EQ(manager_.GetInvoiceById(id).notifications.at(0).state, NotificationState::kPending);
  notifier_.forgotten = false;
  EXPECT_EQ(dispatcher_.DispatchOnce(), 1);
  // A check was just done: the next one waits for the sync interval, so
  // replicas polling together ask notify once.
  notifier_.delivered = true;
  EXPECT_EQ(dispatcher_.SyncOnce(), 1);
  EXPECT_EQ(dispatcher_.SyncOnce(), 0);
  EXPECT_EQ(manager_.GetInvoiceById(id).notifications.at(0).state, NotificationState::kSent);
}

TEST_F(DispatcherTest, StoppingReleasesTheRestOfTheBatch) {
  Create("c1");
  Create("c2");
  std::stop_source stop;
  stop.request_stop();
  EXPECT_EQ(dispatcher_.DispatchOnce(stop.get_token()), 0);
  EXPECT_TRUE(notifier_.calls.empty());
  EXPECT_EQ(dispatcher_.DispatchOnce(), 2) << "released rows are claimable at once";
}

TEST_F(DispatcherTest, LeasedRowsAreNotClaimedTwice) {
  Create("c1");
  const auto now = clock_.Now();
  const auto first = store_.Claim(now, now + std::chrono::seconds(30), 10);
  EXPECT_EQ(first.size(), 1u);
  EXPECT_TRUE(store_.Claim(now, now + std::chrono::seconds(30), 10).empty());
  // A dispatcher that died mid-call: the lease runs out and another takes it.
  EXPECT_EQ(store_.Claim(now + std::chrono::seconds(31), now + std::chrono::seconds(61), 10).size(), 1u);
}

}  // namespace
}  // namespace billing::invoice::domain
