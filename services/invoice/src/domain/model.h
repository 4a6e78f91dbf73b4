#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clock/clock.h"
#include "money/money.h"

// The invoice service's domain model: plain data, no protobuf, no SQL.
namespace billing::invoice::domain {

using clock::Time;
using money::Money;

enum class BookingStatus { kDraft, kPending, kConfirmed, kCanceled, kVoided, kPostponed };
enum class Channel { kEmail, kSms };
enum class InvoiceStatus { kOpen, kPaid, kClosed, kCanceled, kExpired };
enum class PaymentSource { kInvoice, kDashboard, kAutoCharge, kOther };
enum class NotificationPurpose { kInvoiceLink, kReceipt, kBookingConfirmation, kPaymentReminder };
// PENDING: in our outbox; QUEUED: accepted by notify; SENT / FAILED: final.
enum class NotificationState { kPending, kQueued, kSent, kFailed };
// One PayInvoice attempt as the payments service reports it. STARTED: the
// call to payments is out, or its answer was lost.
enum class AttemptStatus { kStarted, kRequiresAction, kProcessing, kSucceeded, kFailed, kCanceled };
// What the invoice service owes the payments service for a payment.
enum class PaymentActionKind { kCancel, kRefund };
// How the customer pays in a PayInvoice call.
enum class PayMethod { kPaymentMethod, kConfirmationToken, kHandledNextAction };

// Stable names, used in the database and the event log.
std::string_view Name(BookingStatus s);
std::string_view Name(Channel c);
std::string_view Name(InvoiceStatus s);
std::string_view Name(PaymentSource s);
std::optional<BookingStatus> ParseBookingStatus(std::string_view s);
std::optional<Channel> ParseChannel(std::string_view s);
std::optional<InvoiceStatus> ParseInvoiceStatus(std::string_view s);
std::optional<PaymentSource> ParsePaymentSource(std::string_view s);
std::string_view Name(NotificationPurpose p);
std::string_view Name(NotificationState s);
std::optional<NotificationPurpose> ParseNotificationPurpose(std::string_view s);
std::optional<NotificationState> ParseNotificationState(std::string_view s);
std::string_view Name(AttemptStatus s);
std::optional<AttemptStatus> ParseAttemptStatus(std::string_view s);
std::string_view Name(PaymentActionKind k);
std::optional<PaymentActionKind> ParsePaymentActionKind(std::string_view s);
// In progress: STARTED, REQUIRES_ACTION, PROCESSING.
bool IsInProgress(AttemptStatus s);
// Attempts only move forward (late or repeated news changes nothing);
// captured money outranks everything, FAILED and CANCELED rank the same.
int Rank(AttemptStatus s);

// Canceled, voided and postponed bookings cannot be billed (seed 002).
bool IsOff(BookingStatus s);

struct Customer {
  std::string name{};
  std::string email{};
  std::string phone{};
};

struct Booking {
  std::string booking_id{};
  BookingStatus status = BookingStatus::kPending;
  Customer customer{};
  std::string currency{};
  int64_t total_minor = 0;
  // Sum of customer payments; only this service's own records change it.
  int64_t paid_minor = 0;
  std::string activity_name{};
  std::string start_local{};  // "YYYY-MM-DDTHH:MM:SS" or ""
  std::string end_local{};
  std::string time_zone{};
  std::string confirmation_code{};
  std::vector<std::string> required_agreement_ids{};
  std::optional<Time> slot_hold_expires_at{};
  int64_t revision = 0;
  Time created_at{};
  Time updated_at{};

