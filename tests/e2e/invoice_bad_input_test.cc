// Hostile and malformed input to every invoice RPC the service serves: each
// case must get its precise status code and a message naming the field,
// never INTERNAL, and must leave the database as it was.
#include <gtest/gtest.h>

#include <functional>

#include <grpcpp/client_context.h>

#include "billing/invoice/v1/invoice_service.grpc.pb.h"
#include "e2e/invoice_env.h"
#include "support/fake_notify.h"
#include "support/grpc_helpers.h"
#include "support/postgres.h"
#include "support/process.h"

namespace billing::testing {
namespace {

namespace v1 = billing::invoice::v1;
using Code = grpc::StatusCode;

const std::string kMegabyte(1 << 20, 'x');
const std::string kBadUtf8 = "Zo\xC3\x28\xFF";
const std::string kSql = "x'); DROP TABLE invoices; --";
constexpr int64_t kMax = INT64_MAX;

struct Case {
  std::string name;
  std::function<grpc::Status(v1::InvoiceService::Stub&)> call;
  Code code;
  std::string field;  // "" when no single field is at fault
};

class InvoiceBadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new TestDatabase("badinput");
    notify_ = new FakeNotify();
    svc_ = new ServiceProcess({.binary = InvoiceBinary(), .env = InvoiceEnv(db_->url(), notify_->address())});
    auto stub = v1::InvoiceService::NewStub(svc_->Channel());
    grpc::ClientContext ctx;
    v1::UpsertBookingResponse resp;
    ASSERT_TRUE(stub->UpsertBooking(&ctx, ValidUpsert(), &resp).ok());
    grpc::ClientContext ctx2;
    v1::CreateInvoiceResponse created;
    ASSERT_TRUE(stub->CreateInvoice(&ctx2, ValidCreate(), &created).ok());
    invoice_id_ = new std::string(created.invoice().invoice_id());
  }
  static void TearDownTestSuite() {
    delete svc_;
    delete notify_;
    delete db_;
    delete invoice_id_;
  }

  static v1::UpsertBookingRequest ValidUpsert() {
    v1::UpsertBookingRequest req;
    req.set_request_id("upsert-base");
    auto* b = req.mutable_booking();
    b->set_booking_id("bk-base");
    b->set_status(v1::BOOKING_STATUS_PENDING);
    b->mutable_customer()->set_name("Ann");
    b->mutable_customer()->set_email("ann@example.com");
    b->mutable_total()->set_amount_minor(50000);
    b->mutable_total()->set_currency_code("USD");
    return req;
  }
  static v1::CreateInvoiceRequest ValidCreate() {
    v1::CreateInvoiceRequest req;
    req.set_request_id("create-base");
    req.set_booking_id("bk-base");
    req.mutable_amount()->set_amount_minor(1000);
    req.mutable_amount()->set_currency_code("USD");
    req.set_send_type(billing::common::v1::CHANNEL_EMAIL);
    return req;
  }

  template <typename Req, typename Resp>
  static std::function<grpc::Status(v1::InvoiceService::Stub&)> Rpc(
      grpc::Status (v1::InvoiceService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*), Req req) {
    return [method, req](v1::InvoiceService::Stub& stub) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
      Resp resp;
      return (stub.*method)(&ctx, req, &resp);
    };
  }

  static v1::UpsertBookingRequest Upsert(const std::function<void(v1::UpsertBookingRequest&)>& f) {
    auto r = ValidUpsert();
    static int n = 0;
    r.set_request_id("upsert-bad-" + std::to_string(++n));
    f(r);
    return r;
  }
  static v1::CreateInvoiceRequest Create(const std::function<void(v1::CreateInvoiceRequest&)>& f) {
    auto r = ValidCreate();
    static int n = 0;
    r.set_request_id("create-bad-" + std::to_string(++n));
    f(r);
    return r;
  }
  static v1::RecordExternalPaymentRequest Payment(const std::function<void(v1::RecordExternalPaymentRequest&)>& f) {
    v1::RecordExternalPaymentRequest r;
    static int n = 0;
    r.set_request_id("pay-bad-" + std::to_string(++n));
    r.set_booking_id("bk-base");
    r.mutable_amount()->set_amount_minor(100);
    r.mutable_amount()->set_currency_code("USD");
    r.set_source(v1::PAYMENT_SOURCE_DASHBOARD);
    f(r);
    return r;
  }

  static TestDatabase* db_;
  static FakeNotify* notify_;
  static ServiceProcess* svc_;
  static std::string* invoice_id_;
};

