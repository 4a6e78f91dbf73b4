// The notify binary against real delivery servers: aiosmtpd for email
// (plain, and STARTTLS with AUTH), a local Twilio-compatible API for SMS.
// Covers what the customer receives, retries through outages, permanent
// rejections, exactly-once delivery with two replicas, and that no
// credential reaches a log or an API answer.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "e2e/notify_env.h"
#include "support/grpc_helpers.h"
#include "support/http_client.h"
#include "support/postgres.h"
#include "support/process.h"
#include "support/sms_endpoint.h"
#include "support/smtp_sink.h"

namespace billing::testing {
namespace {

namespace v1 = billing::notify::v1;
using billing::common::v1::CHANNEL_EMAIL;
using billing::common::v1::CHANNEL_SMS;

constexpr char kSmsToken[] = "sms-token-Secret-7c1f";

v1::SendInvoiceLinkRequest EmailLink(const std::string& request_id, const std::string& email) {
  v1::SendInvoiceLinkRequest req;
  req.set_request_id(request_id);
  req.mutable_recipient()->set_channel(CHANNEL_EMAIL);
  req.mutable_recipient()->set_email(email);
  req.mutable_recipient()->set_name("Zoë Ångström");
  req.set_invoice_id("inv-" + request_id);
  req.set_pay_url("https://pay.example.com/i/tok-" + request_id);
  req.mutable_amount_due()->set_amount_minor(12550);
  req.mutable_amount_due()->set_currency_code("EUR");
  req.set_business_name("Café Kajak");
  auto* b = req.mutable_booking();
  b->set_booking_id("bk-1");
  b->set_activity_name("Sunset paddle — 2 h");
  b->set_date("2026-12-01");
  b->set_start("17:00");
  b->set_end("19:00");
  b->set_confirmation_code("K7Q2");
  return req;
}

v1::SendInvoiceLinkRequest SmsLink(const std::string& request_id, const std::string& phone) {
  auto req = EmailLink(request_id, "");
  req.mutable_recipient()->set_channel(CHANNEL_SMS);
  req.mutable_recipient()->clear_email();
  req.mutable_recipient()->set_phone(phone);
  return req;
}

v1::Notification Send(v1::NotifyService::Stub& stub, const v1::SendInvoiceLinkRequest& req) {
  grpc::ClientContext ctx;
  v1::SendInvoiceLinkResponse resp;
  const auto status = stub.SendInvoiceLink(&ctx, req, &resp);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return resp.notification();
}

class NotifyDeliveryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new TestDatabase("notifye2e");
    smtp_ = new SmtpSink();
    sms_ = new SmsEndpoint("AC0123456789", kSmsToken);
    svc_ = new ServiceProcess({.binary = NotifyBinary(), .env = NotifyEnv(db_->url(), smtp_->url(), sms_->base_url())});
  }
  static void TearDownTestSuite() {
    // The shared process's whole log, after every test ran through it.
    const std::string logs = svc_->Logs();
    EXPECT_EQ(logs.find(kSmsToken), std::string::npos) << "the SMS auth token reached the log";
    delete svc_;
    delete sms_;
    delete smtp_;
    delete db_;
  }

  std::unique_ptr<v1::NotifyService::Stub> stub_ = v1::NotifyService::NewStub(svc_->Channel());

  static TestDatabase* db_;
  static SmtpSink* smtp_;
  static SmsEndpoint* sms_;
  static ServiceProcess* svc_;
};
TestDatabase* NotifyDeliveryTest::db_ = nullptr;
SmtpSink* NotifyDeliveryTest::smtp_ = nullptr;
SmsEndpoint* NotifyDeliveryTest::sms_ = nullptr;
ServiceProcess* NotifyDeliveryTest::svc_ = nullptr;

