#include "api/convert.h"

#include "errors/error.h"
#include "validation/validation.h"

namespace billing::invoice::api {
namespace {

using errors::Error;
using errors::InvalidField;
using errors::Reason;
namespace validation = ::billing::validation;

constexpr std::size_t kMaxLineItems = 100;
constexpr std::size_t kMaxFees = 20;
constexpr std::size_t kMaxCustomFields = 4;
constexpr std::size_t kMaxAgreements = 20;
constexpr int64_t kMaxQuantity = 10000;

money::Money ToMoney(const common::Money& m) { return protoconv::FromProto(m); }

domain::BookingStatus ToBookingStatus(v1::BookingStatus s, const std::string& field) {
  switch (s) {
    case v1::BOOKING_STATUS_DRAFT: return domain::BookingStatus::kDraft;
    case v1::BOOKING_STATUS_PENDING: return domain::BookingStatus::kPending;
    case v1::BOOKING_STATUS_CONFIRMED: return domain::BookingStatus::kConfirmed;
    case v1::BOOKING_STATUS_CANCELED: return domain::BookingStatus::kCanceled;
    case v1::BOOKING_STATUS_VOIDED: return domain::BookingStatus::kVoided;
    case v1::BOOKING_STATUS_POSTPONED: return domain::BookingStatus::kPostponed;
    case v1::BOOKING_STATUS_UNSPECIFIED: throw InvalidField(field, "is required");
    default: throw InvalidField(field, "is not a known BookingStatus");
  }
}

v1::BookingStatus FromBookingStatus(domain::BookingStatus s) {
  switch (s) {
    case domain::BookingStatus::kDraft: return v1::BOOKING_STATUS_DRAFT;
    case domain::BookingStatus::kPending: return v1::BOOKING_STATUS_PENDING;
    case domain::BookingStatus::kConfirmed: return v1::BOOKING_STATUS_CONFIRMED;
    case domain::BookingStatus::kCanceled: return v1::BOOKING_STATUS_CANCELED;
    case domain::BookingStatus::kVoided: return v1::BOOKING_STATUS_VOIDED;
    case domain::BookingStatus::kPostponed: return v1::BOOKING_STATUS_POSTPONED;
  }
  return v1::BOOKING_STATUS_UNSPECIFIED;
}

domain::Channel ToChannel(common::Channel c, const std::string& field) {
  switch (c) {
    case common::CHANNEL_EMAIL: return domain::Channel::kEmail;
    case common::CHANNEL_SMS: return domain::Channel::kSms;
    case common::CHANNEL_UNSPECIFIED: throw InvalidField(field, "is required");
    default: throw InvalidField(field, "must be CHANNEL_EMAIL or CHANNEL_SMS");
  }
}

common::Channel FromChannel(domain::Channel c) {
  return c == domain::Channel::kSms ? common::CHANNEL_SMS : common::CHANNEL_EMAIL;
}

v1::InvoiceStatus FromInvoiceStatus(domain::InvoiceStatus s) {
  switch (s) {
    case domain::InvoiceStatus::kOpen: return v1::INVOICE_STATUS_OPEN;
    case domain::InvoiceStatus::kPaid: return v1::INVOICE_STATUS_PAID;
    case domain::InvoiceStatus::kClosed: return v1::INVOICE_STATUS_CLOSED;
    case domain::InvoiceStatus::kCanceled: return v1::INVOICE_STATUS_CANCELED;
    case domain::InvoiceStatus::kExpired: return v1::INVOICE_STATUS_EXPIRED;
  }
  return v1::INVOICE_STATUS_UNSPECIFIED;
}

domain::InvoiceStatus ToInvoiceStatus(v1::InvoiceStatus s, const std::string& field) {
  switch (s) {
    case v1::INVOICE_STATUS_OPEN: return domain::InvoiceStatus::kOpen;
    case v1::INVOICE_STATUS_PAID: return domain::InvoiceStatus::kPaid;
    case v1::INVOICE_STATUS_CLOSED: return domain::InvoiceStatus::kClosed;
    case v1::INVOICE_STATUS_CANCELED: return domain::InvoiceStatus::kCanceled;
    case v1::INVOICE_STATUS_EXPIRED: return domain::InvoiceStatus::kExpired;
    default: throw InvalidField(field, "is not a known InvoiceStatus");
  }
}

v1::NotificationPurpose FromPurpose(domain::NotificationPurpose p) {
  switch (p) {
    case domain::NotificationPurpose::kInvoiceLink: return v1::NOTIFICATION_PURPOSE_INVOICE_LINK;
    case domain::NotificationPurpose::kReceipt: return v1::NOTIFICATION_PURPOSE_RECEIPT;
    case domain::NotificationPurpose::kBookingConfirmation: return v1::NOTIFICATION_PURPOSE_BOOKING_CONFIRMATION;
    case domain::NotificationPurpose::kPaymentReminder: return v1::NOTIFICATION_PURPOSE_PAYMENT_REMINDER;
  }
  return v1::NOTIFICATION_PURPOSE_UNSPECIFIED;
}

v1::NotificationState FromState(domain::NotificationState s) {
  switch (s) {
    case domain::NotificationState::kPending: return v1::NOTIFICATION_STATE_PENDING;
    case domain::NotificationState::kQueued: return v1::NOTIFICATION_STATE_QUEUED;
    case domain::NotificationState::kSent: return v1::NOTIFICATION_STATE_SENT;
    case domain::NotificationState::kFailed: return v1::NOTIFICATION_STATE_FAILED;
  }
  return v1::NOTIFICATION_STATE_UNSPECIFIED;
}

v1::PaymentSource FromPaymentSource(domain::PaymentSource s) {
  switch (s) {
    case domain::PaymentSource::kInvoice: return v1::PAYMENT_SOURCE_INVOICE;
    case domain::PaymentSource::kDashboard: return v1::PAYMENT_SOURCE_DASHBOARD;
    case domain::PaymentSource::kAutoCharge: return v1::PAYMENT_SOURCE_AUTO_CHARGE;
    case domain::PaymentSource::kOther: return v1::PAYMENT_SOURCE_OTHER;
  }
  return v1::PAYMENT_SOURCE_UNSPECIFIED;
}

std::string LocalOrEmpty(const std::string& value, const std::string& field) {
  if (value.empty()) return {};
  auto normalized = domain::NormalizeLocalDateTime(value);
  if (!normalized) throw InvalidField(field, "must be a local date-time like 2026-12-01T09:00");
  return *normalized;
}

void RequireTimeZone(const std::string& value) {
  if (value.size() > 64) throw InvalidField("booking.time_zone", "must be at most 64 characters");
  for (char c : value) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '/' || c == '_' || c == '-' || c == '+';
    if (!ok) throw InvalidField("booking.time_zone", "must be an IANA zone name like America/Denver");
  }
}

std::string Indexed(const std::string& field, std::size_t i) {
  return field + "[" + std::to_string(i) + "]";
}

// A cart amount: present, non-negative, in the invoice's currency.
int64_t CartAmount(const common::Money& m, bool present, const std::string& field,
                   const std::string& currency) {
  if (!present) throw InvalidField(field, "is required");
  validation::RequireMoney(field, ToMoney(m), /*allow_zero=*/true);
  if (m.currency_code() != currency) {
    throw Error(Reason::kCurrencyMismatch, field + ".currency_code must be the invoice's currency " + currency,
                field + ".currency_code");
  }
  return m.amount_minor();
}

}  // namespace