TestDatabase* InvoiceBadInputTest::db_ = nullptr;
FakeNotify* InvoiceBadInputTest::notify_ = nullptr;
ServiceProcess* InvoiceBadInputTest::svc_ = nullptr;
std::string* InvoiceBadInputTest::invoice_id_ = nullptr;

TEST_F(InvoiceBadInputTest, EveryRpcRejectsBadInputPrecisely) {
  using S = v1::InvoiceService::Stub;
  const std::string id = *invoice_id_;
  const std::vector<Case> cases = {
      // UpsertBooking
      {"upsert empty", Rpc(&S::UpsertBooking, v1::UpsertBookingRequest()), Code::INVALID_ARGUMENT, "request_id"},
      {"upsert no booking", Rpc(&S::UpsertBooking, Upsert([](auto& r) { r.clear_booking(); })),
       Code::INVALID_ARGUMENT, "booking"},
      {"upsert negative total",
       Rpc(&S::UpsertBooking, Upsert([](auto& r) { r.mutable_booking()->mutable_total()->set_amount_minor(-1); })),
       Code::INVALID_ARGUMENT, "booking.total.amount_minor"},
      {"upsert INT64_MAX total",
       Rpc(&S::UpsertBooking, Upsert([](auto& r) { r.mutable_booking()->mutable_total()->set_amount_minor(kMax); })),
       Code::INVALID_ARGUMENT, "booking.total.amount_minor"},
      {"upsert 1MB name",
       Rpc(&S::UpsertBooking, Upsert([](auto& r) { r.mutable_booking()->mutable_customer()->set_name(kMegabyte); })),
       Code::INVALID_ARGUMENT, "booking.customer.name"},
      {"upsert invalid UTF-8",
       Rpc(&S::UpsertBooking, Upsert([](auto& r) { r.mutable_booking()->set_activity_name(kBadUtf8); })),
       Code::INVALID_ARGUMENT, ""},
      {"upsert unknown status",
       Rpc(&S::UpsertBooking,
           Upsert([](auto& r) { r.mutable_booking()->set_status(static_cast<v1::BookingStatus>(77)); })),
       Code::INVALID_ARGUMENT, "booking.status"},
      {"upsert SQL id", Rpc(&S::UpsertBooking, Upsert([](auto& r) { r.mutable_booking()->set_booking_id(kSql); })),
       Code::INVALID_ARGUMENT, "booking.booking_id"},
      {"upsert wrong currency",
       Rpc(&S::UpsertBooking,
           Upsert([](auto& r) { r.mutable_booking()->mutable_total()->set_currency_code("US$"); })),
       Code::INVALID_ARGUMENT, "booking.total.currency_code"},
      {"upsert currency change once invoiced",
       Rpc(&S::UpsertBooking,
           Upsert([](auto& r) { r.mutable_booking()->mutable_total()->set_currency_code("EUR"); })),
       Code::FAILED_PRECONDITION, "booking.total.currency_code"},
      {"upsert SQL previous id", Rpc(&S::UpsertBooking, Upsert([](auto& r) { r.set_previous_booking_id(kSql); })),
       Code::INVALID_ARGUMENT, "previous_booking_id"},
      // GetBooking
      {"get booking empty", Rpc(&S::GetBooking, v1::GetBookingRequest()), Code::INVALID_ARGUMENT, "booking_id"},
      {"get booking unknown", Rpc(&S::GetBooking, [] { v1::GetBookingRequest r; r.set_booking_id("nope"); return r; }()),
       Code::NOT_FOUND, "booking_id"},
      {"get booking 1MB",
       Rpc(&S::GetBooking, [] { v1::GetBookingRequest r; r.set_booking_id(kMegabyte); return r; }()),
       Code::INVALID_ARGUMENT, "booking_id"},
      // RecordExternalPayment
      {"payment empty", Rpc(&S::RecordExternalPayment, v1::RecordExternalPaymentRequest()), Code::INVALID_ARGUMENT,
       "request_id"},
      {"payment negative",
       Rpc(&S::RecordExternalPayment, Payment([](auto& r) { r.mutable_amount()->set_amount_minor(-5); })),
       Code::INVALID_ARGUMENT, "amount.amount_minor"},
      {"payment INT64_MAX",
       Rpc(&S::RecordExternalPayment, Payment([](auto& r) { r.mutable_amount()->set_amount_minor(kMax); })),
       Code::INVALID_ARGUMENT, "amount.amount_minor"},
      {"payment wrong currency",
       Rpc(&S::RecordExternalPayment, Payment([](auto& r) { r.mutable_amount()->set_currency_code("JPY"); })),
       Code::INVALID_ARGUMENT, "amount.currency_code"},
      {"payment unknown source",
       Rpc(&S::RecordExternalPayment, Payment([](auto& r) { r.set_source(static_cast<v1::PaymentSource>(9)); })),
       Code::INVALID_ARGUMENT, "source"},
      {"payment invoice source",
       Rpc(&S::RecordExternalPayment, Payment([](auto& r) { r.set_source(v1::PAYMENT_SOURCE_INVOICE); })),
       Code::INVALID_ARGUMENT, "source"},
      {"payment 1MB reference",
       Rpc(&S::RecordExternalPayment, Payment([](auto& r) { r.set_external_reference(kMegabyte); })),
       Code::INVALID_ARGUMENT, "external_reference"},
      {"payment SQL intent",
       Rpc(&S::RecordExternalPayment, Payment([](auto& r) { r.set_payment_intent_id("pi_" + kSql); })),
       Code::INVALID_ARGUMENT, "payment_intent_id"},
      {"payment unknown booking",
       Rpc(&S::RecordExternalPayment, Payment([](auto& r) { r.set_booking_id("bk-ghost"); })), Code::NOT_FOUND,
       "booking_id"},
      // CreateInvoice
      {"create empty", Rpc(&S::CreateInvoice, v1::CreateInvoiceRequest()), Code::INVALID_ARGUMENT, "request_id"},
      {"create INT64_MAX",
       Rpc(&S::CreateInvoice, Create([](auto& r) { r.mutable_amount()->set_amount_minor(kMax); })),
       Code::INVALID_ARGUMENT, "amount.amount_minor"},
      {"create line item overflow", Rpc(&S::CreateInvoice, Create([](auto& r) {
         auto* li = r.add_line_items();
         li->set_name("A");
         li->set_quantity(kMax);
         li->mutable_unit_amount()->set_amount_minor(kMax);
         li->mutable_unit_amount()->set_currency_code("USD");
       })),
       Code::INVALID_ARGUMENT, "line_items[0].quantity"},
      {"create unknown channel",
       Rpc(&S::CreateInvoice, Create([](auto& r) { r.set_send_type(static_cast<billing::common::v1::Channel>(5)); })),
       Code::INVALID_ARGUMENT, "send_type"},
      {"create 1MB override", Rpc(&S::CreateInvoice, Create([](auto& r) { r.set_send_to_email_override(kMegabyte); })),
       Code::INVALID_ARGUMENT, "send_to_email_override"},
      {"create bad UTF-8 custom field", Rpc(&S::CreateInvoice, Create([](auto& r) {
         auto* c = r.add_custom_fields();
         c->set_name("PO");
         c->set_value(kBadUtf8);
       })),
       Code::INVALID_ARGUMENT, ""},
      {"create SQL booking", Rpc(&S::CreateInvoice, Create([](auto& r) { r.set_booking_id(kSql); })),
       Code::INVALID_ARGUMENT, "booking_id"},
      {"create wrong currency", Rpc(&S::CreateInvoice, Create([](auto& r) { r.mutable_amount()->set_currency_code("EUR"); })),
       Code::INVALID_ARGUMENT, "amount.currency_code"},
      {"create past due", Rpc(&S::CreateInvoice, Create([](auto& r) { r.mutable_due_time()->set_seconds(1000); })),
       Code::INVALID_ARGUMENT, "due_time"},
      // GetInvoice
      {"get invoice empty", Rpc(&S::GetInvoice, v1::GetInvoiceRequest()), Code::INVALID_ARGUMENT, "invoice_id"},
      {"get invoice SQL token",
       Rpc(&S::GetInvoice, [] { v1::GetInvoiceRequest r; r.set_token(kSql); return r; }()), Code::INVALID_ARGUMENT,
       "token"},
      {"get invoice 1MB token",
       Rpc(&S::GetInvoice, [] { v1::GetInvoiceRequest r; r.set_token(kMegabyte); return r; }()),
       Code::INVALID_ARGUMENT, "token"},
      // ListInvoices
      {"list negative page", Rpc(&S::ListInvoices, [] { v1::ListInvoicesRequest r; r.set_page_size(-1); return r; }()),
       Code::INVALID_ARGUMENT, "page_size"},
      {"list huge page",
       Rpc(&S::ListInvoices, [] { v1::ListInvoicesRequest r; r.set_page_size(INT32_MAX); return r; }()),
       Code::INVALID_ARGUMENT, "page_size"},
      {"list unknown status",
       Rpc(&S::ListInvoices,
           [] { v1::ListInvoicesRequest r; r.set_status(static_cast<v1::InvoiceStatus>(42)); return r; }()),
       Code::INVALID_ARGUMENT, "status"},
      {"list forged token",
       Rpc(&S::ListInvoices, [] { v1::ListInvoicesRequest r; r.set_page_token(kSql); return r; }()),
       Code::INVALID_ARGUMENT, "page_token"},
      {"list 1MB token",
       Rpc(&S::ListInvoices, [] { v1::ListInvoicesRequest r; r.set_page_token(kMegabyte); return r; }()),
       Code::INVALID_ARGUMENT, "page_token"},
      // ResendInvoice
      {"resend empty", Rpc(&S::ResendInvoice, v1::ResendInvoiceRequest()), Code::INVALID_ARGUMENT, "request_id"},
      {"resend SQL id",
       Rpc(&S::ResendInvoice,
           [] { v1::ResendInvoiceRequest r; r.set_request_id("r1"); r.set_invoice_id(kSql); return r; }()),
       Code::INVALID_ARGUMENT, "invoice_id"},
      {"resend unknown channel", Rpc(&S::ResendInvoice, [&] {
         v1::ResendInvoiceRequest r;
         r.set_request_id("r2");
         r.set_invoice_id(id);
         r.set_send_type(static_cast<billing::common::v1::Channel>(-3));
         return r;
       }()),
       Code::INVALID_ARGUMENT, "send_type"},
      {"resend unknown invoice", Rpc(&S::ResendInvoice, [] {
         v1::ResendInvoiceRequest r;
         r.set_request_id("r3");
         r.set_invoice_id("6b1d1f4e-2f55-4d2c-9d6e-1a2b3c4d5e6f");
         return r;
       }()),
       Code::NOT_FOUND, "invoice_id"},
      // CloseInvoice
      {"close empty", Rpc(&S::CloseInvoice, v1::CloseInvoiceRequest()), Code::INVALID_ARGUMENT, "request_id"},
      {"close 1MB reason", Rpc(&S::CloseInvoice, [&] {
         v1::CloseInvoiceRequest r;
         r.set_request_id("k1");
         r.set_invoice_id(id);
         r.set_reason(kMegabyte);
         return r;
       }()),
       Code::INVALID_ARGUMENT, "reason"},
      // ListInvoiceEvents
      {"events empty", Rpc(&S::ListInvoiceEvents, v1::ListInvoiceEventsRequest()), Code::INVALID_ARGUMENT,
       "invoice_id"},
      {"events negative page", Rpc(&S::ListInvoiceEvents, [&] {
         v1::ListInvoiceEventsRequest r;
         r.set_invoice_id(id);
         r.set_page_size(-9);
         return r;
       }()),
       Code::INVALID_ARGUMENT, "page_size"},
      {"events forged token", Rpc(&S::ListInvoiceEvents, [&] {
         v1::ListInvoiceEventsRequest r;
         r.set_invoice_id(id);
         r.set_page_token("e1.AAAA");
         return r;
       }()),
       Code::INVALID_ARGUMENT, "page_token"},
  };

  const long long invoices_before = QueryInt(db_->url(), "SELECT count(*) FROM invoices");
  const long long payments_before = QueryInt(db_->url(), "SELECT count(*) FROM customer_payments");
  auto stub = v1::InvoiceService::NewStub(svc_->Channel());
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectRefusal(c.call(*stub), c.code, c.field);
  }
  EXPECT_EQ(QueryInt(db_->url(), "SELECT count(*) FROM invoices"), invoices_before);
  EXPECT_EQ(QueryInt(db_->url(), "SELECT count(*) FROM customer_payments"), payments_before);
  EXPECT_TRUE(svc_->Running());
}

