#pragma once

// The whole system for e2e tests: the invoice, payments and notify binaries,
// each on its own PostgreSQL database, the Stripe emulator with the payments
// webhook registered, a real SMTP server behind notify's email and a file
// outbox behind its SMS.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "billing/invoice/v1/invoice_service.grpc.pb.h"
#include "e2e/invoice_env.h"
#include "e2e/notify_env.h"
#include "e2e/payments_env.h"
#include "support/http_client.h"
#include "support/postgres.h"
#include "support/process.h"
#include "support/smtp_sink.h"

namespace billing::testing {

inline std::string LocalAddress() { return "127.0.0.1:" + std::to_string(FreePort()); }

// The running system. The addresses are fixed up front because invoice and
// payments call each other, and the invoice binary is restarted on the same
// address after a SIGKILL.
class PaySystem {
 public:
  PaySystem() {
    emulator_ = std::make_unique<ServiceProcess>(ServiceProcess::Options{
        .binary = EmulatorBinary(),
        .env = {{"LISTEN_ADDRESS", "127.0.0.1:0"},
                {"WEBHOOK_RETRY_BASE_MS", "50"},
                {"WEBHOOK_MAX_ATTEMPTS", "10"},
                {"WEBHOOK_TIMEOUT_MS", "2000"}},
        .wait_serving = false});
    notify_ = std::make_unique<ServiceProcess>(ServiceProcess::Options{
        .binary = NotifyBinary(),
        .env = NotifyEnv(notify_db_.url(), smtp_.url(), "",
                         {{"GRPC_LISTEN_ADDRESS", notify_address_}, {"FILE_OUTBOX_DIR", notify_outbox_}})});
    StartInvoice();
    payments_ = std::make_unique<ServiceProcess>(ServiceProcess::Options{
        .binary = PaymentsBinary(),
        .env = PaymentsEnv(payments_db_.url(), EmulatorBase(), invoice_address_,
                           {{"GRPC_LISTEN_ADDRESS", payments_address_},
                            {"PENDING_GRACE_MS", "3000"},
                            {"INVOICE_TIMEOUT_MS", "2000"},
                            {"OUTBOX_RETRY_MAX_MS", "300"}})});
    const auto r = Control("POST", "/_emulator/webhook_endpoints",
                           {{"url", "http://127.0.0.1:" + std::to_string(payments_->Port("webhook")) + "/stripe/webhook"},
                            {"secrets", {kWebhookSecret}},
                            {"enabled_events", {"*"}}});
    if (r.status != 200) throw std::runtime_error("webhook registration failed: " + r.body);
  }

  void StartInvoice() {
    invoice_ = std::make_unique<ServiceProcess>(ServiceProcess::Options{
        .binary = InvoiceBinary(),
        .env = InvoiceEnv(invoice_db_.url(), notify_address_,
                          {{"GRPC_LISTEN_ADDRESS", invoice_address_},
                           {"OUTBOX_SYNC_INTERVAL_MS", "200"},
                           {"PAYMENTS_ADDRESS", payments_address_},
                           {"PAYMENTS_TIMEOUT_MS", "15000"},
                           {"PAY_STARTED_GRACE_MS", "3000"},
                           {"PAY_CHECK_INTERVAL_MS", "500"},
                           {"PAY_LOST_AFTER_MS", "30000"},
                           {"PAY_ABANDON_AFTER_MS", "2500"},
                           {"PAYMENT_SYNC_INTERVAL_MS", "100"},
                           {"PAYMENT_ACTION_RETRY_BASE_MS", "100"},
                           {"PAYMENT_ACTION_RETRY_MAX_MS", "500"}})});
    invoice_stub_ = billing::invoice::v1::InvoiceService::NewStub(invoice_->Channel());
    events_stub_ = billing::invoice::v1::PaymentEventService::NewStub(invoice_->Channel());
  }

  void KillInvoice() {
    killed_logs_ += invoice_->Logs();
    invoice_->Stop(SIGKILL, std::chrono::seconds(5));
  }

  billing::invoice::v1::InvoiceService::Stub& invoice() { return *invoice_stub_; }
  ServiceProcess& invoice_process() { return *invoice_; }
  ServiceProcess& payments_process() { return *payments_; }
  ServiceProcess& notify_process() { return *notify_; }
  const TestDatabase& payments_db() const { return payments_db_; }
  const TestDatabase& notify_db() const { return notify_db_; }
  // Where notify writes each SMS as a file (email goes to the SMTP sink).
  const std::string& notify_outbox() const { return notify_outbox_; }
  billing::invoice::v1::PaymentEventService::Stub& events() { return *events_stub_; }
  const TestDatabase& invoice_db() const { return invoice_db_; }
  const SmtpSink& smtp() const { return smtp_; }
  std::string Logs() const {
    return "--- invoice\n" + killed_logs_ + invoice_->Logs() + "\n--- payments\n" + payments_->Logs() +
           "\n--- notify\n" + notify_->Logs();
  }
  std::string EmulatorBase() const { return "http://127.0.0.1:" + std::to_string(emulator_->Port("http")); }
  HttpResponse Control(const std::string& method, const std::string& path, const nlohmann::json& body = nlohmann::json::object()) const {
    return HttpRequest(method, EmulatorBase() + path, body.dump(), {"Content-Type: application/json"});
  }
  nlohmann::json Ledger() const { return Control("GET", "/_emulator/ledger").Json(); }

 private:
  TestDatabase invoice_db_{"pay_inv"};
  TestDatabase payments_db_{"pay_pay"};
  TestDatabase notify_db_{"pay_ntf"};
  SmtpSink smtp_;
  std::string invoice_address_ = LocalAddress();
  std::string payments_address_ = LocalAddress();
  std::string notify_address_ = LocalAddress();
  std::string notify_outbox_ = MakeTempDir("pay-notify-outbox");
  std::unique_ptr<ServiceProcess> emulator_;
  std::unique_ptr<ServiceProcess> notify_;
  std::unique_ptr<ServiceProcess> invoice_;
  std::unique_ptr<ServiceProcess> payments_;
  std::unique_ptr<billing::invoice::v1::InvoiceService::Stub> invoice_stub_;
  std::unique_ptr<billing::invoice::v1::PaymentEventService::Stub> events_stub_;
  std::string killed_logs_;
};

}  // namespace billing::testing