domain::UpsertBookingCommand ToUpsertBookingCommand(const v1::UpsertBookingRequest& req,
                                                    const std::string& caller) {
  validation::RequireRequestId(req.request_id());
  if (!req.previous_booking_id().empty()) validation::RequireId("previous_booking_id", req.previous_booking_id());
  if (!req.has_booking()) throw InvalidField("booking", "is required");
  const v1::Booking& b = req.booking();
  domain::UpsertBookingCommand cmd;
  cmd.caller = caller;
  cmd.request_id = req.request_id();
  domain::Booking& out = cmd.booking;
  validation::RequireId("booking.booking_id", b.booking_id());
  out.booking_id = b.booking_id();
  out.status = ToBookingStatus(b.status(), "booking.status");
  validation::RequireText("booking.customer.name", b.customer().name(), 0, 200);
  validation::RequireText("booking.customer.email", b.customer().email(), 0, 254);
  validation::RequireText("booking.customer.phone", b.customer().phone(), 0, 32);
  out.customer = {b.customer().name(), b.customer().email(), b.customer().phone()};
  if (!b.has_total()) throw InvalidField("booking.total", "is required");
  validation::RequireMoney("booking.total", ToMoney(b.total()), /*allow_zero=*/true);
  out.currency = b.total().currency_code();
  out.total_minor = b.total().amount_minor();
  validation::RequireText("booking.activity_name", b.activity_name(), 0, 200);
  out.activity_name = b.activity_name();
  out.start_local = LocalOrEmpty(b.start_local(), "booking.start_local");
  out.end_local = LocalOrEmpty(b.end_local(), "booking.end_local");
  if (!out.start_local.empty() && !out.end_local.empty() && out.end_local < out.start_local) {
    throw InvalidField("booking.end_local", "must not be before booking.start_local");
  }
  RequireTimeZone(b.time_zone());
  out.time_zone = b.time_zone();
  validation::RequireText("booking.confirmation_code", b.confirmation_code(), 0, 64);
  out.confirmation_code = b.confirmation_code();
  if (static_cast<std::size_t>(b.required_agreement_ids_size()) > kMaxAgreements) {
    throw InvalidField("booking.required_agreement_ids", "must have at most 20 entries");
  }
  for (int i = 0; i < b.required_agreement_ids_size(); ++i) {
    validation::RequireId(Indexed("booking.required_agreement_ids", static_cast<std::size_t>(i)),
                          b.required_agreement_ids(i));
    out.required_agreement_ids.push_back(b.required_agreement_ids(i));
  }
  if (b.has_slot_hold_expire_time()) {
    out.slot_hold_expires_at = ToTime(b.slot_hold_expire_time(), "booking.slot_hold_expire_time");
  }
  if (b.revision() < 0) throw InvalidField("booking.revision", "must not be negative");
  out.revision = b.revision();
  cmd.previous_booking_id = req.previous_booking_id();
  return cmd;
}

