// Hostile and malformed input to every payments RPC: the precise code, a
// message naming the field, never INTERNAL, nothing charged or stored.
#include <functional>

#include "e2e/payments_env.h"

namespace billing::testing {
namespace {

using Code = grpc::StatusCode;
using S = pv1::PaymentService::Stub;

const std::string kMegabyte(1 << 20, 'x');
const std::string kBadUtf8 = "Zo\xC3\x28\xFF";

struct Case {
  std::string name;
  std::function<grpc::Status(S&)> call;
  Code code;
  std::string field;  // "" when no single field is at fault
};

template <typename Req, typename Resp>
std::function<grpc::Status(S&)> Rpc(grpc::Status (S::*method)(grpc::ClientContext*, const Req&, Resp*), Req req) {
  return [method, req](S& stub) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    Resp resp;
    return (stub.*method)(&ctx, req, &resp);
  };
}

pv1::CreatePaymentRequest BadCreate(const std::function<void(pv1::CreatePaymentRequest&)>& f) {
  static int n = 0;
  auto r = PaymentsE2eTest::CreateRequest("bad-" + std::to_string(++n), "pm_card_visa");
  f(r);
  return r;
}

pv1::RefundPaymentRequest Refund(const std::string& payment_id,
                                 const std::function<void(pv1::RefundPaymentRequest&)>& f) {
  static int n = 0;
  pv1::RefundPaymentRequest r;
  r.set_request_id("bad-refund-" + std::to_string(++n));
  r.set_payment_id(payment_id);
  r.mutable_amount()->set_amount_minor(100);
  r.mutable_amount()->set_currency_code("USD");
  f(r);
  return r;
}

TEST_F(PaymentsE2eTest, EveryRpcRejectsBadInputPrecisely) {
  StartPayments();
  const auto paid = Create("base", "pm_card_visa");
  ASSERT_EQ(paid.status(), pv1::PAYMENT_STATUS_SUCCEEDED);
  const std::string unknown_id = "00000000-0000-4000-8000-000000000000";
  const std::vector<Case> cases = {
      // CreatePayment
      {"create empty", Rpc(&S::CreatePayment, pv1::CreatePaymentRequest()), Code::INVALID_ARGUMENT, "request_id"},
      {"create huge request_id", Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.set_request_id(kMegabyte); })),
       Code::INVALID_ARGUMENT, "request_id"},
      {"create no invoice", Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.clear_invoice_id(); })),
       Code::INVALID_ARGUMENT, "invoice_id"},
      {"create invoice with SQL", Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.set_invoice_id("x'); DROP TABLE payments; --"); })),
       Code::INVALID_ARGUMENT, "invoice_id"},
      {"create no amount", Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.clear_amount(); })), Code::INVALID_ARGUMENT,
       "amount"},
      {"create negative", Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.mutable_amount()->set_amount_minor(-1); })),
       Code::INVALID_ARGUMENT, "amount.amount_minor"},
      {"create zero", Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.mutable_amount()->set_amount_minor(0); })),
       Code::INVALID_ARGUMENT, "amount.amount_minor"},
      {"create over Stripe's limit",
       Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.mutable_amount()->set_amount_minor(100'000'000); })),
       Code::INVALID_ARGUMENT, "amount.amount_minor"},
      {"create INT64_MAX",
       Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.mutable_amount()->set_amount_minor(INT64_MAX); })),
       Code::INVALID_ARGUMENT, "amount.amount_minor"},
      {"create lower-case currency",
       Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.mutable_amount()->set_currency_code("usd"); })),
       Code::INVALID_ARGUMENT, "amount.currency_code"},
      {"create no method", Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.clear_payment_method_id(); })),
       Code::INVALID_ARGUMENT, "payment_method_id"},
      {"create method without pm_", Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.set_payment_method_id("card_visa"); })),
       Code::INVALID_ARGUMENT, "payment_method_id"},
      {"create method with quotes",
       Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.set_payment_method_id("pm_x'\"&amount=1"); })),
       Code::INVALID_ARGUMENT, "payment_method_id"},
      {"create token without ctoken_",
       Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.set_confirmation_token_id("pm_card_visa"); })),
       Code::INVALID_ARGUMENT, "confirmation_token_id"},
      {"create http return_url",
       Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.set_return_url("http://evil.example.com/"); })),
       Code::INVALID_ARGUMENT, "return_url"},
      {"create javascript return_url",
       Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.set_return_url("javascript:alert(1)"); })),
       Code::INVALID_ARGUMENT, "return_url"},
      {"create long description", Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.set_description(std::string(501, 'd')); })),
       Code::INVALID_ARGUMENT, "description"},
      {"create bad UTF-8", Rpc(&S::CreatePayment, BadCreate([](auto& r) { r.set_description(kBadUtf8); })),
       Code::INVALID_ARGUMENT, ""},
      {"create 21 metadata keys", Rpc(&S::CreatePayment, BadCreate([](auto& r) {
                                    for (int i = 0; i < 21; ++i) (*r.mutable_metadata())["k" + std::to_string(i)] = "v";
                                  })),
       Code::INVALID_ARGUMENT, "metadata"},
      {"create reserved metadata",
       Rpc(&S::CreatePayment, BadCreate([](auto& r) { (*r.mutable_metadata())["payment_id"] = "forged"; })),
       Code::INVALID_ARGUMENT, "metadata"},
      {"create NUL in a metadata key",
       Rpc(&S::CreatePayment, BadCreate([](auto& r) { (*r.mutable_metadata())[std::string("a\0b", 3)] = "v"; })),
       Code::INVALID_ARGUMENT, "metadata"},
      {"create bracket metadata", Rpc(&S::CreatePayment, BadCreate([](auto& r) { (*r.mutable_metadata())["a[b]"] = "v"; })),
       Code::INVALID_ARGUMENT, "metadata"},
      {"create long metadata value",
       Rpc(&S::CreatePayment, BadCreate([](auto& r) { (*r.mutable_metadata())["note"] = std::string(501, 'v'); })),
       Code::INVALID_ARGUMENT, "metadata[note]"},
      // ConfirmPayment
      {"confirm empty", Rpc(&S::ConfirmPayment, pv1::ConfirmPaymentRequest()), Code::INVALID_ARGUMENT, "request_id"},
      {"confirm no invoice", Rpc(&S::ConfirmPayment, [] {
         pv1::ConfirmPaymentRequest r;
         r.set_request_id("c1");
         r.set_payment_intent_id("pi_123");
         return r;
       }()),
       Code::INVALID_ARGUMENT, "invoice_id"},
      {"confirm bad intent", Rpc(&S::ConfirmPayment, [] {
         pv1::ConfirmPaymentRequest r;
         r.set_request_id("c2");
         r.set_invoice_id("inv-1");
         r.set_payment_intent_id("ch_123");
         return r;
       }()),
       Code::INVALID_ARGUMENT, "payment_intent_id"},
      {"confirm unknown intent", Rpc(&S::ConfirmPayment, [] {
         pv1::ConfirmPaymentRequest r;
         r.set_request_id("c3");
         r.set_invoice_id("inv-1");
         r.set_payment_intent_id("pi_unknown123");
         return r;
       }()),
       Code::NOT_FOUND, "payment_intent_id"},
      // GetPayment
      {"get nothing", Rpc(&S::GetPayment, pv1::GetPaymentRequest()), Code::INVALID_ARGUMENT, "payment_id"},
      {"get not a uuid", Rpc(&S::GetPayment, [] {
         pv1::GetPaymentRequest r;
         r.set_payment_id("1 OR 1=1");
         return r;
       }()),
       Code::INVALID_ARGUMENT, "payment_id"},
      {"get bad intent", Rpc(&S::GetPayment, [] {
         pv1::GetPaymentRequest r;
         r.set_payment_intent_id("pi_");
         return r;
       }()),
       Code::INVALID_ARGUMENT, "payment_intent_id"},
      {"get unknown", Rpc(&S::GetPayment, [&] {
         pv1::GetPaymentRequest r;
         r.set_payment_id(unknown_id);
         return r;
       }()),
       Code::NOT_FOUND, "payment_id"},
      {"get unknown intent", Rpc(&S::GetPayment, [] {
         pv1::GetPaymentRequest r;
         r.set_payment_intent_id("pi_unknown456");
         return r;
       }()),
       Code::NOT_FOUND, "payment_intent_id"},
      // ListPayments
      {"list no invoice", Rpc(&S::ListPayments, pv1::ListPaymentsRequest()), Code::INVALID_ARGUMENT, "invoice_id"},
      {"list bad status", Rpc(&S::ListPayments, [] {
         pv1::ListPaymentsRequest r;
         r.set_invoice_id("inv-1");
         r.set_status(static_cast<pv1::PaymentStatus>(42));
         return r;
       }()),
       Code::INVALID_ARGUMENT, "status"},
      {"list negative page", Rpc(&S::ListPayments, [] {
         pv1::ListPaymentsRequest r;
         r.set_invoice_id("inv-1");
         r.set_page_size(-1);
         return r;
       }()),
       Code::INVALID_ARGUMENT, "page_size"},
      {"list forged token", Rpc(&S::ListPayments, [] {
         pv1::ListPaymentsRequest r;
         r.set_invoice_id("inv-1");
         r.set_page_token("p1.AAAA");
         return r;
       }()),
       Code::INVALID_ARGUMENT, "page_token"},
      // CancelPayment
      {"cancel empty", Rpc(&S::CancelPayment, pv1::CancelPaymentRequest()), Code::INVALID_ARGUMENT, "request_id"},
      {"cancel not a uuid", Rpc(&S::CancelPayment, [] {
         pv1::CancelPaymentRequest r;
         r.set_request_id("x1");
         r.set_payment_id("abc");
         return r;
       }()),
       Code::INVALID_ARGUMENT, "payment_id"},
      {"cancel bad reason", Rpc(&S::CancelPayment, [&] {
         pv1::CancelPaymentRequest r;
         r.set_request_id("x2");
         r.set_payment_id(paid.payment_id());
         r.set_reason(static_cast<pv1::CancellationReason>(9));
         return r;
       }()),
       Code::INVALID_ARGUMENT, "reason"},
      {"cancel unknown", Rpc(&S::CancelPayment, [&] {
         pv1::CancelPaymentRequest r;
         r.set_request_id("x3");
         r.set_payment_id(unknown_id);
         return r;
       }()),
       Code::NOT_FOUND, "payment_id"},
      // RefundPayment
      {"refund empty", Rpc(&S::RefundPayment, pv1::RefundPaymentRequest()), Code::INVALID_ARGUMENT, "request_id"},
      {"refund not a uuid", Rpc(&S::RefundPayment, Refund("nope", [](auto&) {})), Code::INVALID_ARGUMENT,
       "payment_id"},
      {"refund negative",
       Rpc(&S::RefundPayment, Refund(paid.payment_id(), [](auto& r) { r.mutable_amount()->set_amount_minor(-5); })),
       Code::INVALID_ARGUMENT, "amount.amount_minor"},
      {"refund other currency",
       Rpc(&S::RefundPayment, Refund(paid.payment_id(), [](auto& r) { r.mutable_amount()->set_currency_code("EUR"); })),
       Code::INVALID_ARGUMENT, "amount.currency_code"},
      {"refund bad reason", Rpc(&S::RefundPayment, Refund(paid.payment_id(), [](auto& r) {
                              r.set_reason(static_cast<pv1::RefundReason>(7));
                            })),
       Code::INVALID_ARGUMENT, "reason"},
      {"refund unknown", Rpc(&S::RefundPayment, Refund(unknown_id, [](auto&) {})), Code::NOT_FOUND, "payment_id"},
  };

  const auto ledger_before = Ledger();
  const long long payments_before = QueryInt(db_->url(), "SELECT count(*) FROM payments");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectRefusal(c.call(*stub_), c.code, c.field);
  }
  EXPECT_EQ(QueryInt(db_->url(), "SELECT count(*) FROM payments"), payments_before);
  EXPECT_EQ(QueryInt(db_->url(), "SELECT count(*) FROM refunds"), 0);
  EXPECT_EQ(Ledger()["payment_intents"].size(), ledger_before["payment_intents"].size()) << "nothing reached Stripe";
  EXPECT_TRUE(svc_->Running());
}

