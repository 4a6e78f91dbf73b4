// invoice and the real notify binary together, with a real SMTP server and
// a Twilio-compatible SMS endpoint behind notify: the link reaches the
// customer, the invoice's notification history follows notify's delivery
// state, and a notify outage loses nothing and sends once.
#include <gtest/gtest.h>

#include <thread>

#include <grpcpp/client_context.h>

#include "billing/invoice/v1/invoice_service.grpc.pb.h"
#include "e2e/invoice_env.h"
#include "e2e/notify_env.h"
#include "support/eventually.h"
#include "support/postgres.h"
#include "support/process.h"
#include "support/sms_endpoint.h"
#include "support/smtp_sink.h"

namespace billing::testing {
namespace {

namespace v1 = billing::invoice::v1;

class InvoiceNotifyTest : public ::testing::Test {
 protected:
  void StartNotify() {
    notify_ = std::make_unique<ServiceProcess>(ServiceProcess::Options{
        .binary = NotifyBinary(),
        .env = NotifyEnv(notify_db_.url(), smtp_.url(), sms_.base_url(),
                         {{"GRPC_LISTEN_ADDRESS", notify_address_}})});
  }
  void StartInvoice() {
    invoice_ = std::make_unique<ServiceProcess>(ServiceProcess::Options{
        .binary = InvoiceBinary(),
        .env = InvoiceEnv(invoice_db_.url(), notify_address_, {{"OUTBOX_SYNC_INTERVAL_MS", "200"}})});
    stub_ = v1::InvoiceService::NewStub(invoice_->Channel());
  }

  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (v1::InvoiceService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return (stub_.get()->*method)(&ctx, req, resp);
  }