domain::RecordExternalPaymentCommand ToRecordExternalPaymentCommand(const v1::RecordExternalPaymentRequest& req,
                                                                    const std::string& caller) {
  validation::RequireRequestId(req.request_id());
  domain::RecordExternalPaymentCommand cmd;
  cmd.caller = caller;
  cmd.request_id = req.request_id();
  validation::RequireId("booking_id", req.booking_id());
  cmd.booking_id = req.booking_id();
  if (!req.has_amount()) throw InvalidField("amount", "is required");
  validation::RequireMoney("amount", ToMoney(req.amount()));
  cmd.amount = ToMoney(req.amount());
  switch (req.source()) {
    case v1::PAYMENT_SOURCE_DASHBOARD: cmd.source = domain::PaymentSource::kDashboard; break;
    case v1::PAYMENT_SOURCE_AUTO_CHARGE: cmd.source = domain::PaymentSource::kAutoCharge; break;
    case v1::PAYMENT_SOURCE_OTHER: cmd.source = domain::PaymentSource::kOther; break;
    case v1::PAYMENT_SOURCE_UNSPECIFIED: throw InvalidField("source", "is required");
    case v1::PAYMENT_SOURCE_INVOICE:
      throw InvalidField("source", "must be DASHBOARD, AUTO_CHARGE or OTHER; invoice payments come from PayInvoice");
    default: throw InvalidField("source", "is not a known PaymentSource");
  }
  validation::RequireText("external_reference", req.external_reference(), 0, 128);
  cmd.external_reference = req.external_reference();
  if (!req.payment_intent_id().empty()) {
    if (req.payment_intent_id().rfind("pi_", 0) != 0) {
      throw InvalidField("payment_intent_id", "must be a Stripe PaymentIntent id (pi_...)");
    }
    validation::RequireId("payment_intent_id", req.payment_intent_id(), 255);
  }
  cmd.payment_intent_id = req.payment_intent_id();
  return cmd;
}

domain::ResendInvoiceCommand ToResendInvoiceCommand(const v1::ResendInvoiceRequest& req, const std::string& caller) {
  validation::RequireRequestId(req.request_id());
  validation::RequireUuid("invoice_id", req.invoice_id());
  domain::ResendInvoiceCommand cmd;
  cmd.caller = caller;
  cmd.request_id = req.request_id();
  cmd.invoice_id = req.invoice_id();
  if (req.send_type() != common::CHANNEL_UNSPECIFIED) cmd.channel = ToChannel(req.send_type(), "send_type");
  if (!req.send_to_email_override().empty() && !validation::IsValidEmail(req.send_to_email_override())) {
    throw InvalidField("send_to_email_override", "must be a valid email address");
  }
  cmd.email_override = req.send_to_email_override();
  return cmd;
}

