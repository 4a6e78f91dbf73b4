#include "api/convert.h"

#include "errors/error.h"
#include "protoconv/protoconv.h"
#include "validation/validation.h"

namespace billing::notify::api {
namespace {

using errors::InvalidField;
namespace common = ::billing::common::v1;

bool Digits(const std::string& s, std::size_t pos, std::size_t n) {
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

int Number(const std::string& s, std::size_t pos, std::size_t n) { return std::stoi(s.substr(pos, n)); }

// A calendar date as the customer will read it: real months and days.
void RequireDate(const std::string& field, const std::string& v) {
  if (v.empty()) return;
  if (v.size() != 10 || !Digits(v, 0, 4) || v[4] != '-' || !Digits(v, 5, 2) || v[7] != '-' || !Digits(v, 8, 2)) {
    throw InvalidField(field, "must be a date like 2026-12-01");
  }
  const int year = Number(v, 0, 4);
  const int month = Number(v, 5, 2);
  const int day = Number(v, 8, 2);
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (year < 1900 || month < 1 || month > 12 || day < 1 || day > kDays[month - 1] + (month == 2 && leap ? 1 : 0)) {
    throw InvalidField(field, "is not a calendar date");
  }
}

void RequireClock(const std::string& field, const std::string& v) {
  if (v.empty()) return;
  if (v.size() != 5 || !Digits(v, 0, 2) || v[2] != ':' || !Digits(v, 3, 2) || Number(v, 0, 2) > 23 ||
      Number(v, 3, 2) > 59) {
    throw InvalidField(field, "must be a time of day like 09:30");
  }
}

// Links go into HTML href attributes and SMS: only http(s), no spaces,
// quotes or angle brackets (a javascript: URL never reaches a customer).
void RequireUrl(const std::string& field, const std::string& url) {
  if (url.empty()) throw InvalidField(field, "is required");
  if (url.size() > 2048) throw InvalidField(field, "must be at most 2048 characters");
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
    throw InvalidField(field, "must be an http or https URL");
  }
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\') {
      throw InvalidField(field, "must be a URL without spaces, quotes or angle brackets");
    }
  }
}

void FillRecipient(const v1::Recipient& r, bool present, domain::SendCommand* cmd) {
  if (!present) throw InvalidField("recipient", "is required");
  switch (r.channel()) {
    case common::CHANNEL_EMAIL: cmd->channel = domain::Channel::kEmail; break;
    case common::CHANNEL_SMS: cmd->channel = domain::Channel::kSms; break;
    case common::CHANNEL_UNSPECIFIED: throw InvalidField("recipient.channel", "is required");
    default: throw InvalidField("recipient.channel", "must be CHANNEL_EMAIL or CHANNEL_SMS");
  }
  validation::RequireText("recipient.email", r.email(), 0, 254);
  validation::RequireText("recipient.phone", r.phone(), 0, 64);
  validation::RequireText("recipient.name", r.name(), 0, 200);
  cmd->email = r.email();
  cmd->phone = r.phone();
  cmd->recipient_name = r.name();
}

domain::BookingDetails Booking(const v1::BookingDetails& b, bool required) {
  if (required && b.booking_id().empty()) throw InvalidField("booking.booking_id", "is required");
  if (!b.booking_id().empty()) validation::RequireId("booking.booking_id", b.booking_id());
  validation::RequireText("booking.activity_name", b.activity_name(), 0, 200);
  RequireDate("booking.date", b.date());
  RequireClock("booking.start", b.start());
  RequireClock("booking.end", b.end());
  RequireDate("booking.end_date", b.end_date());
  validation::RequireText("booking.confirmation_code", b.confirmation_code(), 0, 64);
  return {b.booking_id(), b.activity_name(), b.date(), b.start(), b.end(), b.end_date(), b.confirmation_code()};
}

domain::SendCommand Common(const std::string& request_id, const std::string& caller, domain::Kind kind) {
  validation::RequireRequestId(request_id);
  domain::SendCommand cmd;
  cmd.caller = caller;
  cmd.request_id = request_id;
  cmd.kind = kind;
  return cmd;
}

void RequireBusiness(const std::string& name, domain::SendCommand* cmd) {
  validation::RequireText("business_name", name, 1, 200);
  cmd->business_name = name;
}

template <typename Req>
domain::SendCommand LinkLike(const Req& req, const std::string& caller, domain::Kind kind) {
  auto cmd = Common(req.request_id(), caller, kind);
  FillRecipient(req.recipient(), req.has_recipient(), &cmd);
  validation::RequireId("invoice_id", req.invoice_id());
  cmd.invoice_id = req.invoice_id();
  RequireUrl("pay_url", req.pay_url());
  cmd.pay_url = req.pay_url();
  cmd.amount = protoconv::RequireMoney(req.amount_due(), req.has_amount_due(), "amount_due");
  RequireBusiness(req.business_name(), &cmd);
  cmd.booking = Booking(req.booking(), false);
  if (req.has_due_time()) cmd.due_at = protoconv::ToTime(req.due_time(), "due_time");
  return cmd;
}


