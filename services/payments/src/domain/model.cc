#include "domain/model.h"

#include "crypto/crypto.h"
#include "enums/enum_table.h"

namespace billing::payments::domain {
namespace {

constexpr enums::Table<PaymentStatus, 6> kPaymentStatuses = {{
    {PaymentStatus::kPending, "PENDING"},
    {PaymentStatus::kRequiresAction, "REQUIRES_ACTION"},
    {PaymentStatus::kProcessing, "PROCESSING"},
    {PaymentStatus::kSucceeded, "SUCCEEDED"},
    {PaymentStatus::kFailed, "FAILED"},
    {PaymentStatus::kCanceled, "CANCELED"},
}};
constexpr enums::Table<RefundStatus, 4> kRefundStatuses = {{
    {RefundStatus::kPending, "PENDING"},
    {RefundStatus::kSucceeded, "SUCCEEDED"},
    {RefundStatus::kFailed, "FAILED"},
    {RefundStatus::kCanceled, "CANCELED"},
}};
// Stripe's names, also stored.
constexpr enums::Table<RefundReason, 4> kRefundReasons = {{
    {RefundReason::kNone, ""},
    {RefundReason::kDuplicate, "duplicate"},
    {RefundReason::kFraudulent, "fraudulent"},
    {RefundReason::kRequestedByCustomer, "requested_by_customer"},
}};
constexpr enums::Table<CancellationReason, 5> kCancellationReasons = {{
    {CancellationReason::kNone, ""},
    {CancellationReason::kDuplicate, "duplicate"},
    {CancellationReason::kFraudulent, "fraudulent"},
    {CancellationReason::kRequestedByCustomer, "requested_by_customer"},
    {CancellationReason::kAbandoned, "abandoned"},
}};
constexpr enums::Table<MethodKind, 2> kMethodKinds = {{
    {MethodKind::kPaymentMethod, "payment_method"},
    {MethodKind::kConfirmationToken, "confirmation_token"},
}};

void AddMetadata(crypto::Fingerprint& f, const std::map<std::string, std::string>& metadata) {
  f.AddInt(static_cast<int64_t>(metadata.size()));
  for (const auto& [k, v] : metadata) f.Add(k).Add(v);
}

}  // namespace

std::string_view Name(PaymentStatus s) { return enums::Name(kPaymentStatuses, s); }
std::string_view Name(RefundStatus s) { return enums::Name(kRefundStatuses, s); }
std::string_view Name(RefundReason r) { return enums::Name(kRefundReasons, r); }
std::string_view Name(CancellationReason r) { return enums::Name(kCancellationReasons, r); }
std::string_view Name(MethodKind k) { return enums::Name(kMethodKinds, k); }
std::optional<PaymentStatus> ParsePaymentStatus(std::string_view s) { return enums::Parse(kPaymentStatuses, s); }
std::optional<RefundStatus> ParseRefundStatus(std::string_view s) { return enums::Parse(kRefundStatuses, s); }
std::optional<RefundReason> ParseRefundReason(std::string_view s) { return enums::Parse(kRefundReasons, s); }
std::optional<CancellationReason> ParseCancellationReason(std::string_view s) {
  return enums::Parse(kCancellationReasons, s);
}
std::optional<MethodKind> ParseMethodKind(std::string_view s) { return enums::Parse(kMethodKinds, s); }

bool IsFinal(PaymentStatus s) {
  return s == PaymentStatus::kSucceeded || s == PaymentStatus::kFailed || s == PaymentStatus::kCanceled;
}

bool IsFinal(RefundStatus s) { return s != RefundStatus::kPending; }

int Rank(PaymentStatus s) {
  switch (s) {
    case PaymentStatus::kPending: return 0;
    case PaymentStatus::kRequiresAction: return 1;
    case PaymentStatus::kProcessing: return 2;
    // Equal: a failed attempt whose PaymentIntent we then cancel stays
    // FAILED, and a canceled one never turns FAILED.
    case PaymentStatus::kFailed: return 3;
    case PaymentStatus::kCanceled: return 3;
    case PaymentStatus::kSucceeded: return 4;
  }
  return 0;
}

PaymentStatus StatusOf(const Intent& intent) {
  const std::string& s = intent.status;
  if (s == "succeeded") return PaymentStatus::kSucceeded;
  if (s == "processing" || s == "requires_capture") return PaymentStatus::kProcessing;
  if (s == "requires_action") return PaymentStatus::kRequiresAction;
  if (s == "canceled") return PaymentStatus::kCanceled;
  if (s == "requires_payment_method" && !intent.last_error.empty()) return PaymentStatus::kFailed;
  return PaymentStatus::kPending;  // requires_payment_method / requires_confirmation: not confirmed
}

std::string CreatePaymentCommand::Fingerprint() const {
  crypto::Fingerprint f("CreatePayment");
  f.Add(invoice_id).AddInt(amount.amount_minor).Add(amount.currency).Add(Name(method_kind)).Add(method_id);
  f.Add(return_url).Add(description);
  AddMetadata(f, metadata);
  return f.Digest();
}

std::string ConfirmPaymentCommand::Fingerprint() const {
  return crypto::Fingerprint("ConfirmPayment").Add(invoice_id).Add(payment_intent_id).Digest();
}

std::string CancelPaymentCommand::Fingerprint() const {
  return crypto::Fingerprint("CancelPayment").Add(payment_id).Add(Name(reason)).Digest();
}

std::string RefundPaymentCommand::Fingerprint() const {
  crypto::Fingerprint f("RefundPayment");
  f.Add(payment_id).AddBool(amount.has_value());
  if (amount) f.AddInt(amount->amount_minor).Add(amount->currency);
  f.Add(Name(reason));
  return f.Digest();
}

}  // namespace billing::payments::domain