domain::CloseInvoiceCommand ToCloseInvoiceCommand(const v1::CloseInvoiceRequest& req, const std::string& caller) {
  validation::RequireRequestId(req.request_id());
  validation::RequireUuid("invoice_id", req.invoice_id());
  validation::RequireText("reason", req.reason(), 0, 500);
  return {caller, req.request_id(), req.invoice_id(), req.reason()};
}

domain::InvoiceFilter ToInvoiceFilter(const v1::ListInvoicesRequest& req) {
  domain::InvoiceFilter filter;
  if (!req.booking_id().empty()) validation::RequireId("booking_id", req.booking_id());
  filter.booking_id = req.booking_id();
  if (req.status() != v1::INVOICE_STATUS_UNSPECIFIED) filter.status = ToInvoiceStatus(req.status(), "status");
  return filter;
}

void RequirePageToken(const std::string& token) {
  if (token.size() > 512) throw InvalidField("page_token", "is not a token from a previous page of this list");
}

domain::CreateInvoiceCommand ToCreateInvoiceCommand(const v1::CreateInvoiceRequest& req,
                                                    const std::string& caller) {
  validation::RequireRequestId(req.request_id());
  domain::CreateInvoiceCommand cmd;
  cmd.caller = caller;
  cmd.request_id = req.request_id();
  validation::RequireId("booking_id", req.booking_id());
  cmd.booking_id = req.booking_id();
  if (!req.has_amount()) throw InvalidField("amount", "is required");
  validation::RequireMoney("amount", ToMoney(req.amount()));
  cmd.amount = ToMoney(req.amount());
  cmd.confirm_on_pay = req.confirm_on_pay();
  if (!req.send_to_email_override().empty() &&
      !validation::IsValidEmail(req.send_to_email_override())) {
    throw InvalidField("send_to_email_override", "must be a valid email address");
  }
  cmd.send_to_email_override = req.send_to_email_override();
  cmd.send_type = ToChannel(req.send_type(), "send_type");

  const std::string& currency = cmd.amount.currency;
  if (static_cast<std::size_t>(req.line_items_size()) > kMaxLineItems) {
    throw InvalidField("line_items", "must have at most 100 entries");
  }
  for (int i = 0; i < req.line_items_size(); ++i) {
    const auto& li = req.line_items(i);
    const std::string field = Indexed("line_items", static_cast<std::size_t>(i));
    validation::RequireText(field + ".name", li.name(), 1, 200);
    if (li.quantity() < 1 || li.quantity() > kMaxQuantity) {
      throw InvalidField(field + ".quantity", "must be between 1 and 10000");
    }
    const int64_t unit = CartAmount(li.unit_amount(), li.has_unit_amount(), field + ".unit_amount", currency);
    cmd.line_items.push_back({li.name(), li.quantity(), unit});
  }
  if (static_cast<std::size_t>(req.fees_size()) > kMaxFees) {
    throw InvalidField("fees", "must have at most 20 entries");
  }
  for (int i = 0; i < req.fees_size(); ++i) {
    const auto& fee = req.fees(i);
    const std::string field = Indexed("fees", static_cast<std::size_t>(i));
    validation::RequireText(field + ".name", fee.name(), 1, 200);
    cmd.fees.push_back({fee.name(), CartAmount(fee.amount(), fee.has_amount(), field + ".amount", currency)});
  }
  if (static_cast<std::size_t>(req.custom_fields_size()) > kMaxCustomFields) {
    throw InvalidField("custom_fields", "must have at most 4 entries");
  }
  for (int i = 0; i < req.custom_fields_size(); ++i) {
    const auto& cf = req.custom_fields(i);
    const std::string field = Indexed("custom_fields", static_cast<std::size_t>(i));
    validation::RequireText(field + ".name", cf.name(), 1, 40);
    validation::RequireText(field + ".value", cf.value(), 1, 140);
    cmd.custom_fields.push_back({cf.name(), cf.value()});
  }
  switch (req.due_case()) {
    case v1::CreateInvoiceRequest::kDueTime:
      cmd.due_at = ToTime(req.due_time(), "due_time");
      break;
    case v1::CreateInvoiceRequest::kDaysUntilDue:
      if (req.days_until_due() < 1 || req.days_until_due() > 365) {
        throw InvalidField("days_until_due", "must be between 1 and 365");
      }
      cmd.days_until_due = req.days_until_due();
      break;
    case v1::CreateInvoiceRequest::DUE_NOT_SET:
      break;
  }
  return cmd;
}

