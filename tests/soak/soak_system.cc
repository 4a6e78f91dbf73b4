#include "soak/soak_system.h"

#include <signal.h>

#include <stdexcept>

#include "e2e/invoice_env.h"
#include "e2e/notify_env.h"
#include "e2e/payments_env.h"

namespace billing::testing::soak {

const char* NameOf(Service s) {
  switch (s) {
    case Service::kInvoice: return "invoice";
    case Service::kPayments: return "payments";
    case Service::kNotify: return "notify";
  }
  return "?";
}

namespace {

std::string Local(int port) { return "127.0.0.1:" + std::to_string(port); }

}  // namespace

System::System() : pg_(PostgresServer::StartOwned()) {
  invoice_db_ = std::make_unique<TestDatabase>(*pg_, "soak_inv");
  payments_db_ = std::make_unique<TestDatabase>(*pg_, "soak_pay");
  notify_db_ = std::make_unique<TestDatabase>(*pg_, "soak_ntf");
  emulator_ = std::make_unique<ServiceProcess>(ServiceProcess::Options{
      .binary = EmulatorBinary(),
      .env = {{"LISTEN_ADDRESS", "127.0.0.1:0"},
              {"WEBHOOK_RETRY_BASE_MS", "100"},
              {"WEBHOOK_MAX_ATTEMPTS", "12"},
              {"WEBHOOK_TIMEOUT_MS", "2000"}},
      .wait_serving = false});
  const std::string stripe_base = "http://" + Local(emulator_->Port("http"));

  // Fixed ports per replica: gRPC (invoice's PaymentEventService included),
  // and payments' webhook listener.
  std::array<std::array<int, kReplicas>, 3> grpc_ports{};
  std::array<int, kReplicas> webhook_ports{};
  for (auto& per_service : grpc_ports) {
    for (int& p : per_service) p = FreePort();
  }
  for (int& p : webhook_ports) p = FreePort();
  auto backends = [&](Service s) {
    std::vector<std::string> out;
    for (int p : grpc_ports[static_cast<int>(s)]) out.push_back(Local(p));
    return out;
  };
  invoice_proxy_ = std::make_unique<TcpProxy>(backends(Service::kInvoice));
  payments_proxy_ = std::make_unique<TcpProxy>(backends(Service::kPayments));
  notify_proxy_ = std::make_unique<TcpProxy>(backends(Service::kNotify));
  webhook_proxy_ = std::make_unique<TcpProxy>(std::vector<std::string>{Local(webhook_ports[0]), Local(webhook_ports[1])});

  for (int i = 0; i < kReplicas; ++i) {
    const std::string grpc = Local(grpc_ports[static_cast<int>(Service::kNotify)][i]);
    // Retries outlast the outage scenarios (SMTP and SMS down for seconds).
    At(Service::kNotify, i).options = {
        .binary = NotifyBinary(),
        .env = NotifyEnv(notify_db_->url(), smtp_.url(), sms_.base_url(),
                         {{"GRPC_LISTEN_ADDRESS", grpc},
                          {"DELIVERY_MAX_ATTEMPTS", "40"},
                          {"DELIVERY_RETRY_BASE_MS", "100"},
                          {"DELIVERY_RETRY_MAX_MS", "1000"},
                          {"SMTP_TIMEOUT_MS", "2000"},
                          {"SMS_TIMEOUT_MS", "2000"}})};
  }
  for (int i = 0; i < kReplicas; ++i) {
    At(Service::kInvoice, i).options = {
        .binary = InvoiceBinary(),
        .env = InvoiceEnv(invoice_db_->url(), notify_proxy_->address(),
                          {{"GRPC_LISTEN_ADDRESS", Local(grpc_ports[static_cast<int>(Service::kInvoice)][i])},
                           {"OUTBOX_SYNC_INTERVAL_MS", "200"},
                           {"PAYMENTS_ADDRESS", payments_proxy_->address()},
                           {"PAYMENTS_TIMEOUT_MS", "8000"},
                           {"PAY_STARTED_GRACE_MS", "3000"},
                           {"PAY_CHECK_INTERVAL_MS", "500"},
                           {"PAY_LOST_AFTER_MS", "20000"},
                           {"PAY_ABANDON_AFTER_MS", "4000"},
                           {"PAYMENT_SYNC_INTERVAL_MS", "100"},
                           {"PAYMENT_ACTION_RETRY_BASE_MS", "100"},
                           {"PAYMENT_ACTION_RETRY_MAX_MS", "1000"}})};
  }
  for (int i = 0; i < kReplicas; ++i) {
    At(Service::kPayments, i).options = {
        .binary = PaymentsBinary(),
        .env = PaymentsEnv(payments_db_->url(), stripe_base, invoice_proxy_->address(),
                           {{"GRPC_LISTEN_ADDRESS", Local(grpc_ports[static_cast<int>(Service::kPayments)][i])},
                            {"WEBHOOK_LISTEN_ADDRESS", Local(webhook_ports[i])},
                            {"STRIPE_SECRET_KEY", kStripeKey},
                            {"STRIPE_WEBHOOK_SECRETS", kWebhookSecret},
                            {"PENDING_GRACE_MS", "3000"},
                            {"INVOICE_TIMEOUT_MS", "2000"},
                            {"OUTBOX_RETRY_MAX_MS", "1000"}})};
  }
  StartAll();
  const auto r = Emulator("POST", "/_emulator/webhook_endpoints",
                          {{"url", "http://" + webhook_proxy_->address() + "/stripe/webhook"},
                           {"secrets", {kWebhookSecret}},
                           {"enabled_events", {"*"}}});
  if (r.status != 200) throw std::runtime_error("webhook registration failed: " + r.body);
}

System::~System() {
  // Services first, while the database and the sinks they drain to exist.
  for (auto& per_service : replicas_) {
    for (auto& r : per_service) r.process.reset();
  }
}

void System::Kill(Service s, int replica) {
  std::lock_guard lock(mu_);
  Replica& r = At(s, replica);
  if (!r.process) return;
  r.process->Stop(SIGKILL, std::chrono::seconds(5));
  r.earlier_logs += r.process->Logs() + "\n[SIGKILL]\n";
  r.process.reset();
}

void System::Start(Service s, int replica) {
  std::lock_guard lock(mu_);
  Replica& r = At(s, replica);
  if (r.process && r.process->Running()) return;
  if (r.process) r.earlier_logs += r.process->Logs() + "\n[exited]\n";
  r.process.reset();
  r.process = std::make_unique<ServiceProcess>(r.options);
}

bool System::Running(Service s, int replica) {
  std::lock_guard lock(mu_);
  Replica& r = At(s, replica);
  return r.process && r.process->Running();
}

void System::StartAll() {
  for (Service s : {Service::kNotify, Service::kInvoice, Service::kPayments}) {
    for (int i = 0; i < kReplicas; ++i) Start(s, i);
  }
}

std::string System::Health(Service s, int replica) {
  std::lock_guard lock(mu_);
  Replica& r = At(s, replica);
  return r.process ? r.process->Health() : "DEAD";
}

int System::Pid(Service s, int replica) {
  std::lock_guard lock(mu_);
  Replica& r = At(s, replica);
  return r.process ? r.process->pid() : -1;
}

HttpResponse System::Emulator(const std::string& method, const std::string& path, const nlohmann::json& body) const {
  return HttpRequest(method, "http://" + Local(emulator_->Port("http")) + path, body.dump(),
                     {"Content-Type: application/json"});
}

std::string System::Logs() {
  std::lock_guard lock(mu_);
  std::string out;
  for (Service s : {Service::kInvoice, Service::kPayments, Service::kNotify}) {
    for (int i = 0; i < kReplicas; ++i) {
      Replica& r = At(s, i);
      out += std::string("--- ") + NameOf(s) + "-" + std::to_string(i) + "\n" + r.earlier_logs +
             (r.process ? r.process->Logs() : "") + "\n";
    }
  }
  return out + "--- emulator\n" + emulator_->Logs() + "\n";
}

}  // namespace billing::testing::soak
