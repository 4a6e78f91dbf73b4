// Bearer-token authorization (server/authz.h): who may call what, and the
// refusals' codes. The e2e security suite runs the same rules in the real
// binaries.
#include "server/authz.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace billing::server {
namespace {

using errors::Reason;

constexpr char kPage[] = "page-token-0123456789";
constexpr char kBooking[] = "booking-token-0123456789";
constexpr char kBookingNext[] = "booking-token-rotated-98765";
constexpr char kPayments[] = "payments-token-0123456789";

Authorizer Invoice() {
  return Authorizer(std::string("payment-page=") + kPage + ", booking=" + kBooking + "\nbooking=" + kBookingNext +
                        " payments=" + kPayments,
                    {{"PUBLIC_CALLERS", {"payment-page"}}, {"ADMIN_CALLERS", {"booking"}}, {"EVENT_CALLERS", {"payments"}}},
                    {{"/billing.invoice.v1.InvoiceService/PayInvoice", {"PUBLIC_CALLERS"}},
                     {"/billing.invoice.v1.InvoiceService/GetInvoice", {"PUBLIC_CALLERS", "ADMIN_CALLERS"}},
                     {"/billing.invoice.v1.InvoiceService/*", {"ADMIN_CALLERS"}},
                     {"/billing.invoice.v1.PaymentEventService/*", {"EVENT_CALLERS"}}});
}

std::string Bearer(const char* token) { return std::string("Bearer ") + token; }

TEST(AuthorizerTest, EachGroupReachesOnlyItsMethods) {
  const Authorizer a = Invoice();
  const auto pay = a.Check("/billing.invoice.v1.InvoiceService/PayInvoice", Bearer(kPage));
  EXPECT_FALSE(pay.error.has_value());
  EXPECT_EQ(pay.caller, "payment-page");
  EXPECT_FALSE(a.Check("/billing.invoice.v1.InvoiceService/GetInvoice", Bearer(kPage)).error);
  EXPECT_FALSE(a.Check("/billing.invoice.v1.InvoiceService/GetInvoice", Bearer(kBooking)).error);
  EXPECT_FALSE(a.Check("/billing.invoice.v1.InvoiceService/CreateInvoice", Bearer(kBooking)).error);
  EXPECT_FALSE(a.Check("/billing.invoice.v1.PaymentEventService/ApplyPaymentEvent", Bearer(kPayments)).error);

  const auto page_creates = a.Check("/billing.invoice.v1.InvoiceService/CreateInvoice", Bearer(kPage));
  ASSERT_TRUE(page_creates.error.has_value());
  EXPECT_EQ(page_creates.error->reason(), Reason::kPermissionDenied);
  EXPECT_EQ(page_creates.caller, "payment-page");
  EXPECT_NE(std::string(page_creates.error->what()).find("payment-page"), std::string::npos);
  EXPECT_EQ(a.Check("/billing.invoice.v1.InvoiceService/PayInvoice", Bearer(kBooking)).error->reason(),
            Reason::kPermissionDenied);
  EXPECT_EQ(a.Check("/billing.invoice.v1.PaymentEventService/ApplyPaymentEvent", Bearer(kBooking)).error->reason(),
            Reason::kPermissionDenied);
  EXPECT_EQ(a.Check("/billing.invoice.v1.InvoiceService/CreateInvoice", Bearer(kPayments)).error->reason(),
            Reason::kPermissionDenied);
}

TEST(AuthorizerTest, AMethodNoRuleNamesIsRefused) {
  const Authorizer a = Invoice();
  EXPECT_EQ(a.Check("/billing.other.v1.Other/Do", Bearer(kBooking)).error->reason(), Reason::kPermissionDenied);
  // A prefix is not a service: "InvoiceServiceX" is not under ".../InvoiceService/*".
  EXPECT_EQ(a.Check("/billing.invoice.v1.InvoiceServiceX/Get", Bearer(kBooking)).error->reason(),
            Reason::kPermissionDenied);
}

TEST(AuthorizerTest, MissingMalformedAndUnknownTokensAreUnauthenticated) {
  const Authorizer a = Invoice();
  const std::string m = "/billing.invoice.v1.InvoiceService/GetInvoice";
  for (const std::optional<std::string>& header :
       {std::optional<std::string>(), std::optional<std::string>(""), std::optional<std::string>(kBooking),
        std::optional<std::string>("Basic Zm9vOmJhcg=="), std::optional<std::string>("Bearer "),
        std::optional<std::string>("Bearer not-a-known-token-at-all"), std::optional<std::string>(Bearer(kBooking) + "x"),
        std::optional<std::string>("bearer " + std::string(kBooking))}) {
    const auto d = a.Check(m, header ? std::optional<std::string_view>(*header) : std::nullopt);
    ASSERT_TRUE(d.error.has_value()) << (header ? *header : "(none)");
    EXPECT_EQ(d.error->reason(), Reason::kUnauthenticated);
    EXPECT_TRUE(d.caller.empty());
    // The refusal never echoes what was sent.
    if (header && header->size() > 7) {  // "Bearer " itself is in the hint
      EXPECT_EQ(std::string(d.error->what()).find(*header), std::string::npos);
    }
  }
}

TEST(AuthorizerTest, ACallerMayHoldTwoTokensWhileOneRotates) {
  const Authorizer a = Invoice();
  EXPECT_EQ(a.Check("/billing.invoice.v1.InvoiceService/CreateInvoice", Bearer(kBookingNext)).caller, "booking");
  EXPECT_EQ(a.Callers(), (std::set<std::string>{"booking", "payment-page", "payments"}));
}

TEST(AuthorizerTest, ReplacedTokensTakeEffectAndABadReplacementChangesNothing) {
  Authorizer a = Invoice();
  constexpr char kBookingThird[] = "booking-token-third-0123456";
  a.ReplaceTokens(std::string("payment-page=") + kPage + ",booking=" + kBookingThird + ",payments=" + kPayments);
  EXPECT_EQ(a.Check("/billing.invoice.v1.InvoiceService/CreateInvoice", Bearer(kBookingThird)).caller, "booking");
  EXPECT_EQ(a.Check("/billing.invoice.v1.InvoiceService/CreateInvoice", Bearer(kBooking)).error->reason(),
            Reason::kUnauthenticated);
  EXPECT_THROW(a.ReplaceTokens("booking=short"), std::invalid_argument);
  EXPECT_THROW(a.ReplaceTokens(""), std::invalid_argument);
  EXPECT_FALSE(a.Check("/billing.invoice.v1.InvoiceService/CreateInvoice", Bearer(kBookingThird)).error);
  EXPECT_FALSE(a.Check("/billing.invoice.v1.InvoiceService/PayInvoice", Bearer(kPage)).error);
}

TEST(BearerTokenTest, SendsTheTokenInForceAndRefusesOnesACalleeCannotTake) {
  BearerToken t("NOTIFY_TOKEN", "tok-first-0123456789");
  EXPECT_EQ(t.Header(), "Bearer tok-first-0123456789");
  t.Replace("tok-second-0123456789");
  EXPECT_EQ(t.Header(), "Bearer tok-second-0123456789");
  const auto refusal = [&](const std::string& token) {
    try {
      t.Replace(token);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(refusal("short").find("NOTIFY_TOKEN: the token must have 16"), std::string::npos);
  EXPECT_NE(refusal("tok with a space 0123").find("printable ASCII"), std::string::npos);
  EXPECT_NE(refusal("tok-0123456789\nabcdef").find("printable ASCII"), std::string::npos);
  EXPECT_NE(refusal("tok-0123456789,abcdef").find("commas"), std::string::npos);
  EXPECT_NE(refusal(std::string(5000, 'a')).find("4096"), std::string::npos);
  EXPECT_EQ(refusal("tok with a space 0123").find("space 0123"), std::string::npos);  // never quoted
  EXPECT_EQ(t.Header(), "Bearer tok-second-0123456789");
  EXPECT_THROW(BearerToken("X_TOKEN", "short"), std::invalid_argument);
}

TEST(AuthorizerTest, BadConfigurationIsRefusedWithoutQuotingTokens) {
  const std::vector<AccessRule> none;
  const auto message = [&](const std::string& tokens, std::vector<AccessRule> rules = {}) {
    try {
      Authorizer a(tokens, {{"G", {"x"}}}, std::move(rules));
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("").find("no caller=token"), std::string::npos);
  EXPECT_NE(message("booking").find("entry 1 is not caller=token"), std::string::npos);
  EXPECT_NE(message("booking=short").find("at least 16"), std::string::npos);
  EXPECT_EQ(message("booking=short").find("short"), std::string::npos);
  EXPECT_NE(message("bad!name=0123456789abcdef0").find("entry 1: the caller name"), std::string::npos);
  EXPECT_NE(message("a=0123456789abcdef0,b=0123456789abcdef0").find("entry 2: its token is also entry 1's"),
            std::string::npos);
  // A token pasted without "caller=" is not quoted as a caller name.
  EXPECT_EQ(message("AbCdEfGh0123456789==").find("AbCd"), std::string::npos);
  EXPECT_EQ(message("AbCdEfGh0123456789=short").find("AbCd"), std::string::npos);
  EXPECT_EQ(message("a=0123456789abcdef0,b=0123456789abcdef0").find("0123456789abcdef0"), std::string::npos);
  EXPECT_NE(message("a=0123456789abcdef0", {{"/x.Y/*", {"NOPE"}}}).find("unknown group NOPE"), std::string::npos);
  EXPECT_EQ(message("a=0123456789abcdef0", {{"/x.Y/*", {"G"}}}), "accepted");
}

TEST(AuthorizerTest, CallerListsSplitOnCommasAndSpaces) {
  EXPECT_EQ(ParseCallerList(" booking, admin ,,ops\nsupport"),
            (std::set<std::string>{"admin", "booking", "ops", "support"}));
  EXPECT_TRUE(ParseCallerList("").empty());
}

}  // namespace
}  // namespace billing::server
