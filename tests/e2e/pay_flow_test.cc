// Paying an invoice end to end (issue 7, DESIGN.md §7): the invoice,
// payments and notify binaries, each on its own PostgreSQL database, the
// Stripe emulator with the payments webhook registered, and a real SMTP
// server behind notify. One system serves the whole suite (each test uses
// its own bookings), so the invariants checked when the suite ends cover
// everything it did: for every booking balance = total - recorded payments;
// the emulator's captured minus refunded money equals our payment records;
// every notification went out exactly once.
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <grpcpp/client_context.h>
#include <nlohmann/json.hpp>

#include "billing/invoice/v1/invoice_service.grpc.pb.h"
#include "e2e/invoice_env.h"
#include "e2e/notify_env.h"
#include "e2e/pay_system.h"
#include "e2e/payments_env.h"
#include "support/eventually.h"
#include "support/grpc_helpers.h"
#include "support/http_client.h"
#include "support/postgres.h"
#include "support/process.h"

namespace billing::testing {
namespace {

namespace v1 = billing::invoice::v1;
using Code = grpc::StatusCode;
using nlohmann::json;

constexpr char kInProgress[] = "A payment is already being processed for this invoice.";


struct BookingSpec {
  v1::BookingStatus status = v1::BOOKING_STATUS_PENDING;
  int64_t total = 25000;
  std::vector<std::string> agreements{};
  // For drafts: seconds until the slot hold expires (negative: expired).
  int slot_hold_s = 0;
  std::string activity_name = "Sunset kayak tour";
};

class PayFlowTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { system_ = new PaySystem(); }
  static void TearDownTestSuite();

  void TearDown() override {
    sys().Control("DELETE", "/_emulator/faults");
    sys().Control("DELETE", "/_emulator/webhook_faults");
    if (HasFailure()) std::cerr << sys().Logs() << "\n";
    const std::string logs = sys().Logs();
    EXPECT_EQ(logs.find(kStripeKey), std::string::npos) << "the Stripe key reached a log";
    EXPECT_EQ(logs.find("_secret_"), std::string::npos) << "a client secret reached a log";
    for (const auto& token : tokens_) EXPECT_EQ(logs.find(token), std::string::npos) << "a payment link token reached a log";
  }

  static PaySystem& sys() { return *system_; }

  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (v1::InvoiceService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return (sys().invoice().*method)(&ctx, req, resp);
  }

  // A booking of this test (ids are unique per test) and its customer.
  std::string BookingId(const std::string& suffix = "") const {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return std::string(info->name()).substr(0, 40) + suffix;
  }
  static std::string EmailOf(const std::string& booking_id) {
    std::string local;
    for (char c : booking_id) local += static_cast<char>(std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '-');
    return local + "@example.com";
  }

