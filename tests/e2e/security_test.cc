// Security between the services (issue 10): the three binaries, the Stripe
// emulator and an SMTP server, with mutual TLS on every gRPC hop
// (certificates made here with openssl) and per-caller bearer tokens. An
// invoice is created by the booking side and paid from the payment page end
// to end; every caller is then tried against every surface, both ways; and
// no secret of the run (tokens, keys, client secrets, card numbers) may
// appear in any log line.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "billing/invoice/v1/invoice_service.grpc.pb.h"
#include "billing/notify/v1/notify_service.grpc.pb.h"
#include "billing/payments/v1/payments_service.grpc.pb.h"
#include "e2e/invoice_env.h"
#include "e2e/notify_env.h"
#include "e2e/payments_env.h"
#include "support/eventually.h"
#include "support/http_client.h"
#include "support/postgres.h"
#include "support/process.h"
#include "support/smtp_sink.h"

namespace billing::testing {
namespace {

namespace iv1 = billing::invoice::v1;
namespace pv1 = billing::payments::v1;
namespace nv1 = billing::notify::v1;
using Code = grpc::StatusCode;

// Each caller's token at each service. At least 16 characters; distinct so
// a leak names its source.
constexpr char kPageToken[] = "tok-payment-page-6f1d2c9a8b7e";
constexpr char kBookingToken[] = "tok-booking-3a5c7e9b1d2f4a6c";
constexpr char kPaymentsAtInvoice[] = "tok-payments-at-invoice-7d8e9f";
constexpr char kInvoiceAtPayments[] = "tok-invoice-at-payments-1a2b3c";
constexpr char kAdminAtPayments[] = "tok-admin-at-payments-4d5e6f7a";
constexpr char kInvoiceAtNotify[] = "tok-invoice-at-notify-8b9c0d1e";
constexpr char kAdminAtNotify[] = "tok-admin-at-notify-2f3a4b5c6d";
// The rotated ones (TokensRotateWithoutARestart).
constexpr char kBookingTokenNext[] = "tok-booking-next-5e6f7a8b9c0d";
constexpr char kInvoiceAtNotifyNext[] = "tok-invoice-at-notify-next-3c4d";
// Refused on reload (too short): must never reach a log either.
constexpr char kRefusedToken[] = "sh0rt-s3cret";

// Replaces a file the way the kubelet updates a mounted Secret: a new file
// renamed over the old, never one rewritten in place.
void SwapFile(const std::string& path, const std::string& content) {
  const std::string next = path + ".next";
  std::ofstream(next) << content;
  if (std::rename(next.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot replace " + path);
}

std::string LocalAddress() { return "127.0.0.1:" + std::to_string(FreePort()); }

class Certificates {
 public:
  Certificates() : dir_(MakeTempDir("billing-mtls")) {
    std::ofstream(dir_ + "/ext.cnf") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    Openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir_ + "/ca.key", "-out", dir_ + "/ca.pem",
             "-days", "1", "-subj", "/CN=billing-test-ca"});
    // One server certificate for the three gRPC servers (all on 127.0.0.1),
    // and a client certificate for each caller that dials another.
    for (const std::string name : {"server", "invoice", "payments", "tester"}) {
      Openssl({"req", "-newkey", "rsa:2048", "-nodes", "-keyout", Key(name), "-out", dir_ + "/" + name + ".csr",
               "-subj", "/CN=" + (name == "server" ? std::string("localhost") : name)});
      Openssl({"x509", "-req", "-in", dir_ + "/" + name + ".csr", "-CA", dir_ + "/ca.pem", "-CAkey", dir_ + "/ca.key",
               "-CAcreateserial", "-out", Cert(name), "-days", "1", "-extfile", dir_ + "/ext.cnf"});
    }
  }
  std::string Ca() const { return dir_ + "/ca.pem"; }
  std::string Cert(const std::string& name) const { return dir_ + "/" + name + ".pem"; }
  std::string Key(const std::string& name) const { return dir_ + "/" + name + ".key"; }

  // The server side of every service: TLS, and client certificates required.
  std::map<std::string, std::string> ServerEnv() const {
    return {{"TLS_CERT_FILE", Cert("server")}, {"TLS_KEY_FILE", Key("server")}, {"TLS_CLIENT_CA_FILE", Ca()}};
  }
  // The client side of a service that dials others.
  std::map<std::string, std::string> ClientEnv(const std::string& name) const {
    return {{"CLIENT_TLS_CA_FILE", Ca()}, {"CLIENT_TLS_CERT_FILE", Cert(name)}, {"CLIENT_TLS_KEY_FILE", Key(name)}};
  }
  std::shared_ptr<grpc::Channel> Channel(const std::string& target, bool client_cert = true) const {
    grpc::SslCredentialsOptions opts;
    opts.pem_root_certs = ReadFile(Ca());
    if (client_cert) {
      opts.pem_cert_chain = ReadFile(Cert("tester"));
      opts.pem_private_key = ReadFile(Key("tester"));
    }
    return grpc::CreateChannel(target, grpc::SslCredentials(opts));
  }

 private:
  void Openssl(std::vector<std::string> args) const {
    args.insert(args.begin(), "openssl");
    const auto r = RunCommand(args);
    if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + r.output);
  }
  std::string dir_;
};

class SecureSystem {
 public:
  SecureSystem() {
    // Invoice's and notify's CALLER_TOKENS and invoice's NOTIFY_TOKEN come
    // from files, as from a mounted Secret, re-read every 100 ms; payments'
    // come from the environment.
    SwapFile(InvoiceCallersFile(), std::string("payment-page=") + kPageToken + "\nbooking=" + kBookingToken +
                                       "\npayments=" + kPaymentsAtInvoice + "\n");
    SwapFile(NotifyCallersFile(), std::string("invoice=") + kInvoiceAtNotify + ",admin=" + kAdminAtNotify + "\n");
    SwapFile(InvoiceNotifyTokenFile(), std::string(kInvoiceAtNotify) + "\n");
    emulator_ = std::make_unique<ServiceProcess>(ServiceProcess::Options{
        .binary = EmulatorBinary(), .env = {{"LISTEN_ADDRESS", "127.0.0.1:0"}}, .wait_serving = false});
    notify_ = Start(NotifyBinary(),
                    With(NotifyEnv(notify_db_.url(), smtp_.url(), "", {{"GRPC_LISTEN_ADDRESS", notify_address_}}),
                          With(certs_.ServerEnv(), {{"CALLER_TOKENS_FILE", NotifyCallersFile()},
                                                    {"SECRET_RELOAD_INTERVAL_MS", "100"}})));
    invoice_ = Start(InvoiceBinary(),
                     With(InvoiceEnv(invoice_db_.url(), notify_address_,
                                      {{"GRPC_LISTEN_ADDRESS", invoice_address_},
                                       {"PAYMENTS_ADDRESS", payments_address_},
                                       {"PAYMENTS_TIMEOUT_MS", "15000"},
                                       {"NOTIFY_TOKEN_FILE", InvoiceNotifyTokenFile()},
                                       {"PAYMENTS_TOKEN", kInvoiceAtPayments},
                                       {"CALLER_TOKENS_FILE", InvoiceCallersFile()},
                                       {"SECRET_RELOAD_INTERVAL_MS", "100"}}),
                           With(certs_.ServerEnv(), certs_.ClientEnv("invoice"))));
    payments_ = Start(
        PaymentsBinary(),
        With(PaymentsEnv(payments_db_.url(), EmulatorBase(), invoice_address_,
                          {{"GRPC_LISTEN_ADDRESS", payments_address_},
                           {"INVOICE_TIMEOUT_MS", "3000"},
                           {"INVOICE_TOKEN", kPaymentsAtInvoice},
                           {"CALLER_TOKENS", std::string("invoice=") + kInvoiceAtPayments + "\nadmin=" + kAdminAtPayments}}),
              With(certs_.ServerEnv(), certs_.ClientEnv("payments"))));
    const auto r = HttpRequest(
        "POST", EmulatorBase() + "/_emulator/webhook_endpoints",
        nlohmann::json({{"url", "http://127.0.0.1:" + std::to_string(payments_->Port("webhook")) + "/stripe/webhook"},
                        {"secrets", {kWebhookSecret}},
                        {"enabled_events", {"*"}}})
            .dump(),
        {"Content-Type: application/json"});
    if (r.status != 200) throw std::runtime_error("webhook registration failed: " + r.body);
  }

