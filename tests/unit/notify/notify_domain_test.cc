#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include "clients/phone_normalizer.h"
#include "clients/template_renderer.h"
#include "domain/dispatcher.h"
#include "domain/notification_service.h"
#include "errors/error.h"
#include "unit/error_of.h"
#include "unit/notify/fake_notification_store.h"

namespace billing::notify::domain {
namespace {

using errors::Reason;
using billing::testing::ErrorOf;

SendCommand Link(const std::string& request_id) {
  SendCommand c;
  c.request_id = request_id;
  c.kind = Kind::kInvoiceLink;
  c.channel = Channel::kEmail;
  c.email = "Ann@Example.COM";
  c.recipient_name = "Ann";
  c.invoice_id = "inv-1";
  c.pay_url = "https://pay.example.com/i/TOKEN";
  c.amount = Money{10000, "USD"};
  c.business_name = "Sunset Kayaks";
  c.booking = {"bk-1", "Sunset <b>kayak</b> & tour", "2026-12-01", "17:00", "19:30", "2026-12-01", "K7Q2"};
  return c;
}

class ScriptedTransport final : public Transport {
 public:
  SendResult Send(const OutgoingMessage& m) override {
    sent.push_back(m);
    if (!script.empty()) {
      auto r = script.front();
      script.erase(script.begin());
      return r;
    }
    return {AttemptOutcome::kAccepted, "id-" + std::to_string(sent.size()), ""};
  }
  std::vector<SendResult> script;
  std::vector<OutgoingMessage> sent;
};

class NotifyDomainTest : public ::testing::Test {
 protected:
  NotifyDomainTest()
      : renderer_(BILLING_NOTIFY_TEMPLATE_DIR),
        phones_("US"),
        clock_(clock::FromUnixMicros(1'800'000'000'000'000)),
        service_(store_, renderer_, phones_, clock_, ids_),
        dispatcher_(store_, email_, sms_, clock_, ids_,
                    {.max_attempts = 3, .first_backoff = std::chrono::seconds(1),
                                                   .max_backoff = std::chrono::seconds(4)}) {}

  testing::FakeNotificationStore store_;
  clients::TemplateRenderer renderer_;
  clients::LibPhoneNumberNormalizer phones_;
  clock::FakeClock clock_;
  ids::RandomIdGenerator ids_;
  NotificationService service_;
  ScriptedTransport email_;
  ScriptedTransport sms_;
  Dispatcher dispatcher_;
};

TEST_F(NotifyDomainTest, RendersEmailWithEscapingOnlyInHtml) {
  const auto n = service_.Send(Link("r1"));
  EXPECT_EQ(n.status, Status::kQueued);
  EXPECT_EQ(n.recipient, "Ann@example.com") << "domain lower-cased, mailbox kept";
  EXPECT_EQ(n.content.subject, "Sunset Kayaks: your invoice for USD 100.00 (Sunset <b>kayak</b> & tour)");
  EXPECT_NE(n.content.text.find("https://pay.example.com/i/TOKEN"), std::string::npos);
  EXPECT_NE(n.content.text.find("Sunset <b>kayak</b> & tour"), std::string::npos) << "text is not HTML";
  EXPECT_NE(n.content.html.find("href=\"https://pay.example.com/i/TOKEN\""), std::string::npos);
  EXPECT_NE(n.content.html.find("Sunset &lt;b&gt;kayak&lt;/b&gt; &amp; tour"), std::string::npos) << n.content.html;
  EXPECT_EQ(n.content.html.find("<b>kayak"), std::string::npos);
  EXPECT_NE(n.content.text.find("Hi Ann,"), std::string::npos);
  EXPECT_NE(n.content.text.find("2026-12-01 17:00-19:30"), std::string::npos);
}

TEST_F(NotifyDomainTest, SmsIsNormalizedAndFitsOneSegmentWhenItCan) {
  auto cmd = Link("r1");
  cmd.channel = Channel::kSms;
  cmd.phone = "(415) 555-0123";
  auto n = service_.Send(cmd);
  EXPECT_EQ(n.recipient, "+14155550123");
  EXPECT_EQ(n.content.sms_segments, 1) << n.content.text;
  EXPECT_NE(n.content.text.find("https://pay.example.com/i/TOKEN"), std::string::npos);
  // A long activity name: the short template keeps it to one segment.
  cmd = Link("r2");
  cmd.channel = Channel::kSms;
  cmd.phone = "+44 7911 123456";  // a UK mobile
  cmd.booking.activity_name = std::string(120, 'A');
  n = service_.Send(cmd);
  EXPECT_EQ(n.content.sms_segments, 1) << n.content.text;
  EXPECT_EQ(n.content.text, "Sunset Kayaks: USD 100.00 due. Pay: https://pay.example.com/i/TOKEN");
}

TEST_F(NotifyDomainTest, AReceiptSaysFullyPaidOnlyWhenTheBalanceIsKnownToBeZero) {
  auto receipt = [&](const std::string& id, std::optional<Money> balance) {
    auto cmd = Link(id);
    cmd.kind = Kind::kReceipt;
    cmd.pay_url.clear();
    cmd.balance_remaining = balance;
    return service_.Send(cmd).content;
  };
  const auto unknown = receipt("r1", std::nullopt);
  EXPECT_EQ(unknown.text.find("fully paid"), std::string::npos) << unknown.text;
  EXPECT_EQ(unknown.text.find("Still to pay"), std::string::npos);
  const auto paid = receipt("r2", Money{0, "USD"});
  EXPECT_NE(paid.text.find("fully paid"), std::string::npos) << paid.text;
  EXPECT_NE(paid.html.find("fully paid"), std::string::npos);
  const auto partial = receipt("r3", Money{2500, "USD"});
  EXPECT_NE(partial.text.find("Still to pay: USD 25.00"), std::string::npos) << partial.text;
  EXPECT_EQ(partial.text.find("fully paid"), std::string::npos);
}

TEST_F(NotifyDomainTest, RecipientsAreValidatedNamingTheField) {
  auto cmd = Link("r1");
  cmd.email = "ann@";
  EXPECT_EQ(ErrorOf([&] { service_.Send(cmd); }).second, "recipient.email");
  cmd = Link("r2");
  cmd.channel = Channel::kSms;
  cmd.phone = "12345";
  EXPECT_EQ(ErrorOf([&] { service_.Send(cmd); }).second, "recipient.phone");
  cmd.phone = "";
  EXPECT_EQ(ErrorOf([&] { service_.Send(cmd); }).second, "recipient.phone");
  cmd.phone = "+44 20 7183 8750";  // a London landline cannot take an SMS
  EXPECT_EQ(ErrorOf([&] { service_.Send(cmd); }).second, "recipient.phone");
  EXPECT_TRUE(phones_.CanReceiveSms("+447911123456"));
  EXPECT_FALSE(phones_.CanReceiveSms("+442071838750"));
  EXPECT_TRUE(phones_.CanReceiveSms("+14155550123")) << "North America: fixed line or mobile";
  EXPECT_EQ(phones_.ToE164("+1 415-555-0123"), "+14155550123");
  EXPECT_EQ(phones_.ToE164("020 7183 8750"), std::nullopt) << "a UK number needs +44 when the region is US";
  EXPECT_EQ(clients::LibPhoneNumberNormalizer("GB").ToE164("020 7183 8750"), "+442071838750");
}

TEST_F(NotifyDomainTest, SameRequestIdReturnsTheFirstNotification) {
  const auto first = service_.Send(Link("same"));
  const auto again = service_.Send(Link("same"));
  EXPECT_EQ(first.notification_id, again.notification_id);
  auto other = Link("same");
  other.amount = Money{1, "USD"};
  EXPECT_EQ(ErrorOf([&] { service_.Send(other); }).first, Reason::kIdempotencyKeyReused);
  EXPECT_EQ(store_.QueueDepth(), 1);
}

TEST_F(NotifyDomainTest, DispatcherSendsRetriesAndGivesUp) {
  const auto ok = service_.Send(Link("ok"));
  ASSERT_TRUE(dispatcher_.DeliverOne());
  std::vector<DeliveryAttempt> attempts;
  auto n = service_.Get(ok.notification_id, &attempts);
  EXPECT_EQ(n.status, Status::kSent);
  EXPECT_EQ(n.provider_message_id, "id-1");
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].outcome, AttemptOutcome::kAccepted);