void ToProto(const domain::Booking& b, v1::Booking* out) {
  out->set_booking_id(b.booking_id);
  out->set_status(FromBookingStatus(b.status));
  out->mutable_customer()->set_name(b.customer.name);
  out->mutable_customer()->set_email(b.customer.email);
  out->mutable_customer()->set_phone(b.customer.phone);
  ToProto(money::Money{b.total_minor, b.currency}, out->mutable_total());
  ToProto(money::Money{b.paid_minor, b.currency}, out->mutable_paid());
  ToProto(money::Money{b.BalanceMinor(), b.currency}, out->mutable_balance());
  out->set_activity_name(b.activity_name);
  out->set_start_local(b.start_local);
  out->set_end_local(b.end_local);
  out->set_time_zone(b.time_zone);
  out->set_confirmation_code(b.confirmation_code);
  for (const auto& id : b.required_agreement_ids) out->add_required_agreement_ids(id);
  if (b.slot_hold_expires_at) ToProto(*b.slot_hold_expires_at, out->mutable_slot_hold_expire_time());
  out->set_revision(b.revision);
  ToProto(b.created_at, out->mutable_create_time());
  ToProto(b.updated_at, out->mutable_update_time());
}

void ToProto(const domain::Invoice& inv, const std::string& pay_url, v1::Invoice* out) {
  out->set_invoice_id(inv.invoice_id);
  out->set_booking_id(inv.booking_id);
  out->set_status(FromInvoiceStatus(inv.status));
  ToProto(inv.amount, out->mutable_amount());
  out->set_confirm_on_pay(inv.confirm_on_pay);
  out->set_send_to_email_override(inv.send_to_email_override);
  out->set_send_type(FromChannel(inv.send_type));
  out->set_token(inv.token);
  out->set_pay_url(pay_url);
  for (const auto& li : inv.line_items) {
    auto* p = out->add_line_items();
    p->set_name(li.name);
    p->set_quantity(li.quantity);
    ToProto(money::Money{li.unit_amount_minor, inv.amount.currency}, p->mutable_unit_amount());
    ToProto(money::Money{li.AmountMinor(), inv.amount.currency}, p->mutable_amount());
  }
  for (const auto& fee : inv.fees) {
    auto* p = out->add_fees();
    p->set_name(fee.name);
    ToProto(money::Money{fee.amount_minor, inv.amount.currency}, p->mutable_amount());
  }
  for (const auto& cf : inv.custom_fields) {
    auto* p = out->add_custom_fields();
    p->set_name(cf.name);
    p->set_value(cf.value);
  }
  if (inv.due_at) ToProto(*inv.due_at, out->mutable_due_time());
  out->set_status_reason(inv.status_reason);
  out->set_payment_pending(inv.payment_pending);
  out->set_customer_payment_id(inv.customer_payment_id);
  ToProto(inv.created_at, out->mutable_create_time());
  ToProto(inv.updated_at, out->mutable_update_time());
  if (inv.paid_at) ToProto(*inv.paid_at, out->mutable_paid_time());
}

void ToProto(const domain::NotificationSummary& n, v1::NotificationRecord* out) {
  out->set_notification_id(n.notification_id);
  out->set_purpose(FromPurpose(n.purpose));
  out->set_channel(FromChannel(n.channel));
  out->set_recipient(n.recipient);
  out->set_state(FromState(n.state));
  out->set_failure_reason(n.failure_reason);
  ToProto(n.created_at, out->mutable_create_time());
  if (n.sent_at) ToProto(*n.sent_at, out->mutable_sent_time());
}

void ToProto(const domain::InvoiceEvent& e, v1::InvoiceEvent* out) {
  out->set_sequence(e.sequence);
  out->set_invoice_id(e.invoice_id);
  out->set_type(e.type);
  if (e.from_status) out->set_from_status(FromInvoiceStatus(*e.from_status));
  out->set_to_status(FromInvoiceStatus(e.to_status));
  out->set_reason(e.reason);
  out->set_request_id(e.request_id);
  ToProto(e.created_at, out->mutable_create_time());
  out->set_actor(e.actor);
}