  std::unique_ptr<ServiceProcess> Start(const std::string& binary, std::map<std::string, std::string> env) {
    auto p = std::make_unique<ServiceProcess>(
        ServiceProcess::Options{.binary = binary, .env = std::move(env), .wait_serving = false});
    // Health needs no token, but the port needs a client certificate.
    if (!p->WaitHealth("SERVING", std::chrono::seconds(20), certs_.Channel(p->target()))) {
      throw std::runtime_error(binary + " did not become SERVING:\n" + p->Logs());
    }
    return p;
  }

  std::string InvoiceCallersFile() const { return secrets_ + "/invoice-caller-tokens"; }
  std::string NotifyCallersFile() const { return secrets_ + "/notify-caller-tokens"; }
  std::string InvoiceNotifyTokenFile() const { return secrets_ + "/invoice-notify-token"; }
  std::string EmulatorBase() const { return "http://127.0.0.1:" + std::to_string(emulator_->Port("http")); }
  const Certificates& certs() const { return certs_; }
  const SmtpSink& smtp() const { return smtp_; }
  const ServiceProcess& invoice() const { return *invoice_; }
  const ServiceProcess& payments() const { return *payments_; }
  const ServiceProcess& notify() const { return *notify_; }
  std::string Logs() const {
    return "--- invoice\n" + invoice_->Logs() + "\n--- payments\n" + payments_->Logs() + "\n--- notify\n" +
           notify_->Logs() + "\n--- stripe-emulator\n" + emulator_->Logs();
  }

