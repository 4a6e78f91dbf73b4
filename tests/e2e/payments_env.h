#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/client_context.h>
#include <nlohmann/json.hpp>

#include "billing/payments/v1/payments_service.grpc.pb.h"
#include "support/eventually.h"
#include "support/fake_payment_events.h"
#include "support/grpc_helpers.h"
#include "support/http_client.h"
#include "support/postgres.h"
#include "support/process.h"

// The payments binary against the Stripe emulator (real HTTP) and a real
// PostgreSQL, with an in-process invoice PaymentEventService receiving the
// outcomes.
namespace billing::testing {

namespace pv1 = billing::payments::v1;

inline constexpr char kStripeKey[] = "sk_test_payments_e2e_4f9a1c";
inline constexpr char kWebhookSecret[] = "whsec_e2e_current";

// The environment a payments binary needs in e2e tests: the Stripe emulator
// at `stripe_base`, short timeouts, retries and sweeps, and outcomes sent to
// an invoice PaymentEventService at `invoice_address`.
inline std::map<std::string, std::string> PaymentsEnv(const std::string& database_url, const std::string& stripe_base,
                                                      const std::string& invoice_address,
                                                      std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> env = {
      {"DATABASE_URL", database_url},
      {"STRIPE_API_BASE", stripe_base},
      {"STRIPE_SECRET_KEY", kStripeKey},
      {"STRIPE_WEBHOOK_SECRETS", kWebhookSecret},
      {"WEBHOOK_LISTEN_ADDRESS", "127.0.0.1:0"},
      {"DEFAULT_RETURN_URL", "https://pay.example.com/return"},
      {"STRIPE_TIMEOUT_MS", "1500"},
      {"STRIPE_MAX_RETRIES", "3"},
      {"STRIPE_RETRY_BASE_MS", "20"},
      {"STRIPE_RETRY_MAX_MS", "100"},
      {"PENDING_GRACE_MS", "1000"},
      {"SWEEP_INTERVAL_MS", "100"},
      {"SWEEP_RETRY_MS", "300"},
      {"INVOICE_ADDRESS", invoice_address},
      {"INVOICE_TIMEOUT_MS", "1000"},
      {"OUTBOX_POLL_INTERVAL_MS", "50"},
      {"OUTBOX_RETRY_BASE_MS", "50"},
      {"OUTBOX_RETRY_MAX_MS", "200"},
  };
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

class PaymentsE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    emulator_ = new ServiceProcess({.binary = EmulatorBinary(),
                                    .env = {{"LISTEN_ADDRESS", "127.0.0.1:0"},
                                            {"WEBHOOK_RETRY_BASE_MS", "50"},
                                            {"WEBHOOK_MAX_ATTEMPTS", "6"},
                                            {"WEBHOOK_TIMEOUT_MS", "2000"}},
                                    .wait_serving = false});
  }
  static void TearDownTestSuite() {
    delete emulator_;
    emulator_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(Control("POST", "/_emulator/reset").status, 200);
    db_ = std::make_unique<TestDatabase>("payments");
  }
  void TearDown() override {
    if (svc_) {
      const std::string logs = svc_->Logs();
      EXPECT_EQ(logs.find(kStripeKey), std::string::npos) << "the Stripe key reached the log";
      EXPECT_EQ(logs.find("_secret_"), std::string::npos) << "a client secret reached the log";
      EXPECT_EQ(logs.find("whsec_"), std::string::npos) << "a webhook secret reached the log";
    }
  }

  static std::string EmulatorBase() { return "http://127.0.0.1:" + std::to_string(emulator_->Port("http")); }

  std::map<std::string, std::string> Env(std::map<std::string, std::string> extra = {}) const {
    return PaymentsEnv(db_->url(), EmulatorBase(), events_.address(), std::move(extra));
  }

  void StartPayments(std::map<std::string, std::string> extra = {}) {
    svc_ = std::make_unique<ServiceProcess>(ServiceProcess::Options{.binary = PaymentsBinary(), .env = Env(extra)});
    stub_ = pv1::PaymentService::NewStub(svc_->Channel());
  }

  std::string WebhookUrl(const ServiceProcess& svc) const {
    return "http://127.0.0.1:" + std::to_string(svc.Port("webhook")) + "/stripe/webhook";
  }