void ToProto(const domain::CustomerPayment& p, v1::CustomerPayment* out) {
  out->set_customer_payment_id(p.customer_payment_id);
  out->set_booking_id(p.booking_id);
  out->set_invoice_id(p.invoice_id);
  ToProto(p.amount, out->mutable_amount());
  out->set_source(FromPaymentSource(p.source));
  out->set_payment_intent_id(p.payment_intent_id);
  out->set_external_reference(p.external_reference);
  ToProto(p.created_at, out->mutable_create_time());
}

void ToProto(const domain::InvoiceView& view, const std::string& pay_url, v1::GetInvoiceResponse* out) {
  const auto& inv = view.invoice;
  const auto& b = view.booking;
  const std::string& currency = inv.amount.currency;
  ToProto(inv, pay_url, out->mutable_invoice());
  ToProto(money::Money{view.due_now_minor, currency}, out->mutable_due_now());

  auto* summary = out->mutable_booking();
  summary->set_booking_id(b.booking_id);
  summary->set_status(FromBookingStatus(b.status));
  summary->set_customer_name(b.customer.name);
  summary->set_activity_name(b.activity_name);
  const auto start = domain::SplitLocal(b.start_local);
  const auto end = domain::SplitLocal(b.end_local);
  summary->set_date(start.date);
  summary->set_start(start.time);
  summary->set_end(end.time);
  summary->set_end_date(end.date);
  summary->set_time_zone(b.time_zone);
  summary->set_confirmation_code(b.confirmation_code);
  for (const auto& id : b.required_agreement_ids) summary->add_required_agreement_ids(id);

  auto* cart = out->mutable_cart();
  *cart->mutable_line_items() = out->invoice().line_items();
  *cart->mutable_fees() = out->invoice().fees();
  int64_t items_total = 0;
  for (const auto& li : inv.line_items) items_total += li.AmountMinor();
  int64_t fees_total = 0;
  for (const auto& fee : inv.fees) fees_total += fee.amount_minor;
  for (const auto& p : view.payments) ToProto(p, cart->add_payments());
  ToProto(money::Money{items_total, currency}, cart->mutable_items_total());
  ToProto(money::Money{fees_total, currency}, cart->mutable_fees_total());
  ToProto(money::Money{b.total_minor, b.currency}, cart->mutable_booking_total());
  ToProto(money::Money{b.paid_minor, b.currency}, cart->mutable_paid());
  ToProto(money::Money{b.BalanceMinor(), b.currency}, cart->mutable_balance());
  for (const auto& n : view.notifications) ToProto(n, out->add_notifications());
}


void RequireLinkToken(const std::string& token) {
  if (token.empty()) throw errors::InvalidField("token", "is required");
  if (token.size() > 128) throw errors::InvalidField("token", "must be at most 128 characters");
  for (char c : token) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) throw errors::InvalidField("token", "must be a payment link token (base64url)");
  }
}

domain::PayInvoiceCommand ToPayInvoiceCommand(const v1::PayInvoiceRequest& req, const std::string& caller) {
  validation::RequireRequestId(req.request_id());
  domain::PayInvoiceCommand cmd;
  cmd.caller = caller;
  cmd.request_id = req.request_id();
  switch (req.invoice_case()) {
    case v1::PayInvoiceRequest::kToken:
      RequireLinkToken(req.token());
      cmd.token = req.token();
      break;
    case v1::PayInvoiceRequest::kInvoiceId:
      validation::RequireUuid("invoice_id", req.invoice_id());
      cmd.invoice_id = req.invoice_id();
      break;
    case v1::PayInvoiceRequest::INVOICE_NOT_SET:
      throw errors::InvalidField("token", "or invoice_id is required");
  }
  switch (req.method_case()) {
    case v1::PayInvoiceRequest::kPaymentMethodId:
      validation::RequireStripeId("payment_method_id", req.payment_method_id(), "pm_");
      cmd.method = domain::PayMethod::kPaymentMethod;
      cmd.method_id = req.payment_method_id();
      break;
    case v1::PayInvoiceRequest::kConfirmationTokenId:
      validation::RequireStripeId("confirmation_token_id", req.confirmation_token_id(), "ctoken_");
      cmd.method = domain::PayMethod::kConfirmationToken;
      cmd.method_id = req.confirmation_token_id();
      break;
    case v1::PayInvoiceRequest::kHandledPaymentIntentId:
      validation::RequireStripeId("handled_payment_intent_id", req.handled_payment_intent_id(), "pi_");
      cmd.method = domain::PayMethod::kHandledNextAction;
      cmd.method_id = req.handled_payment_intent_id();
      break;
    case v1::PayInvoiceRequest::METHOD_NOT_SET:
      throw errors::InvalidField("payment_method_id", "or confirmation_token_id or handled_payment_intent_id is required");
  }
  if (req.accepted_agreement_ids_size() > 50) {
    throw errors::InvalidField("accepted_agreement_ids", "may list at most 50 agreements");
  }
  for (const auto& id : req.accepted_agreement_ids()) {
    validation::RequireId("accepted_agreement_ids", id);
    cmd.accepted_agreement_ids.push_back(id);
  }
  validation::RequireReturnUrl("return_url", req.return_url());
  cmd.return_url = req.return_url();
  return cmd;
}