 private:
  Certificates certs_;
  std::string secrets_ = MakeTempDir("billing-secrets");
  TestDatabase invoice_db_{"sec_inv"};
  TestDatabase payments_db_{"sec_pay"};
  TestDatabase notify_db_{"sec_ntf"};
  SmtpSink smtp_;
  std::string invoice_address_ = LocalAddress();
  std::string payments_address_ = LocalAddress();
  std::string notify_address_ = LocalAddress();
  std::unique_ptr<ServiceProcess> emulator_;
  std::unique_ptr<ServiceProcess> notify_;
  std::unique_ptr<ServiceProcess> invoice_;
  std::unique_ptr<ServiceProcess> payments_;
};

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { system_ = new SecureSystem(); }
  static void TearDownTestSuite() {
    delete system_;
    system_ = nullptr;
  }
  static SecureSystem& sys() { return *system_; }

  // A call with `token` ("" for none) over mTLS.
  template <typename Stub, typename Req, typename Resp>
  static grpc::Status Call(Stub& stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                           const std::string& token, const Req& req, Resp* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    return (stub.*method)(&ctx, req, resp);
  }

  static std::unique_ptr<iv1::InvoiceService::Stub> Invoice() {
    return iv1::InvoiceService::NewStub(sys().certs().Channel(sys().invoice().target()));
  }

  // Booking "sec-bk-<n>" and an invoice for it sent by email, as the
  // booking side with `token`; nullopt (after a test failure) if refused.
  static std::optional<iv1::CreateInvoiceResponse> OpenInvoice(const std::string& token, const std::string& n,
                                                               const std::string& email, int64_t amount_minor) {
    auto invoice = Invoice();
    iv1::UpsertBookingRequest up;
    up.set_request_id("sec-upsert-" + n);
    auto* b = up.mutable_booking();
    b->set_booking_id("sec-bk-" + n);
    b->set_status(iv1::BOOKING_STATUS_PENDING);
    b->mutable_customer()->set_name("Ann Lee");
    b->mutable_customer()->set_email(email);
    b->mutable_total()->set_amount_minor(amount_minor);
    b->mutable_total()->set_currency_code("USD");
    b->set_activity_name("Sunset kayak tour");
    b->set_start_local("2026-12-01T17:00");
    b->set_end_local("2026-12-01T19:30");
    b->set_confirmation_code("SEC-" + n);
    iv1::UpsertBookingResponse up_resp;
    const auto upserted = Call(*invoice, &iv1::InvoiceService::Stub::UpsertBooking, token, up, &up_resp);
    EXPECT_TRUE(upserted.ok()) << upserted.error_message();
    if (!upserted.ok()) return std::nullopt;

    iv1::CreateInvoiceRequest create;
    create.set_request_id("sec-create-" + n);
    create.set_booking_id("sec-bk-" + n);
    create.mutable_amount()->set_amount_minor(amount_minor);
    create.mutable_amount()->set_currency_code("USD");
    create.set_send_type(billing::common::v1::CHANNEL_EMAIL);
    iv1::CreateInvoiceResponse created;
    const auto made = Call(*invoice, &iv1::InvoiceService::Stub::CreateInvoice, token, create, &created);
    EXPECT_TRUE(made.ok()) << made.error_message();
    if (!made.ok()) return std::nullopt;
    return created;
  }