  // Transient failures back off, then give up after max_attempts.
  const auto flaky = service_.Send(Link("flaky"));
  email_.script = {{AttemptOutcome::kTransientFailure, "", "451 try later"},
                   {AttemptOutcome::kTransientFailure, "", "451 try later"},
                   {AttemptOutcome::kTransientFailure, "", "451 try later"}};
  ASSERT_TRUE(dispatcher_.DeliverOne());
  EXPECT_FALSE(dispatcher_.DeliverOne()) << "not due yet";
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(dispatcher_.DeliverOne());
  clock_.Advance(std::chrono::seconds(2));
  const auto last = dispatcher_.DeliverOne();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->status, Status::kFailed);
  n = service_.Get(flaky.notification_id, &attempts);
  EXPECT_EQ(n.status, Status::kFailed);
  EXPECT_EQ(attempts.size(), 3u);
  EXPECT_NE(n.failure_reason.find("gave up after 3 attempts"), std::string::npos);

  // A permanent failure ends at once.
  const auto refused = service_.Send(Link("refused"));
  email_.script = {{AttemptOutcome::kPermanentFailure, "", "550 no such mailbox"}};
  ASSERT_TRUE(dispatcher_.DeliverOne());
  n = service_.Get(refused.notification_id, &attempts);
  EXPECT_EQ(n.status, Status::kFailed);
  EXPECT_EQ(attempts.size(), 1u);
  EXPECT_EQ(n.failure_reason, "550 no such mailbox");
  // Doubling up to the cap, minus at most 25% jitter that differs per message.
  EXPECT_LE(dispatcher_.Backoff(10, "a"), std::chrono::seconds(4));
  EXPECT_GE(dispatcher_.Backoff(10, "a"), std::chrono::seconds(3));
  EXPECT_GE(dispatcher_.Backoff(1, "a"), std::chrono::milliseconds(750));
  EXPECT_EQ(dispatcher_.Backoff(2, "a"), dispatcher_.Backoff(2, "a")) << "deterministic";
  std::set<int64_t> spread;
  for (int i = 0; i < 20; ++i) spread.insert(dispatcher_.Backoff(3, "n" + std::to_string(i)).count());
  EXPECT_GT(spread.size(), 10u) << "messages that failed together retry apart";
}

class ThrowingTransport final : public Transport {
 public:
  SendResult Send(const OutgoingMessage&) override {
    ++calls;
    throw std::runtime_error("type_error: sid is not a string");
  }
  int calls = 0;
};

TEST_F(NotifyDomainTest, ATransportThatThrowsIsARecordedTransientFailureNotALoop) {
  ThrowingTransport broken;
  Dispatcher d(store_, broken, broken, clock_, ids_, {.max_attempts = 2, .first_backoff = std::chrono::seconds(1)});
  const auto n = service_.Send(Link("r1"));
  const auto first = d.DeliverOne();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, Status::kQueued);
  EXPECT_EQ(first->outcome, AttemptOutcome::kTransientFailure);
  EXPECT_FALSE(d.DeliverOne()) << "backing off, not resending at once";
  clock_.Advance(std::chrono::seconds(2));
  ASSERT_TRUE(d.DeliverOne());
  std::vector<DeliveryAttempt> attempts;
  const auto got = service_.Get(n.notification_id, &attempts);
  EXPECT_EQ(got.status, Status::kFailed);
  EXPECT_EQ(broken.calls, 2);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_NE(attempts[0].error.find("transport error: type_error"), std::string::npos) << attempts[0].error;
}