  // Registers the payments process's webhook endpoint at the emulator.
  void RegisterWebhooks(const std::vector<std::string>& secrets = {kWebhookSecret}) {
    const auto r = Control("POST", "/_emulator/webhook_endpoints",
                           {{"url", WebhookUrl(*svc_)}, {"secrets", secrets}, {"enabled_events", {"*"}}});
    ASSERT_EQ(r.status, 200) << r.body;
  }

  static HttpResponse Control(const std::string& method, const std::string& path,
                              const nlohmann::json& body = nlohmann::json::object()) {
    return HttpRequest(method, EmulatorBase() + path, body.dump(), {"Content-Type: application/json"});
  }
  static nlohmann::json Ledger() { return Control("GET", "/_emulator/ledger").Json(); }
  static void AddFault(const nlohmann::json& rule) {
    const auto r = Control("POST", "/_emulator/faults", rule);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  static void ClearFaults() { Control("DELETE", "/_emulator/faults"); }
  static void Authenticate(const std::string& intent_id, const std::string& outcome) {
    const auto r = Control("POST", "/_emulator/payment_intents/" + intent_id + "/authenticate", {{"outcome", outcome}});
    ASSERT_EQ(r.status, 200) << r.body;
  }


 public:
  static pv1::CreatePaymentRequest CreateRequest(const std::string& request_id, const std::string& pm,
                                                 int64_t amount = 2000, const std::string& invoice = "inv-1") {
    pv1::CreatePaymentRequest req;
    req.set_request_id(request_id);
    req.set_invoice_id(invoice);
    req.mutable_amount()->set_amount_minor(amount);
    req.mutable_amount()->set_currency_code("USD");
    req.set_payment_method_id(pm);
    req.set_description("Sunset kayak tour");
    (*req.mutable_metadata())["booking_id"] = "bk-1";
    return req;
  }


 protected:
  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (pv1::PaymentService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp, std::chrono::seconds deadline = std::chrono::seconds(30)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    return (stub_.get()->*method)(&ctx, req, resp);
  }

  pv1::Payment Create(const std::string& request_id, const std::string& pm, int64_t amount = 2000,
                      const std::string& invoice = "inv-1") {
    pv1::CreatePaymentResponse resp;
    const auto status = Call(&pv1::PaymentService::Stub::CreatePayment, CreateRequest(request_id, pm, amount, invoice),
                             &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return resp.payment();
  }

  pv1::Payment Get(const std::string& payment_id, bool refresh = false) {
    pv1::GetPaymentRequest req;
    req.set_payment_id(payment_id);
    req.set_refresh(refresh);
    pv1::GetPaymentResponse resp;
    const auto status = Call(&pv1::PaymentService::Stub::GetPayment, req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return resp.payment();
  }

  pv1::Payment Confirm(const std::string& request_id, const std::string& intent_id,
                       const std::string& invoice = "inv-1") {
    pv1::ConfirmPaymentRequest req;
    req.set_request_id(request_id);
    req.set_invoice_id(invoice);
    req.set_payment_intent_id(intent_id);
    pv1::ConfirmPaymentResponse resp;
    const auto status = Call(&pv1::PaymentService::Stub::ConfirmPayment, req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return resp.payment();
  }

  // Waits until the payment's stored status is `want`.
  bool WaitStatus(const std::string& payment_id, pv1::PaymentStatus want,
                  std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    return Eventually([&] { return Get(payment_id).status() == want; }, timeout);
  }

  // The emulator's PaymentIntent of this id.
  static nlohmann::json LedgerIntent(const std::string& id) {
    const nlohmann::json ledger = Ledger();  // a range-for over Ledger()[...] would dangle
    for (const auto& pi : ledger["payment_intents"]) {
      if (pi["id"] == id) return pi;
    }
    return nullptr;
  }

  inline static ServiceProcess* emulator_ = nullptr;
  std::unique_ptr<TestDatabase> db_;
  FakePaymentEvents events_;
  std::unique_ptr<ServiceProcess> svc_;
  std::unique_ptr<pv1::PaymentService::Stub> stub_;
};

}  // namespace billing::testing