  static SecureSystem* system_;
};

SecureSystem* SecurityTest::system_ = nullptr;

TEST_F(SecurityTest, AnInvoiceIsCreatedAndPaidEndToEndOverMutualTlsWithTokens) {
  auto invoice = Invoice();
  const auto created = OpenInvoice(kBookingToken, "1", "ann.sec@example.com", 12000);
  ASSERT_TRUE(created) << sys().Logs();
  const std::string& url = created->invoice().pay_url();
  const std::string link_token = url.substr(url.rfind('/') + 1);

  // The link reaches the customer: invoice → notify over mTLS with its token.
  ASSERT_TRUE(sys().smtp().WaitFor(1, std::chrono::seconds(20))) << sys().Logs();

  // The payment page: by token, then pay (invoice → payments → emulator;
  // the webhook and payments → invoice's events, again with mTLS and tokens).
  iv1::GetInvoiceRequest by_token;
  by_token.set_token(link_token);
  iv1::GetInvoiceResponse page;
  ASSERT_TRUE(Call(*invoice, &iv1::InvoiceService::Stub::GetInvoice, kPageToken, by_token, &page).ok());
  iv1::PayInvoiceRequest pay;
  pay.set_request_id("sec-pay-1");
  pay.set_token(link_token);
  pay.set_payment_method_id("pm_card_visa");
  iv1::PayInvoiceResponse paid;
  const auto status = Call(*invoice, &iv1::InvoiceService::Stub::PayInvoice, kPageToken, pay, &paid);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << sys().Logs();
  EXPECT_EQ(paid.outcome(), iv1::PAY_OUTCOME_SUCCEEDED);

  iv1::GetInvoiceRequest by_id;
  by_id.set_invoice_id(created->invoice().invoice_id());
  ASSERT_TRUE(Eventually(
      [&] {
        iv1::GetInvoiceResponse now;
        return Call(*invoice, &iv1::InvoiceService::Stub::GetInvoice, kBookingToken, by_id, &now).ok() &&
               now.invoice().status() == iv1::INVOICE_STATUS_PAID;
      },
      std::chrono::seconds(20)));
  // The receipt: the payment's event reached invoice (payments' token), and
  // invoice's outbox reached notify.
  EXPECT_TRUE(sys().smtp().WaitFor(2, std::chrono::seconds(20))) << sys().Logs();
}

