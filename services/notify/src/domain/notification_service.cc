#include "domain/notification_service.h"

#include <algorithm>

#include "paging/page_token.h"
#include "errors/error.h"
#include "validation/validation.h"

namespace billing::notify::domain {
namespace {

using errors::Error;
using errors::Reason;

constexpr int kMaxSmsSegments = 10;

// What a page token of the notification list is bound to.
std::string FilterKey(const ListFilter& f) {
  return f.invoice_id + "|" + f.booking_id + "|" + f.recipient + "|" + (f.status ? std::string(Name(*f.status)) : "*");
}

std::string EncodeToken(const Notification& last, const ListFilter& f) {
  return paging::EncodeToken("n1", {last.created_at, last.notification_id}, FilterKey(f));
}

std::optional<ListCursor> DecodeToken(const std::string& token, const ListFilter& f) {
  const auto position = paging::DecodeToken("n1", token, FilterKey(f));
  if (!position) return std::nullopt;
  return ListCursor{position->created_at, position->id};
}

}  // namespace

NotificationService::NotificationService(NotificationStore& store, const Renderer& renderer,
                                         const PhoneNormalizer& phones, const clock::Clock& clock,
                                         ids::IdGenerator& ids)
    : store_(store), renderer_(renderer), phones_(phones), clock_(clock), ids_(ids) {}

std::string NotificationService::NormalizeRecipient(Channel channel, const std::string& email,
                                                    const std::string& phone) const {
  if (channel == Channel::kEmail) {
    if (email.empty()) throw errors::InvalidField("recipient.email", "is required for CHANNEL_EMAIL");
    if (!validation::IsValidEmail(email)) throw errors::InvalidField("recipient.email", "must be a valid email address");
    // Domains are case-insensitive; the local part is the mailbox's own.
    const auto at = email.find('@');
    std::string domain = email.substr(at + 1);
    std::transform(domain.begin(), domain.end(), domain.begin(), [](unsigned char c) { return std::tolower(c); });
    return email.substr(0, at + 1) + domain;
  }
  if (phone.empty()) throw errors::InvalidField("recipient.phone", "is required for CHANNEL_SMS");
  auto e164 = phones_.ToE164(phone);
  if (!e164) {
    throw errors::InvalidField("recipient.phone", "must be a valid phone number (E.164, or national in the default region)");
  }
  return *e164;
}

Notification NotificationService::Send(const SendCommand& cmd) {
  const std::string recipient = NormalizeRecipient(cmd.channel, cmd.email, cmd.phone);
  // The fingerprint is of the normalized request, so a retry that spells the
  // same number or address differently is still the same request.
  SendCommand normalized = cmd;
  if (cmd.channel == Channel::kSms) {
    normalized.phone = recipient;
    normalized.email.clear();
  } else {
    normalized.email = recipient;
    normalized.phone.clear();
  }
  const std::string fingerprint = normalized.Fingerprint();
  const Time now = clock_.Now();
  Notification n;
  n.notification_id = ids_.NewId();
  n.caller = cmd.caller;
  n.request_id = cmd.request_id;
  n.fingerprint = fingerprint;
  n.kind = cmd.kind;
  n.channel = cmd.channel;
  n.recipient = recipient;
  n.recipient_name = cmd.recipient_name;
  n.sender_name = cmd.business_name;
  n.invoice_id = cmd.invoice_id;
  n.booking_id = cmd.booking.booking_id;
  n.content = renderer_.Render(normalized);
  if (cmd.channel == Channel::kSms) {
    if (!phones_.CanReceiveSms(recipient)) {
      throw errors::InvalidField("recipient.phone", "must be a mobile number; this one cannot receive SMS");
    }
    // Providers cap a message at 1600 characters and carriers at about ten
    // segments; refuse now rather than FAIL at delivery. Only a link can
    // make a message this long (names and codes are capped well below).
    if (n.content.sms_segments > kMaxSmsSegments) {
      throw errors::InvalidField(cmd.pay_url.empty() ? "business_name" : "pay_url",
                                 "makes the SMS longer than " + std::to_string(kMaxSmsSegments) +
                                     " segments; use a shorter link");
    }
  }
  n.status = Status::kQueued;
  n.next_attempt_at = now;
  n.created_at = now;
  n.updated_at = now;
  if (auto existing = store_.InsertOrGet(n)) {
    if (existing->fingerprint != fingerprint) {
      throw Error(Reason::kIdempotencyKeyReused,
                  "request_id was already used for a different request; use a new request_id", "request_id");
    }
    return *existing;
  }
  return n;
}

Notification NotificationService::Get(const std::string& notification_id, std::vector<DeliveryAttempt>* attempts) {
  auto n = store_.Find(notification_id);
  if (!n) {
    throw Error(Reason::kNotificationNotFound, "notification_id " + notification_id + " does not exist",
                "notification_id");
  }
  if (attempts != nullptr) *attempts = store_.Attempts(notification_id);
  return *n;
}

Notification NotificationService::GetByRequest(const std::string& caller, const std::string& request_id,
                                               std::vector<DeliveryAttempt>* attempts) {
  auto n = store_.FindByRequest(caller, request_id);
  if (!n) {
    throw Error(Reason::kNotificationNotFound, "no notification was sent with request_id " + request_id,
                "request_id");
  }
  if (attempts != nullptr) *attempts = store_.Attempts(n->notification_id);
  return *n;
}

NotificationPage NotificationService::List(const ListFilter& filter, int page_size, const std::string& page_token) {
  const auto cursor = DecodeToken(page_token, filter);
  NotificationPage page;
  page.notifications = store_.List(filter, cursor, page_size + 1);
  if (static_cast<int>(page.notifications.size()) > page_size) {
    page.notifications.resize(static_cast<std::size_t>(page_size));
    page.next_page_token = EncodeToken(page.notifications.back(), filter);
  }
  return page;
}

}  // namespace billing::notify::domain