TEST_F(NotifyDeliveryTest, EmailArrivesAsAMailClientShowsIt) {
  const std::size_t before = smtp_->Messages().size();
  const auto queued = Send(*stub_, EmailLink("mail-1", "zoe@Example.COM"));
  EXPECT_EQ(queued.status(), v1::NOTIFICATION_STATUS_QUEUED);
  EXPECT_EQ(queued.recipient(), "zoe@example.com");
  const auto sent = WaitForNotification(*stub_, queued.notification_id(), v1::NOTIFICATION_STATUS_SENT);
  ASSERT_EQ(sent.status(), v1::NOTIFICATION_STATUS_SENT) << svc_->Logs();
  ASSERT_EQ(sent.attempts_size(), 1);
  EXPECT_EQ(sent.attempts(0).outcome(), v1::ATTEMPT_OUTCOME_ACCEPTED);
  EXPECT_TRUE(sent.has_sent_time());

  ASSERT_TRUE(smtp_->WaitFor(before + 1, std::chrono::seconds(5)));
  const auto mail = smtp_->Messages()[before];
  EXPECT_EQ(mail.envelope["mail_from"], "billing@sunsetkayaks.example");
  EXPECT_EQ(mail.envelope["rcpt_tos"], nlohmann::json::array({"zoe@example.com"}));

  const auto parsed = ParseMail(mail.eml_path);
  EXPECT_EQ(parsed["to_name"], "Zoë Ångström");
  EXPECT_EQ(parsed["to_address"], "zoe@example.com");
  EXPECT_EQ(parsed["from_name"], "Café Kajak");
  const std::string subject = parsed["headers"]["Subject"];
  EXPECT_NE(subject.find("Café Kajak"), std::string::npos) << subject;
  EXPECT_NE(subject.find("EUR 125.50"), std::string::npos) << subject;
  EXPECT_EQ(parsed["headers"]["Message-ID"], sent.provider_message_id());
  EXPECT_EQ(parsed["content_type"], "multipart/alternative");
  std::string raw_subject = parsed["raw_headers"]["Subject"];
  for (char& c : raw_subject) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_NE(raw_subject.find("=?utf-8?"), std::string::npos) << "non-ASCII headers are RFC 2047 encoded: " << raw_subject;

  const auto& text = parsed["parts"]["text/plain"];
  const auto& html = parsed["parts"]["text/html"];
  EXPECT_EQ(text["charset"], "utf-8");
  EXPECT_EQ(html["charset"], "utf-8");
  const std::string text_body = text["content"];
  const std::string html_body = html["content"];
  EXPECT_NE(text_body.find("https://pay.example.com/i/tok-mail-1"), std::string::npos) << text_body;
  EXPECT_NE(text_body.find("Sunset paddle — 2 h"), std::string::npos) << text_body;
  EXPECT_NE(text_body.find("K7Q2"), std::string::npos);
  EXPECT_NE(html_body.find("href=\"https://pay.example.com/i/tok-mail-1\""), std::string::npos) << html_body;
  EXPECT_NE(html_body.find("Zoë Ångström"), std::string::npos);
}

TEST_F(NotifyDeliveryTest, SmsGoesThroughTheTwilioCompatibleApiInE164) {
  const std::size_t before = sms_->Messages().size();
  const auto queued = Send(*stub_, SmsLink("sms-1", "(415) 555-0123"));
  EXPECT_EQ(queued.recipient(), "+14155550123");
  EXPECT_EQ(queued.sms_segments(), 1);
  const auto sent = WaitForNotification(*stub_, queued.notification_id(), v1::NOTIFICATION_STATUS_SENT);
  ASSERT_EQ(sent.status(), v1::NOTIFICATION_STATUS_SENT) << svc_->Logs();
  ASSERT_TRUE(sms_->WaitFor(before + 1, std::chrono::seconds(5)));
  const auto sms = sms_->Messages()[before];
  EXPECT_EQ(sms.to, "+14155550123");
  EXPECT_EQ(sms.from, "+15005550006");
  EXPECT_NE(sms.body.find("https://pay.example.com/i/tok-sms-1"), std::string::npos) << sms.body;
  EXPECT_NE(sms.body.find("Café Kajak"), std::string::npos) << sms.body;
  EXPECT_EQ(sent.provider_message_id(), sms.sid);
}

TEST_F(NotifyDeliveryTest, AnSmsTheApiRejectsFailsAtOnce) {
  sms_->RejectNumber("+14155550199");
  const int before = sms_->requests();
  const auto queued = Send(*stub_, SmsLink("sms-bad", "+1 415 555 0199"));
  const auto done = WaitForNotification(*stub_, queued.notification_id(), v1::NOTIFICATION_STATUS_UNSPECIFIED);
  ASSERT_EQ(done.status(), v1::NOTIFICATION_STATUS_FAILED);
  ASSERT_EQ(done.attempts_size(), 1) << "a 400 is not retried";
  EXPECT_EQ(done.attempts(0).outcome(), v1::ATTEMPT_OUTCOME_PERMANENT_FAILURE);
  EXPECT_NE(done.failure_reason().find("21211"), std::string::npos) << done.failure_reason();
  EXPECT_EQ(done.failure_reason().find(kSmsToken), std::string::npos);
  EXPECT_EQ(sms_->requests(), before + 1);
}

