// The invoice lifecycle through the real binary: the outbox delivering to a
// notify server, a notify outage, resend, close, list and the event log over
// gRPC. notify is the in-process FakeNotify here, which counts every call and
// can refuse on demand; invoice_notify_test.cc runs the real notify binary.
#include <gtest/gtest.h>

#include <thread>

#include <grpcpp/client_context.h>

#include "billing/invoice/v1/invoice_service.grpc.pb.h"
#include "e2e/invoice_env.h"
#include "support/fake_notify.h"
#include "support/grpc_helpers.h"
#include "support/eventually.h"
#include "support/postgres.h"
#include "support/process.h"

namespace billing::testing {
namespace {

namespace v1 = billing::invoice::v1;

class InvoiceLifecycleE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    svc_ = std::make_unique<ServiceProcess>(
        ServiceProcess::Options{.binary = InvoiceBinary(), .env = InvoiceEnv(db_.url(), notify_.address())});
    stub_ = v1::InvoiceService::NewStub(svc_->Channel());
  }

  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (v1::InvoiceService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return (stub_.get()->*method)(&ctx, req, resp);
  }

  void Upsert(const std::string& id, int64_t total, v1::BookingStatus status = v1::BOOKING_STATUS_PENDING) {
    v1::UpsertBookingRequest req;
    req.set_request_id("u-" + id + "-" + std::to_string(++n_));
    auto* b = req.mutable_booking();
    b->set_booking_id(id);
    b->set_status(status);
    b->mutable_customer()->set_name("Ann Lee");
    b->mutable_customer()->set_email("ann@example.com");
    b->mutable_customer()->set_phone("+14155550123");
    b->mutable_total()->set_amount_minor(total);
    b->mutable_total()->set_currency_code("USD");
    b->set_activity_name("Sunset kayak tour");
    b->set_start_local("2026-12-01T17:00");
    b->set_end_local("2026-12-01T19:30");
    v1::UpsertBookingResponse resp;
    ASSERT_TRUE(Call(&v1::InvoiceService::Stub::UpsertBooking, req, &resp).ok());
  }

