// The shared platform, exercised through the three real binaries: config
// errors, health, reflection (via buf curl), metrics, graceful shutdown,
// database outages, concurrent migrations and TLS/mTLS.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "billing/invoice/v1/invoice_service.grpc.pb.h"
#include "support/grpc_helpers.h"
#include "support/postgres.h"
#include "support/process.h"

namespace billing::testing {
namespace {

struct Binary {
  std::string name;
  std::string path;
  std::string service;  // its main gRPC service
  std::string unimplemented_method;  // "" once every method is served
  std::map<std::string, std::string> env;
};

std::vector<Binary> Binaries() {
  return {
      {"invoice", InvoiceBinary(), "billing.invoice.v1.InvoiceService", "",
       {{"PAY_LINK_BASE_URL", "https://pay.example.com/i"}, {"BUSINESS_NAME", "Sunset Kayaks"}}},
      {"payments", PaymentsBinary(), "billing.payments.v1.PaymentService", "",
       {{"STRIPE_SECRET_KEY", "sk_test_platform"},
        {"STRIPE_WEBHOOK_SECRETS", "whsec_platform"},
        {"DEFAULT_RETURN_URL", "https://pay.example.com/return"},
        {"WEBHOOK_LISTEN_ADDRESS", "127.0.0.1:0"}}},
      {"notify", NotifyBinary(), "billing.notify.v1.NotifyService", "",
       {{"FILE_OUTBOX_DIR", MakeTempDir("platform-outbox")}}},
  };
}



TEST(PlatformTest, HelpAndFailFastConfiguration) {
  for (const auto& b : Binaries()) {
    SCOPED_TRACE(b.name);
    const auto help = RunCommand({b.path, "--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.output.find("--database-url"), std::string::npos);
    EXPECT_NE(help.output.find("DATABASE_URL"), std::string::npos);

    // No database URL: one line naming it, non-zero exit, nothing bound.
    const auto missing = RunCommand({b.path}, With(b.env, {{"DATABASE_URL", ""}}));
    EXPECT_EQ(missing.exit_code, 2) << missing.output;
    EXPECT_NE(missing.output.find("DATABASE_URL"), std::string::npos);
    EXPECT_EQ(std::count(missing.output.begin(), missing.output.end(), '\n'), 1) << missing.output;

    const auto invalid =
        RunCommand({b.path, "--db-pool-size=0"}, With(b.env, {{"DATABASE_URL", "postgresql://x@127.0.0.1/x"}}));
    EXPECT_EQ(invalid.exit_code, 2);
    EXPECT_NE(invalid.output.find("DB_POOL_SIZE"), std::string::npos) << invalid.output;

    const auto tls = RunCommand({b.path, "--tls-cert-file=/x.pem"},
                                With(b.env, {{"DATABASE_URL", "postgresql://x@127.0.0.1/x"}}));
    EXPECT_EQ(tls.exit_code, 2);
    EXPECT_NE(tls.output.find("TLS_KEY_FILE"), std::string::npos) << tls.output;

    // An emptied tokens Secret stops the start: running without tokens
    // would admit every caller.
    const std::string empty = MakeTempDir("billing-empty") + "/caller-tokens";
    std::ofstream(empty) << "\n";
    const auto no_tokens = RunCommand({b.path}, With(b.env, {{"DATABASE_URL", "postgresql://x@127.0.0.1/x"},
                                                              {"CALLER_TOKENS_FILE", empty}}));
    EXPECT_EQ(no_tokens.exit_code, 2);
    EXPECT_NE(no_tokens.output.find("CALLER_TOKENS_FILE names an empty file"), std::string::npos) << no_tokens.output;
  }
  // A token a callee could never accept fails the configuration check too.
  const auto short_token = RunCommand({InvoiceBinary(), "--check-config"},
                                      {{"DATABASE_URL", "postgresql://x@127.0.0.1/x"}, {"PAY_LINK_BASE_URL", "https://p/i"},
                                       {"BUSINESS_NAME", "B"}, {"NOTIFY_TOKEN", "short"}});
  EXPECT_EQ(short_token.exit_code, 2);
  EXPECT_NE(short_token.output.find("NOTIFY_TOKEN: the token must have 16"), std::string::npos) << short_token.output;
  EXPECT_EQ(short_token.output.find("short\""), std::string::npos) << "never quoted";
  // The README's config table lists every option each binary knows.
  const std::string readme = ReadFile(SourceDir() + "/README.md");
  for (const auto& b : Binaries()) {
    const auto help = RunCommand({b.path, "--help"}).output;
    int options = 0;
    for (std::size_t pos = 0; (pos = help.find("(env ", pos)) != std::string::npos; ++pos) {
      const auto end = help.find(')', pos);
      const std::string name = help.substr(pos + 5, end - pos - 5);
      EXPECT_NE(readme.find("| `" + name + "` |"), std::string::npos) << b.name << ": README lacks " << name;
      ++options;
    }
    EXPECT_GT(options, 10);
  }

  const auto no_link = RunCommand({InvoiceBinary()}, {{"DATABASE_URL", "postgresql://x@127.0.0.1/x"},
                                                      {"PAY_LINK_BASE_URL", ""}, {"BUSINESS_NAME", "B"}});
  EXPECT_EQ(no_link.exit_code, 2);
  EXPECT_NE(no_link.output.find("PAY_LINK_BASE_URL"), std::string::npos);
}

TEST(PlatformTest, EachServiceServesHealthReflectionMetricsAndStopsCleanly) {
  for (const auto& b : Binaries()) {
    SCOPED_TRACE(b.name);
    TestDatabase db(b.name);
    ServiceProcess svc({.binary = b.path, .env = With(b.env, {{"DATABASE_URL", db.url()}})});

    // Reflection: grpcurl-style listing through buf curl.
    const auto list = BufListServices(svc.target());
    ASSERT_EQ(list.exit_code, 0) << list.output;
    EXPECT_NE(list.output.find(b.service), std::string::npos) << list.output;
    EXPECT_NE(list.output.find("grpc.health.v1.Health"), std::string::npos);
    EXPECT_NE(list.output.find("grpc.reflection.v1alpha.ServerReflection"), std::string::npos);

    // Health, callable with a JSON body (the built-in service could not be).
    const auto check = BufCurl(svc.target(), "grpc.health.v1.Health/Check", "{}");
    ASSERT_EQ(check.exit_code, 0) << check.output;
    EXPECT_NE(check.output.find("\"SERVING\""), std::string::npos) << check.output;
    const auto named = BufCurl(svc.target(), "grpc.health.v1.Health/Check", "{\"service\":\"" + b.service + "\"}");
    EXPECT_NE(named.output.find("\"SERVING\""), std::string::npos) << named.output;
    const auto unknown = BufCurl(svc.target(), "grpc.health.v1.Health/Check", "{\"service\":\"nope\"}");
    EXPECT_NE(unknown.output.find("not_found"), std::string::npos) << unknown.output;

    // A method a later release serves: UNIMPLEMENTED with the reason.
    if (!b.unimplemented_method.empty()) {
      const auto later = BufCurl(svc.target(), b.unimplemented_method, "{}");
      EXPECT_NE(later.exit_code, 0);
      EXPECT_NE(later.output.find("unimplemented"), std::string::npos) << later.output;
    }

    // /metrics shows the calls just made.
    httplib::Client http("127.0.0.1", svc.metrics_port());
    const auto metrics = http.Get("/metrics");
    ASSERT_TRUE(metrics) << "no /metrics";
    EXPECT_NE(metrics->body.find("grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Check\","
                                 "grpc_service=\"grpc.health.v1.Health\",grpc_type=\"unary\"}"),
              std::string::npos)
        << metrics->body;
    if (!b.unimplemented_method.empty()) {
      EXPECT_NE(metrics->body.find("grpc_code=\"Unimplemented\""), std::string::npos);
    }
    EXPECT_NE(metrics->body.find("grpc_server_handling_seconds_bucket"), std::string::npos);

    // SIGTERM: exit 0 well within the shutdown deadline.
    std::chrono::milliseconds took{};
    EXPECT_EQ(svc.Stop(SIGTERM, std::chrono::seconds(15), &took), 0) << svc.Logs();
    EXPECT_LT(took, std::chrono::seconds(5));
    EXPECT_NE(svc.Logs().find("\"msg\":\"stopped\""), std::string::npos);
    // The config was logged once, with the database password redacted.
    EXPECT_NE(svc.Logs().find("\"msg\":\"starting\""), std::string::npos);
  }
}

TEST(PlatformTest, InFlightCallsFinishDuringDrainAndHealthTurnsNotServing) {
  TestDatabase db("drain");
  ServiceProcess svc({.binary = InvoiceBinary(),
                      .env = {{"DATABASE_URL", db.url()},
                              {"PAY_LINK_BASE_URL", "https://p.example.com"}, {"BUSINESS_NAME", "B"},
                              {"SHUTDOWN_DRAIN_DELAY_MS", "1500"}}});
  auto channel = svc.Channel();
  ASSERT_EQ(svc.Health("", channel), "SERVING");
  std::thread stopper([&] { kill(svc.pid(), SIGTERM); });
  stopper.join();
  // During the drain delay the server still answers, reporting NOT_SERVING.
  EXPECT_TRUE(svc.WaitHealth("NOT_SERVING", std::chrono::milliseconds(1000), channel));
  std::chrono::milliseconds took{};
  EXPECT_EQ(svc.Stop(SIGTERM, std::chrono::seconds(15), &took), 0);
}

TEST(PlatformTest, NotServingWithoutDatabaseAndRecoversWithoutRestart) {
  auto pg = PostgresServer::StartOwned();
  TestDatabase db(*pg, "outage");
  pg->Stop();

  ServiceProcess svc({.binary = InvoiceBinary(),
                      .env = {{"DATABASE_URL", db.url()},
                              {"PAY_LINK_BASE_URL", "https://p.example.com"}, {"BUSINESS_NAME", "B"},
                              {"DB_LEASE_TIMEOUT_MS", "500"}},
                      .wait_serving = false});
  auto channel = svc.Channel();
  auto stub = billing::invoice::v1::InvoiceService::NewStub(channel);
  auto get_unknown = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    billing::invoice::v1::GetInvoiceRequest req;
    req.set_invoice_id("6f1c0c39-9f51-4d5e-8d8a-1f2e3d4c5b6a");
    billing::invoice::v1::GetInvoiceResponse resp;
    return stub->GetInvoice(&ctx, req, &resp);
  };

  // Database down at start: NOT_SERVING, and calls fail UNAVAILABLE (safe to
  // retry), never INTERNAL.
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(svc.Health("", channel), "NOT_SERVING");
  // Liveness is the process, not its database: a restart would not help.
  EXPECT_EQ(svc.Health("liveness", channel), "SERVING");
  auto status = get_unknown();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(ErrorInfoOf(status).reason(), "DATABASE_UNAVAILABLE");

  // Database up: migrated and SERVING.
  pg->Start();
  ASSERT_TRUE(svc.WaitHealth("SERVING", std::chrono::seconds(20), channel)) << svc.Logs();
  EXPECT_EQ(get_unknown().error_code(), grpc::StatusCode::NOT_FOUND);

  // Restarted under traffic: NOT_SERVING, then back without a process restart.
  pg->Stop();
  EXPECT_TRUE(svc.WaitHealth("NOT_SERVING", std::chrono::seconds(10), channel));
  status = get_unknown();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  pg->Start();
  ASSERT_TRUE(svc.WaitHealth("SERVING", std::chrono::seconds(20), channel)) << svc.Logs();
  EXPECT_EQ(get_unknown().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(svc.Running());
}

TEST(PlatformTest, ConcurrentMigrateOnlyRunsApplyEachMigrationOnce) {
  TestDatabase db("migrate");
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(SourceDir() + "/services/invoice/migrations")) {
    if (e.path().extension() == ".sql") ++files;
  }
  ASSERT_GT(files, 0u);
  constexpr int kProcesses = 4;
  std::vector<CommandResult> results(kProcesses);
  std::vector<std::thread> threads;
  for (int i = 0; i < kProcesses; ++i) {
    threads.emplace_back([&, i] {
      results[i] = RunCommand({InvoiceBinary(), "--migrate-only"},
                              {{"DATABASE_URL", db.url()}, {"PAY_LINK_BASE_URL", "https://p.example.com"}, {"BUSINESS_NAME", "B"}});
    });
  }
  for (auto& t : threads) t.join();
  int applied_lines = 0;
  for (const auto& r : results) {
    // The migrations are not idempotent (CREATE TABLE): a second application
    // would fail its process.
    EXPECT_EQ(r.exit_code, 0) << r.output;
    for (std::size_t pos = 0; (pos = r.output.find("\"migration applied\"", pos)) != std::string::npos; ++pos) {
      ++applied_lines;
    }
  }
  EXPECT_EQ(applied_lines, static_cast<int>(files));
  EXPECT_EQ(QueryInt(db.url(), "SELECT count(*) FROM schema_migrations"), static_cast<long long>(files));
}

// Kubernetes runs --migrate-only with the database URL alone (the migrator
// never sees Stripe keys or SMTP passwords), and checks each container's
// configuration with --check-config, which binds and connects nothing.
TEST(PlatformTest, MigrateOnlyNeedsOnlyTheDatabaseAndCheckConfigTouchesNothing) {
  for (const auto& b : Binaries()) {
    SCOPED_TRACE(b.name);
    TestDatabase db(b.name + "_mig");
    const auto migrate = RunCommand({b.path, "--migrate-only"}, {{"DATABASE_URL", db.url()}});
    EXPECT_EQ(migrate.exit_code, 0) << migrate.output;
    EXPECT_GT(QueryInt(db.url(), "SELECT count(*) FROM schema_migrations"), 0);
    // Without --migrate-only the same environment is refused (required options).
    const auto serve = RunCommand({b.path, "--check-config"}, {{"DATABASE_URL", db.url()}});
    if (b.name != "notify") {
      EXPECT_EQ(serve.exit_code, 2) << serve.output;
    }

    // A full configuration passes; a database URL that points nowhere does
    // too (nothing connects), and nothing is created.
    TestDatabase untouched(b.name + "_chk");
    const auto ok = RunCommand({b.path, "--check-config"},
                               With(b.env, {{"DATABASE_URL", untouched.url()}, {"GRPC_LISTEN_ADDRESS", "127.0.0.1:1"}}));
    EXPECT_EQ(ok.exit_code, 0) << ok.output;
    EXPECT_NE(ok.output.find("configuration ok"), std::string::npos) << ok.output;
    EXPECT_EQ(QueryInt(untouched.url(), "SELECT count(*) FROM pg_tables WHERE tablename = 'schema_migrations'"), 0);
    const auto bad = RunCommand({b.path, "--check-config", "--db-pool-size=0"}, With(b.env, {{"DATABASE_URL", db.url()}}));
    EXPECT_EQ(bad.exit_code, 2) << bad.output;
  }
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("billing-tls");
    std::ofstream(dir_ + "/ext.cnf") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    Openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir_ + "/ca.key", "-out",
             dir_ + "/ca.pem", "-days", "1", "-subj", "/CN=billing-test-ca"});
    for (const std::string who : {"server", "client"}) {
      Openssl({"req", "-newkey", "rsa:2048", "-nodes", "-keyout", dir_ + "/" + who + ".key", "-out",
               dir_ + "/" + who + ".csr", "-subj", "/CN=" + (who == "server" ? std::string("localhost") : "payments")});
      Openssl({"x509", "-req", "-in", dir_ + "/" + who + ".csr", "-CA", dir_ + "/ca.pem", "-CAkey",
               dir_ + "/ca.key", "-CAcreateserial", "-out", dir_ + "/" + who + ".pem", "-days", "1",
               "-extfile", dir_ + "/ext.cnf"});
    }
  }