  void Upsert(const std::string& id, const BookingSpec& spec) {
    v1::UpsertBookingRequest req;
    req.set_request_id("u-" + id + "-" + std::to_string(++n_));
    auto* b = req.mutable_booking();
    b->set_booking_id(id);
    b->set_status(spec.status);
    b->mutable_customer()->set_name("Ann Lee");
    b->mutable_customer()->set_email(EmailOf(id));
    b->mutable_customer()->set_phone("+14155550123");
    b->mutable_total()->set_amount_minor(spec.total);
    b->mutable_total()->set_currency_code("USD");
    b->set_activity_name(spec.activity_name);
    b->set_start_local("2026-12-01T17:00");
    b->set_end_local("2026-12-01T19:30");
    b->set_confirmation_code("CONF-" + std::to_string(n_));
    for (const auto& a : spec.agreements) b->add_required_agreement_ids(a);
    if (spec.slot_hold_s != 0) {
      b->mutable_slot_hold_expire_time()->set_seconds(
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
              .count() +
          spec.slot_hold_s);
    }
    v1::UpsertBookingResponse resp;
    const auto status = Call(&v1::InvoiceService::Stub::UpsertBooking, req, &resp);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  v1::Invoice Create(const std::string& booking_id, int64_t amount, bool confirm_on_pay = true) {
    v1::CreateInvoiceRequest req;
    req.set_request_id("c-" + booking_id + "-" + std::to_string(++n_));
    req.set_booking_id(booking_id);
    req.mutable_amount()->set_amount_minor(amount);
    req.mutable_amount()->set_currency_code("USD");
    req.set_send_type(billing::common::v1::CHANNEL_EMAIL);
    req.set_confirm_on_pay(confirm_on_pay);
    v1::CreateInvoiceResponse resp;
    const auto status = Call(&v1::InvoiceService::Stub::CreateInvoice, req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return resp.invoice();
  }

  // A booking and its invoice, ready to pay.
  v1::Invoice Open(const std::string& booking_id, int64_t amount = 25000, BookingSpec spec = {}) {
    Upsert(booking_id, spec);
    return Create(booking_id, amount);
  }

  static v1::PayInvoiceRequest PayWith(const v1::Invoice& inv, const std::string& request_id, const std::string& pm,
                                       std::vector<std::string> agreements = {}) {
    v1::PayInvoiceRequest req;
    req.set_request_id(request_id + "-" + inv.invoice_id());  // keys are unique per caller, not per invoice
    req.set_token(TokenOf(inv));
    req.set_payment_method_id(pm);
    for (const auto& a : agreements) req.add_accepted_agreement_ids(a);
    return req;
  }
  static v1::PayInvoiceRequest Handled(const v1::Invoice& inv, const std::string& request_id,
                                       const std::string& intent_id) {
    v1::PayInvoiceRequest req;
    req.set_request_id(request_id + "-" + inv.invoice_id());
    req.set_token(TokenOf(inv));
    req.set_handled_payment_intent_id(intent_id);
    return req;
  }
  static std::string TokenOf(const v1::Invoice& inv) {
    const std::string& url = inv.pay_url();
    std::string token = url.substr(url.rfind('/') + 1);
    if (token.size() > 20) {  // a real link's token, checked against the logs
      std::lock_guard lock(tokens_mu_);  // concurrent payers call this (TSan found it)
      tokens_.insert(token);
    }
    return token;
  }

  grpc::Status Pay(const v1::PayInvoiceRequest& req, v1::PayInvoiceResponse* resp) {
    return Call(&v1::InvoiceService::Stub::PayInvoice, req, resp);
  }
  v1::PayInvoiceResponse PayOk(const v1::PayInvoiceRequest& req) {
    v1::PayInvoiceResponse resp;
    const auto status = Pay(req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    return resp;
  }

  v1::GetInvoiceResponse Get(const std::string& invoice_id) {
    v1::GetInvoiceRequest req;
    req.set_invoice_id(invoice_id);
    v1::GetInvoiceResponse resp;
    const auto status = Call(&v1::InvoiceService::Stub::GetInvoice, req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return resp;
  }
  v1::Booking GetBooking(const std::string& booking_id) {
    v1::GetBookingRequest req;
    req.set_booking_id(booking_id);
    v1::GetBookingResponse resp;
    const auto status = Call(&v1::InvoiceService::Stub::GetBooking, req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return resp.booking();
  }
  bool WaitInvoiceStatus(const std::string& invoice_id, v1::InvoiceStatus want,
                         std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    return Eventually([&] { return Get(invoice_id).invoice().status() == want; }, timeout);
  }
  std::vector<std::string> EventTypes(const std::string& invoice_id) {
    v1::ListInvoiceEventsRequest req;
    req.set_invoice_id(invoice_id);
    req.set_page_size(500);
    v1::ListInvoiceEventsResponse resp;
    EXPECT_TRUE(Call(&v1::InvoiceService::Stub::ListInvoiceEvents, req, &resp).ok());
    std::vector<std::string> out;
    for (const auto& e : resp.events()) out.push_back(e.type());
    return out;
  }
  static int Count(const std::vector<std::string>& v, const std::string& x) {
    return static_cast<int>(std::count(v.begin(), v.end(), x));
  }

  // The emulator's PaymentIntents created for this invoice.
  static std::vector<json> IntentsFor(const std::string& invoice_id) {
    const json ledger = sys().Ledger();
    std::vector<json> out;
    for (const auto& pi : ledger["payment_intents"]) {
      if (pi["metadata"].value("invoice_id", "") == invoice_id) out.push_back(pi);
    }
    return out;
  }
  static json Intent(const std::string& id) {
    const json ledger = sys().Ledger();
    for (const auto& pi : ledger["payment_intents"]) {
      if (pi["id"] == id) return pi;
    }
    return nullptr;
  }
  static int SucceededCharges(const std::string& invoice_id) {
    int n = 0;
    for (const auto& pi : IntentsFor(invoice_id)) n += pi["status"] == "succeeded" ? 1 : 0;
    return n;
  }
  static void Authenticate(const std::string& intent_id, const std::string& outcome) {
    const auto r = sys().Control("POST", "/_emulator/payment_intents/" + intent_id + "/authenticate",
                                 {{"outcome", outcome}});
    ASSERT_EQ(r.status, 200) << r.body;
  }
  static void AddFault(const json& rule) {
    const auto r = sys().Control("POST", "/_emulator/faults", rule);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  static void AddWebhookFault(const json& rule) {
    const auto r = sys().Control("POST", "/_emulator/webhook_faults", rule);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Mails to this booking's customer whose subject contains `subject`.
  static int MailsTo(const std::string& booking_id, const std::string& subject) {
    int n = 0;
    for (const auto& m : sys().smtp().Messages()) {
      const auto mail = ParseMail(m.eml_path);
      if (mail["to_address"] == EmailOf(booking_id) &&
          mail["headers"]["Subject"].get<std::string>().find(subject) != std::string::npos) {
        ++n;
      }
    }
    return n;
  }
  static std::string MailText(const std::string& booking_id, const std::string& subject) {
    for (const auto& m : sys().smtp().Messages()) {
      const auto mail = ParseMail(m.eml_path);
      if (mail["to_address"] == EmailOf(booking_id) &&
          mail["headers"]["Subject"].get<std::string>().find(subject) != std::string::npos) {
        return mail["parts"]["text/plain"]["content"];
      }
    }
    return "";
  }

  long long InvoiceDbInt(const std::string& sql) { return QueryInt(sys().invoice_db().url(), sql); }
  // The payments service's id for this PaymentIntent (its metadata says).
  static std::string PaymentIdOf(const std::string& intent_id) {
    return Intent(intent_id)["metadata"].value("payment_id", "");
  }
  // Successful webhook deliveries of payment_intent.requires_action so far.
  static int RequiresActionDeliveries() {
    int n = 0;
    for (const auto& d : sys().Control("GET", "/_emulator/webhook_deliveries").Json()) {
      n += d.value("event_type", "") == "payment_intent.requires_action" && d.value("status", 0) / 100 == 2 ? 1 : 0;
    }
    return n;
  }
  static long long RefundedFor(const std::string& intent_id) {
    long long n = 0;
    const json ledger = sys().Ledger();
    for (const auto& r : ledger["refunds"]) {
      if (r["payment_intent"] == intent_id && r["status"] == "succeeded") n += r["amount"].get<long long>();
    }
    return n;
  }

  inline static PaySystem* system_ = nullptr;
  inline static std::mutex tokens_mu_;
  inline static std::set<std::string> tokens_;
  int n_ = 0;
};

constexpr char kReceipt[] = "payment received";
constexpr char kConfirmed[] = "your booking is confirmed";

// --- the happy path --------------------------------------------------------------

TEST_F(PayFlowTest, HappyPathPaysTheInvoiceConfirmsTheBookingAndSendsTheReceipt) {
  const std::string bk = BookingId();
  Upsert(bk, {.total = 25000, .agreements = {"waiver-2026"}});
  const auto inv = Create(bk, 10000);  // a deposit

  const auto resp = PayOk(PayWith(inv, "pay-1", "pm_card_visa", {"waiver-2026"}));
  EXPECT_EQ(resp.outcome(), v1::PAY_OUTCOME_SUCCEEDED);
  EXPECT_FALSE(resp.confirmation_code().empty());
  EXPECT_EQ(resp.invoice().status(), v1::INVOICE_STATUS_PAID);
  EXPECT_EQ(resp.client_secret(), "");
  ASSERT_TRUE(resp.payment_intent_id().starts_with("pi_"));

  const auto view = Get(inv.invoice_id());
  EXPECT_EQ(view.invoice().status(), v1::INVOICE_STATUS_PAID);
  EXPECT_FALSE(view.invoice().payment_pending());
  ASSERT_EQ(view.cart().payments_size(), 1);
  const auto& payment = view.cart().payments(0);
  EXPECT_EQ(payment.amount().amount_minor(), 10000);
  EXPECT_EQ(payment.source(), v1::PAYMENT_SOURCE_INVOICE);
  EXPECT_EQ(payment.payment_intent_id(), resp.payment_intent_id());
  EXPECT_EQ(payment.invoice_id(), inv.invoice_id());
  EXPECT_EQ(view.invoice().customer_payment_id(), payment.customer_payment_id());

  const auto booking = GetBooking(bk);
  EXPECT_EQ(booking.paid().amount_minor(), 10000);
  EXPECT_EQ(booking.balance().amount_minor(), 15000);
  EXPECT_EQ(booking.status(), v1::BOOKING_STATUS_CONFIRMED);  // confirm on pay
  EXPECT_EQ(resp.confirmation_code(), booking.confirmation_code());

  // Stripe charged exactly this, once.
  const auto pi = Intent(resp.payment_intent_id());
  EXPECT_EQ(pi["status"], "succeeded");
  EXPECT_EQ(pi["amount_received"], 10000);
  EXPECT_EQ(IntentsFor(inv.invoice_id()).size(), 1u);

  // The receipt (with what is still owed) and the confirmation reach the customer.
  ASSERT_TRUE(Eventually([&] { return MailsTo(bk, kReceipt) == 1 && MailsTo(bk, kConfirmed) == 1; },
                         std::chrono::seconds(20)))
      << sys().Logs();
  const std::string receipt = MailText(bk, kReceipt);
  EXPECT_NE(receipt.find("USD 100.00"), std::string::npos) << receipt;
  EXPECT_NE(receipt.find("Still to pay: USD 150.00"), std::string::npos) << receipt;

  // A retry of the same call replays the outcome; nothing is charged again.
  const auto again = PayOk(PayWith(inv, "pay-1", "pm_card_visa", {"waiver-2026"}));
  EXPECT_EQ(again.outcome(), v1::PAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(again.payment_intent_id(), resp.payment_intent_id());
  // A new call is refused: the invoice is paid.
  v1::PayInvoiceResponse refused;
  ExpectRefusal(Pay(PayWith(inv, "pay-2", "pm_card_visa", {"waiver-2026"}), &refused), Code::FAILED_PRECONDITION, "");
  EXPECT_EQ(ErrorInfoOf(Pay(PayWith(inv, "pay-2", "pm_card_visa", {"waiver-2026"}), &refused)).reason(),
            "INVOICE_ALREADY_PAID");
  EXPECT_EQ(IntentsFor(inv.invoice_id()).size(), 1u);
}

// --- declines ----------------------------------------------------------------------

TEST_F(PayFlowTest, ADeclineFailsClearlyAndLeavesTheInvoiceOpenThenASecondCardPays) {
  const std::string bk = BookingId();
  const auto inv = Open(bk, 25000);

  const auto declined = PayOk(PayWith(inv, "pay-declined", "pm_card_visa_chargeDeclinedInsufficientFunds"));
  EXPECT_EQ(declined.outcome(), v1::PAY_OUTCOME_FAILED);
  EXPECT_EQ(declined.failure_code(), "insufficient_funds");
  EXPECT_FALSE(declined.failure_message().empty());
  EXPECT_EQ(declined.invoice().status(), v1::INVOICE_STATUS_OPEN);
  EXPECT_FALSE(declined.invoice().payment_pending());
  EXPECT_EQ(GetBooking(bk).paid().amount_minor(), 0);

  // The retry of the declined call replays the decline (no second charge attempt).
  const auto replay = PayOk(PayWith(inv, "pay-declined", "pm_card_visa_chargeDeclinedInsufficientFunds"));
  EXPECT_EQ(replay.outcome(), v1::PAY_OUTCOME_FAILED);
  EXPECT_EQ(IntentsFor(inv.invoice_id()).size(), 1u);

  const auto paid = PayOk(PayWith(inv, "pay-visa", "pm_card_visa"));
  EXPECT_EQ(paid.outcome(), v1::PAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(Get(inv.invoice_id()).invoice().status(), v1::INVOICE_STATUS_PAID);
  EXPECT_EQ(GetBooking(bk).balance().amount_minor(), 0);
  EXPECT_EQ(SucceededCharges(inv.invoice_id()), 1);
  const auto events = EventTypes(inv.invoice_id());
  EXPECT_EQ(Count(events, "PAYMENT_FAILED"), 1);
  EXPECT_EQ(Count(events, "PAID"), 1);
}

// An activity name may be 200 characters, 800 bytes when they are wide; the
// payment's description (at most 500) must be cut between characters, not
// inside one, or payments refuses the payment as invalid UTF-8.
TEST_F(PayFlowTest, AnActivityNamedInTwoHundredWideCharactersIsPaid) {
  std::string name;
  for (int i = 0; i < 200; ++i) name += "東";
  const std::string bk = BookingId();
  const auto inv = Open(bk, 25000, {.activity_name = name});
  const auto paid = PayOk(PayWith(inv, "pay-wide", "pm_card_visa"));
  ASSERT_EQ(paid.outcome(), v1::PAY_OUTCOME_SUCCEEDED) << paid.failure_message();
  const std::string description = Intent(paid.payment_intent_id())["description"].get<std::string>();
  EXPECT_TRUE(description.starts_with(name.substr(0, 399))) << description;
  EXPECT_TRUE(description.ends_with(" (invoice " + inv.invoice_id() + ")")) << description;
  EXPECT_LE(description.size(), 500u);
}

// --- 3-D Secure ----------------------------------------------------------------------

TEST_F(PayFlowTest, ThreeDSecureSucceedsThroughHandledNextAction) {
  const std::string bk = BookingId();
  const auto inv = Open(bk, 25000);

  const auto first = PayOk(PayWith(inv, "pay-3ds", "pm_card_threeDSecure2Required"));
  ASSERT_EQ(first.outcome(), v1::PAY_OUTCOME_REQUIRES_ACTION);
  EXPECT_TRUE(first.client_secret().starts_with(first.payment_intent_id() + "_secret_"));
  EXPECT_TRUE(first.invoice().payment_pending());

  // While the prompt is open, another attempt is refused with seed 000's words.
  v1::PayInvoiceResponse busy;
  const auto status = Pay(PayWith(inv, "pay-other", "pm_card_visa"), &busy);
  EXPECT_EQ(status.error_code(), Code::ABORTED);
  EXPECT_EQ(status.error_message(), kInProgress);
  EXPECT_EQ(ErrorInfoOf(status).reason(), "PAYMENT_IN_PROGRESS");

  Authenticate(first.payment_intent_id(), "succeed");
  const auto done = PayOk(Handled(inv, "pay-3ds-handled", first.payment_intent_id()));
  EXPECT_EQ(done.outcome(), v1::PAY_OUTCOME_SUCCEEDED);
  EXPECT_FALSE(done.confirmation_code().empty());
  EXPECT_EQ(done.invoice().status(), v1::INVOICE_STATUS_PAID);
  // Told twice (the handled call and the webhook): applied once.
  const auto handled_again = PayOk(Handled(inv, "pay-3ds-handled-2", first.payment_intent_id()));
  EXPECT_EQ(handled_again.outcome(), v1::PAY_OUTCOME_SUCCEEDED);
  ASSERT_TRUE(Eventually([&] { return MailsTo(bk, kReceipt) == 1; }, std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the webhook's copy arrive
  EXPECT_EQ(Get(inv.invoice_id()).cart().payments_size(), 1);
  EXPECT_EQ(GetBooking(bk).paid().amount_minor(), 25000);
  EXPECT_EQ(SucceededCharges(inv.invoice_id()), 1);
  EXPECT_EQ(IntentsFor(inv.invoice_id()).size(), 1u);
}

TEST_F(PayFlowTest, ThreeDSecureSucceedsThroughTheWebhookAlone) {
  const std::string bk = BookingId();
  const auto inv = Open(bk, 25000);
  const auto first = PayOk(PayWith(inv, "pay-3ds", "pm_card_authenticationRequired"));
  ASSERT_EQ(first.outcome(), v1::PAY_OUTCOME_REQUIRES_ACTION);

  // The customer authenticates and closes the browser: nobody calls PayInvoice again.
  Authenticate(first.payment_intent_id(), "succeed");
  ASSERT_TRUE(WaitInvoiceStatus(inv.invoice_id(), v1::INVOICE_STATUS_PAID)) << sys().Logs();
  const auto view = Get(inv.invoice_id());
  ASSERT_EQ(view.cart().payments_size(), 1);
  EXPECT_EQ(view.cart().payments(0).payment_intent_id(), first.payment_intent_id());
  EXPECT_EQ(GetBooking(bk).status(), v1::BOOKING_STATUS_CONFIRMED);
  ASSERT_TRUE(Eventually([&] { return MailsTo(bk, kReceipt) == 1 && MailsTo(bk, kConfirmed) == 1; },
                         std::chrono::seconds(20)));
  // The customer comes back later: the handled call learns the outcome.
  const auto later = PayOk(Handled(inv, "pay-3ds-later", first.payment_intent_id()));
  EXPECT_EQ(later.outcome(), v1::PAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(Get(inv.invoice_id()).cart().payments_size(), 1);
}

TEST_F(PayFlowTest, ThreeDSecureFailsAndANewAttemptPays) {
  const std::string bk = BookingId();
  const auto inv = Open(bk, 25000);
  const auto first = PayOk(PayWith(inv, "pay-3ds", "pm_card_threeDSecure2Required"));
  ASSERT_EQ(first.outcome(), v1::PAY_OUTCOME_REQUIRES_ACTION);

  Authenticate(first.payment_intent_id(), "fail");
  const auto failed = PayOk(Handled(inv, "pay-3ds-handled", first.payment_intent_id()));
  EXPECT_EQ(failed.outcome(), v1::PAY_OUTCOME_FAILED);
  EXPECT_EQ(failed.failure_code(), "payment_intent_authentication_failure");
  EXPECT_FALSE(failed.invoice().payment_pending());

  const auto paid = PayOk(PayWith(inv, "pay-again", "pm_card_visa"));
  EXPECT_EQ(paid.outcome(), v1::PAY_OUTCOME_SUCCEEDED);
  EXPECT_NE(paid.payment_intent_id(), first.payment_intent_id());
  EXPECT_EQ(SucceededCharges(inv.invoice_id()), 1);
  // The failed PaymentIntent is not left open for a late confirmation.
  ASSERT_TRUE(Eventually([&] { return Intent(first.payment_intent_id())["status"] == "canceled"; },
                         std::chrono::seconds(20)));
}

TEST_F(PayFlowTest, AnAbandonedThreeDSecureIsClearedOnTheNextVisit) {
  const std::string bk = BookingId();
  const auto inv = Open(bk, 25000);
  const auto first = PayOk(PayWith(inv, "pay-3ds", "pm_card_threeDSecure2Required"));
  ASSERT_EQ(first.outcome(), v1::PAY_OUTCOME_REQUIRES_ACTION);

  // The prompt might still be open: refused.
  v1::PayInvoiceResponse busy;
  EXPECT_EQ(Pay(PayWith(inv, "pay-soon", "pm_card_visa"), &busy).error_code(), Code::ABORTED);

  // Past PAY_ABANDON_AFTER_MS the next visit cancels it and pays.
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  const auto paid = PayOk(PayWith(inv, "pay-later", "pm_card_visa"));
  EXPECT_EQ(paid.outcome(), v1::PAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(Intent(first.payment_intent_id())["status"], "canceled");
  EXPECT_EQ(SucceededCharges(inv.invoice_id()), 1);
  EXPECT_EQ(Count(EventTypes(inv.invoice_id()), "PAYMENT_CANCELED"), 1);
}

// --- races -----------------------------------------------------------------------------

TEST_F(PayFlowTest, FiftyConcurrentPayCallsChargeOnce) {
  const std::string bk = BookingId();
  const auto inv = Open(bk, 25000);
  constexpr int kCalls = 50;
  std::mutex mu;
  std::map<std::string, int> outcomes;
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      // Half retry one request (the replay), half are separate clicks.
      const std::string request_id = i % 2 == 0 ? "pay-shared" : "pay-" + std::to_string(i);
      while (!go.load()) std::this_thread::yield();
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      v1::PayInvoiceResponse resp;
      const auto status = sys().invoice().PayInvoice(&ctx, PayWith(inv, request_id, "pm_card_visa"), &resp);
      std::string key;
      if (status.ok()) {
        key = "OK " + std::string(v1::PayOutcome_Name(resp.outcome()));
      } else {
        key = std::to_string(status.error_code()) + " " + ErrorInfoOf(status).reason();
      }
      std::lock_guard lock(mu);
      ++outcomes[key];
    });
  }
  go = true;
  for (auto& t : threads) t.join();

  std::string seen;
  for (const auto& [k, n] : outcomes) seen += k + " x" + std::to_string(n) + "; ";
  const int succeeded = outcomes["OK PAY_OUTCOME_SUCCEEDED"];
  EXPECT_GE(succeeded, 1) << seen;
  for (const auto& [k, n] : outcomes) {
    // Success (the winner and replays of its request), ABORTED while it
    // runs, or "already paid" for clicks that came after.
    EXPECT_TRUE(k == "OK PAY_OUTCOME_SUCCEEDED" || k == "10 PAYMENT_IN_PROGRESS" ||
                k == "9 INVOICE_ALREADY_PAID")
        << seen;
  }
  EXPECT_EQ(IntentsFor(inv.invoice_id()).size(), 1u) << seen;
  EXPECT_EQ(SucceededCharges(inv.invoice_id()), 1);
  EXPECT_EQ(Get(inv.invoice_id()).cart().payments_size(), 1);
  EXPECT_EQ(GetBooking(bk).paid().amount_minor(), 25000);
  EXPECT_EQ(InvoiceDbInt("SELECT count(*) FROM pay_attempts a JOIN invoices i USING (invoice_id) WHERE i.booking_id = '" +
                         bk + "'"),
            1);
}

// --- faults ------------------------------------------------------------------------------

TEST_F(PayFlowTest, TheEmulatorDroppingTheConnectionAfterChargingPaysOnce) {
  const std::string bk = BookingId();
  const auto inv = Open(bk, 25000);
  AddFault({{"method", "POST"}, {"path", "/v1/payment_intents"}, {"action", "execute_then_drop"}, {"times", 1}});
  const auto paid = PayOk(PayWith(inv, "pay-1", "pm_card_visa"));
  EXPECT_EQ(paid.outcome(), v1::PAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(IntentsFor(inv.invoice_id()).size(), 1u);
  EXPECT_EQ(SucceededCharges(inv.invoice_id()), 1);
  EXPECT_EQ(Get(inv.invoice_id()).cart().payments_size(), 1);
}

TEST_F(PayFlowTest, TheInvoiceServiceKilledBetweenTheChargeAndItsCommitConvergesToPaid) {
  const std::string bk = BookingId();
  const auto inv = Open(bk, 25000);
  // The confirm charges the card but its answer is lost (500). Until the
  // faults are cleared after the kill, payments can learn the outcome no
  // other way: its confirm retries and look-ups hang (a hang holds even a
  // retry the emulator would replay), and the webhooks are dropped (a TSan
  // run saw payment_intent.succeeded settle the payment 270 ms after the
  // charge, before the kill). So the invoice service cannot commit the
  // payment before the kill however slow the machine. Only the customer's
  // UNAVAILABLE needs the kill within payments' retries (3 × 1.5 s).
  const std::string confirm = "/v1/payment_intents/*/confirm";
  AddFault({{"method", "POST"}, {"path", confirm}, {"action", "execute_then_error"}, {"times", 1}});
  AddFault({{"method", "POST"}, {"path", confirm}, {"action", "hang"}, {"hang_ms", 15000}, {"sticky", true}});
  AddFault({{"method", "GET"}, {"path", "/v1/payment_intents/*"}, {"action", "hang"}, {"hang_ms", 15000},
            {"sticky", true}});
  AddWebhookFault({{"event_type", "*"}, {"action", "drop"}, {"sticky", true}});
  std::atomic<int> code{-1};
  std::thread customer([&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::PayInvoiceResponse resp;
    code = sys().invoice().PayInvoice(&ctx, PayWith(inv, "pay-1", "pm_card_visa"), &resp).error_code();
  });
  const bool charged = Eventually([&] { return SucceededCharges(inv.invoice_id()) == 1; }, std::chrono::seconds(10),
                                  std::chrono::milliseconds(5));
  sys().KillInvoice();
  customer.join();
  // Wakes the hanging calls (503); payments' sweeper then finds the charge.
  sys().Control("DELETE", "/_emulator/faults");
  sys().Control("DELETE", "/_emulator/webhook_faults");
  ASSERT_TRUE(charged);
  EXPECT_EQ(code.load(), static_cast<int>(Code::UNAVAILABLE));
  EXPECT_EQ(InvoiceDbInt("SELECT count(*) FROM customer_payments WHERE booking_id = '" + bk + "'"), 0)
      << "the kill came after the commit; the test proves nothing";

  sys().StartInvoice();
  ASSERT_TRUE(WaitInvoiceStatus(inv.invoice_id(), v1::INVOICE_STATUS_PAID, std::chrono::seconds(30))) << sys().Logs();
  // The customer's retry learns the outcome.
  const auto replay = PayOk(PayWith(inv, "pay-1", "pm_card_visa"));
  EXPECT_EQ(replay.outcome(), v1::PAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(IntentsFor(inv.invoice_id()).size(), 1u);
  EXPECT_EQ(SucceededCharges(inv.invoice_id()), 1);
  EXPECT_EQ(Get(inv.invoice_id()).cart().payments_size(), 1);
  EXPECT_EQ(GetBooking(bk).paid().amount_minor(), 25000);
  ASSERT_TRUE(Eventually([&] { return MailsTo(bk, kReceipt) == 1; }, std::chrono::seconds(20)));
}

TEST_F(PayFlowTest, WebhooksDeliveredTwiceAndOutOfOrderAreAppliedOnce) {
  const std::string bk = BookingId();
  const auto inv = Open(bk, 25000);
  // requires_action is held back until after succeeded; succeeded arrives
  // twice (the same event) and once more as a twin (a new event id).
  const int delivered_before = RequiresActionDeliveries();
  AddWebhookFault({{"event_type", "payment_intent.requires_action"}, {"action", "reorder"}, {"times", 1}});
  AddWebhookFault({{"event_type", "payment_intent.succeeded"}, {"action", "duplicate"}, {"times", 1}});
  AddWebhookFault({{"event_type", "payment_intent.succeeded"}, {"action", "twin"}, {"times", 1}});
  const auto first = PayOk(PayWith(inv, "pay-3ds", "pm_card_threeDSecure2Required"));
  ASSERT_EQ(first.outcome(), v1::PAY_OUTCOME_REQUIRES_ACTION);
  Authenticate(first.payment_intent_id(), "succeed");
  ASSERT_TRUE(WaitInvoiceStatus(inv.invoice_id(), v1::INVOICE_STATUS_PAID)) << sys().Logs();
  // The held requires_action went out after the others.
  ASSERT_TRUE(Eventually([&] { return RequiresActionDeliveries() > delivered_before; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));

  // The invoice service, told again directly (payments' outbox redelivering
  // the same event, and an older state after a newer one), changes nothing.
  const auto view = Get(inv.invoice_id());
  ASSERT_EQ(view.cart().payments_size(), 1);
  v1::ApplyPaymentEventRequest late;
  late.set_request_id("evt-late-requires-action");
  late.set_invoice_id(inv.invoice_id());
  late.set_payment_intent_id(first.payment_intent_id());
  late.set_status(v1::PAYMENT_EVENT_STATUS_REQUIRES_ACTION);
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext ctx;
    v1::ApplyPaymentEventResponse resp;
    // payment_id: the one payments gave the attempt.
    late.set_payment_id(PaymentIdOf(first.payment_intent_id()));
    const auto status = sys().events().ApplyPaymentEvent(&ctx, late, &resp);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_FALSE(resp.applied());
    EXPECT_EQ(resp.invoice().status(), v1::INVOICE_STATUS_PAID);
  }
  EXPECT_EQ(Get(inv.invoice_id()).cart().payments_size(), 1);
  EXPECT_EQ(GetBooking(bk).paid().amount_minor(), 25000);
  const auto events = EventTypes(inv.invoice_id());
  EXPECT_EQ(Count(events, "PAID"), 1);
  EXPECT_EQ(Count(events, "PAYMENT_SUCCEEDED"), 0);  // PAID is the success's event
  ASSERT_TRUE(Eventually([&] { return MailsTo(bk, kReceipt) == 1; }, std::chrono::seconds(20)));
  EXPECT_EQ(SucceededCharges(inv.invoice_id()), 1);
}

// --- the booking changes while a payment is pending --------------------------------------------

TEST_F(PayFlowTest, ABookingCanceledWhileAPaymentIsPendingCancelsThePaymentIntentAndTheInvoice) {
  const std::string bk = BookingId();
  const auto inv = Open(bk, 25000);
  const auto first = PayOk(PayWith(inv, "pay-3ds", "pm_card_threeDSecure2Required"));
  ASSERT_EQ(first.outcome(), v1::PAY_OUTCOME_REQUIRES_ACTION);

  Upsert(bk, {.status = v1::BOOKING_STATUS_CANCELED});
  EXPECT_EQ(Get(inv.invoice_id()).invoice().status(), v1::INVOICE_STATUS_CANCELED);
  ASSERT_TRUE(Eventually([&] { return Intent(first.payment_intent_id())["status"] == "canceled"; },
                         std::chrono::seconds(20)))
      << sys().Logs();
  // The customer finishing 3-D Secure now cannot pay a canceled invoice.
  const auto late = PayOk(Handled(inv, "pay-3ds-handled", first.payment_intent_id()));
  EXPECT_EQ(late.outcome(), v1::PAY_OUTCOME_FAILED);
  EXPECT_EQ(SucceededCharges(inv.invoice_id()), 0);
  EXPECT_EQ(GetBooking(bk).paid().amount_minor(), 0);
}

TEST_F(PayFlowTest, APaymentThatSucceedsAfterItsInvoiceWasPaidElsewhereIsRefundedAndReported) {
  const std::string bk = BookingId();
  const auto inv = Open(bk, 25000);
  const auto first = PayOk(PayWith(inv, "pay-3ds", "pm_card_threeDSecure2Required"));
  ASSERT_EQ(first.outcome(), v1::PAY_OUTCOME_REQUIRES_ACTION);

  // Stripe refuses cancels for now, so the PaymentIntent stays open.
  AddFault({{"method", "POST"}, {"path", "/v1/payment_intents/*/cancel"}, {"action", "error"}, {"status", 500},
            {"sticky", true}});
  // The customer pays at the desk meanwhile.
  v1::RecordExternalPaymentRequest desk;
  desk.set_request_id("desk-" + bk);
  desk.set_booking_id(bk);
  desk.mutable_amount()->set_amount_minor(25000);
  desk.mutable_amount()->set_currency_code("USD");
  desk.set_source(v1::PAYMENT_SOURCE_DASHBOARD);
  desk.set_external_reference("till-7");
  v1::RecordExternalPaymentResponse recorded;
  ASSERT_TRUE(Call(&v1::InvoiceService::Stub::RecordExternalPayment, desk, &recorded).ok());
  EXPECT_NE(Get(inv.invoice_id()).invoice().status(), v1::INVOICE_STATUS_OPEN);

  // ...and completes 3-D Secure anyway: the money is refunded, not kept.
  Authenticate(first.payment_intent_id(), "succeed");
  ASSERT_TRUE(Eventually([&] { return RefundedFor(first.payment_intent_id()) == 25000; },
                         std::chrono::seconds(30)))
      << sys().Logs();
  sys().Control("DELETE", "/_emulator/faults");
  ASSERT_TRUE(Eventually([&] { return Count(EventTypes(inv.invoice_id()), "PAYMENT_REFUNDED") == 1; },
                         std::chrono::seconds(20)));
  const auto booking = GetBooking(bk);
  EXPECT_EQ(booking.paid().amount_minor(), 25000);  // the desk payment only
  EXPECT_EQ(Get(inv.invoice_id()).cart().payments_size(), 1);
  EXPECT_EQ(MailsTo(bk, kReceipt), 0);
}

// --- checks before any charge ------------------------------------------------------------------

TEST_F(PayFlowTest, ChecksBeforeAnyChargeRefuseWithAClearReasonAndChargeNothing) {
  const auto check = [&](const std::string& name, const v1::Invoice& inv, const std::vector<std::string>& agreements,
                         const std::string& reason, const std::string& field) {
    SCOPED_TRACE(name);
    v1::PayInvoiceResponse resp;
    const auto status = Pay(PayWith(inv, "pay-" + name, "pm_card_visa", agreements), &resp);
    ExpectRefusal(status, Code::FAILED_PRECONDITION, field);
    EXPECT_EQ(ErrorInfoOf(status).reason(), reason) << status.error_message();
    EXPECT_TRUE(IntentsFor(inv.invoice_id()).empty());
  };
  {
    const std::string bk = BookingId("-agr");
    Upsert(bk, {.agreements = {"waiver", "cancellation-policy"}});
    const auto inv = Create(bk, 25000);
    check("agreements", inv, {"waiver"}, "AGREEMENTS_NOT_ACCEPTED", "accepted_agreement_ids");
  }
  {
    const std::string bk = BookingId("-draft");
    Upsert(bk, {.status = v1::BOOKING_STATUS_DRAFT, .slot_hold_s = 2});
    const auto inv = Create(bk, 25000);
    std::this_thread::sleep_for(std::chrono::milliseconds(2200));
    check("slot", inv, {}, "SLOT_NOT_HELD", "");
  }
  {
    const std::string bk = BookingId("-closed");
    const auto inv = Open(bk, 25000);
    v1::CloseInvoiceRequest close;
    close.set_request_id("close-" + bk);
    close.set_invoice_id(inv.invoice_id());
    close.set_reason("sent by mistake");
    v1::CloseInvoiceResponse closed;
    ASSERT_TRUE(Call(&v1::InvoiceService::Stub::CloseInvoice, close, &closed).ok());
    check("closed", inv, {}, "INVOICE_NOT_OPEN", "");
  }
  {
    const std::string bk = BookingId("-paid");
    const auto inv = Open(bk, 25000);
    v1::RecordExternalPaymentRequest desk;
    desk.set_request_id("desk-" + bk);
    desk.set_booking_id(bk);
    desk.mutable_amount()->set_amount_minor(25000);
    desk.mutable_amount()->set_currency_code("USD");
    desk.set_source(v1::PAYMENT_SOURCE_OTHER);
    desk.set_external_reference("cash");
    v1::RecordExternalPaymentResponse recorded;
    ASSERT_TRUE(Call(&v1::InvoiceService::Stub::RecordExternalPayment, desk, &recorded).ok());
    // Settled by the desk payment: nothing left to pay through the link.
    v1::PayInvoiceResponse resp;
    const auto status = Pay(PayWith(inv, "pay-paid", "pm_card_visa"), &resp);
    EXPECT_EQ(status.error_code(), Code::FAILED_PRECONDITION);
    EXPECT_TRUE(IntentsFor(inv.invoice_id()).empty());
  }
  {
    const std::string bk = BookingId("-canceled");
    const auto inv = Open(bk, 25000);
    Upsert(bk, {.status = v1::BOOKING_STATUS_CANCELED});
    v1::PayInvoiceResponse resp;
    const auto status = Pay(PayWith(inv, "pay-canceled", "pm_card_visa"), &resp);
    EXPECT_EQ(status.error_code(), Code::FAILED_PRECONDITION);
    EXPECT_TRUE(IntentsFor(inv.invoice_id()).empty());
  }
  {
    v1::Invoice unknown;
    unknown.set_pay_url("https://pay.example.com/i/not-a-real-token-00000000000000");
    v1::PayInvoiceResponse resp;
    const auto status = Pay(PayWith(unknown, "pay-unknown", "pm_card_visa"), &resp);
    ExpectRefusal(status, Code::NOT_FOUND, "token");
    EXPECT_EQ(status.error_message().find("not-a-real-token"), std::string::npos) << "the token was echoed";
  }
}

// --- the suite's invariants ----------------------------------------------------------------------

void PayFlowTest::TearDownTestSuite() {
  if (system_ == nullptr) return;
  PaySystem& s = *system_;
  const std::string url = s.invoice_db().url();
  // Let every outbox drain (payments' events, refunds, notifications).
  Eventually(
      [&] {
        return QueryInt(url, "SELECT count(*) FROM payment_actions WHERE state = 'PENDING'") == 0 &&
               QueryInt(url, "SELECT count(*) FROM invoice_notifications WHERE state IN ('PENDING', 'QUEUED')") == 0;
      },
      std::chrono::seconds(30));
  std::this_thread::sleep_for(std::chrono::seconds(1));

  // Every booking: balance = total - recorded payments, and our own paid
  // amount is exactly what the payment records sum to.
  EXPECT_EQ(QueryInt(url,
                     "SELECT count(*) FROM bookings b WHERE b.paid_minor <> (SELECT COALESCE(sum(p.amount_minor), 0) "
                     "FROM customer_payments p WHERE p.booking_id = b.booking_id)"),
            0);
  EXPECT_EQ(QueryInt(url, "SELECT count(*) FROM bookings WHERE paid_minor > total_minor"), 0);

  // Stripe's money minus refunds = our card payment records.
  const json ledger = s.Ledger();
  const long long captured = ledger["summary"]["captured"].value("usd", 0LL);
  const long long refunded = ledger["summary"]["refunded"].value("usd", 0LL);
  EXPECT_GT(captured, 0);
  EXPECT_EQ(captured - refunded,
            QueryInt(url, "SELECT COALESCE(sum(amount_minor), 0) FROM customer_payments WHERE source = 'INVOICE'"))
      << ledger["summary"].dump();
  EXPECT_EQ(QueryInt(url, "SELECT count(*) FROM customer_payments WHERE source = 'INVOICE'"),
            QueryInt(url, "SELECT count(DISTINCT payment_intent_id) FROM customer_payments WHERE source = 'INVOICE'"));

  // Every notification was sent exactly once: one mail per queued notification.
  std::map<std::string, int> mails;
  for (const auto& m : s.smtp().Messages()) {
    const auto mail = ParseMail(m.eml_path);
    ++mails[mail["to_address"].get<std::string>() + "|" + mail["headers"]["Subject"].get<std::string>()];
  }
  for (const auto& [key, n] : mails) EXPECT_EQ(n, 1) << "sent " << n << " times: " << key;
  EXPECT_EQ(static_cast<long long>(s.smtp().Messages().size()),
            QueryInt(url, "SELECT count(*) FROM invoice_notifications WHERE state = 'SENT'"));

  delete system_;
  system_ = nullptr;
}

}  // namespace
}  // namespace billing::testing