  v1::Invoice Create(const std::string& booking_id, int64_t amount) {
    v1::CreateInvoiceRequest req;
    req.set_request_id("c-" + std::to_string(++n_));
    req.set_booking_id(booking_id);
    req.mutable_amount()->set_amount_minor(amount);
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

  TestDatabase db_{"inv_e2e"};
  FakeNotify notify_;
  std::unique_ptr<ServiceProcess> svc_;
  std::unique_ptr<v1::InvoiceService::Stub> stub_;
  int n_ = 0;
};

TEST_F(InvoiceLifecycleE2eTest, TheLinkGoesOutThroughNotify) {
  Upsert("bk-1", 25000);
  const auto inv = Create("bk-1", 10000);
  ASSERT_TRUE(Eventually([&] { return notify_.distinct_sends() == 1; }, std::chrono::seconds(10))) << svc_->Logs();
  const auto links = notify_.links();
  const auto& sent = links.begin()->second;
  EXPECT_EQ(links.begin()->first.rfind("invoice-notification-", 0), 0u);
  EXPECT_EQ(sent.invoice_id(), inv.invoice_id());
  EXPECT_EQ(sent.pay_url(), inv.pay_url());
  EXPECT_EQ(sent.amount_due().amount_minor(), 10000);
  EXPECT_EQ(sent.recipient().email(), "ann@example.com");
  EXPECT_EQ(sent.business_name(), "Sunset Kayaks");
  EXPECT_EQ(sent.booking().activity_name(), "Sunset kayak tour");
  EXPECT_EQ(sent.booking().start(), "17:00");
  // The history shows it accepted, then (the fake delivers at once) sent.
  ASSERT_TRUE(Eventually(
      [&] {
        const auto view = Get(inv.invoice_id());
        return view.notifications_size() == 1 && view.notifications(0).state() == v1::NOTIFICATION_STATE_SENT;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(Get(inv.invoice_id()).notifications(0).notification_id(), "fake-1");
}

TEST_F(InvoiceLifecycleE2eTest, ANotifyOutageLosesNothingAndSendsOnce) {
  notify_.SetAvailable(false);
  Upsert("bk-1", 25000);
  const auto inv = Create("bk-1", 10000);  // succeeds although notify is down
  EXPECT_EQ(inv.status(), v1::INVOICE_STATUS_OPEN);
  ASSERT_TRUE(Eventually([&] { return notify_.calls() >= 3; }, std::chrono::seconds(10))) << "retrying";
  EXPECT_EQ(notify_.distinct_sends(), 0u);
  EXPECT_EQ(Get(inv.invoice_id()).notifications(0).state(), v1::NOTIFICATION_STATE_PENDING);
  notify_.SetAvailable(true);
  ASSERT_TRUE(Eventually([&] { return notify_.distinct_sends() == 1; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(notify_.distinct_sends(), 1u) << "sent once, however many tries it took";
}

TEST_F(InvoiceLifecycleE2eTest, ResendCloseListAndEvents) {
  Upsert("bk-1", 25000);
  const auto a = Create("bk-1", 1000);
  const auto b = Create("bk-1", 2000);

  v1::ResendInvoiceRequest resend;
  resend.set_request_id("resend-1");
  resend.set_invoice_id(a.invoice_id());
  resend.set_send_type(billing::common::v1::CHANNEL_SMS);
  v1::ResendInvoiceResponse resent;
  ASSERT_TRUE(Call(&v1::InvoiceService::Stub::ResendInvoice, resend, &resent).ok());
  EXPECT_EQ(resent.notification().channel(), billing::common::v1::CHANNEL_SMS);
  EXPECT_EQ(resent.notification().recipient(), "+14155550123");
  EXPECT_EQ(resent.invoice().pay_url(), a.pay_url()) << "the same link";
  ASSERT_TRUE(Eventually([&] { return notify_.distinct_sends() == 3; }, std::chrono::seconds(10)));

  v1::CloseInvoiceRequest close;
  close.set_request_id("close-1");
  close.set_invoice_id(b.invoice_id());
  close.set_reason("customer paid in cash");
  v1::CloseInvoiceResponse closed;
  ASSERT_TRUE(Call(&v1::InvoiceService::Stub::CloseInvoice, close, &closed).ok());
  EXPECT_EQ(closed.invoice().status(), v1::INVOICE_STATUS_CLOSED);
  close.set_request_id("close-2");
  const auto again = Call(&v1::InvoiceService::Stub::CloseInvoice, close, &closed);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorInfoOf(again).reason(), "INVOICE_NOT_OPEN");

  v1::ListInvoicesRequest list;
  list.set_booking_id("bk-1");
  list.set_page_size(1);
  v1::ListInvoicesResponse page;
  ASSERT_TRUE(Call(&v1::InvoiceService::Stub::ListInvoices, list, &page).ok());
  ASSERT_EQ(page.invoices_size(), 1);
  EXPECT_EQ(page.invoices(0).invoice_id(), b.invoice_id());
  list.set_page_token(page.next_page_token());
  ASSERT_TRUE(Call(&v1::InvoiceService::Stub::ListInvoices, list, &page).ok());
  EXPECT_EQ(page.invoices(0).invoice_id(), a.invoice_id());
  list.set_page_token("");
  list.set_status(v1::INVOICE_STATUS_CLOSED);
  ASSERT_TRUE(Call(&v1::InvoiceService::Stub::ListInvoices, list, &page).ok());
  ASSERT_EQ(page.invoices_size(), 1);
  EXPECT_EQ(page.invoices(0).status_reason(), "customer paid in cash");

  v1::ListInvoiceEventsRequest events;
  events.set_invoice_id(a.invoice_id());
  v1::ListInvoiceEventsResponse log;
  ASSERT_TRUE(Call(&v1::InvoiceService::Stub::ListInvoiceEvents, events, &log).ok());
  std::vector<std::string> types;
  for (const auto& e : log.events()) types.push_back(e.type());
  EXPECT_EQ(types[0], "CREATED");
  EXPECT_NE(std::find(types.begin(), types.end(), "RESENT"), types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "NOTIFICATION_ACCEPTED"), types.end());
  EXPECT_EQ(log.events(0).actor(), "api");
}

TEST_F(InvoiceLifecycleE2eTest, BookingChangesAndChargesElsewhere) {
  Upsert("bk-1", 25000);
  const auto inv = Create("bk-1", 25000);
  v1::RecordExternalPaymentRequest pay;
  pay.set_request_id("dash-1");
  pay.set_booking_id("bk-1");
  pay.mutable_amount()->set_amount_minor(25000);
  pay.mutable_amount()->set_currency_code("USD");
  pay.set_source(v1::PAYMENT_SOURCE_DASHBOARD);
  v1::RecordExternalPaymentResponse paid;
  ASSERT_TRUE(Call(&v1::InvoiceService::Stub::RecordExternalPayment, pay, &paid).ok());
  ASSERT_EQ(paid.settled_invoices_size(), 1);
  EXPECT_EQ(paid.settled_invoices(0).status(), v1::INVOICE_STATUS_PAID);
  EXPECT_EQ(paid.booking().balance().amount_minor(), 0);

  Upsert("bk-2", 9000);
  const auto other = Create("bk-2", 9000);
  Upsert("bk-2", 9000, v1::BOOKING_STATUS_CANCELED);
  const auto view = Get(other.invoice_id());
  EXPECT_EQ(view.invoice().status(), v1::INVOICE_STATUS_CANCELED);
  EXPECT_EQ(view.due_now().amount_minor(), 0);
  EXPECT_EQ(Get(inv.invoice_id()).invoice().status(), v1::INVOICE_STATUS_PAID);
}

}  // namespace
}  // namespace billing::testing
