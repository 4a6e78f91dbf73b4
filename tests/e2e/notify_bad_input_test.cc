// Hostile and malformed input to every notify RPC: each case gets its
// precise status code and a message naming the field, never INTERNAL, and
// nothing is stored or sent.
#include <gtest/gtest.h>

#include <functional>

#include <grpcpp/client_context.h>

#include "e2e/notify_env.h"
#include "support/grpc_helpers.h"
#include "support/postgres.h"
#include "support/process.h"

namespace billing::testing {
namespace {

namespace v1 = billing::notify::v1;
using billing::common::v1::CHANNEL_EMAIL;
using billing::common::v1::CHANNEL_SMS;
using Code = grpc::StatusCode;

const std::string kMegabyte(1 << 20, 'x');
const std::string kBadUtf8 = "Zo\xC3\x28\xFF";

struct Case {
  std::string name;
  std::function<grpc::Status(v1::NotifyService::Stub&)> call;
  Code code;
  std::string field;  // "" when no single field is at fault
};

template <typename Req, typename Resp>
std::function<grpc::Status(v1::NotifyService::Stub&)> Rpc(
    grpc::Status (v1::NotifyService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*), Req req) {
  return [method, req](v1::NotifyService::Stub& stub) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    Resp resp;
    return (stub.*method)(&ctx, req, &resp);
  };
}

v1::SendInvoiceLinkRequest ValidLink() {
  v1::SendInvoiceLinkRequest r;
  r.set_request_id("link-base");
  r.mutable_recipient()->set_channel(CHANNEL_EMAIL);
  r.mutable_recipient()->set_email("ann@example.com");
  r.set_invoice_id("inv-1");
  r.set_pay_url("https://pay.example.com/i/tok");
  r.mutable_amount_due()->set_amount_minor(1000);
  r.mutable_amount_due()->set_currency_code("USD");
  r.set_business_name("Sunset Kayaks");
  return r;
}

v1::SendInvoiceLinkRequest Link(const std::function<void(v1::SendInvoiceLinkRequest&)>& f) {
  static int n = 0;
  auto r = ValidLink();
  r.set_request_id("link-bad-" + std::to_string(++n));
  f(r);
  return r;
}

v1::SendReceiptRequest Receipt(const std::function<void(v1::SendReceiptRequest&)>& f) {
  static int n = 0;
  v1::SendReceiptRequest r;
  r.set_request_id("receipt-bad-" + std::to_string(++n));
  r.mutable_recipient()->set_channel(CHANNEL_SMS);
  r.mutable_recipient()->set_phone("+14155550100");
  r.set_invoice_id("inv-1");
  r.mutable_amount_paid()->set_amount_minor(1000);
  r.mutable_amount_paid()->set_currency_code("USD");
  r.set_business_name("Sunset Kayaks");
  f(r);
  return r;
}

v1::SendBookingConfirmationRequest Confirmation(const std::function<void(v1::SendBookingConfirmationRequest&)>& f) {
  static int n = 0;
  v1::SendBookingConfirmationRequest r;
  r.set_request_id("confirm-bad-" + std::to_string(++n));
  r.mutable_recipient()->set_channel(CHANNEL_EMAIL);
  r.mutable_recipient()->set_email("ann@example.com");
  r.set_business_name("Sunset Kayaks");
  r.mutable_booking()->set_booking_id("bk-1");
  f(r);
  return r;
}

v1::SendPaymentReminderRequest Reminder(const std::function<void(v1::SendPaymentReminderRequest&)>& f) {
  static int n = 0;
  v1::SendPaymentReminderRequest r;
  r.set_request_id("reminder-bad-" + std::to_string(++n));
  r.mutable_recipient()->set_channel(CHANNEL_EMAIL);
  r.mutable_recipient()->set_email("ann@example.com");
  r.set_invoice_id("inv-1");
  r.set_pay_url("https://pay.example.com/i/tok");
  r.mutable_amount_due()->set_amount_minor(1000);
  r.mutable_amount_due()->set_currency_code("USD");
  r.set_business_name("Sunset Kayaks");
  f(r);
  return r;
}

v1::ListNotificationsRequest List(const std::function<void(v1::ListNotificationsRequest&)>& f) {
  v1::ListNotificationsRequest r;
  r.set_invoice_id("inv-1");
  f(r);
  return r;
}

class NotifyBadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new TestDatabase("notifybad");
    outbox_ = new std::string(MakeTempDir("notify-bad-outbox"));
    svc_ = new ServiceProcess({.binary = NotifyBinary(), .env = NotifyEnv(db_->url(), "", "", {{"FILE_OUTBOX_DIR", *outbox_}})});
    auto stub = v1::NotifyService::NewStub(svc_->Channel());
    grpc::ClientContext ctx;
    v1::SendInvoiceLinkResponse resp;
    ASSERT_TRUE(stub->SendInvoiceLink(&ctx, ValidLink(), &resp).ok());
  }
  static void TearDownTestSuite() {
    delete svc_;
    delete db_;
    delete outbox_;
  }
  static TestDatabase* db_;
  static ServiceProcess* svc_;
  static std::string* outbox_;
};
TestDatabase* NotifyBadInputTest::db_ = nullptr;
ServiceProcess* NotifyBadInputTest::svc_ = nullptr;
std::string* NotifyBadInputTest::outbox_ = nullptr;