  // total − paid; negative when overpaid.
  int64_t BalanceMinor() const { return total_minor - paid_minor; }
};

struct LineItem {
  std::string name{};
  int64_t quantity = 1;
  int64_t unit_amount_minor = 0;
  int64_t AmountMinor() const { return quantity * unit_amount_minor; }
};

struct Fee {
  std::string name{};
  int64_t amount_minor = 0;
};

struct CustomField {
  std::string name{};
  std::string value{};
};

struct Invoice {
  std::string invoice_id{};
  std::string booking_id{};
  InvoiceStatus status = InvoiceStatus::kOpen;
  Money amount{};
  bool confirm_on_pay = false;
  std::string send_to_email_override{};
  Channel send_type = Channel::kEmail;
  std::string token{};
  std::vector<LineItem> line_items{};
  std::vector<Fee> fees{};
  std::vector<CustomField> custom_fields{};
  std::optional<Time> due_at{};
  std::string status_reason{};
  bool payment_pending = false;
  std::string pending_attempt_id{};  // the attempt in progress, while payment_pending
  std::string customer_payment_id{};
  Time created_at{};
  Time updated_at{};
  std::optional<Time> paid_at{};
};

struct CustomerPayment {
  std::string customer_payment_id{};
  std::string booking_id{};
  std::string invoice_id{};
  Money amount{};
  PaymentSource source = PaymentSource::kOther;
  std::string payment_intent_id{};
  std::string external_reference{};
  Time created_at{};
};

struct InvoiceEvent {
  int64_t sequence = 0;
  std::string invoice_id{};
  std::string type{};  // "CREATED", "PAID", ...
  std::optional<InvoiceStatus> from_status{};
  InvoiceStatus to_status = InvoiceStatus::kOpen;
  std::string reason{};
  std::string request_id{};
  Time created_at{};
  std::string actor{};  // the caller, or "system:<worker>"
};

// The booking facts a notification shows, in the booking's local time.
struct BookingDetails {
  std::string booking_id{};
  std::string activity_name{};
  std::string date{};
  std::string start{};
  std::string end{};
  std::string end_date{};
  std::string confirmation_code{};
};

// What the invoice service asks notify to send.
struct NotificationRequest {
  NotificationPurpose purpose = NotificationPurpose::kInvoiceLink;
  Channel channel = Channel::kEmail;
  std::string email{};  // for EMAIL
  std::string phone{};  // for SMS
  std::string recipient_name{};
  std::string invoice_id{};
  std::string pay_url{};
  Money amount{};  // due now (links, reminders) or paid (receipts)
  std::optional<Money> balance_remaining{};  // receipts: what the booking still owes
  std::string business_name{};
  BookingDetails booking{};
  std::optional<Time> due_at{};

  const std::string& Recipient() const { return channel == Channel::kSms ? phone : email; }
};

// One notification in the invoice's outbox: the request, and what became of
// it. The outbox row is written in the same transaction as the change that
// wants it, so a notify outage never loses or blocks the change.
struct NotificationRecord {
  int64_t outbox_id = 0;
  std::string request_key{};  // random; notify's request_id is built from it
  std::string invoice_id{};
  NotificationRequest request{};
  NotificationState state = NotificationState::kPending;
  std::string notification_id{};  // notify's id, once accepted
  std::string failure_reason{};
  int attempts = 0;
  Time created_at{};
  std::optional<Time> sent_at{};
};

// What an invoice's view shows of one outbox row: what was sent to whom,
// and how it went. The request itself stays in the outbox: GetInvoice,
// the hottest read, would otherwise fetch and parse the whole notify request
// (about 1 KB of JSON) of every notification only to show three of its fields.
struct NotificationSummary {
  int64_t outbox_id = 0;
  NotificationPurpose purpose = NotificationPurpose::kInvoiceLink;
  Channel channel = Channel::kEmail;
  std::string recipient{};  // the email address or E.164 number
  NotificationState state = NotificationState::kPending;
  std::string notification_id{};
  std::string failure_reason{};
  Time created_at{};
  std::optional<Time> sent_at{};
};
NotificationSummary Summarize(const NotificationRecord& n);

// One attempt to pay an invoice (PayInvoice), and what became of it.
struct PayAttempt {
  std::string attempt_id{};
  std::string invoice_id{};
  std::string caller{};
  std::string request_id{};  // the PayInvoice call that started it
  Money amount{};
  AttemptStatus status = AttemptStatus::kStarted;
  std::string payment_id{};         // the payments service's, once known
  std::string payment_intent_id{};  // once known
  std::string failure_code{};
  std::string failure_message{};
  std::optional<Time> next_check_at{};
  Time created_at{};
  Time updated_at{};
  // Sent to payments with every try of this attempt, so a retry is the same
  // request there even if the booking changed meanwhile.
  std::string booking_id{};
  std::string description{};
};

// A call the invoice service owes the payments service, kept in an outbox
// written with the decision.
struct PaymentAction {
  std::string action_id{};
  PaymentActionKind kind = PaymentActionKind::kCancel;
  std::string payment_id{};
  std::string invoice_id{};
  std::string reason{};
  int attempts = 0;
  Time created_at{};
};

// A claimed idempotency key: which operation it belongs to, a fingerprint of
// that operation's request, and the resource it produced.
struct IdempotencyRecord {
  std::string method{};
  std::string fingerprint{};
  std::string resource_id{};
};

// The local date and time parts of "YYYY-MM-DDTHH:MM:SS".
struct LocalDateTime {
  std::string date{};  // "YYYY-MM-DD"
  std::string time{};  // "HH:MM"
};
// Parses "YYYY-MM-DDTHH:MM" or "YYYY-MM-DDTHH:MM:SS" (a real calendar date,
// 24-hour time) and returns it normalized with seconds; nullopt if invalid.
std::optional<std::string> NormalizeLocalDateTime(std::string_view s);
LocalDateTime SplitLocal(const std::string& normalized);

}  // namespace billing::invoice::domain
