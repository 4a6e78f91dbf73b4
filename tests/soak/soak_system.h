#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "support/http_client.h"
#include "support/postgres.h"
#include "support/process.h"
#include "support/sms_endpoint.h"
#include "support/smtp_sink.h"
#include "support/tcp_proxy.h"

// The whole system as production runs it, shrunk onto one machine for the
// fault suite and the soak (issue 10): two replicas of each service sharing
// that service's database, a TCP proxy in front of each service's replicas
// standing in for its Kubernetes Service, one PostgreSQL cluster the test
// owns (so it can restart it), the Stripe emulator delivering webhooks
// through a proxy to both payments replicas, a real SMTP server and a local
// SMS endpoint. Every replica listens on fixed ports, so a killed one comes
// back where its proxy and its peers expect it.
namespace billing::testing::soak {

enum class Service { kInvoice = 0, kPayments = 1, kNotify = 2 };
inline constexpr int kReplicas = 2;
const char* NameOf(Service s);

inline constexpr char kStripeKey[] = "sk_test_soak_9d2e7b";
inline constexpr char kWebhookSecret[] = "whsec_soak_current";

class System {
 public:
  System();
  ~System();
  System(const System&) = delete;
  System& operator=(const System&) = delete;

  // The address callers use for invoice (its proxy), as the booking
  // system and the payment page would.
  std::string invoice_address() const { return invoice_proxy_->address(); }

  // Replica control. Kill is SIGKILL with no warning; Start brings a dead
  // replica back on its ports (a no-op when it runs).
  void Kill(Service s, int replica);
  void Start(Service s, int replica);
  bool Running(Service s, int replica);
  void StartAll();
  // Health of one replica ("SERVING", "NOT_SERVING" or the RPC error), and
  // its pid, to tell recovery from a restart.
  std::string Health(Service s, int replica);
  int Pid(Service s, int replica);

  PostgresServer& postgres() { return *pg_; }
  SmtpSink& smtp() { return smtp_; }
  SmsEndpoint& sms() { return sms_; }
  std::string invoice_db() const { return invoice_db_->url(); }
  std::string payments_db() const { return payments_db_->url(); }
  std::string notify_db() const { return notify_db_->url(); }

  // The emulator's control API (/_emulator/...).
  HttpResponse Emulator(const std::string& method, const std::string& path,
                        const nlohmann::json& body = nlohmann::json::object()) const;

  // Every process's output so far, dead replicas' included.
  std::string Logs();

 private:
  struct Replica {
    ServiceProcess::Options options;
    std::unique_ptr<ServiceProcess> process;
    std::string earlier_logs;  // of the runs before a kill
  };
  Replica& At(Service s, int replica) { return replicas_[static_cast<int>(s)][replica]; }

  std::unique_ptr<PostgresServer> pg_;
  std::unique_ptr<TestDatabase> invoice_db_;
  std::unique_ptr<TestDatabase> payments_db_;
  std::unique_ptr<TestDatabase> notify_db_;
  SmtpSink smtp_;
  SmsEndpoint sms_{"AC0123456789", "sms-token-Secret-7c1f"};  // NotifyEnv's credentials
  std::unique_ptr<ServiceProcess> emulator_;
  std::unique_ptr<TcpProxy> invoice_proxy_;
  std::unique_ptr<TcpProxy> payments_proxy_;
  std::unique_ptr<TcpProxy> notify_proxy_;
  std::unique_ptr<TcpProxy> webhook_proxy_;
  std::array<std::array<Replica, kReplicas>, 3> replicas_;
  std::mutex mu_;  // replica control from the fault thread vs. log reads
};

}  // namespace billing::testing::soak