// A provider's text is stored with the attempt. Were a NUL in a sid refused
// by the database, the send could not be recorded and the customer would be
// texted again when the lease ran out.
TEST_F(NotifyDeliveryTest, AProvidersHostileTextIsStoredAndTheSmsIsSentOnce) {
  sms_->SetHostileText(true);
  struct Restore {
    ~Restore() { sms_->SetHostileText(false); }
  } restore;
  sms_->RejectNumber("+14155550198");
  const int before = sms_->requests();
  const std::size_t accepted_before = sms_->Messages().size();
  const auto queued = Send(*stub_, SmsLink("sms-hostile", "+14155550124"));
  const auto refused = Send(*stub_, SmsLink("sms-hostile-bad", "+14155550198"));

  const auto sent = WaitForNotification(*stub_, queued.notification_id(), v1::NOTIFICATION_STATUS_SENT);
  ASSERT_EQ(sent.status(), v1::NOTIFICATION_STATUS_SENT) << svc_->Logs();
  ASSERT_TRUE(sms_->WaitFor(accepted_before + 1, std::chrono::seconds(5)));
  const std::string sid = sms_->Messages()[accepted_before].sid;
  ASSERT_EQ(sid.substr(0, 3), std::string("SM\0", 3));
  EXPECT_EQ(sent.provider_message_id(), "SM " + sid.substr(3));

  const auto failed = WaitForNotification(*stub_, refused.notification_id(), v1::NOTIFICATION_STATUS_UNSPECIFIED);
  ASSERT_EQ(failed.status(), v1::NOTIFICATION_STATUS_FAILED) << svc_->Logs();
  ASSERT_EQ(failed.attempts_size(), 1);
  const std::string& reason = failed.failure_reason();
  EXPECT_NE(reason.find("21211: The 'To' number  is not valid.  東東"), std::string::npos) << reason;
  EXPECT_LE(reason.size(), 1000u);

  // Past several poll intervals and retry periods: nothing went out twice.
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(sms_->requests(), before + 2);
  EXPECT_EQ(sms_->Messages().size(), accepted_before + 1);
}

TEST_F(NotifyDeliveryTest, A550RejectionFailsAfterOneAttempt) {
  const auto queued = Send(*stub_, EmailLink("mail-550", "reject.me@example.com"));
  const auto done = WaitForNotification(*stub_, queued.notification_id(), v1::NOTIFICATION_STATUS_UNSPECIFIED);
  ASSERT_EQ(done.status(), v1::NOTIFICATION_STATUS_FAILED) << svc_->Logs();
  ASSERT_EQ(done.attempts_size(), 1);
  EXPECT_EQ(done.attempts(0).outcome(), v1::ATTEMPT_OUTCOME_PERMANENT_FAILURE);
  EXPECT_NE(done.failure_reason().find("RCPT -> 550"), std::string::npos) << done.failure_reason();
}

// A relay that refuses our sender would refuse every message: that is our
// configuration, so it is retried (and alerts), not a permanent failure.
TEST(NotifySmtpConfigTest, ARefusedSenderIsRetriedNotFailedAtOnce) {
  TestDatabase db("notifysender");
  SmtpSink sink;
  ServiceProcess svc({.binary = NotifyBinary(),
                      .env = NotifyEnv(db.url(), sink.url(), "", {{"EMAIL_FROM_ADDRESS", "rejectsender@example.com"}})});
  auto stub = v1::NotifyService::NewStub(svc.Channel());
  const auto queued = Send(*stub, EmailLink("sender-1", "ann@example.com"));
  const auto done = WaitForNotification(*stub, queued.notification_id(), v1::NOTIFICATION_STATUS_UNSPECIFIED);
  ASSERT_EQ(done.status(), v1::NOTIFICATION_STATUS_FAILED);
  ASSERT_EQ(done.attempts_size(), 3);
  for (const auto& a : done.attempts()) {
    EXPECT_EQ(a.outcome(), v1::ATTEMPT_OUTCOME_TRANSIENT_FAILURE);
    EXPECT_NE(a.error().find("MAIL -> 550"), std::string::npos) << a.error();
  }
}