TEST_F(NotifyDomainTest, AnOutcomeIsKeptAndRecordedOnceTheDatabaseIsBack) {
  // The relay took the message, then the database went away: the outcome
  // is retried until it is recorded, and the message is not sent again.
  std::vector<std::chrono::milliseconds> waits;
  Dispatcher d(store_, email_, sms_, clock_, ids_,
               {.lease = std::chrono::seconds(40), .sleep = [&](std::chrono::milliseconds w) {
                  waits.push_back(w);
                  clock_.Advance(w);
                }});
  const auto n = service_.Send(Link("r1"));
  store_.record_outages = 5;
  const auto report = d.DeliverOne();
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->claim_lost);
  EXPECT_EQ(waits.size(), 5u);
  EXPECT_EQ(waits.front(), std::chrono::milliseconds(50));
  EXPECT_EQ(waits.back(), std::chrono::milliseconds(800)) << "doubling";
  EXPECT_EQ(service_.Get(n.notification_id, nullptr).status, Status::kSent);
  clock_.Advance(std::chrono::minutes(5));
  EXPECT_FALSE(d.DeliverOne());
  EXPECT_EQ(email_.sent.size(), 1u);
}

TEST_F(NotifyDomainTest, AnOutageLongerThanTheLeaseGivesUpBeforeTheLeaseEnds) {
  // Past the lease another dispatcher may take the message over, so the
  // record is abandoned in time; the message then goes out again (the
  // documented at-least-once window).
  const auto claimed_at = clock_.Now();
  Dispatcher d(store_, email_, sms_, clock_, ids_,
               {.lease = std::chrono::seconds(10), .sleep = [&](std::chrono::milliseconds w) { clock_.Advance(w); }});
  service_.Send(Link("r1"));
  store_.record_outages = 1000;
  EXPECT_EQ(ErrorOf([&] { d.DeliverOne(); }).first, Reason::kDatabaseUnavailable);
  EXPECT_LT(clock_.Now(), claimed_at + std::chrono::seconds(9)) << "gave up a second before the lease ends";
  EXPECT_GT(clock_.Now(), claimed_at + std::chrono::seconds(6)) << "but kept trying until then";
  store_.record_outages = 0;
  clock_.Advance(std::chrono::seconds(10));
  ASSERT_TRUE(d.DeliverOne());
  EXPECT_EQ(email_.sent.size(), 2u);
}