  void Openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    const auto r = RunCommand(args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  std::shared_ptr<grpc::Channel> TlsChannel(const std::string& target, bool with_client_cert) {
    grpc::SslCredentialsOptions opts;
    opts.pem_root_certs = ReadFile(dir_ + "/ca.pem");
    if (with_client_cert) {
      opts.pem_private_key = ReadFile(dir_ + "/client.key");
      opts.pem_cert_chain = ReadFile(dir_ + "/client.pem");
    }
    return grpc::CreateChannel(target, grpc::SslCredentials(opts));
  }

  std::string dir_;
};

TEST_F(TlsTest, TlsAndMutualTls) {
  TestDatabase db("tls");
  std::map<std::string, std::string> env = {{"DATABASE_URL", db.url()},
                                            {"PAY_LINK_BASE_URL", "https://p.example.com"}, {"BUSINESS_NAME", "B"},
                                            {"TLS_CERT_FILE", dir_ + "/server.pem"},
                                            {"TLS_KEY_FILE", dir_ + "/server.key"}};
  {
    ServiceProcess svc({.binary = InvoiceBinary(), .env = env, .wait_serving = false});
    EXPECT_TRUE(svc.WaitHealth("SERVING", std::chrono::seconds(15), TlsChannel(svc.target(), false)));
    EXPECT_NE(svc.Health("", svc.Channel()), "SERVING");  // plaintext is refused
  }
  env["TLS_CLIENT_CA_FILE"] = dir_ + "/ca.pem";
  {
    ServiceProcess svc({.binary = InvoiceBinary(), .env = env, .wait_serving = false});
    EXPECT_TRUE(svc.WaitHealth("SERVING", std::chrono::seconds(15), TlsChannel(svc.target(), true)));
    EXPECT_NE(svc.Health("", TlsChannel(svc.target(), false)), "SERVING");  // no client certificate
  }
}

}  // namespace
}  // namespace billing::testing