// PayInvoice and ApplyPaymentEvent: refused before any payment is attempted
// (the service's PAYMENTS_ADDRESS points nowhere here, so a case that got
// through validation would fail UNAVAILABLE instead of its own code).
TEST_F(InvoiceBadInputTest, PayRpcsRejectBadInputPrecisely) {
  using S = v1::InvoiceService::Stub;
  const std::string id = *invoice_id_;
  const auto pay = [&](const std::function<void(v1::PayInvoiceRequest&)>& f) {
    v1::PayInvoiceRequest r;
    static int n = 0;
    r.set_request_id("pay-inv-bad-" + std::to_string(++n));
    r.set_invoice_id(id);
    r.set_payment_method_id("pm_card_visa");
    f(r);
    return Rpc(&S::PayInvoice, r);
  };
  auto events = v1::PaymentEventService::NewStub(svc_->Channel());
  const auto event = [&](const std::function<void(v1::ApplyPaymentEventRequest&)>& f) {
    v1::ApplyPaymentEventRequest r;
    static int n = 0;
    r.set_request_id("evt-bad-" + std::to_string(++n));
    r.set_invoice_id(id);
    r.set_payment_id("0b7f7a0e-5d0c-4b53-9a53-0c9b7c3f6a11");
    r.set_payment_intent_id("pi_123");
    r.set_status(v1::PAYMENT_EVENT_STATUS_FAILED);
    f(r);
    return std::function<grpc::Status(S&)>([&events, r](S&) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
      v1::ApplyPaymentEventResponse resp;
      return events->ApplyPaymentEvent(&ctx, r, &resp);
    });
  };
  const std::vector<Case> cases = {
      {"pay empty", Rpc(&S::PayInvoice, v1::PayInvoiceRequest()), Code::INVALID_ARGUMENT, "request_id"},
      {"pay no invoice", pay([](auto& r) { r.clear_invoice_id(); }), Code::INVALID_ARGUMENT, "token"},
      {"pay junk token", pay([](auto& r) { r.set_token("tok en/../" + kSql); }), Code::INVALID_ARGUMENT, "token"},
      {"pay 1MB token", pay([](auto& r) { r.set_token(kMegabyte); }), Code::INVALID_ARGUMENT, "token"},
      {"pay invoice_id not a uuid", pay([](auto& r) { r.set_invoice_id("inv-1"); }), Code::INVALID_ARGUMENT,
       "invoice_id"},
      {"pay no method", pay([](auto& r) { r.clear_payment_method_id(); }), Code::INVALID_ARGUMENT,
       "payment_method_id"},
      {"pay card number as method", pay([](auto& r) { r.set_payment_method_id("4242424242424242"); }),
       Code::INVALID_ARGUMENT, "payment_method_id"},
      {"pay pm as confirmation token", pay([](auto& r) { r.set_confirmation_token_id("pm_card_visa"); }),
       Code::INVALID_ARGUMENT, "confirmation_token_id"},
      {"pay handled not a pi", pay([](auto& r) { r.set_handled_payment_intent_id("pi_"); }), Code::INVALID_ARGUMENT,
       "handled_payment_intent_id"},
      {"pay sql agreement", pay([](auto& r) { r.add_accepted_agreement_ids(kSql); }),
       Code::INVALID_ARGUMENT, "accepted_agreement_ids"},
      {"pay 51 agreements",
       pay([](auto& r) {
         for (int i = 0; i < 51; ++i) r.add_accepted_agreement_ids("agr-" + std::to_string(i));
       }),
       Code::INVALID_ARGUMENT, "accepted_agreement_ids"},
      {"pay http return_url", pay([](auto& r) { r.set_return_url("http://evil.example/back"); }),
       Code::INVALID_ARGUMENT, "return_url"},
      {"pay unknown invoice", pay([](auto& r) { r.set_invoice_id("6f1c2b7e-0000-4000-8000-000000000000"); }),
       Code::NOT_FOUND, "invoice_id"},
      {"pay unknown token", pay([](auto& r) { r.set_token("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); }),
       Code::NOT_FOUND, "token"},
      {"pay handled foreign intent", pay([](auto& r) { r.set_handled_payment_intent_id("pi_notours"); }),
       Code::NOT_FOUND, "handled_payment_intent_id"},
      {"event empty", event([](auto& r) { r.Clear(); }), Code::INVALID_ARGUMENT, "request_id"},
      {"event invoice_id not a uuid", event([](auto& r) { r.set_invoice_id(kSql); }), Code::INVALID_ARGUMENT,
       "invoice_id"},
      {"event no payment_id", event([](auto& r) { r.clear_payment_id(); }), Code::INVALID_ARGUMENT, "payment_id"},
      {"event unspecified status", event([](auto& r) { r.set_status(v1::PAYMENT_EVENT_STATUS_UNSPECIFIED); }),
       Code::INVALID_ARGUMENT, "status"},
      {"event bad intent", event([](auto& r) { r.set_payment_intent_id("ch_123"); }), Code::INVALID_ARGUMENT,
       "payment_intent_id"},
      {"event success without amount", event([](auto& r) { r.set_status(v1::PAYMENT_EVENT_STATUS_SUCCEEDED); }),
       Code::INVALID_ARGUMENT, "amount_received"},
      {"event 1MB message", event([](auto& r) { r.set_failure_message(kMegabyte); }), Code::INVALID_ARGUMENT,
       "failure_message"},
      {"event bad attempt_id", event([](auto& r) { (*r.mutable_metadata())["attempt_id"] = "a-1"; }),
       Code::INVALID_ARGUMENT, "metadata[attempt_id]"},
      {"event unknown invoice",
       event([](auto& r) { r.set_invoice_id("6f1c2b7e-0000-4000-8000-000000000000"); }), Code::NOT_FOUND,
       "invoice_id"},
  };

  const long long attempts_before = QueryInt(db_->url(), "SELECT count(*) FROM pay_attempts");
  const long long keys_before = QueryInt(db_->url(), "SELECT count(*) FROM idempotency_keys");
  auto stub = v1::InvoiceService::NewStub(svc_->Channel());
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectRefusal(c.call(*stub), c.code, c.field);
  }
  EXPECT_EQ(QueryInt(db_->url(), "SELECT count(*) FROM pay_attempts"), attempts_before);
  EXPECT_EQ(QueryInt(db_->url(), "SELECT count(*) FROM idempotency_keys"), keys_before);  // refusals claim no key
  EXPECT_TRUE(svc_->Running());
}

TEST_F(InvoiceBadInputTest, SqlLookingTextIsStoredVerbatim) {
  auto stub = v1::InvoiceService::NewStub(svc_->Channel());
  auto req = ValidUpsert();
  req.set_request_id("sql-text");
  req.mutable_booking()->set_booking_id("bk-sql");
  req.mutable_booking()->mutable_customer()->set_name("Robert'); DROP TABLE bookings; --");
  grpc::ClientContext ctx;
  v1::UpsertBookingResponse resp;
  ASSERT_TRUE(stub->UpsertBooking(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.booking().customer().name(), "Robert'); DROP TABLE bookings; --");
  EXPECT_GE(QueryInt(db_->url(), "SELECT count(*) FROM bookings"), 2);
}

}  // namespace
}  // namespace billing::testing
