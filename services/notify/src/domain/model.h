#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clock/clock.h"
#include "money/money.h"

// The notify service's domain model: plain data, no protobuf, no SQL.
namespace billing::notify::domain {

using clock::Time;
using money::Money;

enum class Kind { kInvoiceLink, kReceipt, kBookingConfirmation, kPaymentReminder };
enum class Channel { kEmail, kSms };
enum class Status { kQueued, kSent, kFailed };
enum class AttemptOutcome { kAccepted, kTransientFailure, kPermanentFailure };

std::string_view Name(Kind k);
std::string_view Name(Channel c);
std::string_view Name(Status s);
std::string_view Name(AttemptOutcome o);
std::optional<Kind> ParseKind(std::string_view s);
std::optional<Channel> ParseChannel(std::string_view s);
std::optional<Status> ParseStatus(std::string_view s);
std::optional<AttemptOutcome> ParseAttemptOutcome(std::string_view s);

struct BookingDetails {
  std::string booking_id{};
  std::string activity_name{};
  std::string date{};
  std::string start{};
  std::string end{};
  std::string end_date{};
  std::string confirmation_code{};
};

// A Send* request, after the api layer checked its shape.
struct SendCommand {
  std::string caller{};
  std::string request_id{};
  Kind kind = Kind::kInvoiceLink;
  Channel channel = Channel::kEmail;
  std::string email{};  // EMAIL
  std::string phone{};  // SMS, as given (normalized by the domain)
  std::string recipient_name{};
  std::string invoice_id{};
  std::string pay_url{};
  std::optional<Money> amount{};             // due (links, reminders) or paid (receipts)
  std::optional<Money> balance_remaining{};  // receipts
  std::string business_name{};
  BookingDetails booking{};
  std::optional<Time> due_at{};
  std::optional<Time> paid_at{};
  std::string payment_reference{};

  // A digest of what defines the request (not the request_id).
  std::string Fingerprint() const;
};

// What the customer receives.
struct Content {
  std::string subject{};  // EMAIL
  std::string text{};     // the plain-text part, or the SMS body
  std::string html{};     // EMAIL
  int sms_segments = 0;   // SMS
};

struct Notification {
  std::string notification_id{};
  std::string caller{};
  std::string request_id{};
  std::string fingerprint{};
  Kind kind = Kind::kInvoiceLink;
  Channel channel = Channel::kEmail;
  std::string recipient{};  // normalized email or E.164
  std::string recipient_name{};
  std::string sender_name{};  // the business
  std::string invoice_id{};
  std::string booking_id{};
  Content content{};
  Status status = Status::kQueued;
  int attempts = 0;
  Time next_attempt_at{};
  std::string provider_message_id{};
  std::string failure_reason{};
  Time created_at{};
  Time updated_at{};
  std::optional<Time> sent_at{};
};

struct DeliveryAttempt {
  int attempt_number = 0;
  AttemptOutcome outcome = AttemptOutcome::kAccepted;
  std::string error{};
  std::string provider_message_id{};
  Time started_at{};
  int64_t duration_ms = 0;
};

}  // namespace billing::notify::domain