domain::PaymentEventCommand ToPaymentEventCommand(const v1::ApplyPaymentEventRequest& req, const std::string& caller) {
  validation::RequireRequestId(req.request_id());
  validation::RequireUuid("invoice_id", req.invoice_id());
  validation::RequireUuid("payment_id", req.payment_id());
  domain::PaymentEventCommand cmd;
  cmd.caller = caller;
  cmd.request_id = req.request_id();
  cmd.invoice_id = req.invoice_id();
  cmd.payment_id = req.payment_id();
  if (!req.payment_intent_id().empty()) validation::RequireStripeId("payment_intent_id", req.payment_intent_id(), "pi_");
  cmd.payment_intent_id = req.payment_intent_id();
  switch (req.status()) {
    case v1::PAYMENT_EVENT_STATUS_REQUIRES_ACTION: cmd.status = domain::AttemptStatus::kRequiresAction; break;
    case v1::PAYMENT_EVENT_STATUS_PROCESSING: cmd.status = domain::AttemptStatus::kProcessing; break;
    case v1::PAYMENT_EVENT_STATUS_SUCCEEDED: cmd.status = domain::AttemptStatus::kSucceeded; break;
    case v1::PAYMENT_EVENT_STATUS_FAILED: cmd.status = domain::AttemptStatus::kFailed; break;
    case v1::PAYMENT_EVENT_STATUS_CANCELED: cmd.status = domain::AttemptStatus::kCanceled; break;
    default: throw errors::InvalidField("status", "must be a known PaymentEventStatus");
  }
  if (cmd.status == domain::AttemptStatus::kSucceeded) {
    cmd.amount_received = protoconv::RequireMoney(req.amount_received(), req.has_amount_received(), "amount_received");
  } else if (cmd.status == domain::AttemptStatus::kCanceled && req.has_amount_received()) {
    cmd.amount_received = protoconv::RequireMoney(req.amount_received(), true, "amount_received");
  }
  validation::RequireText("failure_code", req.failure_code(), 0, 100);
  validation::RequireText("failure_message", req.failure_message(), 0, 1000);
  cmd.failure_code = req.failure_code();
  cmd.failure_message = req.failure_message();
  // Only our own attempt_id matters; other metadata is the creator's.
  if (auto it = req.metadata().find("attempt_id"); it != req.metadata().end() && !it->second.empty()) {
    validation::RequireUuid("metadata[attempt_id]", it->second);
    cmd.attempt_id = it->second;
  }
  return cmd;
}

void ToProto(const domain::PayInvoiceResult& r, const std::string& pay_url, v1::PayInvoiceResponse* out) {
  switch (r.outcome) {
    case domain::AttemptStatus::kSucceeded: out->set_outcome(v1::PAY_OUTCOME_SUCCEEDED); break;
    case domain::AttemptStatus::kRequiresAction: out->set_outcome(v1::PAY_OUTCOME_REQUIRES_ACTION); break;
    case domain::AttemptStatus::kFailed:
    case domain::AttemptStatus::kCanceled: out->set_outcome(v1::PAY_OUTCOME_FAILED); break;
    case domain::AttemptStatus::kStarted:
    case domain::AttemptStatus::kProcessing: out->set_outcome(v1::PAY_OUTCOME_PROCESSING); break;
  }
  out->set_confirmation_code(r.confirmation_code);
  out->set_client_secret(r.client_secret);
  out->set_payment_intent_id(r.payment_intent_id);
  out->set_failure_message(r.failure_message);
  out->set_failure_code(r.failure_code);
  ToProto(r.view.invoice, pay_url, out->mutable_invoice());
}

}  // namespace billing::invoice::api