namespace billing::testing {
namespace {

grpc::StatusCode GetInvoiceCode(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = invoice::v1::InvoiceService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  invoice::v1::GetInvoiceRequest req;
  invoice::v1::GetInvoiceResponse resp;
  return stub->GetInvoice(&ctx, req, &resp).error_code();
}

grpc::StatusCode ApplyPaymentEventCode(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = invoice::v1::PaymentEventService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  invoice::v1::ApplyPaymentEventRequest req;
  invoice::v1::ApplyPaymentEventResponse resp;
  return stub->ApplyPaymentEvent(&ctx, req, &resp).error_code();
}

// Kubernetes fences invoice's PaymentEventService by port (only payments may
// reach it) and probes a plaintext health-only port while the gRPC ports
// require mTLS. Each port must serve exactly its own surface.
TEST_F(TlsTest, FencedPortsServeOnlyTheirServicesAndProbesNeedNoTls) {
  TestDatabase db("ports");
  ServiceProcess svc({.binary = InvoiceBinary(),
                      .env = {{"DATABASE_URL", db.url()},
                              {"PAY_LINK_BASE_URL", "https://p.example.com"}, {"BUSINESS_NAME", "B"},
                              {"TLS_CERT_FILE", dir_ + "/server.pem"}, {"TLS_KEY_FILE", dir_ + "/server.key"},
                              {"TLS_CLIENT_CA_FILE", dir_ + "/ca.pem"},
                              {"PAYMENT_EVENTS_LISTEN_ADDRESS", "127.0.0.1:0"},
                              {"HEALTH_LISTEN_ADDRESS", "127.0.0.1:0"},
                              {"SHUTDOWN_DRAIN_DELAY_MS", "1500"}},
                      .wait_serving = false});
  const std::string events = "127.0.0.1:" + std::to_string(svc.Port("payment_events"));
  const std::string health = "127.0.0.1:" + std::to_string(svc.Port("health"));
  const auto main_tls = TlsChannel(svc.target(), true);
  const auto events_tls = TlsChannel(events, true);
  const auto health_plain = grpc::CreateChannel(health, grpc::InsecureChannelCredentials());

  // The probe port answers in plaintext and follows the process's readiness.
  ASSERT_TRUE(svc.WaitHealth("SERVING", std::chrono::seconds(15), health_plain)) << svc.Logs();
  EXPECT_EQ(svc.Health("billing.invoice.v1.PaymentEventService", health_plain), "SERVING");
  EXPECT_EQ(svc.Health("", main_tls), "SERVING");

  // Main port: the invoice API, not the payment events.
  EXPECT_EQ(GetInvoiceCode(main_tls), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ApplyPaymentEventCode(main_tls), grpc::StatusCode::UNIMPLEMENTED);
  // Events port: the reverse, and still mTLS (no client certificate: refused).
  EXPECT_EQ(ApplyPaymentEventCode(events_tls), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetInvoiceCode(events_tls), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(ApplyPaymentEventCode(TlsChannel(events, false)), grpc::StatusCode::UNAVAILABLE);
  // Health port: health only.
  EXPECT_EQ(GetInvoiceCode(health_plain), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(ApplyPaymentEventCode(health_plain), grpc::StatusCode::UNIMPLEMENTED);

  // SIGTERM: the probe port turns NOT_SERVING during the drain, like the others.
  int exit_code = -1;
  std::thread stopper([&] { exit_code = svc.Stop(SIGTERM, std::chrono::seconds(15)); });
  EXPECT_TRUE(svc.WaitHealth("NOT_SERVING", std::chrono::seconds(1), health_plain));
  stopper.join();
  EXPECT_EQ(exit_code, 0) << svc.Logs();
}

}  // namespace
}  // namespace billing::testing