v1::AttemptOutcome FromOutcome(domain::AttemptOutcome o) {
  switch (o) {
    case domain::AttemptOutcome::kAccepted: return v1::ATTEMPT_OUTCOME_ACCEPTED;
    case domain::AttemptOutcome::kTransientFailure: return v1::ATTEMPT_OUTCOME_TRANSIENT_FAILURE;
    case domain::AttemptOutcome::kPermanentFailure: return v1::ATTEMPT_OUTCOME_PERMANENT_FAILURE;
  }
  return v1::ATTEMPT_OUTCOME_UNSPECIFIED;
}

v1::NotificationKind FromKind(domain::Kind k) {
  switch (k) {
    case domain::Kind::kInvoiceLink: return v1::NOTIFICATION_KIND_INVOICE_LINK;
    case domain::Kind::kReceipt: return v1::NOTIFICATION_KIND_RECEIPT;
    case domain::Kind::kBookingConfirmation: return v1::NOTIFICATION_KIND_BOOKING_CONFIRMATION;
    case domain::Kind::kPaymentReminder: return v1::NOTIFICATION_KIND_PAYMENT_REMINDER;
  }
  return v1::NOTIFICATION_KIND_UNSPECIFIED;
}

v1::NotificationStatus FromStatus(domain::Status s) {
  switch (s) {
    case domain::Status::kQueued: return v1::NOTIFICATION_STATUS_QUEUED;
    case domain::Status::kSent: return v1::NOTIFICATION_STATUS_SENT;
    case domain::Status::kFailed: return v1::NOTIFICATION_STATUS_FAILED;
  }
  return v1::NOTIFICATION_STATUS_UNSPECIFIED;
}

}  // namespace

domain::SendCommand ToCommand(const v1::SendInvoiceLinkRequest& req, const std::string& caller) {
  return LinkLike(req, caller, domain::Kind::kInvoiceLink);
}

domain::SendCommand ToCommand(const v1::SendPaymentReminderRequest& req, const std::string& caller) {
  return LinkLike(req, caller, domain::Kind::kPaymentReminder);
}

domain::SendCommand ToCommand(const v1::SendReceiptRequest& req, const std::string& caller) {
  auto cmd = Common(req.request_id(), caller, domain::Kind::kReceipt);
  FillRecipient(req.recipient(), req.has_recipient(), &cmd);
  validation::RequireId("invoice_id", req.invoice_id());
  cmd.invoice_id = req.invoice_id();
  cmd.amount = protoconv::RequireMoney(req.amount_paid(), req.has_amount_paid(), "amount_paid");
  if (req.has_balance_remaining()) {
    cmd.balance_remaining = protoconv::RequireMoney(req.balance_remaining(), true, "balance_remaining", true);
    if (cmd.balance_remaining->currency != cmd.amount->currency) {
      throw errors::Error(errors::Reason::kCurrencyMismatch,
                          "balance_remaining.currency_code must match amount_paid.currency_code",
                          "balance_remaining.currency_code");
    }
  }
  RequireBusiness(req.business_name(), &cmd);
  cmd.booking = Booking(req.booking(), false);
  validation::RequireText("payment_reference", req.payment_reference(), 0, 128);
  cmd.payment_reference = req.payment_reference();
  if (req.has_paid_time()) cmd.paid_at = protoconv::ToTime(req.paid_time(), "paid_time");
  return cmd;
}

domain::SendCommand ToCommand(const v1::SendBookingConfirmationRequest& req, const std::string& caller) {
  auto cmd = Common(req.request_id(), caller, domain::Kind::kBookingConfirmation);
  FillRecipient(req.recipient(), req.has_recipient(), &cmd);
  if (!req.invoice_id().empty()) validation::RequireId("invoice_id", req.invoice_id());
  cmd.invoice_id = req.invoice_id();
  RequireBusiness(req.business_name(), &cmd);
  cmd.booking = Booking(req.booking(), true);
  return cmd;
}

void ToProto(const domain::Notification& n, const std::vector<domain::DeliveryAttempt>& attempts,
             v1::Notification* out) {
  out->set_notification_id(n.notification_id);
  out->set_kind(FromKind(n.kind));
  out->set_channel(n.channel == domain::Channel::kSms ? common::CHANNEL_SMS : common::CHANNEL_EMAIL);
  out->set_recipient(n.recipient);
  out->set_status(FromStatus(n.status));
  out->set_invoice_id(n.invoice_id);
  out->set_booking_id(n.booking_id);
  out->set_subject(n.content.subject);
  out->set_sms_segments(n.content.sms_segments);
  out->set_provider_message_id(n.provider_message_id);
  if (n.status == domain::Status::kFailed) out->set_failure_reason(n.failure_reason);
  for (const auto& a : attempts) {
    auto* p = out->add_attempts();
    p->set_attempt_number(a.attempt_number);
    p->set_outcome(FromOutcome(a.outcome));
    p->set_error(a.error);
    p->set_provider_message_id(a.provider_message_id);
    protoconv::ToProto(a.started_at, p->mutable_start_time());
    p->set_duration_ms(a.duration_ms);
  }
  if (n.status == domain::Status::kQueued) protoconv::ToProto(n.next_attempt_at, out->mutable_next_attempt_time());
  protoconv::ToProto(n.created_at, out->mutable_create_time());
  if (n.sent_at) protoconv::ToProto(*n.sent_at, out->mutable_sent_time());
}

}  // namespace billing::notify::api
