#pragma once

#include <functional>
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
  virtual std::vector<DeliveryAttempt> Attempts(const std::string& notification_id) = 0;
  virtual std::vector<Notification> List(const ListFilter& filter, const std::optional<ListCursor>& after,
                                         int limit) = 0;
  // Claims the oldest due QUEUED notification, skipping rows other
  // dispatchers hold, keeps it locked while `deliver` runs, and stores what
  // it returns with the attempt in the same transaction. False when nothing
  // is due.
  virtual bool DeliverNext(Time now, const std::function<DeliveryOutcome(const Notification&)>& deliver) = 0;
  virtual int64_t QueueDepth() = 0;
};

}  // namespace billing::notify::domain