TEST_F(PaymentsE2eTest, StripesOwnRefusalsNameTheFieldToo) {
  StartPayments();
  pv1::CreatePaymentResponse resp;
  // Below Stripe's minimum for USD (50 cents).
  const auto small = Call(&S::CreatePayment, CreateRequest("small", "pm_card_visa", 10), &resp);
  EXPECT_EQ(small.error_code(), Code::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorInfoOf(small).reason(), "PROVIDER_REJECTED");
  EXPECT_EQ(ErrorInfoOf(small).metadata().at("field"), "amount.amount_minor");
  EXPECT_NE(small.error_message().find("at least"), std::string::npos) << small.error_message();
  // The refusal is the answer for that request_id from now on.
  const auto again = Call(&S::CreatePayment, CreateRequest("small", "pm_card_visa", 10), &resp);
  EXPECT_EQ(ErrorInfoOf(again).reason(), "PROVIDER_REJECTED");
  // A payment method Stripe does not know: the attempt fails with Stripe's
  // code, like a decline.
  const auto unknown = Create("unknown-pm", "pm_does_not_exist");
  EXPECT_EQ(unknown.status(), pv1::PAYMENT_STATUS_FAILED);
  EXPECT_EQ(unknown.failure().code(), "resource_missing");
  EXPECT_FALSE(Ledger()["summary"]["captured"].contains("usd"));
}

}  // namespace
}  // namespace billing::testing