TEST_F(NotifyDeliveryTest, A451ForeverIsRetriedThenFailed) {
  const auto queued = Send(*stub_, EmailLink("mail-451", "tempfail@example.com"));
  const auto done = WaitForNotification(*stub_, queued.notification_id(), v1::NOTIFICATION_STATUS_UNSPECIFIED);
  ASSERT_EQ(done.status(), v1::NOTIFICATION_STATUS_FAILED) << svc_->Logs();
  ASSERT_EQ(done.attempts_size(), 3) << "DELIVERY_MAX_ATTEMPTS";
  for (const auto& a : done.attempts()) {
    EXPECT_EQ(a.outcome(), v1::ATTEMPT_OUTCOME_TRANSIENT_FAILURE);
    EXPECT_NE(a.error().find("451"), std::string::npos) << a.error();
  }
  // The retries waited their backoff (100 ms, then 200 ms, each less up to
  // 25% of jitter).
  const auto t0 = done.attempts(0).start_time();
  const auto t2 = done.attempts(2).start_time();
  const int64_t gap_ms = (t2.seconds() - t0.seconds()) * 1000 + (t2.nanos() - t0.nanos()) / 1000000;
  EXPECT_GE(gap_ms, 225);
  EXPECT_NE(done.failure_reason().find("gave up after 3 attempts"), std::string::npos) << done.failure_reason();
}

TEST_F(NotifyDeliveryTest, TwentyConcurrentRetriesOfOneRequestSendOneSms) {
  const std::size_t before = sms_->Messages().size();
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&] {
      auto stub = v1::NotifyService::NewStub(svc_->Channel());
      const auto n = Send(*stub, SmsLink("same-request", "+14155550142"));
      std::lock_guard lock(mu);
      ids.insert(n.notification_id());
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(ids.size(), 1u);
  const auto sent = WaitForNotification(*stub_, *ids.begin(), v1::NOTIFICATION_STATUS_SENT);
  ASSERT_EQ(sent.status(), v1::NOTIFICATION_STATUS_SENT);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int count = 0;
  for (const auto& m : sms_->Messages()) count += m.body.find("tok-same-request") != std::string::npos ? 1 : 0;
  EXPECT_EQ(count, 1);
  EXPECT_EQ(sms_->Messages().size(), before + 1);
}

TEST_F(NotifyDeliveryTest, ACallerWhoseAnswerWasLostFindsItsNotificationByRequestId) {
  const auto n = Send(*stub_, SmsLink("lost-answer", "+14155550143"));
  grpc::ClientContext ctx;
  v1::GetNotificationRequest req;
  req.set_request_id("lost-answer");
  v1::GetNotificationResponse resp;
  const auto status = stub_->GetNotification(&ctx, req, &resp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resp.notification().notification_id(), n.notification_id());
  EXPECT_EQ(resp.notification().invoice_id(), "inv-lost-answer");
  // A request_id never sent is NOT_FOUND, naming the field.
  grpc::ClientContext ctx2;
  req.set_request_id("never-sent");
  const auto missing = stub_->GetNotification(&ctx2, req, &resp);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(missing.error_message().find("request_id"), std::string::npos) << missing.error_message();
}

