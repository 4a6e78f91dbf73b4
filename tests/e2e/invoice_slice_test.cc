// The invoice slice (booking upsert, CreateInvoice, GetInvoice) through the
// real binary over gRPC and through buf curl with JSON bodies.
#include <gtest/gtest.h>

#include <thread>

#include <grpcpp/client_context.h>
#include <nlohmann/json.hpp>

#include "billing/invoice/v1/invoice_service.grpc.pb.h"
#include "e2e/invoice_env.h"
#include "support/fake_notify.h"
#include "support/grpc_helpers.h"
#include "support/postgres.h"
#include "support/process.h"

namespace billing::testing {
namespace {

namespace v1 = billing::invoice::v1;

class InvoiceSliceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new TestDatabase("slice");
    notify_ = new FakeNotify();
    svc_ = new ServiceProcess({.binary = InvoiceBinary(), .env = InvoiceEnv(db_->url(), notify_->address())});
  }
  static void TearDownTestSuite() {
    delete svc_;
    delete notify_;
    delete db_;
  }

  void SetUp() override { stub_ = v1::InvoiceService::NewStub(svc_->Channel()); }

  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (v1::InvoiceService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp, const std::string& request_id = "") {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!request_id.empty()) ctx.AddMetadata("x-request-id", request_id);
    return (stub_.get()->*method)(&ctx, req, resp);
  }

  // A booking with a unique id; returns the id.
  std::string UpsertBooking(int64_t total = 25000, const std::string& currency = "USD",
                            v1::BookingStatus status = v1::BOOKING_STATUS_PENDING) {
    const std::string id = "bk-" + std::to_string(++counter_) + "-" + std::to_string(getpid());
    v1::UpsertBookingRequest req;
    req.set_request_id("upsert-" + id);
    auto* b = req.mutable_booking();
    b->set_booking_id(id);
    b->set_status(status);
    b->mutable_customer()->set_name("Ann Lee");
    b->mutable_customer()->set_email("ann@example.com");
    b->mutable_customer()->set_phone("+14155550123");
    b->mutable_total()->set_amount_minor(total);
    b->mutable_total()->set_currency_code(currency);
    b->set_activity_name("Sunset kayak tour");
    b->set_start_local("2026-12-01T09:00");
    b->set_end_local("2026-12-02T11:30");
    b->set_time_zone("America/Denver");
    b->set_confirmation_code("K7Q2-PX");
    v1::UpsertBookingResponse resp;
    const auto status_ = Call(&v1::InvoiceService::Stub::UpsertBooking, req, &resp);
    EXPECT_TRUE(status_.ok()) << status_.error_message();
    return id;
  }

  v1::CreateInvoiceRequest CreateRequest(const std::string& booking_id, int64_t amount,
                                         const std::string& currency = "USD") {
    v1::CreateInvoiceRequest req;
    req.set_request_id("create-" + std::to_string(++counter_) + "-" + std::to_string(getpid()));
    req.set_booking_id(booking_id);
    req.mutable_amount()->set_amount_minor(amount);
    req.mutable_amount()->set_currency_code(currency);
    req.set_send_type(billing::common::v1::CHANNEL_EMAIL);
    return req;
  }

  static TestDatabase* db_;
  static FakeNotify* notify_;
  static ServiceProcess* svc_;
  static int counter_;
  std::unique_ptr<v1::InvoiceService::Stub> stub_;
};

TestDatabase* InvoiceSliceTest::db_ = nullptr;
FakeNotify* InvoiceSliceTest::notify_ = nullptr;
ServiceProcess* InvoiceSliceTest::svc_ = nullptr;
int InvoiceSliceTest::counter_ = 0;

