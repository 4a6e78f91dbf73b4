#pragma once

#include <string>
#include <vector>

#include "clock/clock.h"
#include "domain/ports.h"
#include "ids/ids.h"

namespace billing::notify::domain {

struct NotificationPage {
  std::vector<Notification> notifications;
  std::string next_page_token;
};

// Accepts notifications: normalizes and checks the recipient, renders the
// message, and stores it QUEUED, once per (caller, request_id).
class NotificationService {
 public:
  NotificationService(NotificationStore& store, const Renderer& renderer, const PhoneNormalizer& phones,
                      const clock::Clock& clock, ids::IdGenerator& ids);

  // Returns the stored notification: new (QUEUED), or the first one sent
  // with this request_id. A reused request_id with a different request is
  // IDEMPOTENCY_KEY_REUSED.
  Notification Send(const SendCommand& cmd);
  Notification Get(const std::string& notification_id, std::vector<DeliveryAttempt>* attempts);
  // The notification `caller`'s Send* with `request_id` created;
  // NOTIFICATION_NOT_FOUND naming request_id if it never reached notify.
  Notification GetByRequest(const std::string& caller, const std::string& request_id,
                            std::vector<DeliveryAttempt>* attempts);
  NotificationPage List(const ListFilter& filter, int page_size, const std::string& page_token);

  // The recipient as stored: lower-cased email domain, or E.164. Throws
  // INVALID_FIELD naming recipient.email / recipient.phone.
  std::string NormalizeRecipient(Channel channel, const std::string& email, const std::string& phone) const;

 private:
  NotificationStore& store_;
  const Renderer& renderer_;
  const PhoneNormalizer& phones_;
  const clock::Clock& clock_;
  ids::IdGenerator& ids_;
};

}  // namespace billing::notify::domain