TEST_F(SecurityTest, InvoiceAdmitsEachCallerToItsOwnSurfaceOnly) {
  auto invoice = Invoice();
  auto events = iv1::PaymentEventService::NewStub(sys().certs().Channel(sys().invoice().target()));
  iv1::GetInvoiceRequest get;
  get.set_token("AAAAAAAAAAAAAAAAAAAAAAAAAA");
  iv1::GetInvoiceResponse got;
  iv1::CreateInvoiceRequest create;
  iv1::CreateInvoiceResponse created;
  iv1::PayInvoiceRequest pay;
  iv1::PayInvoiceResponse paid;
  iv1::ApplyPaymentEventRequest event;
  iv1::ApplyPaymentEventResponse applied;
  const auto get_as = [&](const std::string& t) {
    return Call(*invoice, &iv1::InvoiceService::Stub::GetInvoice, t, get, &got).error_code();
  };
  const auto create_as = [&](const std::string& t) {
    return Call(*invoice, &iv1::InvoiceService::Stub::CreateInvoice, t, create, &created).error_code();
  };
  const auto pay_as = [&](const std::string& t) {
    return Call(*invoice, &iv1::InvoiceService::Stub::PayInvoice, t, pay, &paid).error_code();
  };
  const auto event_as = [&](const std::string& t) {
    return Call(*events, &iv1::PaymentEventService::Stub::ApplyPaymentEvent, t, event, &applied).error_code();
  };
  // No token, a made-up one, another service's: not authenticated.
  EXPECT_EQ(get_as(""), Code::UNAUTHENTICATED);
  EXPECT_EQ(get_as("tok-made-up-0000000000000000"), Code::UNAUTHENTICATED);
  EXPECT_EQ(get_as(kInvoiceAtPayments), Code::UNAUTHENTICATED);
  // Admitted callers get past the gate (and then the request's own check:
  // an unknown token is NOT_FOUND, empty requests INVALID_ARGUMENT).
  EXPECT_EQ(get_as(kPageToken), Code::NOT_FOUND);
  EXPECT_EQ(get_as(kBookingToken), Code::NOT_FOUND);
  EXPECT_EQ(create_as(kBookingToken), Code::INVALID_ARGUMENT);
  EXPECT_EQ(pay_as(kPageToken), Code::INVALID_ARGUMENT);
  EXPECT_EQ(event_as(kPaymentsAtInvoice), Code::INVALID_ARGUMENT);
  // Everyone else is refused, before the request is even read.
  EXPECT_EQ(create_as(kPageToken), Code::PERMISSION_DENIED);
  EXPECT_EQ(create_as(kPaymentsAtInvoice), Code::PERMISSION_DENIED);
  EXPECT_EQ(pay_as(kBookingToken), Code::PERMISSION_DENIED);
  EXPECT_EQ(pay_as(kPaymentsAtInvoice), Code::PERMISSION_DENIED);
  EXPECT_EQ(event_as(kBookingToken), Code::PERMISSION_DENIED);
  EXPECT_EQ(event_as(kPageToken), Code::PERMISSION_DENIED);
  EXPECT_EQ(get_as(kPaymentsAtInvoice), Code::PERMISSION_DENIED);

  // The payment page names invoices by their link's token only: an id
  // would open any invoice (its link and customer included).
  iv1::GetInvoiceRequest by_id;
  by_id.set_invoice_id("00000000-0000-4000-8000-000000000001");
  EXPECT_EQ(Call(*invoice, &iv1::InvoiceService::Stub::GetInvoice, kPageToken, by_id, &got).error_code(),
            Code::PERMISSION_DENIED);
  EXPECT_EQ(Call(*invoice, &iv1::InvoiceService::Stub::GetInvoice, kBookingToken, by_id, &got).error_code(),
            Code::NOT_FOUND);
  iv1::PayInvoiceRequest pay_by_id;
  pay_by_id.set_request_id("sec-pay-by-id");
  pay_by_id.set_invoice_id("00000000-0000-4000-8000-000000000001");
  pay_by_id.set_payment_method_id("pm_card_visa");
  EXPECT_EQ(Call(*invoice, &iv1::InvoiceService::Stub::PayInvoice, kPageToken, pay_by_id, &paid).error_code(),
            Code::PERMISSION_DENIED);
}

TEST_F(SecurityTest, PaymentsAndNotifyAdmitOnlyTheirCallers) {
  auto payments = pv1::PaymentService::NewStub(sys().certs().Channel(sys().payments().target()));
  pv1::CreatePaymentRequest create;
  pv1::CreatePaymentResponse created;
  pv1::GetPaymentRequest get;
  get.set_payment_id("00000000-0000-4000-8000-000000000001");
  pv1::GetPaymentResponse got;
  const auto create_as = [&](const std::string& t) {
    return Call(*payments, &pv1::PaymentService::Stub::CreatePayment, t, create, &created).error_code();
  };
  const auto get_as = [&](const std::string& t) {
    return Call(*payments, &pv1::PaymentService::Stub::GetPayment, t, get, &got).error_code();
  };
  EXPECT_EQ(create_as(""), Code::UNAUTHENTICATED);
  EXPECT_EQ(create_as(kBookingToken), Code::UNAUTHENTICATED);  // invoice's caller, not payments'
  EXPECT_EQ(create_as(kInvoiceAtPayments), Code::INVALID_ARGUMENT);
  EXPECT_EQ(create_as(kAdminAtPayments), Code::PERMISSION_DENIED);
  EXPECT_EQ(get_as(kAdminAtPayments), Code::NOT_FOUND);
  EXPECT_EQ(get_as(kInvoiceAtPayments), Code::NOT_FOUND);

  auto notify = nv1::NotifyService::NewStub(sys().certs().Channel(sys().notify().target()));
  nv1::SendInvoiceLinkRequest send;
  nv1::SendInvoiceLinkResponse sent;
  const auto send_as = [&](const std::string& t) {
    return Call(*notify, &nv1::NotifyService::Stub::SendInvoiceLink, t, send, &sent).error_code();
  };
  EXPECT_EQ(send_as(""), Code::UNAUTHENTICATED);
  EXPECT_EQ(send_as(kBookingToken), Code::UNAUTHENTICATED);
  EXPECT_EQ(send_as(kInvoiceAtNotify), Code::INVALID_ARGUMENT);
  EXPECT_EQ(send_as(kAdminAtNotify), Code::PERMISSION_DENIED);
  nv1::GetNotificationRequest look;
  look.set_notification_id("00000000-0000-4000-8000-000000000001");
  nv1::GetNotificationResponse found;
  EXPECT_EQ(Call(*notify, &nv1::NotifyService::Stub::GetNotification, kAdminAtNotify, look, &found).error_code(),
            Code::NOT_FOUND);
  EXPECT_EQ(Call(*notify, &nv1::NotifyService::Stub::GetNotification, "", look, &found).error_code(),
            Code::UNAUTHENTICATED);
}

