#include "domain/model.h"

#include "enums/enum_table.h"

namespace billing::invoice::domain {
namespace {

constexpr enums::Table<BookingStatus, 6> kBookingStatuses = {{
    {BookingStatus::kDraft, "DRAFT"},
    {BookingStatus::kPending, "PENDING"},
    {BookingStatus::kConfirmed, "CONFIRMED"},
    {BookingStatus::kCanceled, "CANCELED"},
    {BookingStatus::kVoided, "VOIDED"},
    {BookingStatus::kPostponed, "POSTPONED"},
}};
constexpr enums::Table<Channel, 2> kChannels = {{
    {Channel::kEmail, "EMAIL"},
    {Channel::kSms, "SMS"},
}};
constexpr enums::Table<InvoiceStatus, 5> kInvoiceStatuses = {{
    {InvoiceStatus::kOpen, "OPEN"},
    {InvoiceStatus::kPaid, "PAID"},
    {InvoiceStatus::kClosed, "CLOSED"},
    {InvoiceStatus::kCanceled, "CANCELED"},
    {InvoiceStatus::kExpired, "EXPIRED"},
}};
constexpr enums::Table<PaymentSource, 4> kPaymentSources = {{
    {PaymentSource::kInvoice, "INVOICE"},
    {PaymentSource::kDashboard, "DASHBOARD"},
    {PaymentSource::kAutoCharge, "AUTO_CHARGE"},
    {PaymentSource::kOther, "OTHER"},
}};

constexpr enums::Table<NotificationPurpose, 4> kPurposes = {{
    {NotificationPurpose::kInvoiceLink, "INVOICE_LINK"},
    {NotificationPurpose::kReceipt, "RECEIPT"},
    {NotificationPurpose::kBookingConfirmation, "BOOKING_CONFIRMATION"},
    {NotificationPurpose::kPaymentReminder, "PAYMENT_REMINDER"},
}};
constexpr enums::Table<NotificationState, 4> kNotificationStates = {{
    {NotificationState::kPending, "PENDING"},
    {NotificationState::kQueued, "QUEUED"},
    {NotificationState::kSent, "SENT"},
    {NotificationState::kFailed, "FAILED"},
}};

bool Digits(std::string_view s, std::size_t pos, std::size_t n, int* out) {
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr enums::Table<AttemptStatus, 6> kAttemptStatuses = {{
    {AttemptStatus::kStarted, "STARTED"},
    {AttemptStatus::kRequiresAction, "REQUIRES_ACTION"},
    {AttemptStatus::kProcessing, "PROCESSING"},
    {AttemptStatus::kSucceeded, "SUCCEEDED"},
    {AttemptStatus::kFailed, "FAILED"},
    {AttemptStatus::kCanceled, "CANCELED"},
}};
constexpr enums::Table<PaymentActionKind, 2> kActionKinds = {{
    {PaymentActionKind::kCancel, "CANCEL"},
    {PaymentActionKind::kRefund, "REFUND"},
}};

}  // namespace

std::string_view Name(AttemptStatus s) { return enums::Name(kAttemptStatuses, s); }
std::optional<AttemptStatus> ParseAttemptStatus(std::string_view s) { return enums::Parse(kAttemptStatuses, s); }
std::string_view Name(PaymentActionKind k) { return enums::Name(kActionKinds, k); }
std::optional<PaymentActionKind> ParsePaymentActionKind(std::string_view s) { return enums::Parse(kActionKinds, s); }

bool IsInProgress(AttemptStatus s) {
  return s == AttemptStatus::kStarted || s == AttemptStatus::kRequiresAction || s == AttemptStatus::kProcessing;
}

int Rank(AttemptStatus s) {
  switch (s) {
    case AttemptStatus::kStarted: return 0;
    case AttemptStatus::kRequiresAction: return 1;
    case AttemptStatus::kProcessing: return 2;
    case AttemptStatus::kFailed:
    case AttemptStatus::kCanceled: return 3;
    case AttemptStatus::kSucceeded: return 4;
  }
  return 0;
}

std::string_view Name(BookingStatus s) { return enums::Name(kBookingStatuses, s); }
std::string_view Name(Channel c) { return enums::Name(kChannels, c); }
std::string_view Name(InvoiceStatus s) { return enums::Name(kInvoiceStatuses, s); }
std::string_view Name(PaymentSource s) { return enums::Name(kPaymentSources, s); }
std::optional<BookingStatus> ParseBookingStatus(std::string_view s) { return enums::Parse(kBookingStatuses, s); }
std::optional<Channel> ParseChannel(std::string_view s) { return enums::Parse(kChannels, s); }
std::optional<InvoiceStatus> ParseInvoiceStatus(std::string_view s) { return enums::Parse(kInvoiceStatuses, s); }
std::optional<PaymentSource> ParsePaymentSource(std::string_view s) { return enums::Parse(kPaymentSources, s); }

std::string_view Name(NotificationPurpose p) { return enums::Name(kPurposes, p); }
std::string_view Name(NotificationState s) { return enums::Name(kNotificationStates, s); }
std::optional<NotificationPurpose> ParseNotificationPurpose(std::string_view s) { return enums::Parse(kPurposes, s); }
std::optional<NotificationState> ParseNotificationState(std::string_view s) {
  return enums::Parse(kNotificationStates, s);
}

bool IsOff(BookingStatus s) {
  return s == BookingStatus::kCanceled || s == BookingStatus::kVoided || s == BookingStatus::kPostponed;
}

std::optional<std::string> NormalizeLocalDateTime(std::string_view s) {
  if (s.size() != 16 && s.size() != 19) return std::nullopt;
  int y, mo, d, h, mi, sec = 0;
  if (!Digits(s, 0, 4, &y) || s[4] != '-' || !Digits(s, 5, 2, &mo) || s[7] != '-' ||
      !Digits(s, 8, 2, &d) || s[10] != 'T' || !Digits(s, 11, 2, &h) || s[13] != ':' ||
      !Digits(s, 14, 2, &mi)) {
    return std::nullopt;
  }
  if (s.size() == 19 && (s[16] != ':' || !Digits(s, 17, 2, &sec))) return std::nullopt;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1900 || mo < 1 || mo > 12 || d < 1) return std::nullopt;
  const int month_days = kDays[mo - 1] + (mo == 2 && IsLeap(y) ? 1 : 0);
  if (d > month_days || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  std::string out(s.substr(0, 16));
  out += s.size() == 19 ? std::string(s.substr(16)) : ":00";
  return out;
}

LocalDateTime SplitLocal(const std::string& normalized) {
  if (normalized.size() < 16) return {};
  return {normalized.substr(0, 10), normalized.substr(11, 5)};
}

NotificationSummary Summarize(const NotificationRecord& n) {
  return {.outbox_id = n.outbox_id,
          .purpose = n.request.purpose,
          .channel = n.request.channel,
          .recipient = n.request.Recipient(),
          .state = n.state,
          .notification_id = n.notification_id,
          .failure_reason = n.failure_reason,
          .created_at = n.created_at,
          .sent_at = n.sent_at};
}

}  // namespace billing::invoice::domain