TEST_F(NotifyDomainTest, ProviderTextIsStoredAsCleanUtf8) {
  // A NUL, a stray byte, CR LF and an encoded surrogate (well-formed to a
  // naive decoder, refused by PostgreSQL).
  email_.script = {{AttemptOutcome::kPermanentFailure, "", std::string("550 bad\0\xff\r\nBcc: x \xED\xA0\x80", 21)}};
  const auto n = service_.Send(Link("r1"));
  ASSERT_TRUE(dispatcher_.DeliverOne());
  const auto got = service_.Get(n.notification_id, nullptr);
  EXPECT_EQ(got.failure_reason, "550 bad \uFFFD  Bcc: x \uFFFD\uFFFD\uFFFD");
}

TEST_F(NotifyDomainTest, AClaimWhoseDispatcherVanishedIsTakenOverAfterItsLease) {
  const auto n = service_.Send(Link("r1"));
  // A dispatcher claims the message and dies before recording anything.
  ASSERT_TRUE(store_.Claim(clock_.Now(), clock_.Now() + std::chrono::seconds(60), "dead-token"));
  EXPECT_FALSE(dispatcher_.DeliverOne()) << "the lease keeps others off";
  clock_.Advance(std::chrono::seconds(61));
  const auto report = dispatcher_.DeliverOne();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->attempt_number, 2) << "the vanished attempt counts";
  EXPECT_EQ(report->status, Status::kSent);
  EXPECT_FALSE(report->claim_lost);

  // The first dispatcher comes back after all: its outcome is kept as an
  // attempt, but it no longer owns the message.
  DeliveryOutcome late;
  late.attempt = {1, AttemptOutcome::kAccepted, "", "late-id", clock_.Now(), 5};
  late.status = Status::kSent;
  EXPECT_FALSE(store_.Record(n.notification_id, "dead-token", late));
  std::vector<DeliveryAttempt> attempts;
  const auto got = service_.Get(n.notification_id, &attempts);
  EXPECT_EQ(got.provider_message_id, "id-1");
  EXPECT_EQ(attempts.size(), 2u);
}

TEST_F(NotifyDomainTest, ClaimsThatUsedUpTheLimitEndFailedWithoutSending) {
  const auto n = service_.Send(Link("r1"));
  for (int i = 0; i < 3; ++i) {  // max_attempts claims, each by a dispatcher that died
    ASSERT_TRUE(store_.Claim(clock_.Now(), clock_.Now() + std::chrono::seconds(60), "dead-" + std::to_string(i)));
    clock_.Advance(std::chrono::seconds(61));
  }
  const auto report = dispatcher_.DeliverOne();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->gave_up_unsent);
  EXPECT_EQ(report->status, Status::kFailed);
  EXPECT_TRUE(email_.sent.empty());
  EXPECT_NE(service_.Get(n.notification_id, nullptr).failure_reason.find("not sent"), std::string::npos);
}

TEST_F(NotifyDomainTest, ListsByInvoiceBookingAndRecipientWithPages) {
  for (int i = 0; i < 3; ++i) {
    service_.Send(Link("l" + std::to_string(i)));
    clock_.Advance(std::chrono::seconds(1));
  }
  auto page = service_.List({.invoice_id = "inv-1", .booking_id = "", .recipient = "", .status = std::nullopt}, 2, "");
  ASSERT_EQ(page.notifications.size(), 2u);
  page = service_.List({.invoice_id = "inv-1", .booking_id = "", .recipient = "", .status = std::nullopt}, 2,
                       page.next_page_token);
  EXPECT_EQ(page.notifications.size(), 1u);
  EXPECT_TRUE(page.next_page_token.empty());
  EXPECT_EQ(service_.List({.invoice_id = "", .booking_id = "bk-1", .recipient = "", .status = Status::kSent}, 10, "")
                .notifications.size(),
            0u);
  EXPECT_EQ(ErrorOf([&] { service_.List({.invoice_id = "x"}, 2, "n1.bogus"); }).second, "page_token");
}

}  // namespace
}  // namespace billing::notify::domain