TEST_F(SecurityTest, EveryPortRefusesPlaintextAndCallersWithoutACertificate) {
  for (const ServiceProcess* p : {&sys().invoice(), &sys().payments(), &sys().notify()}) {
    EXPECT_EQ(p->Health("", sys().certs().Channel(p->target())), "SERVING");
    EXPECT_NE(p->Health("", p->Channel()), "SERVING");                                 // plaintext
    EXPECT_NE(p->Health("", sys().certs().Channel(p->target(), false)), "SERVING");  // no client certificate
  }
}

// Tokens rotate the way docs/operations.md tells ops to, by updating the
// Secrets' files, while the services keep running: a caller's new token is
// added, then its old one removed; a service's outgoing token moves to the
// next one between the two steps at its callee. A broken update is refused
// and the tokens in force stay. It leaves the tokens rotated, so it runs
// after the tests that use the first ones (gtest keeps a file's order).
TEST_F(SecurityTest, TokensRotateWithoutARestart) {
  const pid_t invoice_pid = sys().invoice().pid();
  const pid_t notify_pid = sys().notify().pid();
  auto invoice = Invoice();
  iv1::GetBookingRequest get;  // NOT_FOUND once admitted
  get.set_booking_id("sec-bk-none");
  iv1::GetBookingResponse got;
  const auto booking_as = [&](const std::string& t) {
    return Call(*invoice, &iv1::InvoiceService::Stub::GetBooking, t, get, &got).error_code();
  };
  const auto wait_for = [&](const std::function<bool()>& f, const char* what) {
    return Eventually(f, std::chrono::seconds(10)) ? ::testing::AssertionSuccess()
                                                   : ::testing::AssertionFailure() << what << "\n" << sys().Logs();
  };
  ASSERT_EQ(booking_as(kBookingToken), Code::NOT_FOUND);
  ASSERT_EQ(booking_as(kBookingTokenNext), Code::UNAUTHENTICATED);

  // The booking side's token at invoice: both, then only the next one.
  SwapFile(sys().InvoiceCallersFile(), std::string("payment-page=") + kPageToken + "\nbooking=" + kBookingToken +
                                           "\nbooking=" + kBookingTokenNext + "\npayments=" + kPaymentsAtInvoice);
  ASSERT_TRUE(wait_for([&] { return booking_as(kBookingTokenNext) == Code::NOT_FOUND; }, "the next token was not taken"));
  EXPECT_EQ(booking_as(kBookingToken), Code::NOT_FOUND);
  SwapFile(sys().InvoiceCallersFile(), std::string("payment-page=") + kPageToken + "\nbooking=" +
                                           kBookingTokenNext + "\npayments=" + kPaymentsAtInvoice);
  ASSERT_TRUE(wait_for([&] { return booking_as(kBookingToken) == Code::UNAUTHENTICATED; },
                       "the old token was still taken"));
  EXPECT_EQ(booking_as(kBookingTokenNext), Code::NOT_FOUND);

  // Invoice's token at notify: notify takes both, invoice moves to the
  // next one, notify drops the old one; invoice's sends keep arriving.
  auto notify = nv1::NotifyService::NewStub(sys().certs().Channel(sys().notify().target()));
  nv1::SendInvoiceLinkRequest send;  // empty: INVALID_ARGUMENT once admitted
  nv1::SendInvoiceLinkResponse sent;
  const auto send_as = [&](const std::string& t) {
    return Call(*notify, &nv1::NotifyService::Stub::SendInvoiceLink, t, send, &sent).error_code();
  };
  SwapFile(sys().NotifyCallersFile(), std::string("invoice=") + kInvoiceAtNotify + ",invoice=" +
                                          kInvoiceAtNotifyNext + ",admin=" + kAdminAtNotify);
  ASSERT_TRUE(wait_for([&] { return send_as(kInvoiceAtNotifyNext) == Code::INVALID_ARGUMENT; },
                       "notify did not take the next token"));
  SwapFile(sys().InvoiceNotifyTokenFile(), kInvoiceAtNotifyNext);
  ASSERT_TRUE(wait_for(
      [&] {
        const std::string logs = sys().invoice().Logs();
        return logs.find(R"("msg":"secret reloaded","option":"NOTIFY_TOKEN")") != std::string::npos;
      },
      "invoice did not reload NOTIFY_TOKEN"));
  SwapFile(sys().NotifyCallersFile(), std::string("invoice=") + kInvoiceAtNotifyNext + ",admin=" + kAdminAtNotify);
  ASSERT_TRUE(wait_for([&] { return send_as(kInvoiceAtNotify) == Code::UNAUTHENTICATED; },
                       "notify still took the old token"));

  // A new invoice's link goes out through invoice → notify on the next token.
  ASSERT_TRUE(OpenInvoice(kBookingTokenNext, "2", "bo.sec@example.com", 8000)) << sys().Logs();
  EXPECT_TRUE(Eventually(
      [&] {
        for (const auto& m : sys().smtp().Messages()) {
          if (m.envelope.value("rcpt_tos", nlohmann::json::array()).dump().find("bo.sec@example.com") !=
              std::string::npos) {
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(20)))
      << sys().Logs();

  // A broken update (a token too short) and an emptied file are refused:
  // the tokens in force stay.
  SwapFile(sys().InvoiceCallersFile(), std::string("booking=") + kRefusedToken);
  ASSERT_TRUE(wait_for(
      [&] {
        const std::string logs = sys().invoice().Logs();
        return logs.find(R"(refused; the value in force stays","option":"CALLER_TOKENS")") != std::string::npos;
      },
      "the broken update was not refused"));
  EXPECT_EQ(booking_as(kBookingTokenNext), Code::NOT_FOUND);
  SwapFile(sys().InvoiceCallersFile(), "");
  ASSERT_TRUE(wait_for(
      [&] {
        const std::string logs = sys().invoice().Logs();
        return logs.find("CALLER_TOKENS_FILE is empty") != std::string::npos;
      },
      "the emptied file was not refused"));
  EXPECT_EQ(booking_as(kBookingTokenNext), Code::NOT_FOUND);
  EXPECT_EQ(booking_as(""), Code::UNAUTHENTICATED);

  // All of it with the same processes, still serving.
  EXPECT_EQ(sys().invoice().pid(), invoice_pid);
  EXPECT_EQ(sys().notify().pid(), notify_pid);
  for (const ServiceProcess* p : {&sys().invoice(), &sys().notify()}) {
    EXPECT_EQ(::kill(p->pid(), 0), 0);
    EXPECT_EQ(p->Health("", sys().certs().Channel(p->target())), "SERVING");
  }
}

// Last (gtest runs a file's tests in order): every log line of the run so
// far, every service's and the emulator's, is free of the run's secrets.
TEST_F(SecurityTest, NoLogLineCarriesATokenKeyOrCardNumber) {
  const std::string logs = sys().Logs();
  // Only meaningful after the pay flow (not under a --gtest_filter of this
  // test alone): its calls must be in the logs scanned.
  ASSERT_NE(logs.find("/billing.invoice.v1.InvoiceService/PayInvoice"), std::string::npos)
      << "run the whole suite: the scan needs the pay flow's logs";
  ASSERT_NE(logs.find("/billing.invoice.v1.PaymentEventService/ApplyPaymentEvent"), std::string::npos);
  for (const std::string secret : {kPageToken, kBookingToken, kPaymentsAtInvoice, kInvoiceAtPayments, kAdminAtPayments,
                                   kInvoiceAtNotify, kAdminAtNotify, kBookingTokenNext, kInvoiceAtNotifyNext,
                                   kRefusedToken, kStripeKey, kWebhookSecret, "4242424242424242", "Bearer tok-"}) {
    EXPECT_EQ(logs.find(secret), std::string::npos) << "a log line carries " << secret;
  }
  // Client secrets of PaymentIntents ("pi_..._secret_...").
  EXPECT_EQ(logs.find("_secret_"), std::string::npos);
}

}  // namespace
}  // namespace billing::testing