TEST_F(InvoiceSliceTest, CreateThenGetByIdAndByToken) {
  const std::string booking = UpsertBooking();
  auto req = CreateRequest(booking, 10000);
  req.set_confirm_on_pay(true);
  auto* li = req.add_line_items();
  li->set_name("Adult");
  li->set_quantity(2);
  li->mutable_unit_amount()->set_amount_minor(12500);
  li->mutable_unit_amount()->set_currency_code("USD");
  auto* fee = req.add_fees();
  fee->set_name("Booking fee");
  fee->mutable_amount()->set_amount_minor(300);
  fee->mutable_amount()->set_currency_code("USD");
  req.set_days_until_due(7);
  v1::CreateInvoiceResponse created;
  ASSERT_TRUE(Call(&v1::InvoiceService::Stub::CreateInvoice, req, &created).ok());
  const auto& inv = created.invoice();
  EXPECT_EQ(inv.status(), v1::INVOICE_STATUS_OPEN);
  EXPECT_GE(inv.token().size(), 22u);  // at least 128 bits of base64url
  EXPECT_EQ(inv.pay_url(), "https://pay.example.com/i/" + inv.token());
  EXPECT_TRUE(inv.has_due_time());

  for (int by_token = 0; by_token < 2; ++by_token) {
    v1::GetInvoiceRequest get;
    if (by_token) get.set_token(inv.token()); else get.set_invoice_id(inv.invoice_id());
    v1::GetInvoiceResponse view;
    ASSERT_TRUE(Call(&v1::InvoiceService::Stub::GetInvoice, get, &view).ok());
    EXPECT_EQ(view.invoice().invoice_id(), inv.invoice_id());
    EXPECT_EQ(view.due_now().amount_minor(), 10000);
    EXPECT_EQ(view.booking().activity_name(), "Sunset kayak tour");
    EXPECT_EQ(view.booking().date(), "2026-12-01");
    EXPECT_EQ(view.booking().start(), "09:00");
    EXPECT_EQ(view.booking().end(), "11:30");
    EXPECT_EQ(view.booking().end_date(), "2026-12-02");
    EXPECT_EQ(view.booking().confirmation_code(), "K7Q2-PX");
    EXPECT_EQ(view.cart().items_total().amount_minor(), 25000);
    EXPECT_EQ(view.cart().fees_total().amount_minor(), 300);
    EXPECT_EQ(view.cart().balance().amount_minor(), 25000);
    EXPECT_EQ(view.cart().line_items(0).amount().amount_minor(), 25000);
  }
}

TEST_F(InvoiceSliceTest, ZeroDecimalCurrency) {
  const std::string booking = UpsertBooking(12000, "JPY");
  v1::CreateInvoiceResponse created;
  ASSERT_TRUE(Call(&v1::InvoiceService::Stub::CreateInvoice, CreateRequest(booking, 3000, "JPY"), &created).ok());
  EXPECT_EQ(created.invoice().amount().amount_minor(), 3000);
  EXPECT_EQ(created.invoice().amount().currency_code(), "JPY");
}

