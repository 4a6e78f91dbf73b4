#include "domain/model.h"

#include "crypto/crypto.h"
#include "enums/enum_table.h"

namespace billing::notify::domain {
namespace {

constexpr enums::Table<Kind, 4> kKinds = {{
    {Kind::kInvoiceLink, "INVOICE_LINK"},
    {Kind::kReceipt, "RECEIPT"},
    {Kind::kBookingConfirmation, "BOOKING_CONFIRMATION"},
    {Kind::kPaymentReminder, "PAYMENT_REMINDER"},
}};
constexpr enums::Table<Channel, 2> kChannels = {{
    {Channel::kEmail, "EMAIL"},
    {Channel::kSms, "SMS"},
}};
constexpr enums::Table<Status, 3> kStatuses = {{
    {Status::kQueued, "QUEUED"},
    {Status::kSent, "SENT"},
    {Status::kFailed, "FAILED"},
}};
constexpr enums::Table<AttemptOutcome, 3> kOutcomes = {{
    {AttemptOutcome::kAccepted, "ACCEPTED"},
    {AttemptOutcome::kTransientFailure, "TRANSIENT_FAILURE"},
    {AttemptOutcome::kPermanentFailure, "PERMANENT_FAILURE"},
}};

}  // namespace

std::string_view Name(Kind k) { return enums::Name(kKinds, k); }
std::string_view Name(Channel c) { return enums::Name(kChannels, c); }
std::string_view Name(Status s) { return enums::Name(kStatuses, s); }
std::string_view Name(AttemptOutcome o) { return enums::Name(kOutcomes, o); }
std::optional<Kind> ParseKind(std::string_view s) { return enums::Parse(kKinds, s); }
std::optional<Channel> ParseChannel(std::string_view s) { return enums::Parse(kChannels, s); }
std::optional<Status> ParseStatus(std::string_view s) { return enums::Parse(kStatuses, s); }
std::optional<AttemptOutcome> ParseAttemptOutcome(std::string_view s) { return enums::Parse(kOutcomes, s); }

std::string SendCommand::Fingerprint() const {
  crypto::Fingerprint f("Send");
  f.Add(Name(kind)).Add(Name(channel)).Add(email).Add(phone).Add(recipient_name).Add(invoice_id).Add(pay_url);
  f.AddInt(amount ? amount->amount_minor : -1).Add(amount ? amount->currency : "");
  f.AddInt(balance_remaining ? balance_remaining->amount_minor : -1);
  f.Add(business_name).Add(booking.booking_id).Add(booking.activity_name).Add(booking.date).Add(booking.start);
  f.Add(booking.end).Add(booking.end_date).Add(booking.confirmation_code);
  f.AddInt(due_at ? clock::ToUnixMicros(*due_at) : -1).AddInt(paid_at ? clock::ToUnixMicros(*paid_at) : -1);
  f.Add(payment_reference);
  return f.Digest();
}

}  // namespace billing::notify::domain