TEST_F(NotifyBadInputTest, EveryRpcRejectsBadInputPrecisely) {
  using S = v1::NotifyService::Stub;
  const std::vector<Case> cases = {
      // SendInvoiceLink
      {"link empty", Rpc(&S::SendInvoiceLink, v1::SendInvoiceLinkRequest()), Code::INVALID_ARGUMENT, "request_id"},
      {"link huge request id", Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.set_request_id(kMegabyte); })),
       Code::INVALID_ARGUMENT, "request_id"},
      {"link no recipient", Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.clear_recipient(); })),
       Code::INVALID_ARGUMENT, "recipient"},
      {"link no channel", Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.mutable_recipient()->clear_channel(); })),
       Code::INVALID_ARGUMENT, "recipient.channel"},
      {"link unknown channel",
       Rpc(&S::SendInvoiceLink,
           Link([](auto& r) { r.mutable_recipient()->set_channel(static_cast<billing::common::v1::Channel>(42)); })),
       Code::INVALID_ARGUMENT, "recipient.channel"},
      {"link email missing", Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.mutable_recipient()->clear_email(); })),
       Code::INVALID_ARGUMENT, "recipient.email"},
      {"link email invalid",
       Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.mutable_recipient()->set_email("ann@@example"); })),
       Code::INVALID_ARGUMENT, "recipient.email"},
      {"link email header injection",
       Rpc(&S::SendInvoiceLink,
           Link([](auto& r) { r.mutable_recipient()->set_email("ann@example.com\r\nBcc: all@example.com"); })),
       Code::INVALID_ARGUMENT, "recipient.email"},
      {"link sms without phone", Rpc(&S::SendInvoiceLink, Link([](auto& r) {
                                   r.mutable_recipient()->set_channel(CHANNEL_SMS);
                                 })),
       Code::INVALID_ARGUMENT, "recipient.phone"},
      {"link phone letters", Rpc(&S::SendInvoiceLink, Link([](auto& r) {
                               r.mutable_recipient()->set_channel(CHANNEL_SMS);
                               r.mutable_recipient()->set_phone("call me maybe");
                             })),
       Code::INVALID_ARGUMENT, "recipient.phone"},
      {"link phone too short", Rpc(&S::SendInvoiceLink, Link([](auto& r) {
                                 r.mutable_recipient()->set_channel(CHANNEL_SMS);
                                 r.mutable_recipient()->set_phone("+1 12");
                               })),
       Code::INVALID_ARGUMENT, "recipient.phone"},
      // gRPC cannot decode a string field that is not UTF-8, so no field can
      // be named; the answer is MALFORMED_REQUEST.
      {"link name bad utf8", Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.mutable_recipient()->set_name(kBadUtf8); })),
       Code::INVALID_ARGUMENT, ""},
      {"link name huge", Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.mutable_recipient()->set_name(kMegabyte); })),
       Code::INVALID_ARGUMENT, "recipient.name"},
      {"link no invoice", Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.clear_invoice_id(); })),
       Code::INVALID_ARGUMENT, "invoice_id"},
      {"link no pay url", Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.clear_pay_url(); })), Code::INVALID_ARGUMENT,
       "pay_url"},
      {"link javascript url",
       Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.set_pay_url("javascript:alert(1)"); })),
       Code::INVALID_ARGUMENT, "pay_url"},
      {"link url with quote",
       Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.set_pay_url("https://x.example/\"><script>"); })),
       Code::INVALID_ARGUMENT, "pay_url"},
      {"link no amount", Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.clear_amount_due(); })),
       Code::INVALID_ARGUMENT, "amount_due"},
      {"link negative amount",
       Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.mutable_amount_due()->set_amount_minor(-5); })),
       Code::INVALID_ARGUMENT, "amount_due.amount_minor"},
      {"link bad currency",
       Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.mutable_amount_due()->set_currency_code("usd"); })),
       Code::INVALID_ARGUMENT, "amount_due.currency_code"},
      {"link no business", Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.clear_business_name(); })),
       Code::INVALID_ARGUMENT, "business_name"},
      {"link bad date", Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.mutable_booking()->set_date("12/01/2026"); })),
       Code::INVALID_ARGUMENT, "booking.date"},
      {"link bad start", Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.mutable_booking()->set_start("5pm"); })),
       Code::INVALID_ARGUMENT, "booking.start"},
      {"link impossible date",
       Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.mutable_booking()->set_date("2026-02-29"); })),
       Code::INVALID_ARGUMENT, "booking.date"},
      {"link impossible time", Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.mutable_booking()->set_end("24:00"); })),
       Code::INVALID_ARGUMENT, "booking.end"},
      {"link landline by SMS", Rpc(&S::SendInvoiceLink, Link([](auto& r) {
                                 r.mutable_recipient()->set_channel(CHANNEL_SMS);
                                 r.mutable_recipient()->set_phone("+44 20 7183 8750");
                               })),
       Code::INVALID_ARGUMENT, "recipient.phone"},
      {"link SMS too long", Rpc(&S::SendInvoiceLink, Link([](auto& r) {
                              r.mutable_recipient()->set_channel(CHANNEL_SMS);
                              r.mutable_recipient()->set_phone("+14155550100");
                              r.set_pay_url("https://pay.example.com/i/" + std::string(2000, 'T'));
                            })),
       Code::INVALID_ARGUMENT, "pay_url"},
      {"link bad booking id",
       Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.mutable_booking()->set_booking_id("bk 1;--"); })),
       Code::INVALID_ARGUMENT, "booking.booking_id"},
      {"link bad due time", Rpc(&S::SendInvoiceLink, Link([](auto& r) { r.mutable_due_time()->set_nanos(-1); })),
       Code::INVALID_ARGUMENT, "due_time"},
      {"link request id reused", Rpc(&S::SendInvoiceLink, [] {
         auto r = ValidLink();
         r.set_business_name("Another business");
         return r;
       }()),
       Code::FAILED_PRECONDITION, "request_id"},
      // SendReceipt
      {"receipt empty", Rpc(&S::SendReceipt, v1::SendReceiptRequest()), Code::INVALID_ARGUMENT, "request_id"},
      {"receipt no amount", Rpc(&S::SendReceipt, Receipt([](auto& r) { r.clear_amount_paid(); })),
       Code::INVALID_ARGUMENT, "amount_paid"},
      {"receipt zero amount", Rpc(&S::SendReceipt, Receipt([](auto& r) { r.mutable_amount_paid()->set_amount_minor(0); })),
       Code::INVALID_ARGUMENT, "amount_paid.amount_minor"},
      {"receipt balance currency",
       Rpc(&S::SendReceipt, Receipt([](auto& r) {
             r.mutable_balance_remaining()->set_amount_minor(10);
             r.mutable_balance_remaining()->set_currency_code("EUR");
           })),
       Code::INVALID_ARGUMENT, "balance_remaining.currency_code"},
      {"receipt reference huge", Rpc(&S::SendReceipt, Receipt([](auto& r) { r.set_payment_reference(kMegabyte); })),
       Code::INVALID_ARGUMENT, "payment_reference"},
      {"receipt bad paid time", Rpc(&S::SendReceipt, Receipt([](auto& r) { r.mutable_paid_time()->set_seconds(-1LL << 60); })),
       Code::INVALID_ARGUMENT, "paid_time"},
      // SendBookingConfirmation
      {"confirm empty", Rpc(&S::SendBookingConfirmation, v1::SendBookingConfirmationRequest()),
       Code::INVALID_ARGUMENT, "request_id"},
      {"confirm no booking id",
       Rpc(&S::SendBookingConfirmation, Confirmation([](auto& r) { r.mutable_booking()->clear_booking_id(); })),
       Code::INVALID_ARGUMENT, "booking.booking_id"},
      {"confirm bad end date",
       Rpc(&S::SendBookingConfirmation, Confirmation([](auto& r) { r.mutable_booking()->set_end_date("2026-1-1"); })),
       Code::INVALID_ARGUMENT, "booking.end_date"},
      {"confirm code huge",
       Rpc(&S::SendBookingConfirmation,
           Confirmation([](auto& r) { r.mutable_booking()->set_confirmation_code(kMegabyte); })),
       Code::INVALID_ARGUMENT, "booking.confirmation_code"},
      // SendPaymentReminder
      {"reminder empty", Rpc(&S::SendPaymentReminder, v1::SendPaymentReminderRequest()), Code::INVALID_ARGUMENT,
       "request_id"},
      {"reminder ftp url", Rpc(&S::SendPaymentReminder, Reminder([](auto& r) { r.set_pay_url("ftp://x.example/a"); })),
       Code::INVALID_ARGUMENT, "pay_url"},
      {"reminder huge amount",
       Rpc(&S::SendPaymentReminder, Reminder([](auto& r) { r.mutable_amount_due()->set_amount_minor(INT64_MAX); })),
       Code::INVALID_ARGUMENT, "amount_due.amount_minor"},
      // GetNotification
      {"get empty", Rpc(&S::GetNotification, v1::GetNotificationRequest()), Code::INVALID_ARGUMENT,
       "notification_id"},
      {"get not a uuid", Rpc(&S::GetNotification, [] {
         v1::GetNotificationRequest r;
         r.set_notification_id("1; DROP TABLE notifications");
         return r;
       }()),
       Code::INVALID_ARGUMENT, "notification_id"},
      {"get unknown", Rpc(&S::GetNotification, [] {
         v1::GetNotificationRequest r;
         r.set_notification_id("00000000-0000-4000-8000-000000000000");
         return r;
       }()),
       Code::NOT_FOUND, "notification_id"},
      {"get by both ids", Rpc(&S::GetNotification, [] {
         v1::GetNotificationRequest r;
         r.set_notification_id("00000000-0000-4000-8000-000000000000");
         r.set_request_id("req-1");
         return r;
       }()),
       Code::INVALID_ARGUMENT, "request_id"},
      {"get by request id with spaces", Rpc(&S::GetNotification, [] {
         v1::GetNotificationRequest r;
         r.set_request_id("1; DROP TABLE notifications");
         return r;
       }()),
       Code::INVALID_ARGUMENT, "request_id"},
      {"get by unknown request id", Rpc(&S::GetNotification, [] {
         v1::GetNotificationRequest r;
         r.set_request_id("never-sent");
         return r;
       }()),
       Code::NOT_FOUND, "request_id"},
      // ListNotifications
      {"list no filter", Rpc(&S::ListNotifications, v1::ListNotificationsRequest()), Code::INVALID_ARGUMENT,
       "invoice_id"},
      {"list bad recipient", Rpc(&S::ListNotifications, List([](auto& r) {
                               r.clear_invoice_id();
                               r.set_recipient("not a thing");
                             })),
       Code::INVALID_ARGUMENT, "recipient"},
      {"list bad status",
       Rpc(&S::ListNotifications, List([](auto& r) { r.set_status(static_cast<v1::NotificationStatus>(9)); })),
       Code::INVALID_ARGUMENT, "status"},
      {"list negative page", Rpc(&S::ListNotifications, List([](auto& r) { r.set_page_size(-1); })),
       Code::INVALID_ARGUMENT, "page_size"},
      {"list forged token", Rpc(&S::ListNotifications, List([](auto& r) { r.set_page_token("n1.AAAA"); })),
       Code::INVALID_ARGUMENT, "page_token"},
      {"list token not ours",
       Rpc(&S::ListNotifications, List([](auto& r) { r.set_page_token("n1.garbage-but-base64url"); })),
       Code::INVALID_ARGUMENT, "page_token"},
  };

  const long long before = QueryInt(db_->url(), "SELECT count(*) FROM notifications");
  auto stub = v1::NotifyService::NewStub(svc_->Channel());
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectRefusal(c.call(*stub), c.code, c.field);
  }
  EXPECT_EQ(QueryInt(db_->url(), "SELECT count(*) FROM notifications"), before);
  EXPECT_TRUE(svc_->Running());
}

TEST_F(NotifyBadInputTest, TheSameRequestSpelledDifferentlyIsARetryNotAConflict) {
  auto stub = v1::NotifyService::NewStub(svc_->Channel());
  auto first = ValidLink();
  first.set_request_id("spelling");
  first.mutable_recipient()->set_channel(CHANNEL_SMS);
  first.mutable_recipient()->clear_email();
  first.mutable_recipient()->set_phone("(415) 555-0100");
  auto second = first;
  second.mutable_recipient()->set_phone("+1 415 555 0100");
  grpc::ClientContext c1, c2;
  v1::SendInvoiceLinkResponse r1, r2;
  ASSERT_TRUE(stub->SendInvoiceLink(&c1, first, &r1).ok());
  const auto s2 = stub->SendInvoiceLink(&c2, second, &r2);
  ASSERT_TRUE(s2.ok()) << s2.error_message();
  EXPECT_EQ(r1.notification().notification_id(), r2.notification().notification_id());
}

}  // namespace
}  // namespace billing::testing