TEST_F(InvoiceSliceTest, BadInputGetsAPreciseCodeNamingTheField) {
  const std::string booking = UpsertBooking(25000);
  const std::string canceled = UpsertBooking(25000, "USD", v1::BOOKING_STATUS_CANCELED);
  struct Case {
    std::string name;
    v1::CreateInvoiceRequest req;
    grpc::StatusCode code;
    std::string field;
    std::string reason;
  };
  auto with = [&](std::function<void(v1::CreateInvoiceRequest&)> f) {
    auto r = CreateRequest(booking, 1000);
    f(r);
    return r;
  };
  const std::vector<Case> cases = {
      {"negative amount", with([](auto& r) { r.mutable_amount()->set_amount_minor(-1); }),
       grpc::StatusCode::INVALID_ARGUMENT, "amount.amount_minor", "INVALID_FIELD"},
      {"zero amount", with([](auto& r) { r.mutable_amount()->set_amount_minor(0); }),
       grpc::StatusCode::INVALID_ARGUMENT, "amount.amount_minor", "INVALID_FIELD"},
      {"above balance", with([](auto& r) { r.mutable_amount()->set_amount_minor(25001); }),
       grpc::StatusCode::INVALID_ARGUMENT, "amount.amount_minor", "AMOUNT_EXCEEDS_BALANCE"},
      {"unknown booking", with([](auto& r) { r.set_booking_id("bk-does-not-exist"); }),
       grpc::StatusCode::NOT_FOUND, "booking_id", "BOOKING_NOT_FOUND"},
      {"bad email", with([](auto& r) { r.set_send_to_email_override("ann@@example"); }),
       grpc::StatusCode::INVALID_ARGUMENT, "send_to_email_override", "INVALID_FIELD"},
      {"empty booking id", with([](auto& r) { r.clear_booking_id(); }),
       grpc::StatusCode::INVALID_ARGUMENT, "booking_id", "INVALID_FIELD"},
      {"oversized booking id", with([](auto& r) { r.set_booking_id(std::string(100000, 'b')); }),
       grpc::StatusCode::INVALID_ARGUMENT, "booking_id", "INVALID_FIELD"},
      {"empty request id", with([](auto& r) { r.clear_request_id(); }),
       grpc::StatusCode::INVALID_ARGUMENT, "request_id", "INVALID_FIELD"},
      {"unknown currency", with([](auto& r) { r.mutable_amount()->set_currency_code("ABC"); }),
       grpc::StatusCode::INVALID_ARGUMENT, "amount.currency_code", "INVALID_FIELD"},
      {"other currency", with([](auto& r) { r.mutable_amount()->set_currency_code("EUR"); }),
       grpc::StatusCode::INVALID_ARGUMENT, "amount.currency_code", "CURRENCY_MISMATCH"},
      {"canceled booking", with([&](auto& r) { r.set_booking_id(canceled); }),
       grpc::StatusCode::FAILED_PRECONDITION, "", "BOOKING_CANCELED"},
      {"oversized custom field", with([](auto& r) {
         auto* c = r.add_custom_fields();
         c->set_name("PO");
         c->set_value(std::string(1 << 20, 'v'));
       }),
       grpc::StatusCode::INVALID_ARGUMENT, "custom_fields[0].value", "INVALID_FIELD"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    v1::CreateInvoiceResponse resp;
    const auto status = Call(&v1::InvoiceService::Stub::CreateInvoice, c.req, &resp);
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();
    EXPECT_NE(status.error_code(), grpc::StatusCode::INTERNAL);
    if (!c.field.empty()) {
      EXPECT_EQ(status.error_message().rfind(c.field, 0), 0u) << status.error_message();
      EXPECT_EQ(ErrorInfoOf(status).metadata().at("field"), c.field);
    }
    EXPECT_EQ(ErrorInfoOf(status).reason(), c.reason);
    EXPECT_EQ(ErrorInfoOf(status).domain(), "invoice.billing");
  }

  // GetInvoice: unknown ids and tokens are NOT_FOUND, malformed ones
  // INVALID_ARGUMENT, and the token never appears in the message.
  struct GetCase {
    std::function<void(v1::GetInvoiceRequest&)> set;
    grpc::StatusCode code;
    std::string field;
  };
  const std::vector<GetCase> gets = {
      {[](auto& r) { r.set_invoice_id("1b4e28ba-2fa1-41d2-883f-0016d3cca427"); }, grpc::StatusCode::NOT_FOUND, "invoice_id"},
      {[](auto& r) { r.set_invoice_id("not-a-uuid"); }, grpc::StatusCode::INVALID_ARGUMENT, "invoice_id"},
      {[](auto& r) { r.set_token("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); }, grpc::StatusCode::NOT_FOUND, "token"},
      {[](auto& r) { r.set_token("../../etc/passwd"); }, grpc::StatusCode::INVALID_ARGUMENT, "token"},
      {[](auto& r) { r.set_token(""); }, grpc::StatusCode::INVALID_ARGUMENT, "token"},
      {[](auto&) {}, grpc::StatusCode::INVALID_ARGUMENT, "invoice_id"},
  };
  for (const auto& g : gets) {
    v1::GetInvoiceRequest req;
    g.set(req);
    v1::GetInvoiceResponse resp;
    const auto status = Call(&v1::InvoiceService::Stub::GetInvoice, req, &resp);
    EXPECT_EQ(status.error_code(), g.code) << status.error_message();
    EXPECT_EQ(ErrorInfoOf(status).metadata().at("field"), g.field) << status.error_message();
    EXPECT_EQ(status.error_message().find("AAAAAAAAAAAA"), std::string::npos);
  }
}

TEST_F(InvoiceSliceTest, RetriedCreateIsIdempotentAndKeyReuseIsRefused) {
  const std::string booking = UpsertBooking();
  const auto req = CreateRequest(booking, 5000);
  v1::CreateInvoiceResponse first, second;
  ASSERT_TRUE(Call(&v1::InvoiceService::Stub::CreateInvoice, req, &first).ok());
  ASSERT_TRUE(Call(&v1::InvoiceService::Stub::CreateInvoice, req, &second).ok());
  EXPECT_EQ(first.invoice().invoice_id(), second.invoice().invoice_id());
  EXPECT_EQ(first.invoice().token(), second.invoice().token());

  auto changed = req;
  changed.mutable_amount()->set_amount_minor(6000);
  v1::CreateInvoiceResponse third;
  const auto status = Call(&v1::InvoiceService::Stub::CreateInvoice, changed, &third);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorInfoOf(status).reason(), "IDEMPOTENCY_KEY_REUSED");
  EXPECT_EQ(QueryInt(db_->url(), "SELECT count(*) FROM invoices WHERE booking_id = '" + booking + "'"), 1);
}

TEST_F(InvoiceSliceTest, RequestIdIsEchoedAndLogged) {
  const std::string booking = UpsertBooking();
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-request-id", "trace-7f3a9c");
  v1::CreateInvoiceResponse resp;
  ASSERT_TRUE(stub_->CreateInvoice(&ctx, CreateRequest(booking, 100), &resp).ok());
  const auto& md = ctx.GetServerInitialMetadata();
  auto it = md.find("x-request-id");
  ASSERT_NE(it, md.end());
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), "trace-7f3a9c");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::string logs = svc_->Logs();
  const auto line_start = logs.find("\"request_id\":\"trace-7f3a9c\"");
  ASSERT_NE(line_start, std::string::npos);
  EXPECT_NE(logs.find(resp.invoice().invoice_id()), std::string::npos);
  // The link token is a secret: never logged.
  EXPECT_EQ(logs.find(resp.invoice().token()), std::string::npos);
}

TEST_F(InvoiceSliceTest, JsonBodiesThroughBufCurl) {
  const std::string id = "bk-json-" + std::to_string(getpid());
  const auto upsert = BufCurl(svc_->target(), "billing.invoice.v1.InvoiceService/UpsertBooking",
                              R"({"request_id":"json-u1","booking":{"booking_id":")" + id +
                                  R"(","status":"BOOKING_STATUS_DRAFT","customer":{"name":"Bo","email":"bo@example.com"},)"
                                  R"("total":{"amount_minor":9900,"currency_code":"EUR"}}})");
  ASSERT_EQ(upsert.exit_code, 0) << upsert.output;
  const auto create = BufCurl(svc_->target(), "billing.invoice.v1.InvoiceService/CreateInvoice",
                              R"({"request_id":"json-c1","booking_id":")" + id +
                                  R"(","amount":{"amount_minor":"4950","currency_code":"EUR"},"send_type":"CHANNEL_EMAIL"})");
  ASSERT_EQ(create.exit_code, 0) << create.output;
  const auto created = nlohmann::json::parse(create.output);
  const std::string invoice_id = created["invoice"]["invoiceId"];
  const auto get = BufCurl(svc_->target(), "billing.invoice.v1.InvoiceService/GetInvoice",
                           R"({"invoice_id":")" + invoice_id + R"("})");
  ASSERT_EQ(get.exit_code, 0) << get.output;
  const auto view = nlohmann::json::parse(get.output);
  EXPECT_EQ(view["dueNow"]["amountMinor"], "4950");
  EXPECT_EQ(view["invoice"]["status"], "INVOICE_STATUS_OPEN");

  const auto bad = BufCurl(svc_->target(), "billing.invoice.v1.InvoiceService/CreateInvoice",
                           R"({"request_id":"json-c2","booking_id":")" + id +
                               R"(","amount":{"amount_minor":"-1","currency_code":"EUR"},"send_type":"CHANNEL_EMAIL"})");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("invalid_argument"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("amount.amount_minor"), std::string::npos) << bad.output;
}

TEST_F(InvoiceSliceTest, TwoReplicasOnOneDatabaseCreateOneInvoicePerRequest) {
  ServiceProcess replica({.binary = InvoiceBinary(), .env = InvoiceEnv(db_->url(), notify_->address())});
  auto other = v1::InvoiceService::NewStub(replica.Channel());
  const std::string booking = UpsertBooking();
  const auto req = CreateRequest(booking, 700);
  constexpr int kCalls = 12;
  std::vector<std::string> ids(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      grpc::ClientContext ctx;
      v1::CreateInvoiceResponse resp;
      auto* stub = i % 2 == 0 ? stub_.get() : other.get();
      const auto status = stub->CreateInvoice(&ctx, req, &resp);
      EXPECT_TRUE(status.ok()) << status.error_message();
      ids[i] = resp.invoice().invoice_id();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_EQ(QueryInt(db_->url(), "SELECT count(*) FROM invoices WHERE booking_id = '" + booking + "'"), 1);
}

}  // namespace
}  // namespace billing::testing
