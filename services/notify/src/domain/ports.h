#pragma once

#include <optional>
#include <string>
#include <vector>

#include "domain/model.h"

// What the notify domain needs from the outside world: templates, phone
// numbers, transports and storage. Each has a production implementation
// (src/clients, src/storage) and fakes in the unit tests.
namespace billing::notify::domain {

// Renders a request into what the customer receives.
class Renderer {
 public:
  virtual ~Renderer() = default;
  virtual Content Render(const SendCommand& cmd) const = 0;
};

// Parses a phone number as a person typed it and returns it in E.164, or
// nullopt if it is not a valid number.
class PhoneNormalizer {
 public:
  virtual ~PhoneNormalizer() = default;
  virtual std::optional<std::string> ToE164(const std::string& raw) const = 0;
  // False for numbers that cannot take an SMS (landlines, toll-free,
  // premium rate); true for mobile numbers and where the plan cannot tell
  // (North America's "fixed line or mobile").
  virtual bool CanReceiveSms(const std::string& e164) const = 0;
};

struct OutgoingMessage {
  std::string notification_id{};
  Channel channel = Channel::kEmail;
  std::string to{};  // email address or E.164 number
  std::string to_name{};
  std::string from_name{};
  Content content{};
  Time created_at{};
};

struct SendResult {
  AttemptOutcome outcome = AttemptOutcome::kAccepted;
  std::string provider_message_id{};  // when accepted
  std::string error{};                // when not; never holds credentials
};

// Hands one message to a provider (mail relay, SMS API, a folder).
class Transport {
 public:
  virtual ~Transport() = default;
  virtual SendResult Send(const OutgoingMessage& message) = 0;
};

struct ListFilter {
  std::string invoice_id{};
  std::string booking_id{};
  std::string recipient{};
  std::optional<Status> status{};
};

// A position in the newest-first list (exclusive).
struct ListCursor {
  Time created_at{};
  std::string notification_id{};
};

// What a delivery attempt changed, stored with the attempt.
struct DeliveryOutcome {
  DeliveryAttempt attempt{};
  Status status = Status::kQueued;
  Time next_attempt_at{};
  std::string provider_message_id{};
  std::string failure_reason{};
  std::optional<Time> sent_at{};
};

class NotificationStore {
 public:
  virtual ~NotificationStore() = default;
  // Stores a new notification, unless (caller, request_id) is taken: then
  // returns the stored one (waiting for a concurrent insert of the same key
  // to commit first).
  virtual std::optional<Notification> InsertOrGet(const Notification& n) = 0;
  virtual std::optional<Notification> Find(const std::string& notification_id) = 0;
  // The notification (caller, request_id) created, if any.
  virtual std::optional<Notification> FindByRequest(const std::string& caller, const std::string& request_id) = 0;
  virtual std::vector<DeliveryAttempt> Attempts(const std::string& notification_id) = 0;
  virtual std::vector<Notification> List(const ListFilter& filter, const std::optional<ListCursor>& after,
                                         int limit) = 0;
  // Claims the oldest due QUEUED notification until `lease_until`: counts
  // the attempt (attempts + 1), stamps `claim_token` and pushes
  // next_attempt_at to the lease's end, in a transaction that commits before
  // anything is sent. Other dispatchers skip it (SKIP LOCKED while the
  // claim commits, then the lease). nullopt when nothing is due.
  virtual std::optional<Notification> Claim(Time now, Time lease_until, const std::string& claim_token) = 0;
  // Stores the attempt (always: it happened) and, if the claim is still
  // `claim_token`'s, the notification's new state. False when the claim was
  // lost: the lease ran out and another dispatcher took the message over.
  virtual bool Record(const std::string& notification_id, const std::string& claim_token,
                      const DeliveryOutcome& outcome) = 0;
  virtual int64_t QueueDepth() = 0;
};

}  // namespace billing::notify::domain