  void Upsert(const std::string& id, const std::string& email) {
    v1::UpsertBookingRequest req;
    req.set_request_id("u-" + id);
    auto* b = req.mutable_booking();
    b->set_booking_id(id);
    b->set_status(v1::BOOKING_STATUS_PENDING);
    b->mutable_customer()->set_name("Zoë Ångström");
    b->mutable_customer()->set_email(email);
    b->mutable_customer()->set_phone("+14155550123");
    b->mutable_total()->set_amount_minor(25000);
    b->mutable_total()->set_currency_code("USD");
    b->set_activity_name("Sunset kayak tour");
    b->set_start_local("2026-12-01T17:00");
    b->set_end_local("2026-12-01T19:30");
    v1::UpsertBookingResponse resp;
    const auto status = Call(&v1::InvoiceService::Stub::UpsertBooking, req, &resp);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  v1::Invoice Create(const std::string& booking_id) {
    v1::CreateInvoiceRequest req;
    req.set_request_id("c-" + booking_id);
    req.set_booking_id(booking_id);
    req.mutable_amount()->set_amount_minor(10000);
    req.mutable_amount()->set_currency_code("USD");
    req.set_send_type(billing::common::v1::CHANNEL_EMAIL);
    v1::CreateInvoiceResponse resp;
    const auto status = Call(&v1::InvoiceService::Stub::CreateInvoice, req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return resp.invoice();
  }

  v1::GetInvoiceResponse Get(const std::string& invoice_id) {
    v1::GetInvoiceRequest req;
    req.set_invoice_id(invoice_id);
    v1::GetInvoiceResponse resp;
    EXPECT_TRUE(Call(&v1::InvoiceService::Stub::GetInvoice, req, &resp).ok());
    return resp;
  }

  // How many received emails carry this link.
  int MailsWith(const std::string& pay_url) {
    int n = 0;
    for (const auto& m : smtp_.Messages()) {
      const auto parsed = ParseMail(m.eml_path);
      n += parsed["parts"]["text/plain"]["content"].get<std::string>().find(pay_url) != std::string::npos ? 1 : 0;
    }
    return n;
  }

  TestDatabase invoice_db_{"invnotify_inv"};
  TestDatabase notify_db_{"invnotify_ntf"};
  SmtpSink smtp_;
  SmsEndpoint sms_{"AC0123456789", "sms-token-Secret-7c1f"};
  std::string notify_address_ = "127.0.0.1:" + std::to_string(FreePort());
  std::unique_ptr<ServiceProcess> notify_;
  std::unique_ptr<ServiceProcess> invoice_;
  std::unique_ptr<v1::InvoiceService::Stub> stub_;
};

TEST_F(InvoiceNotifyTest, TheLinkReachesTheCustomerAndTheHistoryFollowsDelivery) {
  StartNotify();
  StartInvoice();
  Upsert("bk-1", "zoe@example.com");
  const auto inv = Create("bk-1");
  ASSERT_TRUE(smtp_.WaitFor(1, std::chrono::seconds(15))) << invoice_->Logs() << notify_->Logs();
  const auto mail = ParseMail(smtp_.Messages()[0].eml_path);
  EXPECT_EQ(mail["to_address"], "zoe@example.com");
  EXPECT_EQ(mail["to_name"], "Zoë Ångström");
  EXPECT_EQ(mail["from_name"], "Sunset Kayaks");
  EXPECT_NE(mail["parts"]["text/plain"]["content"].get<std::string>().find(inv.pay_url()), std::string::npos);
  EXPECT_NE(mail["parts"]["text/html"]["content"].get<std::string>().find("href=\"" + inv.pay_url() + "\""),
            std::string::npos);

  // The invoice learns from notify that the email went out.
  ASSERT_TRUE(Eventually(
      [&] {
        const auto view = Get(inv.invoice_id());
        return view.notifications_size() == 1 && view.notifications(0).state() == v1::NOTIFICATION_STATE_SENT;
      },
      std::chrono::seconds(15)))
      << invoice_->Logs();
  const auto record = Get(inv.invoice_id()).notifications(0);
  EXPECT_EQ(mail["headers"]["Message-ID"].get<std::string>().find(record.notification_id()), 1u)
      << "notify's id is the one the invoice recorded";
  EXPECT_TRUE(record.has_sent_time());

  // Resent by SMS: the same link, to the booking's phone.
  v1::ResendInvoiceRequest resend;
  resend.set_request_id("resend-1");
  resend.set_invoice_id(inv.invoice_id());
  resend.set_send_type(billing::common::v1::CHANNEL_SMS);
  v1::ResendInvoiceResponse resent;
  ASSERT_TRUE(Call(&v1::InvoiceService::Stub::ResendInvoice, resend, &resent).ok());
  ASSERT_TRUE(sms_.WaitFor(1, std::chrono::seconds(15)));
  EXPECT_EQ(sms_.Messages()[0].to, "+14155550123");
  EXPECT_NE(sms_.Messages()[0].body.find(inv.pay_url()), std::string::npos) << sms_.Messages()[0].body;
}

TEST_F(InvoiceNotifyTest, AMailboxThatDoesNotExistShowsAsFailedOnTheInvoice) {
  StartNotify();
  StartInvoice();
  Upsert("bk-1", "reject-me@example.com");
  const auto inv = Create("bk-1");
  ASSERT_TRUE(Eventually(
      [&] {
        const auto view = Get(inv.invoice_id());
        return view.notifications_size() == 1 && view.notifications(0).state() == v1::NOTIFICATION_STATE_FAILED;
      },
      std::chrono::seconds(15)))
      << invoice_->Logs();
  EXPECT_NE(Get(inv.invoice_id()).notifications(0).failure_reason().find("550"), std::string::npos);
  EXPECT_TRUE(smtp_.Messages().empty());
}

TEST_F(InvoiceNotifyTest, InvoicesCreatedWhileNotifyIsDownAreSentOnceItIsUp) {
  StartInvoice();  // notify is not running yet
  Upsert("bk-1", "ann@example.com");
  Upsert("bk-2", "bob@example.com");
  const auto a = Create("bk-1");
  const auto b = Create("bk-2");
  EXPECT_EQ(a.status(), v1::INVOICE_STATUS_OPEN) << "creating does not wait for notify";
  std::this_thread::sleep_for(std::chrono::milliseconds(800));  // several failed outbox attempts
  EXPECT_EQ(Get(a.invoice_id()).notifications(0).state(), v1::NOTIFICATION_STATE_PENDING);

  StartNotify();
  ASSERT_TRUE(smtp_.WaitFor(2, std::chrono::seconds(20))) << invoice_->Logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(smtp_.Messages().size(), 2u);
  EXPECT_EQ(MailsWith(a.pay_url()), 1);
  EXPECT_EQ(MailsWith(b.pay_url()), 1);
}

}  // namespace
}  // namespace billing::testing