TEST_F(NotifyDeliveryTest, MetricsCountOutcomesByChannel) {
  const auto queued = Send(*stub_, SmsLink("metrics-1", "+14155550143"));
  ASSERT_EQ(WaitForNotification(*stub_, queued.notification_id(), v1::NOTIFICATION_STATUS_SENT).status(),
            v1::NOTIFICATION_STATUS_SENT);
  const auto metrics =
      HttpRequest("GET", "http://127.0.0.1:" + std::to_string(svc_->metrics_port()) + "/metrics").body;
  EXPECT_NE(metrics.find("notifications_total{channel=\"SMS\",outcome=\"sent\"}"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("notify_queue_depth"), std::string::npos);
  EXPECT_NE(metrics.find("notify_delivery_seconds_bucket{channel=\"SMS\""), std::string::npos);
  EXPECT_EQ(metrics.find(kSmsToken), std::string::npos);
}

TEST(NotifySmsAuthTest, AWrongAuthTokenIsRetriedAndNeverLogged) {
  TestDatabase db("notifysmsauth");
  SmsEndpoint sms("AC0123456789", kSmsToken);
  ServiceProcess svc({.binary = NotifyBinary(),
                      .env = NotifyEnv(db.url(), "", sms.base_url(), {{"SMS_AUTH_TOKEN", "not-the-Token-31"}})});
  auto stub = v1::NotifyService::NewStub(svc.Channel());
  const auto queued = Send(*stub, SmsLink("auth-1", "+14155550100"));
  const auto done = WaitForNotification(*stub, queued.notification_id(), v1::NOTIFICATION_STATUS_UNSPECIFIED);
  ASSERT_EQ(done.status(), v1::NOTIFICATION_STATUS_FAILED);
  ASSERT_EQ(done.attempts_size(), 3) << "401 is a configuration problem: retried, not dropped at once";
  EXPECT_EQ(done.attempts(0).outcome(), v1::ATTEMPT_OUTCOME_TRANSIENT_FAILURE);
  EXPECT_NE(done.failure_reason().find("401"), std::string::npos) << done.failure_reason();
  EXPECT_EQ(sms.unauthorized(), 3);
  EXPECT_TRUE(sms.Messages().empty());
  const std::string logs = svc.Logs();
  EXPECT_EQ(logs.find("not-the-Token-31"), std::string::npos);
  EXPECT_NE(logs.find("delivery attempt failed; will retry"), std::string::npos);
  EXPECT_NE(logs.find("notification failed"), std::string::npos);
}

// STARTTLS with a certificate the service verifies, and SMTP AUTH.
TEST(NotifySmtpTlsTest, DeliversOverStartTlsWithAuthAndNeverLogsThePassword) {
  TestDatabase db("notifytls");
  SmtpSink sink({.auth = "mailer:smtp-Pass-word-93", .tls = true});
  ServiceProcess svc({.binary = NotifyBinary(),
                      .env = NotifyEnv(db.url(), sink.url(), "",
                                       {{"SMTP_STARTTLS", "required"},
                                        {"SMTP_CA_FILE", sink.ca_file()},
                                        {"SMTP_USERNAME", "mailer"},
                                        {"SMTP_PASSWORD", "smtp-Pass-word-93"},
                                        {"FILE_OUTBOX_DIR", MakeTempDir("notify-outbox")}})});
  auto stub = v1::NotifyService::NewStub(svc.Channel());
  const auto queued = Send(*stub, EmailLink("tls-1", "ann@example.com"));
  const auto sent = WaitForNotification(*stub, queued.notification_id(), v1::NOTIFICATION_STATUS_SENT);
  ASSERT_EQ(sent.status(), v1::NOTIFICATION_STATUS_SENT) << svc.Logs() << sink.Logs();
  ASSERT_TRUE(sink.WaitFor(1, std::chrono::seconds(5)));
  const auto mail = sink.Messages()[0];
  EXPECT_EQ(mail.envelope["tls"], true);
  EXPECT_EQ(mail.envelope["authenticated"], true);
  EXPECT_EQ(svc.Logs().find("smtp-Pass-word-93"), std::string::npos);
}

TEST(NotifySmtpTlsTest, AWrongPasswordIsRetriedNotDropped) {
  TestDatabase db("notifyauth");
  SmtpSink sink({.auth = "mailer:right-password", .tls = true});
  ServiceProcess svc({.binary = NotifyBinary(),
                      .env = NotifyEnv(db.url(), sink.url(), "",
                                       {{"SMTP_STARTTLS", "required"},
                                        {"SMTP_CA_FILE", sink.ca_file()},
                                        {"SMTP_USERNAME", "mailer"},
                                        {"SMTP_PASSWORD", "wrong-Password-55"},
                                        {"FILE_OUTBOX_DIR", MakeTempDir("notify-outbox")}})});
  auto stub = v1::NotifyService::NewStub(svc.Channel());
  const auto queued = Send(*stub, EmailLink("auth-1", "ann@example.com"));
  const auto done = WaitForNotification(*stub, queued.notification_id(), v1::NOTIFICATION_STATUS_UNSPECIFIED);
  ASSERT_EQ(done.status(), v1::NOTIFICATION_STATUS_FAILED);
  ASSERT_EQ(done.attempts_size(), 3) << "a credentials problem is retried (it gets fixed), not dropped at once";
  EXPECT_EQ(done.attempts(0).outcome(), v1::ATTEMPT_OUTCOME_TRANSIENT_FAILURE);
  EXPECT_EQ(done.failure_reason().find("wrong-Password-55"), std::string::npos);
  EXPECT_EQ(svc.Logs().find("wrong-Password-55"), std::string::npos);
  EXPECT_TRUE(sink.Messages().empty());
}

// The mail relay is down when the message is accepted and comes back later:
// the message is retried and arrives exactly once.
TEST(NotifyOutageTest, MailQueuedDuringAnSmtpOutageArrivesOnceItIsBack) {
  TestDatabase db("notifyoutage");
  SmtpSink sink;
  sink.Stop();
  ServiceProcess svc({.binary = NotifyBinary(),
                      .env = NotifyEnv(db.url(), sink.url(), "", {{"DELIVERY_MAX_ATTEMPTS", "50"}})});
  auto stub = v1::NotifyService::NewStub(svc.Channel());
  const auto queued = Send(*stub, EmailLink("outage-1", "ann@example.com"));
  // Wait for at least two failed attempts while the relay is down.
  v1::Notification n;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (n.attempts_size() < 2 && std::chrono::steady_clock::now() < deadline) {
    n = WaitForNotification(*stub, queued.notification_id(), v1::NOTIFICATION_STATUS_QUEUED,
                            std::chrono::milliseconds(100));
  }
  ASSERT_GE(n.attempts_size(), 2);
  EXPECT_EQ(n.status(), v1::NOTIFICATION_STATUS_QUEUED);
  EXPECT_EQ(n.attempts(0).outcome(), v1::ATTEMPT_OUTCOME_TRANSIENT_FAILURE);

  sink.Start();
  const auto sent = WaitForNotification(*stub, queued.notification_id(), v1::NOTIFICATION_STATUS_SENT);
  ASSERT_EQ(sent.status(), v1::NOTIFICATION_STATUS_SENT) << svc.Logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(sink.Messages().size(), 1u);
}

// Two notify processes share one database and one SMS provider: each of 200
// accepted messages reaches the provider exactly once.
TEST(NotifyReplicasTest, TwoProcessesDeliverTwoHundredMessagesExactlyOnce) {
  TestDatabase db("notifyreplicas");
  SmsEndpoint sms("AC0123456789", kSmsToken);
  const auto env = NotifyEnv(db.url(), "", sms.base_url(), {{"DISPATCH_CONCURRENCY", "3"}});
  ServiceProcess a({.binary = NotifyBinary(), .env = env});
  ServiceProcess b({.binary = NotifyBinary(), .env = env});
  std::vector<std::thread> senders;
  std::atomic<int> accepted{0};
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&, t] {
      auto stub = v1::NotifyService::NewStub((t % 2 == 0 ? a : b).Channel());
      for (int i = t; i < 200; i += 4) {
        const auto n = Send(*stub, SmsLink("r-" + std::to_string(i), "+1415555" + std::to_string(1000 + i)));
        if (!n.notification_id().empty()) ++accepted;
      }
    });
  }
  for (auto& t : senders) t.join();
  ASSERT_EQ(accepted.load(), 200);
  ASSERT_TRUE(sms.WaitFor(200, std::chrono::seconds(60))) << sms.Messages().size();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  std::map<std::string, int> per_link;
  for (const auto& m : sms.Messages()) {
    const auto at = m.body.find("/i/tok-r-");
    ASSERT_NE(at, std::string::npos) << m.body;
    ++per_link[m.body.substr(at)];
  }
  EXPECT_EQ(per_link.size(), 200u);
  for (const auto& [link, count] : per_link) EXPECT_EQ(count, 1) << link;
  EXPECT_EQ(QueryInt(db.url(), "SELECT count(*) FROM notifications WHERE status = 'SENT'"), 200);
  // Both replicas did some of the work.
  const auto sent_by = [](const ServiceProcess& p) {
    const auto body = HttpRequest("GET", "http://127.0.0.1:" + std::to_string(p.metrics_port()) + "/metrics").body;
    const std::string key = "notifications_total{channel=\"SMS\",outcome=\"sent\"} ";
    const auto at = body.find(key);
    return at == std::string::npos ? 0.0 : std::stod(body.substr(at + key.size()));
  };
  EXPECT_EQ(sent_by(a) + sent_by(b), 200.0);
  EXPECT_GT(sent_by(a), 0.0);
  EXPECT_GT(sent_by(b), 0.0);
}

}  // namespace
}  // namespace billing::testing
